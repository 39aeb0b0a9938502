/**
 * Writes exactly once after a crash: a durable step writes memory (or sends a message) with `Durable.idempotencyKey`,
 * dies after the write and before the step is journaled, and runs again under the same key; the
 * store applies the key insert-if-absent, so the write happened once. A write with no key of its
 * own inside the step gets the step's key automatically (the `Journal` hook). On the in-memory
 * engine and on the SQLite single runner, over the in-memory and the SQLite memory stores.
 */
import { Primitive, WorkflowContext } from "@braid/core"
import { Durable } from "@braid/durable"
import * as SqliteEngine from "@braid/durable/SqliteEngine"
import { Memory, MemoryStore } from "@braid/memory"
import { Messaging } from "@braid/messaging"
import { SqliteMemoryStore, SqliteMessaging } from "@braid/sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Schema } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const dir = mkdtempSync(join(tmpdir(), "braid-exactly-once-"))
let n = 0

const engines: ReadonlyArray<readonly [string, () => Layer.Layer<any, any>]> = [
  ["in-memory engine", () => Durable.layerMemory],
  ["SQLite engine", () => SqliteEngine.layer({ filename: join(dir, `engine-${n++}.db`) })]
]
const stores: ReadonlyArray<readonly [string, () => Layer.Layer<MemoryStore.MemoryStore, unknown>]> = [
  ["in-memory store", () => MemoryStore.layerInMemory],
  ["SQLite store", () => SqliteMemoryStore.layer({ filename: join(dir, `memory-${n++}.db`) })]
]

/**
 * How a write is keyed: the step's key passed explicitly, no key (the step's is given
 * automatically), or a key that changes between attempts (what a write without a stable key does).
 */
type Keying = "explicit" | "automatic" | "per-attempt"
const keyed = (mode: Keying, key: string, attempt: number): { readonly idempotencyKey?: string } =>
  mode === "explicit" ? { idempotencyKey: key } : mode === "automatic" ? {} : { idempotencyKey: `${key}@${attempt}` }

/**
 * A durable step `name` that runs `body` under the step's idempotency key and dies after its first
 * attempt, before the step's result is journaled; `seen` counts the attempts and their keys.
 */
const crashingOnce = <R>(name: string, body: (key: string, attempt: number) => Effect.Effect<string, unknown, R>) => {
  const seen = { attempts: 0, keys: [] as Array<string> }
  const step = Durable.step(
    name,
    Effect.gen(function*() {
      const key = Option.getOrThrow(yield* Durable.idempotencyKey)
      seen.keys.push(key)
      const result = yield* body(key, ++seen.attempts)
      if (seen.attempts === 1) return yield* Effect.interrupt
      return result
    }).pipe(Effect.orDie),
    Schema.String
  )
  return { seen, step }
}

/** Runs `step` as the one-step workflow `name` on `engine`, then `after` with its output. */
const runOnce = <A, E, R, SR>(
  name: string,
  step: Effect.Effect<string, Durable.DurableError, SR>,
  input: string,
  engine: () => Layer.Layer<any, any>,
  after: (output: string) => Effect.Effect<A, E, R>
) => {
  const wf = Durable.workflow(name, Primitive.make(name, (_: string) => step), {
    input: Schema.String,
    output: Schema.String,
    key: (s) => s
  })
  return Effect.flatMap(wf.run(input), after).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(engine()))))
}

for (const [engineName, engine] of engines) {
  for (const [storeName, store] of stores) {
    describe(`exactly once: ${engineName}, ${storeName}`, () => {
      it.live("a memory write interrupted before its step is journaled happens once after the retry", () => {
        const run = (mode: Keying, note: string) => {
          const { seen, step } = crashingOnce("write", (key, attempt) =>
            Effect.map(
              Memory.store(`note-${attempt}`, note, keyed(mode, key, attempt)),
              (entry) => entry.id
            ).pipe(Effect.provide(WorkflowContext.layer({ sessionId: `s-${note}` }))))
          return Effect.map(
            runOnce(`save-${mode}`, step, note, engine, (id) =>
              Effect.map(
                Effect.provide(Memory.list(), WorkflowContext.layer({ sessionId: `s-${note}` })),
                (entries) => ({ id, entries })
              )),
            (out) => ({ ...out, seen })
          )
        }
        return Effect.gen(function*() {
          for (const mode of ["explicit", "automatic"] as const) {
            const once = yield* run(mode, `a-${mode}-${n}`)
            assert.strictEqual(once.seen.attempts, 2, "the step ran twice (at least once)")
            assert.strictEqual(once.seen.keys[0], once.seen.keys[1], "under one idempotency key")
            assert.strictEqual(once.entries.length, 1, `the write happened once (${mode} key)`)
            assert.strictEqual(once.entries[0]!.id, once.id, "the retry got the first write's entry back")
          }
          // with a key that changes between attempts the same crash writes twice: the test can tell
          const twice = yield* run("per-attempt", `b-${n}`)
          assert.strictEqual(twice.entries.length, 2)
        }).pipe(Effect.provide(Memory.layer()), Effect.provide(store()))
      })
    })
  }
}

const inboxes: ReadonlyArray<readonly [string, () => Layer.Layer<Messaging.Messaging, unknown>]> = [
  ["in-memory messaging", () => Messaging.layerMemory()],
  ["SQLite messaging", () => SqliteMessaging.layer({ filename: join(dir, `inbox-${n++}.db`) })]
]

for (const [engineName, engine] of engines) {
  for (const [inboxName, inbox] of inboxes) {
    describe(`exactly once: ${engineName}, ${inboxName}`, () => {
      it.live("a message send interrupted before its step is journaled happens once after the retry", () => {
        const run = (mode: Keying, text: string) => {
          const learner = `learner-${text}`
          const { seen, step } = crashingOnce(
            "send",
            (key, attempt) =>
              Effect.flatMap(
                Messaging.Messaging,
                (messaging) => messaging.send("coach", learner, { text, attempt }, keyed(mode, key, attempt))
              )
          )
          return Effect.gen(function*() {
            const messaging = yield* Messaging.Messaging
            yield* messaging.registry.register({ name: learner })
            const id = yield* runOnce(`notify-${mode}`, step, text, engine, Effect.succeed)
            return { id, seen, unread: yield* messaging.inbox(learner).unread }
          })
        }
        return Effect.gen(function*() {
          for (const mode of ["explicit", "automatic"] as const) {
            const once = yield* run(mode, `a-${mode}-${n}`)
            assert.strictEqual(once.seen.attempts, 2, "the step ran twice (at least once)")
            assert.strictEqual(once.seen.keys[0], once.seen.keys[1], "under one idempotency key")
            assert.strictEqual(once.unread.length, 1, `one message in the inbox (${mode} key)`)
            assert.strictEqual(once.unread[0]!.id, once.id, "the retry got the first send's id back")
            assert.strictEqual((once.unread[0]!.body as { attempt: number }).attempt, 1)
          }
          // with a key that changes between attempts the same crash sends twice: the test can tell
          const twice = yield* run("per-attempt", `b-${n}`)
          assert.strictEqual(twice.unread.length, 2)
        }).pipe(Effect.provide(inbox()))
      })
    })
  }
}
