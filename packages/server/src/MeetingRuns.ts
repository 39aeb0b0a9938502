/**
 * Meetings over HTTP: a teacher or an admin starts a meeting of agents on a preset (host and
 * participants) with a topic and agenda; it runs in the background (the meeting workflow:
 * discussion, then minutes, decisions and action items); its status is kept in memory (the last
 * `keep` meetings, as the run viewer keeps its runs) and its result is saved in `MeetingRecords`
 * (the one in context, e.g. SQL-backed, or one in memory), where it survives a restart of the
 * server when the records are persistent. Meetings are per organization: another organization's
 * meeting answers 404.
 *
 * @since 0.3.0
 */
import { Runner } from "@braid/core"
import type { Accounting, Ai } from "@braid/llm"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { MeetingRecords, MeetingWorkflow, Samples, Scripts } from "@braid/workflows"
import { HttpApiBuilder } from "@effect/platform"
import type { Scope } from "effect"
import { Cause, Clock, Effect, Exit, Layer, Option } from "effect"
import * as Api from "./Api.js"
import * as Errors from "./Errors.js"
import { failureText, requireRole, runLimited, ServerState, settledRun } from "./internal/context.js"

/**
 * The options of meeting runs.
 *
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** The speakers' and extractors' model. Default the scripted meeting model (offline). */
  readonly model?: Layer.Layer<Ai.LanguageModel.LanguageModel | Accounting.Accounting>
  /** Meetings whose status is kept in memory (the oldest are dropped). Default 50. */
  readonly keep?: number
  /** The most turns of a meeting. Default 12. */
  readonly maxTurns?: number
}

/**
 * The meeting runs of the server.
 *
 * @category models
 * @since 0.3.0
 */
export interface MeetingRuns {
  /** Starts a meeting in the background; the run as it is at once (`running`). */
  readonly start: (tenant: string, userId: string, input: Api.MeetingStart) => Effect.Effect<Api.MeetingRun>
  /** The organization's meetings, newest first. */
  readonly list: (tenant: string) => ReadonlyArray<Api.MeetingRun>
  readonly get: (tenant: string, id: string) => Effect.Effect<Api.MeetingRun, Errors.NotFound | Errors.Unavailable>
  /** The result of an ended meeting (409 while it runs or when it failed). */
  readonly result: (
    tenant: string,
    id: string
  ) => Effect.Effect<Api.MeetingResult, Errors.NotFound | Errors.Conflict | Errors.Unavailable>
  /** Waits for a meeting to end (tests, scripts). */
  readonly settled: (tenant: string, id: string) => Effect.Effect<Api.MeetingRun | undefined>
}

interface Entry {
  run: Api.MeetingRun
  transcript?: string
  readonly tenant: string
  readonly done: Effect.Latch
}

const presets = {
  "launch-review": {
    host: Samples.launchReview.host,
    participants: Samples.launchReview.participants,
    title: Samples.launchReview.input.title,
    agenda: Samples.launchReview.input.agenda
  }
} as const

/** A meeting's id in `MeetingRecords`, which has no organizations: the tenant is part of it. */
const recordId = (tenant: string, id: string) => `${tenant}/${id}`

