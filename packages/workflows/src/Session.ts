/**
 * The lifecycle of a conversational session (used by the coaching workflow): a session is
 * `Active` until it completes, once, for one reason (`SessionStore.EndReason`: the user ended it,
 * it was idle for longer than its idle timeout, its objective was met, it reached its turn
 * limit or its budget, or the model failed too often in a row). It keeps its messages with their
 * token and dollar cost, and totals them per session.
 *
 * It is the live, in-memory side of the one session model: the coaching workflow writes each
 * message and the end through to the `SessionStore` (the `onEnd` hook runs once, in whichever
 * fiber ended the session, the idle timer's included).
 *
 * ```
 *            record / touch (reset idle timer)
 *              ┌──────┐
 *              ▼      │
 *  make ──▶ Active ───┘ ──end("user" | "objective-met")──▶ Completed(reason)
 *              │                                             ▲
 *              └───────── idle timeout (Clock) ──────────────┘
 * ```
 *
 * The idle timer runs on Effect's `Clock`, so tests drive it with `TestClock`. The timer fiber
 * lives in the `Scope` that made the session.
 *
 * @since 0.1.0
 */
import type { Duration, Scope } from "effect"
import { Clock, Deferred, Duration as D, Effect, Ref } from "effect"
import { SessionCompleted } from "./Errors.js"
import type * as SessionStore from "./SessionStore.js"

/**
 * Why a session completed: the same reasons as a stored session's (`SessionStore.EndReason`).
 *
 * @category models
 * @since 0.1.0
 */
export type EndReason = SessionStore.EndReason

/**
 * How a session ended: its reason, when the end was decided (`at`, Effect Clock), and the
 * message it ended with, if any (e.g. the outage notice).
 *
 * @category models
 * @since 0.3.0
 */
export interface Ended {
  readonly reason: EndReason
  readonly at: number
  readonly message?: string
}

/**
 * @category models
 * @since 0.1.0
 */
export type Status =
  | { readonly _tag: "Active" }
  | { readonly _tag: "Completed"; readonly reason: EndReason; readonly at: number; readonly message?: string }

/**
 * Token usage of one message (input: prompt tokens; output: completion tokens).
 *
 * @category models
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * A message recorded in a session, with its accounting.
 *
 * @category models
 * @since 0.1.0
 */
export interface SessionMessage {
  readonly index: number
  readonly role: "user" | "assistant"
  readonly content: string
  /** Epoch milliseconds (Effect Clock). */
  readonly at: number
  readonly usage: Usage
  readonly costUsd: number
  /** True when the reply is a fallback (the model failed). */
  readonly fallback: boolean
  /** Why the reply is a fallback (the model's last error), when it is. */
  readonly fallbackCause?: string
  /** The model that wrote the reply. */
  readonly model?: string
  /** The turn (a user message and the reply to it share one). */
  readonly turnId?: string
  /** The tokens were estimated (a user message, or a provider that reports no usage). */
  readonly estimated?: boolean
}

/**
 * The accounting of a whole session.
 *
 * @category models
 * @since 0.1.0
 */
export interface Totals {
  readonly messages: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly costUsd: number
  readonly fallbacks: number
}

/**
 * What a message is recorded with (its index and time are added).
 *
 * @category models
 * @since 0.1.0
 */
export interface NewMessage {
  readonly role: "user" | "assistant"
  readonly content: string
  readonly usage?: Usage
  readonly costUsd?: number
  readonly fallback?: boolean
  readonly fallbackCause?: string
  readonly model?: string
  readonly turnId?: string
  readonly estimated?: boolean
}

/**
 * A live session.
 *
 * @category models
 * @since 0.1.0
 */
export interface Session {
  readonly id: string
  readonly userId: string
  readonly status: Effect.Effect<Status>
  /** Appends a message and resets the idle timer. Fails with `SessionCompleted` once completed. */
  readonly record: (message: NewMessage) => Effect.Effect<SessionMessage, SessionCompleted>
  /** Resets the idle timer without a message (e.g. the user is typing). */
  readonly touch: Effect.Effect<void, SessionCompleted>
  /**
   * Completes the session; the first reason wins. Returns whether this call completed it (and
   * ran `onEnd`).
   */
  readonly end: (reason: EndReason, message?: string) => Effect.Effect<boolean>
  /** Waits until the session completes. */
  readonly completed: Effect.Effect<Ended>
  readonly messages: Effect.Effect<ReadonlyArray<SessionMessage>>
  readonly totals: Effect.Effect<Totals>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly id: string
  readonly userId: string
  /** Complete the session after this long without activity. */
  readonly idleTimeout: Duration.DurationInput
  /**
   * Runs once, when the session completes, in the fiber that completed it (e.g. writes the end
   * to a store and publishes it). It must handle its own failures.
   */
  readonly onEnd?: (ended: Ended) => Effect.Effect<void>
}

