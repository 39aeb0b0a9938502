/**
 * A practice scenario, written by a teacher: the client the AI plays (persona), what the learner
 * should achieve, when the conversation is over, and which skills the evaluation scores.
 *
 * A scenario is data: it is decoded with `Scenario.Scenario` at every edge (a teacher's form, a
 * stored row, a file), and a scenario that does not decode is refused with an error that names
 * the field at fault.
 *
 * @since 0.3.0
 */
import type { Effect } from "effect"
import { Schema } from "effect"
import type { InvalidInput } from "./Errors.js"
import { decoder } from "./internal/decode.js"

/**
 * How hard the client is to work with.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Scenario } from "@braid/workflows"
 *
 * Schema.decodeUnknownSync(Scenario.Difficulty)("intermediate")
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Difficulty = Schema.Literal("beginner", "intermediate", "advanced")

/**
 * @since 0.3.0
 * @category models
 */
export type Difficulty = typeof Difficulty.Type

const Text = (max: number) => Schema.Trim.pipe(Schema.nonEmptyString(), Schema.maxLength(max))

/**
 * The client the AI plays.
 *
 * @example
 * ```ts
 * import { Scenario } from "@braid/workflows"
 *
 * const persona: Scenario.Persona = {
 *   name: "Sam",
 *   background: "Team lead, two years in the role, recently took over a struggling team.",
 *   personality: ["guarded", "analytical"],
 *   goals: ["decide whether to stay in the role"],
 *   difficulty: "intermediate"
 * }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Persona = Schema.Struct({
  name: Text(100),
  background: Text(4000),
  personality: Schema.Array(Text(200)).pipe(Schema.maxItems(20)),
  goals: Schema.Array(Text(500)).pipe(Schema.maxItems(20)),
  difficulty: Difficulty
})

/**
 * @since 0.3.0
 * @category models
 */
export type Persona = typeof Persona.Type

/**
 * A skill the evaluation scores, with its rubric (what good looks like).
 *
 * @example
 * ```ts
 * import { Scenario } from "@braid/workflows"
 *
 * const skill: Scenario.Skill = { id: "open-questions", name: "Open questions", rubric: "Asks open, non-leading questions." }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Skill = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[a-z0-9][a-z0-9-]{0,63}$/, {
    message: () => "a skill id is 1 to 64 lowercase letters, digits or dashes"
  })),
  name: Text(200),
  rubric: Text(4000)
})

/**
 * @since 0.3.0
 * @category models
 */
export type Skill = typeof Skill.Type

/**
 * A practice scenario. `id` is chosen by the catalogue when a scenario is added; `version` counts
 * its updates.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Scenario } from "@braid/workflows"
 *
 * const scenario = Schema.decodeUnknownSync(Scenario.Scenario)({
 *   id: "first-session",
 *   title: "A first coaching session",
 *   persona: {
 *     name: "Sam",
 *     background: "Team lead who took over a struggling team.",
 *     personality: ["guarded"],
 *     goals: ["decide whether to stay"],
 *     difficulty: "beginner"
 *   },
 *   objectives: ["Agree on a goal for the session"],
 *   endCriteria: ["The client states a goal in their own words"],
 *   skills: [{ id: "open-questions", name: "Open questions", rubric: "Asks open questions." }],
 *   aiSpeaksFirst: true
 * })
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Scenario = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
    message: () => "a scenario id is 1 to 128 letters, digits, dots, dashes or underscores"
  })),
  title: Text(200),
  description: Schema.optional(Text(4000)),
  persona: Persona,
  /** What the learner should achieve. */
  objectives: Schema.Array(Text(500)).pipe(Schema.minItems(1), Schema.maxItems(20)),
  /** When the conversation is over (read by the objective check). */
  endCriteria: Schema.Array(Text(500)).pipe(Schema.minItems(1), Schema.maxItems(20)),
  /** The skills the evaluation scores. */
  skills: Schema.Array(Skill).pipe(Schema.minItems(1), Schema.maxItems(20)),
  /** Whether the AI client opens the conversation. */
  aiSpeaksFirst: Schema.Boolean,
  /** The turn limit of a session (learner messages); default from the settings. */
  maxTurns: Schema.optional(Schema.Int.pipe(Schema.between(1, 500))),
  /** The tenant (organization) the scenario belongs to. */
  tenant: Schema.optionalWith(Schema.String, { default: () => "default" }),
  /** Who wrote it (a teacher's user id). */
  author: Schema.optional(Schema.String),
  version: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 1 }),
  /** Epoch millis of creation and last update (set by the catalogue). */
  createdAt: Schema.optionalWith(Schema.Number, { default: () => 0 }),
  updatedAt: Schema.optionalWith(Schema.Number, { default: () => 0 })
})

/**
 * @since 0.3.0
 * @category models
 */
export type Scenario = typeof Scenario.Type

/**
 * What a scenario is written as (a teacher's form, a JSON file).
 *
 * @since 0.3.0
 * @category models
 */
export type ScenarioInput = typeof Scenario.Encoded

/**
 * Decodes a scenario written by a teacher (a form, a JSON file): the scenario, or
 * `InvalidInput` naming the field at fault (`persona.name`, `skills[0].rubric`) and what is
 * wrong with it. Never throws, whatever the input (wrong types, cycles, `__proto__` keys).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Scenario } from "@braid/workflows"
 *
 * const refused = Scenario.decode({ id: "s", title: "T", persona: { name: "" } }).pipe(
 *   Effect.catchTag("InvalidInput", (e) => Effect.succeed(e.field)) // "persona.name"
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const decode: (input: unknown) => Effect.Effect<Scenario, InvalidInput> = decoder(Scenario)
