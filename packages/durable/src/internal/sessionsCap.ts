/**
 * The session cap of durable practice sessions, shared by every process: its truth is the session
 * store (the organization's live sessions, `countLive`; the queue, its `queued` sessions oldest
 * first), and admission is made atomic across processes by a lease of the messaging `Lock`
 * (`session-cap` in the session's organization; without a `Lock` in context, a semaphore of this
 * cap object only: no atomicity between processes).
 *
 * @internal
 */
import { Lock } from "@braid/messaging"
import type { SessionCap } from "@braid/workflows"
import { Errors as WfErrors, SessionStore } from "@braid/workflows"
import type { Duration } from "effect"
import { Clock, Effect, Option, Schedule, Stream } from "effect"

/** The organization's separator in a durable session id: `TENANT~UUID` (no prefix for `default`). */
const separator = "~"

/** A new session id in `tenant`: the tenant is readable from the id, so any process finds the cap of a session. */
export const newSessionId = (tenant: string): string =>
  tenant === "default" ? crypto.randomUUID() : `${tenant}${separator}${crypto.randomUUID()}`

/** The organization of a session id (see `newSessionId`). */
export const tenantOf = (sessionId: string): string => {
  const i = sessionId.lastIndexOf(separator)
  return i <= 0 ? "default" : sessionId.slice(0, i)
}

/** The errors of the cap's own work (the store, the lock). */
export type CapError = WfErrors.SessionStoreError

/** The shared cap: the `SessionCap` view plus what the durable service and run use. */
export interface SharedCap extends SessionCap.SessionCap {
  /**
   * Under the cap's lock: decides the status of a new session from the store and records it
   * (`create`), so that the count and the record change together; `AtCapacity` when full.
   */
  readonly admit: <A extends SessionStore.SessionRecord, E, R>(
    tenant: string,
    create: (status: "active" | "queued") => Effect.Effect<A, E, R>
  ) => Effect.Effect<
    { readonly session: A; readonly position: number },
    E | WfErrors.AtCapacity | CapError,
    R
  >
  /** Under the cap's lock: activates the heads of the queue while slots are free; their ids. */
  readonly promote: (
    tenant: string
  ) => Effect.Effect<ReadonlyArray<string>, CapError>
}

const storeError = (operation: string) => (e: { readonly message: string }) =>
  new WfErrors.SessionStoreError({ operation, reason: e.message })

/**
 * A shared cap of `maxActive` live and `maxQueued` queued sessions per organization. `poll` is how
 * often `positions` and `enter(...).active` read the store. `stats` (the `SessionCap` view, which
 * has no organization) counts the `default` organization.
 */
