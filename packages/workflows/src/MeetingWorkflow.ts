/**
 * The meeting workflow: an agenda, a host and participants; the agents package's `Meeting`
 * primitive runs the discussion (turn policy, speaking timeouts, join and leave, termination);
 * at the end, minutes, decisions and action items are extracted in parallel, each decoded with
 * Schema; the history is persisted (`MeetingStore`, turn by turn) with the record
 * (`MeetingRecords`), and both are queryable (`history`, `MeetingRecords.actionItemsOf`).
 *
 * ```
 * meeting: prepare ─▶ discussion (Meeting: host + participants) ─▶ parallel(minutes, decisions, actionItems) ─▶ record
 * ```
 *
 * @since 0.1.0
 */
import type { Primitive as P } from "@braid/core"
import { parallel, Primitive, sequence } from "@braid/core"
import type { Duration } from "effect"
import { Clock, Effect, Option, Schema } from "effect"

import { Agent } from "@braid/agents"
import * as Models from "@braid/eval/Models"
import type { Ai } from "@braid/llm"
import { Meeting, MeetingStore, Termination, TurnPolicy } from "@braid/meetings"
import type { Retry } from "@braid/resilience"
import { ExtractionInvalid, MeetingConfigInvalid } from "./Errors.js"
import * as MeetingRecords from "./MeetingRecords.js"

/**
 * A participant: a name, a role (the persona of its agent), optionally its own speaker primitive
 * instead of an agent, and when it leaves.
 *
 * @category models
 * @since 0.1.0
 */
