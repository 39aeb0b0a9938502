/**
 * Engagement locks: an agent engaged in something synchronous (a conversation, later a meeting)
 * is busy, and a second engagement either fails at once with `AgentBusy` (the default) or waits,
 * bounded, for the agent to be free (`wait`).
 *
 * A lock is a lease: it expires `lease` after it was taken or last renewed (default 30 s), and
 * the holder renews it every third of the lease while its scope is open. It is released when the
 * scope closes (the engagement ended, failed or was interrupted), and, when the holding process
 * crashes, by expiry: nobody renews it any more. Time is the Effect Clock of the process that
 * writes the lease (keep the clocks of processes sharing a database in sync, as NTP does; a skew
 * shortens or lengthens leases by as much).
 *
 * Locks are partitioned by organization (a key column in SQL, a map level in memory) like every
 * messaging record; the default organization is `"default"`.
 *
 * @since 0.3.0
 */
import { Sql } from "@braid/core"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Schema } from "effect"
import type { Scope } from "effect"
import { AgentBusy, InvalidInput, MessageStoreError } from "./Errors.js"
import * as Input from "./internal/input.js"

/**
 * Who holds an agent's lock, and until when (Clock millis).
 *
 * @example
 * ```ts
 * import { Lock } from "@braid/messaging"
 *
 * const h: Lock.Holding = { agent: "critic", holder: "conversation-1", expiresAt: 30_000 }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Holding {
  readonly agent: string
  readonly holder: string
  readonly expiresAt: number
}

/**
 * Where leases are kept. `token` identifies one acquisition (a holder taking the same agent twice
 * gets two tokens, and the second attempt is refused while the first is live).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@braid/messaging"
 *
 * const free = Effect.flatMap(Lock.memoryLockStore, (store) => store.holding("default", "critic", 0))
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface LockStore {
  /** Takes the lock if it is free or its lease has expired at `now`; whether it was taken. */
  readonly tryAcquire: (
    organization: string,
    holding: Holding & { readonly token: string },
    now: number
  ) => Effect.Effect<boolean, MessageStoreError>
  /** Extends the lease of acquisition `token`; `false` when it is no longer held by it. */
  readonly renew: (
    organization: string,
    agent: string,
    token: string,
    expiresAt: number
  ) => Effect.Effect<boolean, MessageStoreError>
  /** Releases acquisition `token` (nothing when it is no longer held by it). */
  readonly release: (organization: string, agent: string, token: string) => Effect.Effect<void, MessageStoreError>
  /** Releases every lock of `holder`; how many. */
  readonly releaseHolder: (organization: string, holder: string) => Effect.Effect<number, MessageStoreError>
  /** The live holding of `agent` at `now`. */
  readonly holding: (
    organization: string,
    agent: string,
    now: number
  ) => Effect.Effect<Option.Option<Holding>, MessageStoreError>
  /** Every live holding of the organization at `now`. */
  readonly live: (organization: string, now: number) => Effect.Effect<ReadonlyArray<Holding>, MessageStoreError>
}

/**
 * A lock held in a scope.
 *
 * @example
 * ```ts
 * import type { Lock } from "@braid/messaging"
 *
 * const describe = (lease: Lock.Lease) => `${lease.holder} holds ${lease.agent}`
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Lease {
  readonly organization: string
  readonly agent: string
  readonly holder: string
  readonly token: string
  /**
   * Completes when the renewal finds the lock no longer held by this lease (released by
   * `releaseHolder` elsewhere, or expired and taken after a long store outage): the engagement
   * should stop.
   */
  readonly lost: Effect.Effect<void>
}

/**
 * How to acquire.
 *
 * @example
 * ```ts
 * import type { Lock } from "@braid/messaging"
 *
 * const patient: Lock.AcquireOptions = { wait: "10 seconds", lease: "1 minute" }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface AcquireOptions {
  /** The lease: how long a crashed holder keeps the agent busy. Default 30 s, at least 1 ms. */
  readonly lease?: Duration.DurationInput
  /** How long to wait for a busy agent before `AgentBusy`. Default 0: fail at once. */
  readonly wait?: Duration.DurationInput
  /** How often a waiting acquisition tries again. Default 100 ms. */
  readonly retryEvery?: Duration.DurationInput
}

