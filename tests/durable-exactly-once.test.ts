/**
 * Writes exactly once after a crash: a durable step writes memory (or sends a message) with `Durable.idempotencyKey`,
 * dies after the write and before the step is journaled, and runs again under the same key; the
 * store applies the key insert-if-absent, so the write happened once. On the in-memory engine and
 * on the SQLite single runner, over the in-memory and the SQLite memory stores.
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

for (const [engineName, engine] of engines) {
  for (const [storeName, store] of stores) {
    describe(`exactly once: ${engineName}, ${storeName}`, () => {
      it.live("a memory write interrupted before its step is journaled happens once after the retry", () => {
        let attempts = 0
        const keys: Array<string> = []
        const save = (withKey: boolean) =>
          Primitive.make("save", (note: string) =>
            Durable.step(
              "write",
              Effect.gen(function*() {
                const key = Option.getOrThrow(yield* Durable.idempotencyKey)
                keys.push(key)
                const entry = yield* Memory.store(
                  `note-${++attempts}`,
                  note,
                  withKey ? { idempotencyKey: key } : {}
                )
                // the first attempt dies after its write, before the step's result is journaled
                if (attempts === 1) return yield* Effect.interrupt
                return entry.id
              }).pipe(Effect.provide(WorkflowContext.layer({ sessionId: `s-${note}` })), Effect.orDie),
              Schema.String
            ))
        const run = (withKey: boolean, note: string) => {
          attempts = 0
          keys.length = 0
          const wf = Durable.workflow(`save-${withKey}`, save(withKey), {
            input: Schema.String,
            output: Schema.String,
            key: (s) => s
          })
          return Effect.gen(function*() {
            const id = yield* wf.run(note)
            const entries = yield* Effect.provide(Memory.list(), WorkflowContext.layer({ sessionId: `s-${note}` }))
            return { id, entries }
          }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(engine()))))
        }
        return Effect.gen(function*() {
          const once = yield* run(true, `a-${n}`)
          assert.strictEqual(attempts, 2, "the step ran twice (at least once)")
          assert.strictEqual(keys[0], keys[1], "under one idempotency key")
          assert.strictEqual(once.entries.length, 1, "the write happened once")
          assert.strictEqual(once.entries[0]!.id, once.id, "the retry got the first write's entry back")
          // without the key the same crash writes twice: the test can tell
          const twice = yield* run(false, `b-${n}`)
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
        let attempts = 0
        const keys: Array<string> = []
        const notify = (withKey: boolean) =>
          Primitive.make("notify", (text: string) =>
            Durable.step(
              "send",
              Effect.gen(function*() {
                const key = Option.getOrThrow(yield* Durable.idempotencyKey)
                keys.push(key)
                const messaging = yield* Messaging.Messaging
                const id = yield* messaging.send(
                  "coach",
                  `learner-${text}`,
                  { text, attempt: ++attempts },
                  withKey ? { idempotencyKey: key } : {}
                )
                // the first attempt dies after its send, before the step's result is journaled
                if (attempts === 1) return yield* Effect.interrupt
                return id
              }).pipe(Effect.orDie),
              Schema.String
            ))
        const run = (withKey: boolean, text: string) => {
          attempts = 0
          keys.length = 0
          const wf = Durable.workflow(`notify-${withKey}`, notify(withKey), {
            input: Schema.String,
            output: Schema.String,
            key: (s) => s
          })
          return Effect.gen(function*() {
            const messaging = yield* Messaging.Messaging
            yield* messaging.registry.register({ name: `learner-${text}` })
            const id = yield* wf.run(text)
            return { id, unread: yield* messaging.inbox(`learner-${text}`).unread }
          }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(engine()))))
        }
        return Effect.gen(function*() {
          const once = yield* run(true, `a-${n}`)
          assert.strictEqual(attempts, 2, "the step ran twice (at least once)")
          assert.strictEqual(keys[0], keys[1], "under one idempotency key")
          assert.strictEqual(once.unread.length, 1, "one message in the inbox")
          assert.strictEqual(once.unread[0]!.id, once.id, "the retry got the first send's id back")
          assert.deepStrictEqual((once.unread[0]!.body as { attempt: number }).attempt, 1)
          // without the key the same crash sends twice: the test can tell
          const twice = yield* run(false, `b-${n}`)
          assert.strictEqual(twice.unread.length, 2)
        }).pipe(Effect.provide(inbox()))
      })
    })
  }
}
