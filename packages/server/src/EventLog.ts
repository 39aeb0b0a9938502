/**
 * The per-session event log behind the server-sent events: every session event of the bus
 * (`SessionEvents.sessions`) gets the next sequence number of its session (1, 2, ...) and is kept
 * in a bounded log per session, so that a client that reconnects with `Last-Event-ID: n` gets
 * every event after `n` once, in order: first from the log, then live.
 *
 * The log lives in the server process (sequence numbers are per process): with several server
 * processes a client must reconnect to the same one to resume (see docs/serve.md).
 *
 * @since 0.3.0
 */
import { EventBus } from "@braid/messaging"
import { SessionEvents } from "@braid/workflows"
import type { Scope } from "effect"
import { Effect, PubSub, Stream } from "effect"

/**
 * One logged event and its sequence number in its session.
 *
 * @category models
 * @since 0.3.0
 */
export interface Entry {
  readonly seq: number
  readonly event: SessionEvents.Event
}

/**
 * What a client reads: logged events, or a notice that events after `after` and before `next`
 * were dropped from the bounded log (the client should reload the session).
 *
 * @category models
 * @since 0.3.0
 */
export type Item =
  | { readonly _tag: "Event"; readonly entry: Entry }
  | { readonly _tag: "Gap"; readonly after: number; readonly next: number }

/**
 * The options of the log.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** Events kept per session (the oldest are dropped). Default 1000. */
  readonly perSession?: number
  /** Sessions kept (the least recently written are dropped). Default 10 000. */
  readonly sessions?: number
}

/**
 * The event log.
 *
 * @category models
 * @since 0.3.0
 */
export interface EventLog {
  /** Appends an event to its session's log (the bus subscription calls it). */
  readonly append: (event: SessionEvents.Event) => Effect.Effect<Entry>
  /** The session's events after `after` (0: all), from the log then live; never ends by itself. */
  readonly follow: (sessionId: string, after: number) => Stream.Stream<Item>
  /** The last sequence number of a session (0 when none). */
  readonly last: (sessionId: string) => number
}

interface SessionLog {
  next: number
  entries: Array<Entry>
}

/**
 * Builds a log (not subscribed to anything: see `subscribe`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventLog } from "@braid/server"
 *
 * const log = Effect.scoped(EventLog.make({ perSession: 500 }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<EventLog, never, Scope.Scope> =>
  Effect.gen(function*() {
    const perSession = Math.max(1, options.perSession ?? 1000)
    const maxSessions = Math.max(1, options.sessions ?? 10_000)
    const logs = new Map<string, SessionLog>()
    const hub = yield* Effect.acquireRelease(
      PubSub.unbounded<{ readonly sessionId: string; readonly entry: Entry }>(),
      PubSub.shutdown
    )

    // One append at a time: sequence numbers reach the hub in order.
    const lock = yield* Effect.makeSemaphore(1)
    const append = (event: SessionEvents.Event) =>
      lock.withPermits(1)(Effect.suspend(() => {
        let log = logs.get(event.sessionId)
        if (log === undefined) {
          log = { next: 1, entries: [] }
        } else {
          logs.delete(event.sessionId) // re-inserted last: the map is in order of last write
        }
        logs.set(event.sessionId, log)
        if (logs.size > maxSessions) logs.delete(logs.keys().next().value!)
        const entry: Entry = { seq: log.next++, event }
        log.entries.push(entry)
        if (log.entries.length > perSession) log.entries.splice(0, log.entries.length - perSession)
        return Effect.as(PubSub.publish(hub, { sessionId: event.sessionId, entry }), entry)
      }))

    const follow = (sessionId: string, after: number): Stream.Stream<Item> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Subscribe first, then read the log: an event appended in between is in both, and the
        // sequence numbers drop the second copy.
        const live = yield* PubSub.subscribe(hub)
        const logged = logs.get(sessionId)?.entries ?? []
        let seen = after
        const items: Array<Item> = []
        const first = logged[0]
        if (first !== undefined && first.seq > after + 1) {
          items.push({ _tag: "Gap", after, next: first.seq })
          seen = first.seq - 1
        }
        for (const entry of logged) {
          if (entry.seq > seen) {
            items.push({ _tag: "Event", entry })
            seen = entry.seq
          }
        }
        const fresh = (entry: Entry): boolean => {
          if (entry.seq <= seen) return false
          seen = entry.seq
          return true
        }
        return Stream.concat(
          Stream.fromIterable(items),
          Stream.fromQueue(live).pipe(
            Stream.filter((m) => m.sessionId === sessionId && fresh(m.entry)),
            Stream.map((m): Item => ({ _tag: "Event", entry: m.entry }))
          )
        )
      }))

    return { append, follow, last: (sessionId) => (logs.get(sessionId)?.next ?? 1) - 1 }
  })

/**
 * Appends every session event of the bus to the log, for the life of the scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { EventLog } from "@braid/server"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const log = yield* EventLog.make()
 *   yield* EventLog.subscribe(log)
 * })).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const subscribe = (log: EventLog) =>
  EventBus.subscribe(SessionEvents.sessions, (event) => Effect.asVoid(log.append(event)))
