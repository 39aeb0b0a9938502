/**
 * Turn policies of a meeting: who speaks next.
 *
 * - `roundRobin`: every present participant in turn order (joiners go to the end of the order;
 *   leavers drop out of it);
 * - `selector`: a function or a primitive (e.g. an agent) picks; `modelSelector` asks the
 *   `LanguageModel`;
 * - `moderated`: a moderator names the next speaker (and may say something, recorded as a remark).
 *
 * A policy never fails and never deadlocks: a pick that fails, or names someone who is not
 * eligible (absent, unknown, or the last speaker when repeats are off), falls back to round robin,
 * and the fallback is recorded with its reason.
 *
 * @since 0.1.0
 */
import type { Primitive } from "@braid/core"
import { Ai } from "@braid/llm"
import { Cause, Effect } from "effect"
import type { View } from "./internal/meetingTypes.js"

/**
 * What a policy is given.
 *
 * @category models
 * @since 0.1.0
 */
export interface Input {
  readonly view: View
  readonly lastSpeaker: string | undefined
  /** The round-robin choice: the fallback of every policy. */
  readonly roundRobin: string
}

/**
 * A policy's decision: the speaker, whether it was a fallback (and why), and an optional remark
 * (a moderator's words) to record before the turn.
 *
 * @category models
 * @since 0.1.0
 */
export interface Decision {
  readonly speaker: string
  readonly fallback?: string
  readonly remark?: { readonly by: string; readonly text: string }
}

/**
 * @category models
 * @since 0.1.0
 */
export interface TurnPolicy<out R = never> {
  readonly name: string
  readonly next: (input: Input) => Effect.Effect<Decision, never, R>
}

/**
 * The participants a pick may name: the present ones, without the last speaker unless repeats
 * are allowed or nobody else is there.
 *
 * @example
 * ```ts
 * import { TurnPolicy } from "@braid/meetings"
 *
 * const view = { meetingId: "m", topic: "t", host: "h", turn: 2, participants: ["h", "a"], history: [] }
 * const names = TurnPolicy.eligible({ view, lastSpeaker: "h", roundRobin: "a" }, false) // ["a"]
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const eligible = (input: Input, allowRepeat: boolean): ReadonlyArray<string> => {
  const present = input.view.participants
  if (allowRepeat || present.length <= 1) return present
  return present.filter((p) => p !== input.lastSpeaker)
}

/**
 * Every present participant in turn order.
 *
 * @example
 * ```ts
 * import { TurnPolicy } from "@braid/meetings"
 *
 * const policy = TurnPolicy.roundRobin
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const roundRobin: TurnPolicy = {
  name: "roundRobin",
  next: (input) => Effect.succeed({ speaker: input.roundRobin })
}

const causeText = (cause: Cause.Cause<unknown>) => {
  const s = Cause.pretty(cause).split("\n")[0] ?? "failed"
  return s.length > 200 ? `${s.slice(0, 200)}...` : s
}

const validated =
  (input: Input, allowRepeat: boolean, who: string) =>
  (pick: Effect.Effect<{ name: string; remark?: Decision["remark"] }, unknown, any>) =>
    Effect.matchCause(pick, {
      onFailure: (cause): Decision => ({
        speaker: input.roundRobin,
        fallback: `${who} failed (${causeText(cause)}); round robin`
      }),
      onSuccess: ({ name, remark }): Decision => {
        // a remark is recorded as text: anything but a string is dropped
        const base = remark && typeof remark.text === "string" && typeof remark.by === "string" ? { remark } : {}
        if (typeof name !== "string") {
          return {
            speaker: input.roundRobin,
            fallback: `${who} picked a ${typeof name}, not a name; round robin`,
            ...base
          }
        }
        const ok = eligible(input, allowRepeat).includes(name)
        return ok
          ? { speaker: name, ...base }
          : {
            speaker: input.roundRobin,
            fallback: `${who} picked "${name}", who is not eligible; round robin`,
            ...base
          }
      }
    })

/**
 * @category models
 * @since 0.1.0
 */
export interface SelectorOptions {
  /** May the last speaker be picked again? Default false. */
  readonly allowRepeat?: boolean
}

