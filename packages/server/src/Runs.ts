/**
 * The runs of the developer run viewer: a run of a pipeline (the coaching day, on the scripted
 * model) in the background, its Mermaid diagram (`Describe.toMermaid`) and its trace: the spans
 * the in-memory exporter of `@braid/observability` collects for that run alone, with durations,
 * tokens, dollars and errors, readable while the run is in progress. The last `keep` runs are
 * kept in memory.
 *
 * @since 0.3.0
 */
import { Attributes, Describe, Runner } from "@braid/core"
import type { Accounting, Ai } from "@braid/llm"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { Observability } from "@braid/observability"
import { Coaching, Practice, Samples, Scripts } from "@braid/workflows"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import type { Layer, Scope } from "effect"
import { Clock, Effect, Exit } from "effect"
import type { Pipeline, Run, RunInput, Span } from "./Api.js"
import { failureText } from "./internal/context.js"

/**
 * The options of the run registry.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** Runs kept in memory (the oldest are dropped). Default 50. */
  readonly keep?: number
  /** The model of the coaching runs. Default the scripted coaching model (offline). */
  readonly model?: Layer.Layer<Ai.LanguageModel.LanguageModel | Accounting.Accounting>
}

/**
 * The run registry.
 *
 * @category models
 * @since 0.3.0
 */
export interface Runs {
  readonly pipelines: ReadonlyArray<Pipeline>
  /** Starts a run in the background; the run as it is at once (`running`). */
  readonly start: (input: RunInput, userId: string) => Effect.Effect<Run>
  readonly get: (id: string) => Run | undefined
  /** Newest first. */
  readonly list: () => ReadonlyArray<Run>
  /** Waits for a run to finish (tests, scripts). */
  readonly settled: (id: string) => Effect.Effect<Run | undefined>
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined)

const isModelCall = (span: ReadableSpan): boolean => {
  const op = span.attributes[Attributes.GenAI.operationName]
  return op !== undefined && op !== Attributes.GenAIOperation.invokeAgent &&
    op !== Attributes.GenAIOperation.executeTool && op !== Attributes.GenAIOperation.createAgent
}

const millis = (t: readonly [number, number]) => t[0] * 1e3 + t[1] / 1e6

