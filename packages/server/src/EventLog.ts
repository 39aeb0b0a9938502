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
import { Effect, Queue, Stream } from "effect"

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
  /** The queues of the readers following this session live. */
  readonly readers: Set<Queue.Queue<Entry>>
}

/**
 * Builds a log (not subscribed to anything: see `subscribe`). An event goes to the readers of its
 * own session only, so that many sessions followed at once cost each event one delivery per
 * reader of its session.
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
    const logOf = (sessionId: string): SessionLog => {
      let log = logs.get(sessionId)
      if (log === undefined) {
        log = { next: 1, entries: [], readers: new Set() }
      } else {
        logs.delete(sessionId) // re-inserted last: the map is in order of last use
      }
      logs.set(sessionId, log)
      if (logs.size > maxSessions) {
        const [oldest, dropped] = logs.entries().next().value!
        logs.delete(oldest)
        // Its readers end (a client reconnects and gets a Gap).
        for (const q of dropped.readers) Queue.unsafeOffer(q, endOfLog)
      }
      return log
    }
    // One append at a time: sequence numbers reach every reader in order.
    const lock = yield* Effect.makeSemaphore(1)
    const append = (event: SessionEvents.Event) =>
      lock.withPermits(1)(Effect.suspend(() => {
        const log = logOf(event.sessionId)
        const entry: Entry = { seq: log.next++, event }
        log.entries.push(entry)
        if (log.entries.length > perSession) log.entries.splice(0, log.entries.length - perSession)
        return Effect.as(Effect.forEach(log.readers, (q) => Queue.offer(q, entry), { discard: true }), entry)
      }))

    const follow = (sessionId: string, after: number): Stream.Stream<Item> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Listen first, then read the log: an event appended in between is in both, and the
        // sequence numbers drop the second copy.
        const log = logOf(sessionId)
        const live = yield* Effect.acquireRelease(
          Effect.tap(Queue.unbounded<Entry>(), (q) => Effect.sync(() => log.readers.add(q))),
          (q) => Effect.zipRight(Effect.sync(() => log.readers.delete(q)), Queue.shutdown(q))
        )
        let seen = after
        const items: Array<Item> = []
        const first = log.entries[0]
        if (first !== undefined && first.seq > after + 1) {
          items.push({ _tag: "Gap", after, next: first.seq })
          seen = first.seq - 1
        }
        for (const entry of log.entries) {
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
            Stream.takeWhile((entry) => entry !== endOfLog),
            Stream.filter(fresh),
            Stream.map((entry): Item => ({ _tag: "Event", entry }))
          )
        )
      }))

    return { append, follow, last: (sessionId) => (logs.get(sessionId)?.next ?? 1) - 1 }
  })

/** Sent to the readers of a log that is dropped: their stream ends. */
const endOfLog: Entry = { seq: -1, event: undefined as never }

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
