/**
 * Every example is a narrated tutorial that asserts its own results. Each one is run here as a
 * user would run it (`npx tsx examples/NN-name.ts`), offline: no ANTHROPIC_API_KEY.
 */
import { runProcess } from "@braid/testing"
import { describe, expect, it } from "@effect/vitest"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const examples = readdirSync(join(root, "examples")).filter((f) => /^\d\d-.*\.ts$/.test(f)).sort()
const tsx = join(root, "node_modules", ".bin", "tsx")

describe("examples", () => {
  it("exist", () => {
    expect(examples.length).toBeGreaterThanOrEqual(2)
  })

  for (const example of examples) {
    it(`${example} runs offline and succeeds`, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" }
      delete env["ANTHROPIC_API_KEY"]
      const result = await runProcess(tsx, [join("examples", example)], { cwd: root, env, timeout: 120_000 })
      const output = `${result.stdout}\n${result.stderr}`
      expect(
        result.status,
        `${example} exited with ${result.status}${result.signal ? ` (${result.signal})` : ""}:\n${output}`
      ).toBe(0)
      expect(result.stdout.trim().length, `${example} printed nothing`).toBeGreaterThan(0)
    }, 150_000)
  }
})
