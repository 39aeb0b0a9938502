/**
 * Termination conditions of a meeting, combined with `and` / `or` (an algebra in the style of
 * AutoGen's group chat). A condition looks at a snapshot of the meeting and says whether it
 * holds (with a detail). The meeting checks its condition before every turn; conditions that can
 * become true without a turn (a timeout, an external signal) also wake the meeting so that a
 * turn in progress is cut short. The result of a meeting names the condition that ended it.
 *
 * @since 0.1.0
 */
import { Clock, Deferred, Duration, Effect, Option } from "effect"

/**
 * What a condition sees.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  /** Turns given so far (spoken, timed out or failed). */
  readonly turns: number
  readonly tokens: number
  readonly costUsd: number
  /** The last utterance, if any. */
  readonly lastText: string | undefined
  readonly lastSpeaker: string | undefined
  /** When the meeting started (Clock millis). */
  readonly startedAt: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Termination {
  /** e.g. `maxTurns(10)`, `or(mention("DONE"), timeout(5m))`. */
  readonly name: string
  /** `Some(which condition and why)` when the condition holds. */
  readonly check: (snapshot: Snapshot) => Effect.Effect<Option.Option<EndedBy>>
  /** Completes when the condition may have become true without a turn being taken. */
  readonly wake?: (snapshot: Snapshot) => Effect.Effect<void>
}

/**
 * Which condition ended a meeting: a termination condition's name, or `"host"` (the host ended
 * it), or `"no-participants"` (nobody was left to speak).
 *
 * @category models
 * @since 0.1.0
 */
export interface EndedBy {
  readonly condition: string
  readonly detail: string
}

const not = Effect.succeed(Option.none<EndedBy>())

/** A leaf condition: `test` returns the detail when it holds. */
const leaf = (
  name: string,
  test: (s: Snapshot) => Effect.Effect<string | undefined>,
  wake?: Termination["wake"]
): Termination => ({
  name,
  check: (s) =>
    Effect.map(test(s), (detail) => detail === undefined ? Option.none() : Option.some({ condition: name, detail })),
  ...(wake ? { wake } : {})
})
const when = (ok: boolean, detail: () => string) => Effect.succeed(ok ? detail() : undefined)

/**
 * Holds after `n` turns.
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const tenTurns = Termination.maxTurns(10)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const maxTurns = (n: number): Termination =>
  leaf(`maxTurns(${n})`, (s) => when(s.turns >= n, () => `${s.turns} turns taken (max ${n})`))

/**
 * Holds once the utterances used at least `n` tokens (as reported by the speakers, or estimated
 * from the text).
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const tokenCap = Termination.maxTokens(20_000)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const maxTokens = (n: number): Termination =>
  leaf(`maxTokens(${n})`, (s) => when(s.tokens >= n, () => `${s.tokens} tokens used (max ${n})`))

/**
 * Holds once the utterances cost at least `usd` dollars (as reported by the speakers).
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const costCap = Termination.maxCost(0.5)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const maxCost = (usd: number): Termination =>
  leaf(`maxCost(${usd})`, (s) => when(s.costUsd >= usd, () => `$${s.costUsd.toFixed(4)} spent (max $${usd})`))

/**
 * Holds when the last utterance mentions `text` (case-insensitive unless told otherwise).
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const done = Termination.mention("TERMINATE")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mention = (text: string, options: { readonly caseSensitive?: boolean } = {}): Termination =>
  leaf(`mention(${JSON.stringify(text)})`, (s) => {
    const found = s.lastText !== undefined &&
      (options.caseSensitive ? s.lastText.includes(text) : s.lastText.toLowerCase().includes(text.toLowerCase()))
    return when(found, () => `${s.lastSpeaker} said "${text}"`)
  })

/**
 * Holds once `duration` has passed since the meeting started (Effect Clock: TestClock drives it).
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const halfHour = Termination.timeout("30 minutes")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const timeout = (duration: Duration.DurationInput): Termination => {
  const millis = Duration.toMillis(duration)
  return leaf(
    `timeout(${Duration.format(duration)})`,
    (s) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          when(now - s.startedAt >= millis, () =>
            `${Duration.format(Duration.millis(now - s.startedAt))} elapsed (max ${Duration.format(duration)})`)
      ),
    (s) =>
      Effect.flatMap(
        Clock.currentTimeMillis,
        (now) => Effect.sleep(Duration.millis(Math.max(0, s.startedAt + millis - now)))
      )
  )
}

/**
 * Holds once `signal` is completed (for example by another part of the application, or by a
 * handler of an external event).
 *
 * @example
 * ```ts
 * import { Deferred, Effect } from "effect"
 * import { Termination } from "@braid/meetings"
 *
 * const program = Effect.gen(function*() {
 *   const stop = yield* Deferred.make<void>()
 *   const condition = Termination.external(stop, "stop-button")
 *   yield* Deferred.succeed(stop, undefined) // later: ends the meeting
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const external = (signal: Deferred.Deferred<void>, label = "signal"): Termination =>
  leaf(
    `external(${label})`,
    () => Effect.map(Deferred.isDone(signal), (done) => done ? `${label} received` : undefined),
    () => Effect.ignore(Deferred.await(signal))
  )

const wakeOf = (conditions: ReadonlyArray<Termination>): Termination["wake"] => {
  const wakes = conditions.flatMap((c) => (c.wake ? [c.wake] : []))
  if (wakes.length === 0) return undefined
  return (s) => Effect.raceAll(wakes.map((w) => w(s)))
}

/**
 * Holds when any of the conditions holds; the meeting's result names the first that held.
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const stop = Termination.or(Termination.maxTurns(20), Termination.mention("DONE"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const or = (...conditions: ReadonlyArray<Termination>): Termination => {
  const wake = wakeOf(conditions)
  return {
    name: `or(${conditions.map((c) => c.name).join(", ")})`,
    check: (s) =>
      Effect.gen(function*() {
        for (const c of conditions) {
          const r = yield* c.check(s)
          if (Option.isSome(r)) return r
        }
        return Option.none()
      }),
    ...(wake ? { wake } : {})
  }
}

/**
 * Holds when every condition holds.
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const enough = Termination.and(Termination.maxTurns(4), Termination.mention("agreed"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const and = (...conditions: ReadonlyArray<Termination>): Termination => {
  const wake = wakeOf(conditions)
  const name = `and(${conditions.map((c) => c.name).join(", ")})`
  return {
    name,
    check: (s) =>
      Effect.gen(function*() {
        const details: Array<string> = []
        for (const c of conditions) {
          const r = yield* c.check(s)
          if (Option.isNone(r)) return Option.none()
          details.push(`${r.value.condition}: ${r.value.detail}`)
        }
        return Option.some({ condition: name, detail: details.join(" and ") })
      }),
    ...(wake ? { wake } : {})
  }
}

/**
 * A condition that never holds (the meeting then ends only by the host or when nobody is left).
 *
 * @example
 * ```ts
 * import { Termination } from "@braid/meetings"
 *
 * const manual = Termination.never
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const never: Termination = { name: "never", check: () => not }