/**
 * Sums the accounting of messages.
 *
 * @example
 * ```ts
 * import { Session } from "@braid/workflows"
 *
 * const totals = Session.total([]) // { messages: 0, inputTokens: 0, ... }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const total = (messages: ReadonlyArray<SessionMessage>): Totals => {
  let inputTokens = 0
  let outputTokens = 0
  let costUsd = 0
  let fallbacks = 0
  for (const m of messages) {
    inputTokens += m.usage.inputTokens
    outputTokens += m.usage.outputTokens
    costUsd += m.costUsd
    if (m.fallback) fallbacks++
  }
  return { messages: messages.length, inputTokens, outputTokens, costUsd, fallbacks }
}

/**
 * Starts a session in the `Active` state, with its idle timer running in the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Session } from "@braid/workflows"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const session = yield* Session.make({ id: "s-1", userId: "ada", idleTimeout: "10 minutes" })
 *   yield* session.record({ role: "user", content: "Morning!" })
 *   yield* session.end("user")
 *   return yield* session.status // { _tag: "Completed", reason: "user", at: ... }
 * }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Session, never, Scope.Scope> =>
  Effect.gen(function*() {
    const idle = D.toMillis(D.decode(options.idleTimeout))
    const status = yield* Ref.make<Status>({ _tag: "Active" })
    const lastActivity = yield* Ref.make(yield* Clock.currentTimeMillis)
    const messages = yield* Ref.make<ReadonlyArray<SessionMessage>>([])
    const done = yield* Deferred.make<Ended>()
    const onEnd = options.onEnd ?? (() => Effect.void)

    const end = (reason: EndReason, message?: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) => {
        const ended: Ended = message === undefined ? { reason, at } : { reason, at, message }
        return Ref.modify(
          status,
          (s): readonly [boolean, Status] => s._tag === "Active" ? [true, { _tag: "Completed", ...ended }] : [false, s]
        ).pipe(
          Effect.tap((won) =>
            won ? Effect.uninterruptible(Effect.zipRight(onEnd(ended), Deferred.succeed(done, ended))) : Effect.void
          )
        )
      })

    const ensureActive = Effect.flatMap(Ref.get(status), (s) =>
      s._tag === "Active"
        ? Effect.void
        : Effect.fail(new SessionCompleted({ sessionId: options.id, reason: s.reason })))

    const touch = Effect.zipRight(
      ensureActive,
      Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.set(lastActivity, now))
    )

    const record = (m: NewMessage) =>
      Effect.gen(function*() {
        yield* touch
        const at = yield* Clock.currentTimeMillis
        return yield* Ref.modify(messages, (ms): readonly [SessionMessage, ReadonlyArray<SessionMessage>] => {
          const message: SessionMessage = {
            index: ms.length,
            role: m.role,
            content: m.content,
            at,
            usage: m.usage ?? { inputTokens: 0, outputTokens: 0 },
            costUsd: m.costUsd ?? 0,
            fallback: m.fallback ?? false,
            ...(m.fallbackCause !== undefined ? { fallbackCause: m.fallbackCause } : {}),
            ...(m.model !== undefined ? { model: m.model } : {}),
            ...(m.turnId !== undefined ? { turnId: m.turnId } : {}),
            ...(m.estimated !== undefined ? { estimated: m.estimated } : {})
          }
          return [message, [...ms, message]]
        })
      })

    // The idle timer: sleeps until the last activity + idle, re-checks (activity may have moved it).
    const watch: Effect.Effect<void> = Effect.gen(function*() {
      while (true) {
        const now = yield* Clock.currentTimeMillis
        const due = (yield* Ref.get(lastActivity)) + idle
        if (now >= due) {
          yield* end("idle-timeout")
          return
        }
        yield* Effect.sleep(D.millis(due - now))
      }
    })
    yield* Effect.forkScoped(Effect.raceFirst(watch, Deferred.await(done)))

    return {
      id: options.id,
      userId: options.userId,
      status: Ref.get(status),
      record,
      touch,
      end,
      completed: Deferred.await(done),
      messages: Ref.get(messages),
      totals: Effect.map(Ref.get(messages), total)
    }
  })
