import { Dataset, Samples } from "@braid/eval"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-cli-eval-"))
const v1 = path.join(dir, "v1.jsonl")
const v2 = path.join(dir, "v2.jsonl")
fs.writeFileSync(v1, Dataset.toJsonl(Samples.promptV1))
fs.writeFileSync(v2, Dataset.toJsonl(Samples.promptV2))

describe("braid eval", () => {
  it.effect("exits 1 when the candidate regresses against the baseline, 0 when it does not", () =>
    Effect.gen(function*() {
      const worse = yield* runCli(["eval", v2, "--baseline", v1, "--offline"])
      assert.strictEqual(worse.code, 1)
      assert.include(worse.stdout, "gate FAILED")
      assert.match(worse.stdout, /FAIL relevance: 1\.000 -> 0\.375/)
      const same = yield* runCli(["eval", v1, "--baseline", v1, "--offline"])
      assert.strictEqual(same.code, 0)
      assert.include(same.stdout, "gate PASSED")
    }))

  it.effect("applies minimums without a baseline", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["eval", v2, "--min", "relevance=0.5", "--offline"])
      assert.strictEqual(r.code, 1)
      assert.include(r.stdout, "FAIL relevance: mean 0.375 is below the minimum 0.500")
      const ok = yield* runCli(["eval", v1, "--min", "relevance=0.5", "--offline"])
      assert.strictEqual(ok.code, 0)
    }))

  it.effect("with --store, a second evaluation of the same dataset reuses the stored results", () =>
    Effect.gen(function*() {
      const db = path.join(dir, "results.db")
      const first = yield* runCli(["eval", v1, "--store", db, "--offline"])
      assert.strictEqual(first.code, 0)
      assert.notInclude(first.stdout, "reused")
      const second = yield* runCli(["eval", v1, "--store", db, "--offline"])
      assert.include(second.stdout, "8 conversations evaluated (8 reused from the store)")
    }))

  it.effect("a malformed dataset is a clear error naming the line and the field (exit 2)", () =>
    Effect.gen(function*() {
      const bad = path.join(dir, "bad.jsonl")
      const lines = Dataset.toJsonl(Samples.promptV1.slice(0, 2)).trim().split("\n")
      lines.push(
        JSON.stringify({ id: "x", messages: [{ role: "user", content: "hi" }, { role: "robot", content: "beep" }] })
      )
      fs.writeFileSync(bad, lines.join("\n"))
      const r = yield* runCli(["eval", bad, "--offline"])
      assert.strictEqual(r.code, 2)
      assert.strictEqual(r.stderr, `braid: ${bad}:3: messages[1].role: Expected "user" | "assistant", actual "robot"`)
      const missing = yield* runCli(["eval", path.join(dir, "nope.jsonl"), "--offline"])
      assert.strictEqual(missing.code, 2)
      assert.include(missing.stderr, "nope.jsonl: no such file")
    }))

  it.effect("bad arguments are rejected with exit code 2", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["eval", v1, "--min", "relevance=high", "--offline"])
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "--min relevance=high: the minimum must be a number")
      const conf = yield* runCli(["eval", v1, "--confidence", "2", "--offline"])
      assert.strictEqual(conf.code, 2)
      const unknown = yield* runCli(["frobnicate"])
      assert.strictEqual(unknown.code, 2)
      const noArg = yield* runCli(["eval"])
      assert.strictEqual(noArg.code, 2)
    }))

  it.effect("hostile JSON in a dataset: 20,000 levels deep or a \"__proto__\" key is exit 2 naming the line, not \"unexpected error\"", () =>
    Effect.gen(function*() {
      const deep = path.join(dir, "deep.jsonl")
      const lines = Dataset.toJsonl(Samples.promptV1.slice(0, 1)).trim().split("\n")
      lines.push(
        `{"id":"deep","messages":[{"role":"user","content":"hi"}],"metadata":{"x":${"[".repeat(20_000)}${
          "]".repeat(20_000)
        }}}`
      )
      fs.writeFileSync(deep, lines.join("\n"))
      const r = yield* runCli(["eval", deep, "--offline"])
      assert.strictEqual(r.code, 2, r.stderr)
      assert.match(
        r.stderr,
        new RegExp(`^braid: ${deep.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2: metadata\\.x.*: nesting deeper than 64$`)
      )
      assert.notInclude(r.stderr, "unexpected error")
      const proto = path.join(dir, "proto.jsonl")
      fs.writeFileSync(
        proto,
        `{"id":"p","messages":[{"role":"user","content":"hi"}],"metadata":{"__proto__":{"isAdmin":true}}}\n`
      )
      const p = yield* runCli(["eval", proto, "--offline"])
      assert.strictEqual(p.code, 2)
      assert.strictEqual(p.stderr, `braid: ${proto}:1: metadata: forbidden key "__proto__"`)
    }))
})