/**
 * Builds the registry; meetings are forked in the current scope.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { EventBus } from "@braid/messaging"
 * import { MeetingRuns } from "@braid/server"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const meetings = yield* MeetingRuns.make()
 *   const run = yield* meetings.start("default", "tess", { preset: "launch-review" })
 *   return yield* meetings.settled("default", run.id)
 * })).pipe(Effect.provide(EventBus.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options = {}): Effect.Effect<MeetingRuns, never, Scope.Scope | EventBus.EventBus> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const bus = yield* EventBus.EventBus
    const keep = Math.max(1, options.keep ?? 50)
    const model = yield* Layer.build(
      options.model ?? Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.meeting))
    ).pipe(Effect.orDie)
    const inContext = yield* Effect.serviceOption(MeetingRecords.MeetingRecords)
    const records = Option.isSome(inContext)
      ? inContext.value
      : yield* Effect.provide(MeetingRecords.MeetingRecords, MeetingRecords.layerMemory)
    const entries = new Map<string, Entry>()
    const unavailable = (e: { readonly message: string }) =>
      Effect.zipRight(
        Effect.logWarning("meeting records", e.message),
        Effect.fail(new Errors.Unavailable({ message: "the meeting records do not answer; try again shortly" }))
      )

    const start: MeetingRuns["start"] = (tenant, userId, input) =>
      Effect.gen(function*() {
        const preset = presets[input.preset]
        const id = crypto.randomUUID()
        const title = input.title ?? preset.title
        const agenda = input.agenda ?? [...preset.agenda]
        const entry: Entry = {
          tenant,
          run: {
            id,
            preset: input.preset,
            title,
            agenda,
            host: preset.host.name,
            participants: preset.participants.map((p) => p.name),
            userId,
            status: "running",
            startedAt: yield* Clock.currentTimeMillis
          },
          done: yield* Effect.makeLatch(false)
        }
        entries.set(id, entry)
        while (entries.size > keep) entries.delete(entries.keys().next().value!)
        const workflow = MeetingWorkflow.make({
          host: preset.host,
          participants: preset.participants,
          ...(options.maxTurns !== undefined ? { maxTurns: options.maxTurns } : {})
        })
        const program = Runner.run(
          workflow.pipeline,
          { meetingId: recordId(tenant, id), title, agenda: agenda as [string, ...Array<string>] },
          { userId, tenantId: tenant, runId: id }
        ).pipe(
          Effect.provide(model),
          Effect.provideService(MeetingRecords.MeetingRecords, records),
          Effect.provideService(EventBus.EventBus, bus),
          Effect.onExit((exit) =>
            Effect.gen(function*() {
              const endedAt = yield* Clock.currentTimeMillis
              if (Exit.isSuccess(exit)) {
                entry.transcript = exit.value.transcript
                entry.run = { ...entry.run, status: "completed", endedAt, turns: exit.value.turns }
              } else {
                if (!Cause.isInterruptedOnly(exit.cause)) {
                  yield* Effect.logWarning("a meeting failed", Cause.pretty(exit.cause))
                }
                entry.run = {
                  ...entry.run,
                  status: "failed",
                  endedAt,
                  error: failureText(exit.cause, "the meeting failed")
                }
              }
            })
          ),
          Effect.ensuring(entry.done.open)
        )
        yield* Effect.forkIn(Effect.ignore(program), scope)
        return entry.run
      })

    const stored = (tenant: string, id: string) => Effect.catchAll(records.get(recordId(tenant, id)), unavailable)

    const get: MeetingRuns["get"] = (tenant, id) =>
      Effect.gen(function*() {
        const entry = entries.get(id)
        if (entry !== undefined && entry.tenant === tenant) return entry.run
        // Not in memory (dropped, or the server restarted): its record, when it ended.
        const record = yield* stored(tenant, id)
        if (record === undefined) return yield* new Errors.NotFound({ message: `meeting ${id} not found` })
        return {
          id,
          preset: "launch-review" as const,
          title: record.title,
          agenda: record.agenda,
          host: presets["launch-review"].host.name,
          participants: presets["launch-review"].participants.map((p) => p.name),
          userId: "",
          status: "completed" as const,
          startedAt: record.recordedAt,
          endedAt: record.recordedAt,
          turns: record.turns
        }
      })

    const result: MeetingRuns["result"] = (tenant, id) =>
      Effect.gen(function*() {
        const entry = entries.get(id)
        const visible = entry !== undefined && entry.tenant === tenant ? entry : undefined
        if (visible?.run.status === "running") {
          return yield* new Errors.Conflict({ message: "the meeting is still running" })
        }
        if (visible?.run.status === "failed") {
          return yield* new Errors.Conflict({ message: `the meeting failed: ${visible.run.error ?? "unknown error"}` })
        }
        const record = yield* stored(tenant, id)
        if (record === undefined) return yield* new Errors.NotFound({ message: `meeting ${id} not found` })
        return {
          id,
          title: record.title,
          agenda: record.agenda,
          endedBy: record.endedBy,
          turns: record.turns,
          minutes: record.minutes,
          decisions: record.decisions,
          actionItems: record.actionItems,
          recordedAt: record.recordedAt,
          ...(visible?.transcript !== undefined ? { transcript: visible.transcript } : {})
        }
      })

    return {
      start,
      get,
      result,
      list: (tenant) => [...entries.values()].filter((e) => e.tenant === tenant).reverse().map((e) => e.run),
      settled: (tenant, id) => settledRun(entries, tenant, id)
    } satisfies MeetingRuns
  })

/**
 * The handlers of the `meetings` group (`Api.Meetings`): teachers and admins; starting one
 * counts against the caller's run rate limit (shared with `/api/runs`).
 *
 * @category layers
 * @since 0.3.0
 */
export const handlers = HttpApiBuilder.group(
  Api.Api,
  "meetings",
  (h) =>
    Effect.map(ServerState, (state) => {
      const teacher = (operation: string) => requireRole(operation, "teacher", "admin")
      return h
        .handle("start", ({ payload }) =>
          Effect.gen(function*() {
            const p = yield* teacher("starting a meeting")
            return yield* runLimited(state, p, state.meetings.start(p.tenant, p.userId, payload))
          }))
        .handle("list", () => Effect.map(teacher("the meetings"), (p) => state.meetings.list(p.tenant)))
        .handle("get", ({ path }) =>
          Effect.flatMap(teacher("the meetings"), (p) => state.meetings.get(p.tenant, path.id)))
        .handle("result", ({ path }) =>
          Effect.flatMap(teacher("the meetings"), (p) =>
            state.meetings.result(p.tenant, path.id)))
    })
)