/**
 * A function (or a primitive, such as an agent) picks the next speaker from the view. Falls back
 * to round robin when the pick fails or is not eligible.
 *
 * @example
 * ```ts
 * import { TurnPolicy } from "@braid/meetings"
 *
 * // the host speaks after everyone else
 * const policy = TurnPolicy.selector((view, lastSpeaker) =>
 *   lastSpeaker === view.host ? view.participants.find((p) => p !== view.host)! : view.host)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const selector = <E = never, R = never>(
  pick:
    | ((view: View, lastSpeaker: string | undefined) => string | Effect.Effect<string, E, R>)
    | Primitive.Primitive<View, string, E, R>,
  options: SelectorOptions = {}
): TurnPolicy<R> => ({
  name: "selector",
  next: (input) =>
    validated(input, options.allowRepeat ?? false, "selector")(
      Effect.map(
        Effect.suspend(() => {
          if (typeof pick === "function") {
            const r = pick(input.view, input.lastSpeaker)
            return typeof r === "string" ? Effect.succeed(r) : r
          }
          return pick.invoke(input.view)
        }),
        (name) => ({ name })
      )
    ) as Effect.Effect<Decision, never, R>
})

/**
 * The `LanguageModel` in context picks the next speaker: it is shown the topic, the recent
 * history and the eligible names, and answers with a name (the first eligible name found in its
 * reply is taken; anything else falls back to round robin).
 *
 * @example
 * ```ts
 * import { TurnPolicy } from "@braid/meetings"
 *
 * const policy = TurnPolicy.modelSelector({ recent: 6 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const modelSelector = (
  options: SelectorOptions & { readonly recent?: number; readonly model?: string } = {}
): TurnPolicy<Ai.LanguageModel.LanguageModel> => {
  const allowRepeat = options.allowRepeat ?? false
  return {
    name: "modelSelector",
    next: (input) =>
      validated(input, allowRepeat, "model selector")(
        Effect.gen(function*() {
          const names = eligible(input, allowRepeat)
          const recent = input.view.history.filter((e) => e.kind === "spoke").slice(-(options.recent ?? 8))
          const prompt = [
            `Meeting topic: ${input.view.topic}`,
            "Recent turns:",
            ...recent.map((e) => `${e.participant}: ${e.text ?? ""}`),
            `Who should speak next? Answer with exactly one of: ${names.join(", ")}`
          ].join("\n")
          const response = yield* Ai.LanguageModel.generateText({ prompt }).pipe(
            Ai.withSettings({
              agent: "modelSelector",
              ...(options.model !== undefined ? { model: options.model } : {})
            })
          )
          const text = response.text.trim()
          const exact = names.find((n) => n === text)
          const found = exact ?? [...names].sort((a, b) => b.length - a.length).find((n) => text.includes(n))
          return { name: found ?? text }
        })
      )
  }
}

/**
 * What a moderator decides: the next speaker, and optionally what it says (recorded as a remark
 * in the history, not as a turn).
 *
 * @category models
 * @since 0.1.0
 */
export interface ModeratorDecision {
  readonly next: string
  readonly say?: string
}

/**
 * A moderator (by default the host) drives the meeting: before every turn it names the next
 * speaker and may say something. Falls back to round robin when it fails or names someone who is
 * not eligible.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { TurnPolicy } from "@braid/meetings"
 *
 * const chair = Primitive.sync("chair", (view: TurnPolicy.PolicyView) => ({
 *   next: view.participants[view.turn % view.participants.length]!,
 *   say: `Turn ${view.turn}, please.`
 * }))
 * const policy = TurnPolicy.moderated(chair)
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const moderated = <E = never, R = never>(
  moderator: Primitive.Primitive<View, ModeratorDecision, E, R>,
  options: SelectorOptions & { readonly as?: string } = {}
): TurnPolicy<R> => ({
  name: "moderated",
  next: (input) =>
    validated(input, options.allowRepeat ?? false, "moderator")(
      Effect.map(moderator.invoke(input.view), (d) => ({
        name: d.next,
        ...(d.say !== undefined ? { remark: { by: options.as ?? input.view.host, text: d.say } } : {})
      }))
    ) as Effect.Effect<Decision, never, R>
})

/**
 * The view a policy or a speaker gets.
 *
 * @category models
 * @since 0.1.0
 */
export type PolicyView = View