export const make = (
  limits: { readonly maxActive: number; readonly maxQueued: number },
  context: { readonly store: SessionStore.Service; readonly poll?: Duration.DurationInput }
): Effect.Effect<SharedCap> =>
  Effect.gen(function*() {
    const { maxActive, maxQueued } = limits
    const store = context.store
    const poll = context.poll ?? "500 millis"
    // Without a `Lock` in context: one admission at a time through this cap only.
    const local = yield* Effect.makeSemaphore(1)

    /** Runs `self` holding the cap of `tenant` (the lease, or this process's semaphore). */
    const locked = <A, E, R>(tenant: string, self: Effect.Effect<A, E, R>): Effect.Effect<A, E | CapError, R> =>
      Effect.flatMap(Effect.serviceOption(Lock.Lock), (lock) =>
        Option.isNone(lock)
          ? local.withPermits(1)(self)
          : Effect.scoped(Effect.gen(function*() {
            const org = yield* Effect.mapError(lock.value.forOrganization(tenant), storeError("session cap lock"))
            yield* Effect.mapError(
              org.acquire("session-cap", `cap-${crypto.randomUUID()}`, {
                wait: "30 seconds",
                lease: "30 seconds",
                retryEvery: "10 millis"
              }),
              storeError("session cap lock")
            )
            return yield* self
          })))

    const countLive = (tenant: string) =>
      Effect.catchTag(
        store.countLive(SessionStore.system(tenant)),
        "Forbidden",
        (e) => Effect.fail(new WfErrors.SessionStoreError({ operation: "countLive", reason: e.message }))
      )

    /** The queued sessions of the organization, oldest first (the first 100). */
    const queue = (tenant: string) =>
      Effect.map(
        Effect.catchTags(
          store.listSessions(SessionStore.system(tenant), { status: "queued", order: "oldest", limit: 100 }),
          {
            Forbidden: (e) => Effect.fail(new WfErrors.SessionStoreError({ operation: "queue", reason: e.message })),
            InvalidInput: (e) => Effect.fail(new WfErrors.SessionStoreError({ operation: "queue", reason: e.message }))
          }
        ),
        (page) => page.items.map((s) => s.id)
      )

    const admit: SharedCap["admit"] = (tenant, create) =>
      locked(
        tenant,
        Effect.gen(function*() {
          const live = yield* countLive(tenant)
          if (live.active < maxActive) return { session: yield* create("active"), position: 0 }
          if (live.queued >= maxQueued) {
            return yield* new WfErrors.AtCapacity({ active: live.active, queued: live.queued, maxActive, maxQueued })
          }
          const session = yield* create("queued")
          const ids = yield* queue(tenant)
          const i = ids.indexOf(session.id)
          return { session, position: i < 0 ? live.queued + 1 : i + 1 }
        })
      )

    const promote: SharedCap["promote"] = (tenant) =>
      locked(
        tenant,
        Effect.gen(function*() {
          const live = yield* countLive(tenant)
          const free = maxActive - live.active
          if (free <= 0 || live.queued === 0) return []
          const heads = (yield* queue(tenant)).slice(0, free)
          const now = yield* Clock.currentTimeMillis
          for (const id of heads) {
            yield* Effect.catchTag(store.activateSession(id, now), "SessionNotFound", () => Effect.void)
          }
          return heads
        })
      )

    const position = (sessionId: string): Effect.Effect<number | undefined> =>
      Effect.gen(function*() {
        const tenant = tenantOf(sessionId)
        const session = yield* store.getSession(SessionStore.system(tenant), sessionId)
        if (session.status === "active") return 0
        if (session.status === "completed") return undefined
        const i = (yield* queue(tenant)).indexOf(sessionId)
        return i < 0 ? undefined : i + 1
      }).pipe(Effect.orElseSucceed(() => undefined))

    const positions = (sessionId: string): Stream.Stream<number> =>
      Stream.repeatEffectWithSchedule(position(sessionId), Schedule.spaced(poll)).pipe(
        Stream.takeWhile((p): p is number => p !== undefined),
        Stream.changes,
        Stream.takeUntil((p) => p === 0)
      )

    const waitActive = (sessionId: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        while ((yield* position(sessionId)) !== 0) yield* Effect.sleep(poll)
      })

    const stats: SessionCap.SessionCap["stats"] = Effect.map(
      Effect.orElseSucceed(countLive("default"), () => ({ active: 0, queued: 0 })),
      (l) => ({ active: l.active, queued: l.queued })
    )

    return {
      maxActive,
      maxQueued,
      // A durable session enters through `start`, which records it under the lock; `enter` reports
      // where a recorded id stands (an id the store does not have is refused with the counts).
      enter: (sessionId) =>
        Effect.flatMap(position(sessionId), (p) =>
          p === undefined
            ? Effect.flatMap(
              Effect.orElseSucceed(countLive(tenantOf(sessionId)), () => ({ active: maxActive, queued: maxQueued })),
              (l) => Effect.fail(new WfErrors.AtCapacity({ ...l, maxActive, maxQueued }))
            )
            : Effect.succeed({
              status: p === 0 ? "active" as const : "queued" as const,
              position: p,
              active: waitActive(sessionId)
            })),
      // A durable session leaves through the end of its run, which admits the queue and signals
      // the admitted runs: activating them here, without their signal, would strand them.
      leave: () => Effect.void,
      position,
      positions,
      stats,
      admit,
      promote
    } satisfies SharedCap
  })
