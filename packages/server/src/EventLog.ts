/**
 * The events of a session as a client follows them (the server-sent events and the WebSocket of
 * `/api/sessions/:id/...`), on the `SessionStore`'s persisted events: `follow(principal, id, n)`
 * is every stored event after sequence number `n`, in order, then the new ones as they come.
 *
 * The store numbers a session's events 1, 2, ... (`SessionEvents.emit` persists them), so the
 * numbers survive a restart and are the same in every server process: a client that reconnects
 * with `Last-Event-ID: n`, to this process or another, after a restart or not, gets every event
 * after `n` once. The `EventBus` (in memory in one process; `RedisEventBus` between processes)
 * only wakes a follower, which then reads the store after the last number it sent: a bus message
 * that is lost, duplicated or early loses or repeats nothing (a lost one is caught up by the poll,
 * every `pollInterval`). `AiTurnDelta` (streamed text) is not stored: it is forwarded live, without
 * a number, and a client that reconnects gets the whole `AiTurn` instead.
 *
 * @since 0.3.0
 */
import { EventBus } from "@braid/messaging"
import type { Errors as WfErrors } from "@braid/workflows"
import { SessionEvents, SessionStore } from "@braid/workflows"
import { Duration, Effect, Queue, Schedule, Stream } from "effect"

/**
 * One persisted event and its sequence number in its session.
 *
 * @category models
 * @since 0.3.0
 */
export interface Entry {
  readonly seq: number
  readonly event: SessionEvents.Event
}

/**
 * What a client reads: a persisted event (with its number, the SSE `id`), or a live-only event
 * (`AiTurnDelta`, no number).
 *
 * @category models
 * @since 0.3.0
 */
export type Item =
  | { readonly _tag: "Event"; readonly entry: Entry }
  | { readonly _tag: "Live"; readonly event: SessionEvents.Event }

/**
 * The options of the log.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** How often a follower reads the store even when the bus is silent (a lost bus message). Default 5 s. */
  readonly pollInterval?: Duration.DurationInput
  /** Events read from the store per query. Default 200. */
  readonly pageSize?: number
  /** Live signals a slow follower may have pending (the oldest are dropped; a drop loses deltas only). Default 4096. */
  readonly followerBuffer?: number
}

/**
 * The event log.
 *
 * @category models
 * @since 0.3.0
 */
export interface EventLog {
  /**
   * The session's stored events after `after` (0: all), then live; never ends by itself (it ends
   * when the session is deleted). Fails at once with `SessionNotFound` when `principal` does not
   * see the session (ownership as for the session's messages).
   */
  readonly follow: (
    principal: SessionStore.Principal,
    sessionId: string,
    after: number
  ) => Stream.Stream<Item, WfErrors.SessionNotFound | WfErrors.SessionStoreError | WfErrors.InvalidInput>
}

/** What wakes a follower: a stored event may be there to read, or a live-only event to forward. */
type Signal = { readonly _tag: "Wake" } | { readonly _tag: "Live"; readonly event: SessionEvents.Event }

const wake: Signal = { _tag: "Wake" }

/**
 * Builds the log on `store`, and subscribes to every session and coaching event of the
 * `EventBus` in context for the life of the scope (to wake the followers of the event's session).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { SessionStore } from "@braid/workflows"
 * import { EventLog } from "@braid/server"
 *
 * const log = Effect.scoped(
 *   Effect.flatMap(SessionStore.SessionStore, (store) => EventLog.make(store, { pollInterval: "2 seconds" }))
 * ).pipe(Effect.provide([EventBus.layerMemory, SessionStore.layerMemory]))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (
  store: SessionStore.Service,
  options: Options = {}
) =>
  Effect.gen(function*() {
    const pollInterval = Duration.decode(options.pollInterval ?? "5 seconds")
    const pageSize = Math.max(1, Math.min(1000, Math.floor(options.pageSize ?? 200)))
    const buffer = Math.max(16, Math.floor(options.followerBuffer ?? 4096))
    /** The queues of the followers of each session. */
    const followers = new Map<string, Set<Queue.Queue<Signal>>>()

    const notify = (event: SessionEvents.Event) =>
      Effect.sync(() => {
        const set = followers.get(event.sessionId)
        if (set === undefined) return
        const signal: Signal = SessionEvents.isPersisted(event._tag) ? wake : { _tag: "Live", event }
        for (const q of set) Queue.unsafeOffer(q, signal)
      })
    yield* EventBus.subscribe(SessionEvents.sessions, notify)
    yield* EventBus.subscribe(SessionEvents.coaching, notify)

    const follow: EventLog["follow"] = (principal, sessionId, after) =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Listen first, then read the store: an event stored in between wakes a read that finds
        // nothing new or it, never a duplicate (the follower reads after the last number it sent).
        const queue = yield* Effect.acquireRelease(
          Effect.tap(Queue.sliding<Signal>(buffer), (q) =>
            Effect.sync(() => {
              let set = followers.get(sessionId)
              if (set === undefined) {
                set = new Set()
                followers.set(sessionId, set)
              }
              set.add(q)
            })),
          (q) =>
            Effect.zipRight(
              Effect.sync(() => {
                const set = followers.get(sessionId)
                set?.delete(q)
                if (set?.size === 0) followers.delete(sessionId)
              }),
              Queue.shutdown(q)
            )
        )
        let seen = after
        /** Every stored event after `seen`, page by page; `seen` moves past each. */
        const readStored = Effect.gen(function*() {
          const out: Array<Item> = []
          for (;;) {
            const page = yield* store.events(principal, sessionId, { after: seen, limit: pageSize })
            for (const entry of page) {
              if (entry.seq <= seen) continue
              out.push({ _tag: "Event", entry })
              seen = entry.seq
            }
            if (page.length < pageSize) return out
          }
        })
        const first = yield* readStored
        const poll = Stream.fromSchedule(Schedule.spaced(pollInterval)).pipe(Stream.as(wake))
        const live = Stream.fromQueue(queue).pipe(
          Stream.merge(poll),
          Stream.mapEffect((signal) =>
            signal._tag === "Live"
              ? Effect.succeed<ReadonlyArray<Item> | undefined>([{ _tag: "Live", event: signal.event }])
              : readStored.pipe(
                Effect.catchTag("SessionNotFound", () => Effect.succeed(undefined)), // deleted: the stream ends
                Effect.catchAll((e) =>
                  // The store does not answer: try again on the next wake or poll (nothing is lost).
                  Effect.as(Effect.logWarning(`events of session ${sessionId}: ${e.message}`), [])
                )
              )
          ),
          Stream.takeWhile((items): items is ReadonlyArray<Item> => items !== undefined),
          Stream.flattenIterables
        )
        return Stream.concat(Stream.fromIterable(first), live)
      }))

    return { follow } satisfies EventLog
  })