/**
 * A finished OpenTelemetry span as the API shows it (tokens and dollars on model-call spans only,
 * so that sums over the spans count each call once).
 *
 * @example
 * ```ts
 * import { Runs } from "@braid/server"
 *
 * const toApi = Runs.toSpan
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const toSpan = (span: ReadableSpan): Span => {
  const attributes: Record<string, string | number | boolean> = {}
  for (const [k, v] of Object.entries(span.attributes)) {
    if (typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v))) {
      attributes[k] = v
    }
  }
  const model = isModelCall(span)
  const inputTokens = model ? num(span.attributes[Attributes.GenAI.usageInputTokens]) : undefined
  const outputTokens = model ? num(span.attributes[Attributes.GenAI.usageOutputTokens]) : undefined
  const costUsd = model ? num(span.attributes[Attributes.Braid.costUsd]) : undefined
  const parent = span.parentSpanContext?.spanId
  const failed = span.status.code === 2
  return {
    spanId: span.spanContext().spanId,
    ...(parent !== undefined ? { parentSpanId: parent } : {}),
    name: span.name,
    startMs: millis(span.startTime),
    durationMs: millis(span.duration),
    status: failed ? "error" : "ok",
    ...(failed ? { error: span.status.message ?? "error" } : {}),
    ...(inputTokens !== undefined ? { inputTokens } : {}),
    ...(outputTokens !== undefined ? { outputTokens } : {}),
    ...(costUsd !== undefined ? { costUsd } : {}),
    attributes
  }
}

const totalsOf = (spans: ReadonlyArray<Span>): Run["totals"] => ({
  spans: spans.length,
  errors: spans.filter((s) => s.status === "error").length,
  inputTokens: spans.reduce((a, s) => a + (s.inputTokens ?? 0), 0),
  outputTokens: spans.reduce((a, s) => a + (s.outputTokens ?? 0), 0),
  costUsd: spans.reduce((a, s) => a + (s.costUsd ?? 0), 0)
})

interface Record_ {
  run: Run
  live?: () => ReadonlyArray<ReadableSpan>
  done: Effect.Latch
}

/**
 * Builds the registry; runs are forked in the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Runs } from "@braid/server"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const runs = yield* Runs.make()
 *   const run = yield* runs.start({ pipeline: "coaching" }, "dev")
 *   return yield* runs.settled(run.id)
 * }))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<Runs, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const keep = Math.max(1, options.keep ?? 50)
    const model = options.model ?? Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.coaching))
    const coachingDiagram = Describe.toMermaid(Coaching.make().day)
    const pipelines: ReadonlyArray<Pipeline> = [
      {
        name: "coaching",
        description: "A coaching day: morning goals with an observer, goals in memory, evening review (runnable)",
        diagram: coachingDiagram
      },
      {
        name: "practice",
        description:
          "One learner message of a practice session: the client's reply, the objective check, the evaluation",
        diagram: Describe.toMermaid(Practice.pipeline())
      }
    ]
    const runs = new Map<string, Record_>()

    const view = (r: Record_): Run => {
      if (r.run.status !== "running" || r.live === undefined) return r.run
      const spans = r.live().map(toSpan).sort((a, b) => a.startMs - b.startMs)
      return { ...r.run, spans, totals: totalsOf(spans) }
    }

    const start = (input: RunInput, userId: string) =>
      Effect.gen(function*() {
        const id = crypto.randomUUID()
        const startedAt = yield* Clock.currentTimeMillis
        const record: Record_ = {
          run: {
            id,
            pipeline: input.pipeline,
            status: "running",
            startedAt,
            diagram: coachingDiagram,
            spans: [],
            totals: totalsOf([])
          },
          done: yield* Effect.makeLatch(false)
        }
        runs.set(id, record)
        while (runs.size > keep) runs.delete(runs.keys().next().value!)
        const mem = Observability.inMemory()
        record.live = mem.spans
        const day: Coaching.DayInput = {
          ...Samples.coachingDay,
          profile: { ...Samples.coachingDay.profile, userId },
          morning: input.message === undefined
            ? Samples.coachingDay.morning
            : [input.message, ...Samples.coachingDay.morning.slice(1)]
        }
        const program = Runner.run(Coaching.make().day, day, { userId, runId: id }).pipe(
          Effect.provide(Memory.layerInMemory()),
          Effect.provide(model),
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              // Inside the exporter's scope: closing it clears the spans.
              const spans = mem.spans().map(toSpan).sort((a, b) => a.startMs - b.startMs)
              const endedAt = yield* Clock.currentTimeMillis
              record.run = {
                ...record.run,
                status: Exit.isSuccess(exit) ? "completed" : "failed",
                endedAt,
                spans,
                totals: totalsOf(spans),
                ...(Exit.isSuccess(exit)
                  ? {
                    output: `goals: ${exit.value.goals.join("; ") || "none"}; review: ${exit.value.review ?? "none"}`
                  }
                  : { error: failureText(exit.cause, "the run failed") })
              }
              delete record.live
            })
          ),
          Effect.provide(mem.layer),
          Effect.ensuring(record.done.open)
        )
        yield* Effect.forkIn(Effect.ignore(program), scope)
        return view(record)
      })

    return {
      pipelines,
      start,
      get: (id) => {
        const r = runs.get(id)
        return r === undefined ? undefined : view(r)
      },
      list: () => [...runs.values()].reverse().map(view),
      settled: (id) =>
        Effect.suspend(() => {
          const r = runs.get(id)
          return r === undefined ? Effect.succeed(undefined) : Effect.as(r.done.await, view(r))
        }).pipe(Effect.flatMap(() =>
          Effect.sync(() => {
            const r = runs.get(id)
            return r === undefined ? undefined : view(r)
          })
        ))
    } satisfies Runs
  })
