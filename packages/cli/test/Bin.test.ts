import { Dataset, Samples } from "@braid/eval"
import { runProcess } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/braid.js")
const braid = (...args: Array<string>) =>
  runProcess(process.execPath, [bin, ...args], { env: { ...process.env, ANTHROPIC_API_KEY: "" } })

/** Process start under tsx takes seconds, tens of seconds on a loaded machine (STACK.md, trap 8): a generous bound per process. */
const processBound = (processes: number) => processes * 90_000

describe("bin/braid.js (the real process)", () => {
  it("sets the exit code: 1 on a regression, 2 on a malformed dataset, 0 on success", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-bin-"))
    const v1 = path.join(dir, "v1.jsonl")
    const v2 = path.join(dir, "v2.jsonl")
    fs.writeFileSync(v1, Dataset.toJsonl(Samples.promptV1))
    fs.writeFileSync(v2, Dataset.toJsonl(Samples.promptV2))
    const worse = await braid("eval", v2, "--baseline", v1)
    assert.strictEqual(worse.status, 1, worse.stderr)
    assert.include(worse.stdout, "gate FAILED")
    const same = await braid("eval", v1, "--baseline", v1)
    assert.strictEqual(same.status, 0, same.stderr)
    fs.writeFileSync(path.join(dir, "bad.jsonl"), `{"id":"a","messages":[{"role":"user"}]}\n`)
    const bad = await braid("eval", path.join(dir, "bad.jsonl"))
    assert.strictEqual(bad.status, 2)
    assert.include(bad.stderr, "bad.jsonl:1: messages[0].content: is missing")
  }, processBound(3))

  it("help through the real process: `braid run`, defaults and examples, and no colour when piped", async () => {
    const help = await braid("run", "--help")
    assert.strictEqual(help.status, 0, help.stderr)
    assert.include(help.stdout, "Usage:\n  braid run <workflow> [options]")
    assert.include(help.stdout, "(default: ada)")
    assert.include(help.stdout, "Examples:")
    assert.notInclude(help.stdout, "\x1b[")
  }, processBound(1))
})