export interface ParticipantSpec {
  readonly name: string
  readonly role: string
  /** Leaves the meeting after speaking this many times (the turn is finished first). */
  readonly leaveAfterTurns?: number
  /** Speaks through this primitive instead of an agent. */
  readonly speak?: P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, never>
  /** Your own agent for this participant (default: an agent with the role as persona). */
  readonly agent?: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Config {
  readonly host: {
    readonly name: string
    readonly role?: string
    readonly agent?: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
  }
  readonly participants: ReadonlyArray<ParticipantSpec>
  /** Default round robin. */
  readonly policy?: TurnPolicy.TurnPolicy
  /** Default 12. */
  readonly maxTurns?: number
  /** The host ends the meeting by saying this. Default `MEETING ADJOURNED`. */
  readonly adjournPhrase?: string
  /** Extra termination conditions, or'ed with `maxTurns` and the adjourn phrase. */
  readonly termination?: Termination.Termination
  /** A speaker who has not answered in this time is skipped. Default 30 seconds. */
  readonly speakingTimeout?: Duration.DurationInput
  /**
   * The bound of one extractor model call (minutes, decisions, action items), inside its retry:
   * a call that has not answered by then is interrupted and retried; after the last attempt the
   * meeting fails with `RetryExhausted`. Default `Models.defaultTimeout` (30 s). Speakers are
   * bounded by `speakingTimeout`.
   */
  readonly modelTimeout?: Duration.DurationInput
  /** The model of the speakers and the extractors. */
  readonly model?: string
}

/**
 * What a meeting is run on.
 *
 * @example
 * ```ts
 * import { MeetingWorkflow } from "@braid/workflows"
 *
 * const input: MeetingWorkflow.MeetingInput = { title: "Launch review", agenda: ["Ship on Friday?"] }
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const MeetingInput = Schema.Struct({
  meetingId: Schema.optional(Schema.NonEmptyString),
  title: Schema.NonEmptyString,
  agenda: Schema.NonEmptyArray(Schema.NonEmptyString)
})

/**
 * @category models
 * @since 0.1.0
 */
export type MeetingInput = typeof MeetingInput.Encoded

/**
 * The outcome of a meeting.
 *
 * @category models
 * @since 0.1.0
 */
export interface Outcome {
  readonly meetingId: string
  readonly title: string
  readonly agenda: ReadonlyArray<string>
  readonly endedBy: { readonly condition: string; readonly detail: string }
  readonly turns: number
  readonly tokens: number
  readonly costUsd: number
  readonly history: ReadonlyArray<Meeting.Entry>
  readonly transcript: string
  readonly minutes: string
  readonly decisions: ReadonlyArray<MeetingRecords.Decision>
  readonly actionItems: ReadonlyArray<MeetingRecords.ActionItem>
  /** Who was skipped for not answering in time, per turn. */
  readonly timedOut: ReadonlyArray<string>
  /** Who left before the end. */
  readonly left: ReadonlyArray<string>
}

interface Prepared {
  readonly meetingId: string
  readonly title: string
  readonly agenda: ReadonlyArray<string>
}

interface Discussed extends Prepared {
  readonly result: Meeting.Result
  readonly transcript: string
}

/**
 * The transcript of a meeting history: one `Name: text` line per utterance, with skipped turns
 * and departures noted.
 *
 * @example
 * ```ts
 * import { MeetingWorkflow } from "@braid/workflows"
 *
 * const text = MeetingWorkflow.transcript([])  // ""
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const transcript = (history: ReadonlyArray<Meeting.Entry>): string =>
  history.flatMap((e) => {
    switch (e.kind) {
      case "spoke":
        return [`${e.participant}: ${e.text ?? ""}`]
      case "timed-out":
        return [`(${e.participant} did not answer in time)`]
      case "failed":
        return [`(${e.participant} could not speak)`]
      case "left":
        return [`(${e.participant} left the meeting)`]
      default:
        return []
    }
  }).join("\n")

const topicOf = (p: Prepared) => `${p.title}\nAgenda:\n${p.agenda.map((a, i) => `${i + 1}. ${a}`).join("\n")}`

/**
 * The extractors' Schema-typed outputs.
 *
 * @example
 * ```ts
 * import { MeetingWorkflow } from "@braid/workflows"
 *
 * const decisions = MeetingWorkflow.decodeReply("decisions", MeetingWorkflow.Extracted.decisions, '{"decisions": []}')
 * ```
 *
 * @category schemas
 * @since 0.1.0
 */
export const Extracted = {
  minutes: Schema.Struct({ minutes: Schema.NonEmptyString }),
  decisions: Schema.Struct({ decisions: Schema.Array(MeetingRecords.Decision) }),
  actionItems: Schema.Struct({ actionItems: Schema.Array(MeetingRecords.ActionItem) })
} as const

/** Each extractor's persona, and the JSON form it is asked for (the instruction of `Agent.structured`). */
const extractorInstructions = {
  minutes: {
    persona: "You extract the minutes of a meeting. Write a short factual summary (at most 80 words).",
    json: "Reply with JSON only: {\"minutes\": \"...\"}"
  },
  decisions: {
    persona: "You extract the decisions of a meeting: only what was decided, not proposals.",
    json: "Reply with JSON only: {\"decisions\": [{\"decision\": \"...\", \"rationale\": \"...\"}]}"
  },
  actionItems: {
    persona: "You extract the action items of a meeting: who committed to do what, by when.",
    json:
      "Reply with JSON only: {\"actionItems\": [{\"owner\": \"<participant>\", \"task\": \"...\", \"due\": \"...\"}]}"
  }
} as const

/**
 * Decodes an extractor's reply with a schema, with `Agent.decodeStructured` (the whole reply,
 * JSON in a fence, or the first `{...}` in prose). The extractors themselves run their agents
 * through `Agent.structured`, which decodes the same way.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { MeetingWorkflow } from "@braid/workflows"
 *
 * const out = Effect.runSync(MeetingWorkflow.decodeReply("minutes", MeetingWorkflow.Extracted.minutes, '{"minutes":"ok"}'))
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const decodeReply = <A, I>(
  extractor: string,
  schema: Schema.Schema<A, I, never>,
  reply: string
): Effect.Effect<A, ExtractionInvalid> =>
  Agent.decodeStructured(extractor, schema, reply).pipe(
    Effect.mapError((e) => new ExtractionInvalid({ extractor, reply, reason: e.message }))
  )

/**
 * Hooks of `make` for a runner that changes how the meeting runs without changing what it does:
 * the durable meeting (`@braid/durable/DurableMeeting`) journals each turn and runs the
 * discussion on a clock of its own. Both default to the identity.
 *
 * @category models
 * @since 0.3.0
 */
export interface MakeHooks {
  /** Wraps the speaker primitive of each participant (the host included). */
  readonly speaker?: (
    name: string,
    speak: P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, Ai.LanguageModel.LanguageModel>
  ) => P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, Ai.LanguageModel.LanguageModel>
  /** Runs around the discussion (the meeting driver), with the resolved configuration. */
  readonly discussion?: <A, E, R>(
    run: Effect.Effect<A, E, R>,
    resolved: { readonly speakingTimeout: Duration.DurationInput }
  ) => Effect.Effect<A, E, R>
}

/**
 * A configured meeting workflow.
 *
 * @category models
 * @since 0.1.0
 */
export type MeetingWorkflow = ReturnType<typeof make>

/**
 * Builds the meeting workflow.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { Runner } from "@braid/core"
 * import { EventBus } from "@braid/messaging"
 * import { Metered, ScriptedLanguageModel } from "@braid/llm"
 * import { MeetingRecords, MeetingWorkflow, Scripts } from "@braid/workflows"
 *
 * const meeting = MeetingWorkflow.make({
 *   host: { name: "Maya", role: "product lead" },
 *   participants: [{ name: "Grace", role: "engineering lead" }, { name: "Linus", role: "support lead" }]
 * })
 * const outcome = Runner.run(meeting.pipeline, { title: "Launch review", agenda: ["Ship on Friday?"] }).pipe(
 *   Effect.provide(Layer.mergeAll(Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.meeting)), EventBus.layerMemory, MeetingRecords.layerMemory))
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (config: Config, hooks: MakeHooks = {}) => {
  const adjourn = config.adjournPhrase ?? "MEETING ADJOURNED"
  const maxTurns = config.maxTurns ?? 12
  const speakingTimeout = config.speakingTimeout ?? "30 seconds"
  const names = [config.host.name, ...config.participants.map((p) => p.name)]
  const retry: Retry.Options<unknown> = {
    maxAttempts: 3,
    backoff: "exponential",
    baseDelay: "200 millis",
    maxDelay: "2 seconds"
  }

  const persona = (name: string, role: string, host: boolean) =>
    [
      `You are ${name}, the ${role}, in a meeting.`,
      host
        ? `You host the meeting: open it with the agenda, give the floor, state each decision clearly ("Decision: ..."), assign owners and due dates, and when the agenda is covered, recap and say "${adjourn}".`
        : "Speak briefly (at most 60 words), on the current agenda item, from your role. When you commit to something, say \"I'll ...\" with a due date.",
      "Do not write other people's lines. Do not prefix your reply with your name."
    ].join("\n")

  const speakerFor = (
    name: string,
    role: string,
    host: boolean,
    agent?: Agent.Any<unknown, Ai.LanguageModel.LanguageModel>
  ): P.Primitive<Meeting.TurnView, Meeting.Reply, unknown, Ai.LanguageModel.LanguageModel> =>
    Meeting.fromAgent(
      agent ?? Agent.make({
        name,
        instructions: persona(name, role, host),
        maxTokens: 300,
        ...(config.model !== undefined ? { model: config.model } : {})
      }),
      { name }
    ).speak.pipe(Primitive.named(`${name}Speaks`))

  const wrap = hooks.speaker ?? ((_: string, speak) => speak)
  const hostSpeaker = wrap(
    config.host.name,
    speakerFor(config.host.name, config.host.role ?? "host", true, config.host.agent)
  )
  const speakers = config.participants.map((p) => ({
    spec: p,
    speak: wrap(p.name, p.speak ?? speakerFor(p.name, p.role, false, p.agent))
  }))

  const prepare = Primitive.fromSchema(
    "prepare",
    {
      input: MeetingInput,
      output: Schema.Struct({ meetingId: Schema.String, title: Schema.String, agenda: Schema.Array(Schema.String) })
    },
    (input) =>
      Effect.gen(function*() {
        if (new Set(names).size !== names.length) {
          return yield* new MeetingConfigInvalid({ reason: `participant names must be unique: ${names.join(", ")}` })
        }
        if (config.participants.length === 0) {
          return yield* new MeetingConfigInvalid({
            reason: "a meeting needs at least one participant besides the host"
          })
        }
        const now = yield* Clock.currentTimeMillis
        return {
          meetingId: input.meetingId ?? `meeting-${now}-${Math.random().toString(36).slice(2, 8)}`,
          title: input.title,
          agenda: input.agenda
        }
      })
  )

  const discussion = Primitive.make(
    "discussion",
    (p: Prepared) =>
      Effect.gen(function*() {
        const termination = Termination.or(
          Termination.maxTurns(maxTurns),
          Termination.mention(adjourn, { caseSensitive: true }),
          ...(config.termination ? [config.termination] : [])
        )
        const meeting = yield* Meeting.make<Ai.LanguageModel.LanguageModel>({
          id: p.meetingId,
          topic: topicOf(p),
          host: Meeting.participant(config.host.name, hostSpeaker),
          termination,
          speakingTimeout,
          ...(config.policy !== undefined ? { policy: config.policy } : {})
        })
        for (const { spec, speak } of speakers) {
          const leaveAfter = spec.leaveAfterTurns
          const wrapped = leaveAfter === undefined ? speak : Primitive.make(
            speak.name,
            (view: Meeting.TurnView) =>
              Effect.tap(speak.invoke(view), () => {
                const spoken = view.history.filter((e) => e.kind === "spoke" && e.participant === spec.name).length + 1
                return spoken >= leaveAfter ? Effect.ignore(meeting.leave(spec.name)) : Effect.void
              }),
            { kind: "participant", children: [{ key: speak.name, primitive: speak }] }
          )
          yield* meeting.attend(Meeting.participant(spec.name, wrapped))
        }
        const result = yield* meeting.run
        return { ...p, result, transcript: transcript(result.history) } satisfies Discussed
      }).pipe((run) => hooks.discussion === undefined ? run : hooks.discussion(run, { speakingTimeout })),
    {
      kind: "meeting",
      meta: {
        maxTurns,
        speakingTimeout: String(speakingTimeout),
        policy: config.policy?.name ?? "roundRobin",
        adjourn
      },
      children: [
        { key: hostSpeaker.name, primitive: hostSpeaker },
        ...speakers.map((s) => ({ key: s.speak.name, primitive: s.speak }))
      ]
    }
  )

  const extractor = <A, I>(key: keyof typeof extractorInstructions, schema: Schema.Schema<A, I, never>) => {
    const agent = Agent.make({
      name: `${key}Extractor`,
      instructions: extractorInstructions[key].persona,
      maxTokens: 600,
      temperature: 0,
      ...(config.model !== undefined ? { model: config.model } : {})
    })
    const extract = Agent.structured(agent, schema, { instruction: extractorInstructions[key].json })
    return Primitive.make(
      key,
      (d: Discussed) =>
        extract.invoke({
          messages: [Agent.user(`Meeting: ${d.title}\nAgenda: ${d.agenda.join("; ")}\nTranscript:\n${d.transcript}`)]
        }).pipe(
          Effect.map((out) => out.value),
          Effect.catchTag(
            "StructuredOutputInvalid",
            (e) => Effect.fail(new ExtractionInvalid({ extractor: key, reply: e.reply, reason: e.message }))
          )
        ),
      { kind: "extractor", children: [{ key: extract.name, primitive: extract }] }
    ).pipe(Models.policy({
      ...(config.modelTimeout !== undefined ? { timeout: config.modelTimeout } : {}),
      retry,
      name: `retry(${key})`
    }))
  }

  const extract = parallel({
    discussed: Primitive.sync("discussed", (d: Discussed) => d),
    minutes: extractor("minutes", Extracted.minutes),
    decisions: extractor("decisions", Extracted.decisions),
    actionItems: extractor("actionItems", Extracted.actionItems)
  }).pipe(Primitive.named("extract"))

  const record = Primitive.make(
    "record",
    (x: {
      readonly discussed: Discussed
      readonly minutes: typeof Extracted.minutes.Type
      readonly decisions: typeof Extracted.decisions.Type
      readonly actionItems: typeof Extracted.actionItems.Type
    }) =>
      Effect.gen(function*() {
        const { discussed: d } = x
        const r = d.result
        const outcome: Outcome = {
          meetingId: d.meetingId,
          title: d.title,
          agenda: d.agenda,
          endedBy: r.endedBy,
          turns: r.turns,
          tokens: r.tokens,
          costUsd: r.costUsd,
          history: r.history,
          transcript: d.transcript,
          minutes: x.minutes.minutes,
          decisions: x.decisions.decisions,
          actionItems: x.actionItems.actionItems,
          timedOut: r.history.filter((e) => e.kind === "timed-out").map((e) => e.participant),
          left: r.history.filter((e) => e.kind === "left").map((e) => e.participant)
        }
        const records = yield* MeetingRecords.MeetingRecords
        yield* records.save({
          meetingId: outcome.meetingId,
          title: outcome.title,
          agenda: outcome.agenda,
          endedBy: `${r.endedBy.condition}: ${r.endedBy.detail}`,
          turns: outcome.turns,
          minutes: outcome.minutes,
          decisions: outcome.decisions,
          actionItems: outcome.actionItems,
          recordedAt: yield* Clock.currentTimeMillis
        })
        return outcome
      }),
    { kind: "store" }
  )

  const pipeline = sequence(prepare, discussion, extract, record).pipe(Primitive.named("meeting"))
  return { pipeline }
}

/**
 * The persisted history of a meeting: its status and turn-by-turn entries (`MeetingStore`) and
 * its record (minutes, decisions, action items).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MeetingWorkflow } from "@braid/workflows"
 *
 * const past = MeetingWorkflow.history("launch-review-1")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const history = (meetingId: string) =>
  Effect.gen(function*() {
    const store = yield* MeetingStore.MeetingStore
    const records = yield* MeetingRecords.MeetingRecords
    const status = yield* store.status(meetingId)
    const entries = yield* store.history(meetingId)
    const record = yield* records.get(meetingId)
    return { status: Option.getOrUndefined(status), entries, record }
  })
