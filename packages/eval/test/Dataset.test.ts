import { Dataset } from "@braid/eval"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const good = (id: string) =>
  JSON.stringify({
    id,
    scenario: { objective: "agree on a weekly goal" },
    messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }]
  })

/** Whether a JSON value holds a `"__proto__"` key at any depth. */
const hasProtoKey = (v: unknown): boolean =>
  Array.isArray(v)
    ? v.some(hasProtoKey)
    : typeof v === "object" && v !== null &&
      Object.keys(v).some((k) => k === "__proto__" || hasProtoKey((v as Record<string, unknown>)[k]))

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
      const bad = JSON.stringify({
        id: "c",
        messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }, { role: "robot", content: "c" }]
      })
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

  it.effect("untrusted JSON: a \"__proto__\" key is refused with the line and path, never applied to the object", () =>
    Effect.gen(function*() {
      const poisoned =
        `{"id":"a","messages":[{"role":"user","content":"hi"}],"metadata":{"__proto__":{"isAdmin":true}}}`
      const e = yield* Effect.flip(Dataset.parse("d.jsonl", `${good("x")}\n${poisoned}`))
      assert.strictEqual(e._tag, "DatasetError")
      assert.strictEqual(e.message, `d.jsonl:2: metadata: forbidden key "__proto__"`)
      // the escaped spelling is the same key
      const escaped = yield* Effect.flip(Dataset.parse("d.jsonl", poisoned.replace("__proto__", "\\u005f_proto__")))
      assert.strictEqual(escaped.path, "metadata")
      // fuzz: whatever metadata a line carries, a decoded conversation's metadata keeps Object's prototype
      fc.assert(
        fc.property(
          fc.dictionary(fc.string(), fc.jsonValue()),
          fc.jsonValue(),
          fc.boolean(),
          (meta, planted, plant) => {
            const rest = JSON.stringify(meta).slice(1)
            const metaText = plant
              ? `{"__proto__": ${JSON.stringify(planted)}${rest === "}" ? "}" : `,${rest}`}`
              : JSON.stringify(meta)
            const line = `{"id":"a","messages":[{"role":"user","content":"hi"}],"metadata":${metaText}}`
            const out = Effect.runSync(Effect.either(Dataset.parse("d.jsonl", line)))
            // the generated metadata may hold a "__proto__" key of its own (at any depth): refused too
            const refused = plant || hasProtoKey(meta)
            if (out._tag === "Left") {
              return refused && out.left.line === 1 && out.left.path.startsWith("metadata") &&
                out.left.message.includes(`forbidden key "__proto__"`)
            }
            return !refused && Object.getPrototypeOf(out.right[0]!.metadata) === Object.prototype &&
              (out.right[0]!.metadata as any).isAdmin === undefined
          }
        ),
        { numRuns: 200 }
      )
    }))

  it.effect("deep nesting: a line nested 20,000 levels (40 KB) is a DatasetError naming the line, not a RangeError", () =>
    Effect.gen(function*() {
      const deep = `{"id":"a","messages":[{"role":"user","content":"hi"}],"metadata":{"x":${"[".repeat(20_000)}${
        "]".repeat(20_000)
      }}}`
      const e = yield* Effect.flip(Dataset.parse("d.jsonl", `${good("x")}\n\n${deep}`))
      assert.strictEqual(e._tag, "DatasetError")
      assert.strictEqual(e.line, 3)
      assert.include(e.message, `d.jsonl:3: metadata.x`)
      assert.include(e.message, `nesting deeper than ${Dataset.defaultMaxDepth}`)
      // the bound is an option
      const shallow = yield* Effect.flip(Dataset.parse("d.jsonl", good("a"), { maxDepth: 2 }))
      assert.include(shallow.message, "nesting deeper than 2")
      // fuzz: any text, any depth: a DatasetError or conversations, never a defect
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string(),
            fc.jsonValue().map((v) => JSON.stringify(v)),
            fc.nat(30_000).map((n) => "{".repeat(n))
          ),
          (text) => {
            const exit = Effect.runSyncExit(Dataset.parse("f.jsonl", text))
            return exit._tag === "Success" || (exit.cause._tag === "Fail" && exit.cause.error._tag === "DatasetError")
          }
        ),
        { numRuns: 200 }
      )
    }))
})
