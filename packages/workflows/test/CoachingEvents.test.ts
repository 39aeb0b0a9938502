/**
 * Coaching events across processes: a second process subscribed through Redis receives every
 * event the coaching process publishes (tutorial 16 run in its Redis mode, where a fallback to
 * the memory bus is an error).
 */
import { describeWith, REDIS_URL, runProcess } from "@braid/testing"
import { expect, it } from "@effect/vitest"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const describeRedis = await describeWith("redis")

describeRedis("Coaching events over Redis, across processes", () => {
  it("a subscriber process receives every event of a coaching day, in order, decoded", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", REDIS_URL, BRAID_EXAMPLE_REDIS: "require" }
    delete env["ANTHROPIC_API_KEY"]
    const result = await runProcess(tsx, ["--conditions=@braid/source", "examples/16-coaching-events.ts"], {
      cwd: root,
      env,
      timeout: 170_000
    })
    const output = `${result.stdout}\n${result.stderr}`
    expect(result.status, output).toBe(0)
    expect(output).toContain("the subscriber is another process")
    const counts = /published (\d+) events; the other process received (\d+)/.exec(result.stdout)
    expect(counts, output).not.toBeNull()
    expect(Number(counts![1])).toBeGreaterThanOrEqual(15)
    expect(counts![2]).toBe(counts![1])
    // the subscriber printed the events in the order the day produced them
    const lines = result.stdout.split("\n").filter((l) => /^\s+#\s*\d+ /.test(l))
    expect(lines[0]).toContain("morning: session started (coaching)")
    expect(lines.findIndex((l) => l.includes("goals set:"))).toBeLessThan(
      lines.findIndex((l) => l.includes("evening: reflection started on 2 goals"))
    )
    expect(lines[lines.length - 1]).toContain("evening: session ended (objective-met)")
  }, 180_000)
})
