/**
 * Two runner processes on PostgreSQL: runner A starts the sessions (each in a durable sleep), B
 * joins, A is killed (SIGKILL); every session finishes on B, within a generous bound.
 */
import { describeWith, runProcess } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { dropPrefix, uniquePrefix } from "./pg.js"

const describePg = await describeWith("postgres")
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const fixture = join(root, "packages", "durable", "test", "fixtures", "runner-process.ts")

/** Waits (real time, bounded) for `file` to exist and returns its text. */
const waitForFile = async (file: string, boundMillis: number): Promise<string> => {
  const end = Date.now() + boundMillis
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`${file} did not appear within ${boundMillis} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return readFileSync(file, "utf8")
}

describePg("Durable on two PostgreSQL runners", () => {
  const prefix = uniquePrefix("tk")
  afterAll(() => dropPrefix(prefix))

  it("kill the runner that holds the sessions: all finish on the other", async () => {
    const dir = mkdtempSync(join(tmpdir(), "braid-durable-runners-"))
    const port = 36000 + Math.floor(Math.random() * 2000)
    const a = runProcess(tsx, [fixture, "a", String(port), prefix, dir, "4"], { cwd: root, timeout: 300_000 })
    const pid = Number(await waitForFile(join(dir, "a.ready"), 180_000))
    const b = runProcess(tsx, [fixture, "b", String(port + 1), prefix, dir, "4"], { cwd: root, timeout: 300_000 })
    await waitForFile(join(dir, "b.up"), 180_000)
    process.kill(pid, "SIGKILL")
    const killed = await a
    assert.isTrue(killed.signal === "SIGKILL" || killed.status === 137, `runner A was not killed: ${killed.stderr}`)
    const done = await b
    assert.strictEqual(done.status, 0, done.stderr)
    const line = done.stdout.split("\n").find((l) => l.startsWith("RESULT "))
    assert.isDefined(line, done.stdout)
    assert.deepStrictEqual(
      JSON.parse(line!.slice("RESULT ".length)),
      [0, 1, 2, 3].map((i) => `learner-${i} finished by b`)
    )
  }, 600_000)
})
