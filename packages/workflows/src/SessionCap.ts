/**
 * The session cap: at most `maxActive` live sessions at once (default 20) and `maxQueued` waiting
 * for a slot (default 5); the next one is refused with `AtCapacity`, which says how many are
 * active and waiting. It caps sessions, not model calls: the concurrency of model calls is a
 * separate limit (a `Bulkhead` or `RateLimit` around the calls, as in `Coaching`).
 *
 * ```
 * enter ──▶ slot free? ── yes ──▶ active ─── leave ──▶ (the head of the queue becomes active)
 *              │ no
 *              ▼
 *         queue full? ── no ──▶ queued (position 1..maxQueued) ── a slot frees ──▶ active
 *              │ yes
 *              ▼
 *          AtCapacity
 * ```
 *
 * A queued session can watch its position (`positions`: 3, 2, 1, then 0 when it is active) and
 * wait for its slot (`admission.active`). Leaving a queued session takes it out of the queue.
 *
 * @since 0.3.0
 */
import { Deferred, Effect, Stream, SubscriptionRef } from "effect"
import { AtCapacity, InvalidInput } from "./Errors.js"

/**
 * The limits of a cap.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** Live sessions at once. Default 20. */
  readonly maxActive?: number
  /** Sessions that may wait for a slot. Default 5. */
  readonly maxQueued?: number
}

/**
 * What `enter` gives a session: active at once, or queued with a position.
 *
 * @category models
 * @since 0.3.0
 */
export interface Admission {
  /** `"active"`, or `"queued"` when it waits for a slot. */
  readonly status: "active" | "queued"
  /** The position in the queue when it entered (1 is next; 0 when active). */
  readonly position: number
  /** Completes when the session holds a slot (at once when it entered active). */
  readonly active: Effect.Effect<void>
}

/**
 * A session cap.
 *
 * @category models
 * @since 0.3.0
 */
export interface SessionCap {
  readonly maxActive: number
  readonly maxQueued: number
  /** Takes a slot, or a place in the queue, or fails with `AtCapacity`. An id already in is admitted as it is. */
  readonly enter: (sessionId: string) => Effect.Effect<Admission, AtCapacity>
  /** Frees the session's slot (the head of the queue takes it) or its place in the queue. No-op for an unknown id. */
  readonly leave: (sessionId: string) => Effect.Effect<void>
  /** The position of a session now: 0 active, 1.. queued, `undefined` when it holds neither. */
  readonly position: (sessionId: string) => Effect.Effect<number | undefined>
  /**
   * The positions of a queued session as they change (the current one first), ending with 0 when
   * it becomes active; empty for a session the cap does not hold, one `0` for an active one.
   */
  readonly positions: (sessionId: string) => Stream.Stream<number>
  /** How many are active and queued now. */
  readonly stats: Effect.Effect<{ readonly active: number; readonly queued: number }>
}

interface Waiting {
  readonly id: string
  readonly ready: Deferred.Deferred<void>
  readonly position: SubscriptionRef.SubscriptionRef<number>
}

const count = (name: string, value: unknown, fallback: number): Effect.Effect<number, InvalidInput> => {
  const n = value ?? fallback
  return typeof n === "number" && Number.isInteger(n) && n >= 0
    ? Effect.succeed(n)
    : Effect.fail(new InvalidInput({ field: name, reason: `must be a non-negative integer, got ${String(n)}` }))
}