/**
 * @since 0.3.0
 * @category models
 */
export interface Service {
  readonly organization: string
  /** The same locks, in another organization (an invalid name is `InvalidInput`). */
  readonly forOrganization: (organization: string) => Effect.Effect<Service, InvalidInput>
  /**
   * Locks `agent` for `holder` for the life of the scope (renewed every third of the lease,
   * released when the scope closes). A busy agent is `AgentBusy`, at once or after `wait`.
   */
  readonly acquire: (
    agent: string,
    holder: string,
    options?: AcquireOptions
  ) => Effect.Effect<Lease, AgentBusy | InvalidInput | MessageStoreError, Scope.Scope>
  /** Who holds `agent` now, if anyone. */
  readonly holderOf: (agent: string) => Effect.Effect<Option.Option<Holding>, InvalidInput | MessageStoreError>
  /** Every live holding of the organization. */
  readonly live: Effect.Effect<ReadonlyArray<Holding>, InvalidInput | MessageStoreError>
  /** Releases every lock of `holder` (an engagement ended by another process); how many. */
  readonly releaseHolder: (holder: string) => Effect.Effect<number, InvalidInput | MessageStoreError>
}

/**
 * The engagement lock service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@braid/messaging"
 *
 * const program = Effect.gen(function*() {
 *   const lock = yield* Lock.Lock
 *   yield* lock.acquire("critic", "review-42", { wait: "5 seconds" })
 *   // ... the critic is busy until this scope closes
 * }).pipe(Effect.scoped, Effect.provide(Lock.layerMemory))
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export class Lock extends Context.Tag("@braid/messaging/Lock")<Lock, Service>() {}

/**
 * The organization of single-tenant users.
 *
 * @example
 * ```ts
 * import { Lock } from "@braid/messaging"
 *
 * Lock.defaultOrganization // "default"
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const defaultOrganization = "default"

let tokens = 0
const newToken = () =>
  `${Date.now().toString(36)}-${(tokens++).toString(36)}-${Math.random().toString(36).slice(2, 10)}`

/**
 * Builds the service on a store, in the default organization (`forOrganization` for others).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@braid/messaging"
 *
 * const service = Effect.map(Lock.memoryLockStore, (store) => Lock.make(store))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (store: LockStore): Service => inOrganization(store, defaultOrganization)

const inOrganization = (store: LockStore, organization: string): Service => {
  const checked = <A, E, R>(
    operation: string,
    fields: ReadonlyArray<readonly [string, unknown]>,
    body: () => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | InvalidInput, R> =>
    Effect.suspend((): Effect.Effect<A, E | InvalidInput, R> => {
      for (const [field, value] of fields) {
        const problem = Input.nameProblem(value)
        if (problem !== undefined) return Effect.fail(new InvalidInput({ operation, field, reason: problem }))
      }
      return body()
    })

  const acquire = (agent: string, holder: string, acquireOptions?: AcquireOptions) =>
    checked("acquire", [["agent", agent], ["holder", holder]], () =>
      Effect.gen(function*() {
        const options = yield* Input.options<AcquireOptions>("acquire", "options", acquireOptions)
        const lease = Math.max(1, yield* Input.duration("acquire", "lease", options.lease, 30_000))
        const wait = yield* Input.duration("acquire", "wait", options.wait, 0)
        const retryEvery = Math.max(1, yield* Input.duration("acquire", "retryEvery", options.retryEvery, 100))
        const token = newToken()
        const started = yield* Clock.currentTimeMillis
        while (true) {
          const now = yield* Clock.currentTimeMillis
          const taken = yield* store.tryAcquire(organization, { agent, holder, token, expiresAt: now + lease }, now)
          if (taken) break
          if (now - started >= wait) {
            const current = yield* store.holding(organization, agent, now)
            return yield* new AgentBusy({
              organization,
              agent,
              ...(Option.isSome(current) ? { holder: current.value.holder } : {}),
              waitedMillis: now - started
            })
          }
          yield* Effect.sleep(Duration.millis(Math.min(retryEvery, Math.max(1, started + wait - now))))
        }
        // Released last (finalizers run in reverse): the renewal below is stopped first.
        yield* Effect.addFinalizer(() =>
          store.release(organization, agent, token).pipe(
            Effect.catchAll((e) =>
              Effect.logWarning(
                `lock: releasing ${agent} for ${holder} failed (${e.message}); it expires with its lease`
              )
            )
          )
        )
        const lost = yield* Deferred.make<void>()
        const renewal = Effect.gen(function*() {
          while (true) {
            yield* Effect.sleep(Duration.millis(Math.max(1, Math.floor(lease / 3))))
            const now = yield* Clock.currentTimeMillis
            const kept = yield* store.renew(organization, agent, token, now + lease).pipe(
              Effect.catchAll((e) =>
                Effect.as(
                  Effect.logWarning(`lock: renewing ${agent} for ${holder} failed (${e.message}); retrying`),
                  true
                )
              )
            )
            if (!kept) {
              yield* Effect.logWarning(`lock: ${holder} no longer holds ${agent} (released elsewhere or expired)`)
              return yield* Deferred.succeed(lost, undefined)
            }
          }
        })
        yield* Effect.forkScoped(renewal)
        return { organization, agent, holder, token, lost: Deferred.await(lost) } satisfies Lease
      }))

  return {
    organization,
    forOrganization: (other) =>
      Effect.map(Input.name("forOrganization", "organization", other), (o) => inOrganization(store, o)),
    acquire,
    holderOf: (agent) =>
      checked(
        "holderOf",
        [["agent", agent]],
        () => Effect.flatMap(Clock.currentTimeMillis, (now) => store.holding(organization, agent, now))
      ),
    live: checked("live", [], () => Effect.flatMap(Clock.currentTimeMillis, (now) => store.live(organization, now))),
    releaseHolder: (holder) =>
      checked("releaseHolder", [["holder", holder]], () => store.releaseHolder(organization, holder))
  }
}

/**
 * Leases in memory (one process), by organization then agent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lock } from "@braid/messaging"
 *
 * const acme = Effect.flatMap(Lock.memoryLockStore, (store) => Lock.make(store).forOrganization("acme"))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const memoryLockStore: Effect.Effect<LockStore> = Effect.sync(() => {
  const orgs = new Map<string, Map<string, Holding & { readonly token: string }>>()
  const of = (organization: string) => {
    let m = orgs.get(organization)
    if (m === undefined) orgs.set(organization, m = new Map())
    return m
  }
  const strip = (h: Holding): Holding => ({ agent: h.agent, holder: h.holder, expiresAt: h.expiresAt })
  return {
    tryAcquire: (organization, holding, now) =>
      Effect.sync(() => {
        const m = of(organization)
        const current = m.get(holding.agent)
        if (current !== undefined && current.expiresAt > now) return false
        m.set(holding.agent, { ...holding })
        return true
      }),
    renew: (organization, agent, token, expiresAt) =>
      Effect.sync(() => {
        const m = of(organization)
        const current = m.get(agent)
        if (current === undefined || current.token !== token) return false
        m.set(agent, { ...current, expiresAt })
        return true
      }),
    release: (organization, agent, token) =>
      Effect.sync(() => {
        const m = orgs.get(organization)
        if (m?.get(agent)?.token === token) m.delete(agent)
      }),
    releaseHolder: (organization, holder) =>
      Effect.sync(() => {
        const m = orgs.get(organization)
        let n = 0
        if (m !== undefined) {
          for (const [agent, h] of m) {
            if (h.holder === holder) {
              m.delete(agent)
              n++
            }
          }
        }
        return n
      }),
    holding: (organization, agent, now) =>
      Effect.sync(() => {
        const h = orgs.get(organization)?.get(agent)
        return h !== undefined && h.expiresAt > now ? Option.some(strip(h)) : Option.none()
      }),
    live: (organization, now) =>
      Effect.sync(() => [...(orgs.get(organization)?.values() ?? [])].filter((h) => h.expiresAt > now).map(strip))
  }
})

const HoldingRow = Schema.Struct({
  agent: Schema.String,
  holder: Schema.String,
  expires_at: Schema.Union(Schema.Number, Schema.NumberFromString)
})
const decodeHolding = Schema.decodeUnknown(HoldingRow)

/**
 * Leases on the `Sql.SqlDriver` in context (table `braid_agent_locks`, keyed by organization and
 * agent, created if missing). An acquisition is one atomic upsert that takes a free or expired
 * lock only, so two processes (two pools) contending for an agent never both get it. Every call
 * is bounded by `timeout` (default `Io.defaultTimeout`, 5 s) and fails with `MessageStoreError`.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { Lock } from "@braid/messaging"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const store = Lock.sqlLockStoreWith({ timeout: "2 seconds" }).pipe(Effect.provide(DriverLive))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const sqlLockStoreWith = (
  options: Sql.StoreOptions = {}
): Effect.Effect<LockStore, MessageStoreError, Sql.SqlDriver> =>
  Effect.gen(function*() {
    const sql = yield* Sql.SqlDriver
    const call = (operation: string) =>
      Sql.call(options.timeout, (reason) => new MessageStoreError({ operation: `lock ${operation}`, reason }))
    yield* sql.execute(`CREATE TABLE IF NOT EXISTS braid_agent_locks (
      organization TEXT NOT NULL,
      agent TEXT NOT NULL,
      holder TEXT NOT NULL,
      token TEXT NOT NULL,
      expires_at BIGINT NOT NULL,
      PRIMARY KEY (organization, agent)
    )`).pipe(call("migrate"))
    const holdings = (text: string, params: ReadonlyArray<Sql.Param>) =>
      Effect.flatMap(sql.query(text, params), (rows) =>
        Effect.forEach(rows, (r) =>
          Effect.map(
            Effect.mapError(decodeHolding(r), (e) => `a stored lock does not decode: ${e.message}`),
            (h): Holding => ({ agent: h.agent, holder: h.holder, expiresAt: h.expires_at })
          )))
    return {
      tryAcquire: (organization, h, now) =>
        sql.execute(
          `INSERT INTO braid_agent_locks (organization, agent, holder, token, expires_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (organization, agent) DO UPDATE SET holder = excluded.holder, token = excluded.token,
            expires_at = excluded.expires_at
          WHERE braid_agent_locks.expires_at <= ?`,
          [organization, h.agent, h.holder, h.token, h.expiresAt, now]
        ).pipe(Effect.map((n) => n === 1), call("acquire")),
      renew: (organization, agent, token, expiresAt) =>
        sql.execute(
          "UPDATE braid_agent_locks SET expires_at = ? WHERE organization = ? AND agent = ? AND token = ?",
          [expiresAt, organization, agent, token]
        ).pipe(Effect.map((n) => n === 1), call("renew")),
      release: (organization, agent, token) =>
        sql.execute(
          "DELETE FROM braid_agent_locks WHERE organization = ? AND agent = ? AND token = ?",
          [organization, agent, token]
        ).pipe(Effect.asVoid, call("release")),
      releaseHolder: (organization, holder) =>
        sql.execute("DELETE FROM braid_agent_locks WHERE organization = ? AND holder = ?", [organization, holder]).pipe(
          call("releaseHolder")
        ),
      holding: (organization, agent, now) =>
        holdings(
          "SELECT agent, holder, expires_at FROM braid_agent_locks WHERE organization = ? AND agent = ? AND expires_at > ?",
          [organization, agent, now]
        ).pipe(Effect.map((hs) => Option.fromNullable(hs[0])), call("holding")),
      live: (organization, now) =>
        holdings(
          "SELECT agent, holder, expires_at FROM braid_agent_locks WHERE organization = ? AND expires_at > ? ORDER BY agent",
          [organization, now]
        ).pipe(call("live"))
    }
  })

/**
 * Locks in memory (one process), in the default organization.
 *
 * @example
 * ```ts
 * import { Lock } from "@braid/messaging"
 *
 * const LockLive = Lock.layerMemory
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Lock> = Layer.effect(Lock, Effect.map(memoryLockStore, (s) => make(s)))

/**
 * Locks on the `Sql.SqlDriver` in context (SQLite or PostgreSQL), in the default organization.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { Lock } from "@braid/messaging"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const LockLive = Lock.layerSql().pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerSql = (options: Sql.StoreOptions = {}): Layer.Layer<Lock, MessageStoreError, Sql.SqlDriver> =>
  Layer.effect(Lock, Effect.map(sqlLockStoreWith(options), (s) => make(s)))
