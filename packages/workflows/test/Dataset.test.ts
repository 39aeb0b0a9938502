import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Dataset } from "@braid/workflows"

const good = (id: string) =>
  JSON.stringify({
    id,
    scenario: { objective: "agree on a weekly goal" },
    messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]
  })

describe("Dataset", () => {
  it.effect("decodes JSONL, skipping blank lines", () =>
    Effect.gen(function*() {
      const cs = yield* Dataset.parse("d.jsonl", `${good("a")}\n\n${good("b")}\n`)
      assert.deepStrictEqual(cs.map((c) => c.id), ["a", "b"])
      assert.strictEqual(cs[0]!.messages[1]!.role, "assistant")
      // round trip
      assert.deepStrictEqual(yield* Dataset.parse("d.jsonl", Dataset.toJsonl(cs)), cs)
    }))

  it.effect("a bad field names the file, the line and the field path", () =>
    Effect.gen(function*() {
      const bad = JSON.stringify({ id: "c", messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }, { role: "robot", content: "c" }] })
      const lines = [good("a"), good("b"), "", good("d"), good("e"), good("f"), bad].join("\n")
      const e = yield* Effect.flip(Dataset.parse("dataset.jsonl", lines))
      assert.strictEqual(e._tag, "DatasetError")
      assert.strictEqual(e.line, 7)
      assert.strictEqual(e.path, "messages[2].role")
      assert.strictEqual(e.message, `dataset.jsonl:7: messages[2].role: Expected "user" | "assistant", actual "robot"`)
    }))

  it.effect("invalid JSON, missing fields and duplicate ids are errors too", () =>
    Effect.gen(function*() {
      const json = yield* Effect.flip(Dataset.parse("d.jsonl", `${good("a")}\n{"id": `))
      assert.strictEqual(json.line, 2)
      assert.match(json.message, /^d\.jsonl:2: \(root\): invalid JSON/)
      const missing = yield* Effect.flip(Dataset.parse("d.jsonl", `{"id":"a"}`))
      assert.strictEqual(missing.message, "d.jsonl:1: messages: is missing")
      const empty = yield* Effect.flip(Dataset.parse("d.jsonl", `{"id":"a","messages":[]}`))
      assert.strictEqual(empty.message, "d.jsonl:1: messages[0]: is missing")
      const dup = yield* Effect.flip(Dataset.parse("d.jsonl", `${good("a")}\n${good("a")}`))
      assert.strictEqual(dup.message, `d.jsonl:2: id: duplicate id "a" (first on line 1)`)
    }))

  it.effect("load reads a file; a missing or empty file is a DatasetReadError", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-ds-"))
      const file = path.join(dir, "d.jsonl")
      fs.writeFileSync(file, good("a") + "\n")
      assert.strictEqual((yield* Dataset.load(file)).length, 1)
      const missing = yield* Effect.flip(Dataset.load(path.join(dir, "nope.jsonl")))
      assert.strictEqual(missing._tag, "DatasetReadError")
      assert.include(missing.message, "no such file")
      fs.writeFileSync(file, "\n")
      const empty = yield* Effect.flip(Dataset.load(file))
      assert.include(empty.message, "no conversations")
    }))
})