/**
 * Builds a cap (its queue is in memory: one cap per process serving the sessions). A limit that
 * is not a non-negative integer is `InvalidInput` naming it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SessionCap } from "@braid/workflows"
 *
 * const program = Effect.gen(function*() {
 *   const cap = yield* SessionCap.make({ maxActive: 1, maxQueued: 1 })
 *   yield* cap.enter("s-1") // active
 *   const second = yield* cap.enter("s-2") // queued, position 1
 *   yield* cap.leave("s-1") // s-2 becomes active
 *   yield* second.active
 * })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<SessionCap, InvalidInput> =>
  Effect.gen(function*() {
    const maxActive = yield* count("maxActive", options.maxActive, 20)
    const maxQueued = yield* count("maxQueued", options.maxQueued, 5)
    const lock = yield* Effect.makeSemaphore(1)
    const active = new Set<string>()
    let queue: ReadonlyArray<Waiting> = []
    const ready = yield* Deferred.make<void>()
    yield* Deferred.succeed(ready, undefined)

    const renumber = Effect.suspend(() =>
      Effect.forEach(queue, (w, i) => SubscriptionRef.set(w.position, i + 1), { discard: true })
    )

    const enter = (sessionId: string): Effect.Effect<Admission, AtCapacity> =>
      lock.withPermits(1)(Effect.suspend((): Effect.Effect<Admission, AtCapacity> => {
        if (active.has(sessionId)) {
          return Effect.succeed({ status: "active", position: 0, active: Deferred.await(ready) })
        }
        const waiting = queue.findIndex((w) => w.id === sessionId)
        if (waiting >= 0) {
          return Effect.succeed({
            status: "queued",
            position: waiting + 1,
            active: Deferred.await(queue[waiting]!.ready)
          })
        }
        if (active.size < maxActive) {
          active.add(sessionId)
          return Effect.succeed({ status: "active", position: 0, active: Deferred.await(ready) })
        }
        if (queue.length >= maxQueued) {
          return Effect.fail(new AtCapacity({ active: active.size, queued: queue.length, maxActive, maxQueued }))
        }
        return Effect.gen(function*() {
          const position = queue.length + 1
          const w: Waiting = {
            id: sessionId,
            ready: yield* Deferred.make<void>(),
            position: yield* SubscriptionRef.make(position)
          }
          queue = [...queue, w]
          return { status: "queued", position, active: Deferred.await(w.ready) } as const
        })
      }))

    const leave = (sessionId: string): Effect.Effect<void> =>
      lock.withPermits(1)(Effect.suspend(() => {
        if (active.delete(sessionId)) {
          const next = queue[0]
          if (next === undefined || active.size >= maxActive) return Effect.void
          queue = queue.slice(1)
          active.add(next.id)
          return Effect.zipRight(
            Effect.zipRight(SubscriptionRef.set(next.position, 0), Deferred.succeed(next.ready, undefined)),
            renumber
          )
        }
        const i = queue.findIndex((w) => w.id === sessionId)
        if (i < 0) return Effect.void
        const gone = queue[i]!
        queue = queue.filter((w) => w !== gone)
        // Its waiter is interrupted rather than admitted: the session left.
        return Effect.zipRight(Deferred.interrupt(gone.ready), renumber)
      }))

    const position = (sessionId: string): Effect.Effect<number | undefined> =>
      Effect.sync(() => {
        if (active.has(sessionId)) return 0
        const i = queue.findIndex((w) => w.id === sessionId)
        return i < 0 ? undefined : i + 1
      })

    const positions = (sessionId: string): Stream.Stream<number> =>
      Stream.unwrap(Effect.sync(() => {
        if (active.has(sessionId)) return Stream.make(0)
        const w = queue.find((x) => x.id === sessionId)
        if (w === undefined) return Stream.empty
        return w.position.changes.pipe(
          Stream.takeUntil((p) => p === 0),
          // A session that left the queue: its stream ends with it.
          Stream.interruptWhen(
            Effect.exit(Deferred.await(w.ready)).pipe(
              Effect.flatMap((exit) => exit._tag === "Failure" ? Effect.void : Effect.never)
            )
          )
        )
      }))

    return {
      maxActive,
      maxQueued,
      enter,
      leave,
      position,
      positions,
      stats: Effect.sync(() => ({ active: active.size, queued: queue.length }))
    }
  })
