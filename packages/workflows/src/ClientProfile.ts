/**
 * The coaching client's profile, and the template that turns it into the coach's instructions
 * (the coach agent's system prompt). The first step of the coaching pipeline.
 *
 * @since 0.1.0
 */
import { Primitive } from "@braid/core"
import { Effect, Schema } from "effect"

/**
 * A client profile, decoded with Schema at the edge of the pipeline.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { ClientProfile } from "@braid/workflows"
 *
 * const profile = Schema.decodeUnknownSync(ClientProfile.ClientProfile)({ userId: "u1", name: "Ada", aspirations: [] })
 * profile.tone // "warm"
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const ClientProfile = Schema.Struct({
  userId: Schema.NonEmptyString,
  name: Schema.NonEmptyString,
  /** What the client wants to achieve (long-term). */
  aspirations: Schema.Array(Schema.String),
  /** What has been getting in the way. */
  challenges: Schema.optionalWith(Schema.Array(Schema.String), { default: () => [] }),
  /** How the client likes to be coached. */
  tone: Schema.optionalWith(Schema.Literal("warm", "direct", "playful"), { default: () => "warm" as const }),
  /** Free notes from earlier sessions or intake. */
  notes: Schema.optional(Schema.String)
})

/**
 * @category models
 * @since 0.1.0
 */
export type ClientProfile = typeof ClientProfile.Type

/**
 * @category models
 * @since 0.1.0
 */
export type ClientProfileInput = typeof ClientProfile.Encoded

const toneLine = {
  warm: "Be warm and encouraging; celebrate small wins.",
  direct: "Be direct and concise; name trade-offs plainly.",
  playful: "Be light and playful, without losing focus."
} as const

/**
 * The coach's instructions for a profile. Deterministic: the same profile always gives the same
 * text (so scripted runs and cached prompts are stable). Override with your own template through
 * `Coaching.make({ instructions })`.
 *
 * @example
 * ```ts
 * import { ClientProfile } from "@braid/workflows"
 *
 * const text = ClientProfile.toInstructions({
 *   userId: "u1", name: "Ada", aspirations: ["run a 10k"], challenges: [], tone: "direct"
 * })
 * // "You are Ada's personal coach. ..."
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const toInstructions = (profile: ClientProfile): string => {
  const lines = [
    `You are ${profile.name}'s personal coach.`,
    toneLine[profile.tone],
    profile.aspirations.length > 0
      ? `${profile.name} wants to: ${profile.aspirations.join("; ")}.`
      : `${profile.name} has not named an aspiration yet: help find one.`
  ]
  if (profile.challenges.length > 0) lines.push(`Known obstacles: ${profile.challenges.join("; ")}.`)
  if (profile.notes !== undefined && profile.notes.trim() !== "") lines.push(`Notes: ${profile.notes.trim()}`)
  lines.push(
    "In the morning, agree on at most three concrete, measurable goals for today.",
    "In the evening, review each goal honestly, ask what helped or blocked, and suggest one adjustment.",
    "Ask one question at a time. Keep replies under 80 words."
  )
  return lines.join("\n")
}

/**
 * The primitive form: decodes the profile (a `DecodeError` names the bad field) and returns it
 * with its instructions.
 *
 * @example
 * ```ts
 * import { Runner } from "@braid/core"
 * import { ClientProfile } from "@braid/workflows"
 *
 * const out = await Runner.runPromise(ClientProfile.instructions, {
 *   userId: "u1", name: "Ada", aspirations: ["run a 10k"]
 * })
 * out.instructions.startsWith("You are Ada's personal coach.") // true
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const instructions = Primitive.fromSchema(
  "profileToInstructions",
  {
    input: ClientProfile,
    output: Schema.Struct({ profile: Schema.typeSchema(ClientProfile), instructions: Schema.String })
  },
  (profile) => Effect.succeed({ profile, instructions: toInstructions(profile) })
)
