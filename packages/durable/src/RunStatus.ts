/**
 * Braid's own status of durable runs, beside the engine's journal. The engine's `poll` cannot tell
 * a run that was never started from one that is running, and does not say what a suspended run
 * waits for; this store does. It is not a journal: losing it loses no run (the engine resumes
 * runs from its journal), only the answer to "what is it waiting for".
 *
 * @since 0.3.0
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { StatusStoreError } from "./Errors.js"

/**
 * What Braid records of a run: whether it is running or waiting, and on what.
 *
 * @category models
 * @since 0.3.0
 */
export const Record = Schema.Struct({
  workflow: Schema.String,
  runId: Schema.String,
  /** The idempotency key the run was started with. */
  key: Schema.String,
  state: Schema.Literal("running", "suspended"),
  /** The signals (`signal:NAME`) and sleeps (`sleep:NAME`) the run waits for. */
  waitingOn: Schema.Array(Schema.String),
  /** When the run was first started (epoch milliseconds). */
  startedAt: Schema.Number,
  updatedAt: Schema.Number
})

/**
 * @category models
 * @since 0.3.0
 */
export type Record = typeof Record.Type

/**
 * The store of run status records.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunStatus } from "@braid/durable"
 *
 * const program = Effect.flatMap(RunStatus.RunStatusStore, (store) => store.get("session", "run-1"))
 * ```
 *
 * @category services
 * @since 0.3.0
 */
export class RunStatusStore extends Context.Tag("@braid/durable/RunStatusStore")<RunStatusStore, {
  /** Records the run when it has no record yet; returns whether it did. */
  readonly create: (record: Record) => Effect.Effect<boolean, StatusStoreError>
  /** Replaces the run's record. */
  readonly update: (record: Record) => Effect.Effect<void, StatusStoreError>
  readonly get: (workflow: string, runId: string) => Effect.Effect<Option.Option<Record>, StatusStoreError>
}>() {}

/**
 * Run status in this process's memory: for the in-memory engine and tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RunStatus } from "@braid/durable"
 *
 * const program = Effect.flatMap(RunStatus.RunStatusStore, (s) => s.get("w", "r")).pipe(
 *   Effect.provide(RunStatus.layerMemory)
 * )
 * ```
 *
 * @category layers
 * @since 0.3.0
 */
export const layerMemory: Layer.Layer<RunStatusStore> = Layer.sync(RunStatusStore, () => {
  const records = new Map<string, Record>()
  const id = (workflow: string, runId: string) => `${workflow}\u0000${runId}`
  return {
    create: (record) =>
      Effect.sync(() => {
        const k = id(record.workflow, record.runId)
        if (records.has(k)) return false
        records.set(k, record)
        return true
      }),
    update: (record) => Effect.sync(() => void records.set(id(record.workflow, record.runId), record)),
    get: (workflow, runId) => Effect.sync(() => Option.fromNullable(records.get(id(workflow, runId))))
  }
})
