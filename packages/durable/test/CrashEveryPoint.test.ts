/**
 * SIGKILL at every journal point of a durable practice session (`DurableSessions.practice` on the
 * SQLite engine and the SQLite session store), each in a child process, then a restart.
 *
 * 1. One uninterrupted run in a child process records its journal points in order (see
 *    fixtures/crash-session-process.ts: each engine activity the first time it is journaled, each
 *    signal the driver delivered), the model calls the scripted model answered and the store's
 *    records at the end. It is the reference.
 * 2. For EACH recorded point (the list is the recorded one, never written here), a fresh session in
 *    a child process that SIGKILLs itself
 *    - `after` the point is written (the activity journaled, the signal delivered): completed;
 *    - `during` the activity (its effect ran: the model answered, the store was written; the
 *      engine has not journaled it): in flight;
 *    then a restarted child resumes the session and drives it to its end.
 * Per case: every model call the reference made was made exactly once, except the call in flight
 * at the kill (made twice: at least once); the store's messages and the end are the reference's
 * (no message lost or written twice).
 *
 * About 50 cases, two processes each: the fixture is bundled once with esbuild (tsx's own, in
 * node_modules) and run with plain node, which starts in a second or two where tsx takes 5 to 15 s
 * on a loaded machine. Generous bounds, no wall-clock assert. The cases run
 * BRAID_CRASH_CONCURRENCY (default 3) at a time.
 */
import { runProcess } from "@braid/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")
const fixture = join(root, "packages", "durable", "test", "fixtures", "crash-session-process.ts")
const bound = 240_000

// the bundle lives under the root's node_modules so that node finds better-sqlite3 (left out of it)
const bundleDir = join(root, "node_modules", ".cache", `braid-crash-every-point-${process.pid}`)
const bundle = join(bundleDir, "crash-session-process.mjs")
mkdirSync(bundleDir, { recursive: true })
afterAll(() => rmSync(bundleDir, { recursive: true, force: true }))
const built = await runProcess(join(root, "node_modules", ".bin", "esbuild"), [
  fixture,
  "--bundle",
  "--platform=node",
  "--format=esm",
  "--conditions=@braid/source",
  "--external:better-sqlite3",
  `--outfile=${bundle}`,
  "--log-level=warning",
  // the bundled CommonJS modules call require
  "--banner:js=import { createRequire as __braidRequire } from 'node:module'; const require = __braidRequire(import.meta.url);"
], { cwd: root, timeout: bound })
if (built.status !== 0) throw new Error(`esbuild failed to bundle the fixture:\n${built.stderr}`)

interface Outcome {
  readonly endReason: string
  readonly status: string
  readonly sessionId: string
  readonly messages: ReadonlyArray<
    { readonly seq: number; readonly role: string; readonly text: string; readonly turnId?: string }
  >
}

const lines = (file: string): ReadonlyArray<string> =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : []

/** Runs the fixture once in `dir` (a session of its own) with `env`. */
const child = (dir: string, env: Record<string, string> = {}) =>
  runProcess(process.execPath, [bundle, join(dir, "engine.db"), join(dir, "sessions.db"), join(dir, "calls.log")], {
    cwd: root,
    env: { ...process.env, ...env },
    timeout: bound
  })

const outcomeOf = (stdout: string, stderr: string): Outcome => {
  const line = stdout.split("\n").find((l) => l.startsWith("RESULT "))
  assert.isDefined(line, `no RESULT:\n${stdout}\n${stderr}`)
  return JSON.parse(line!.slice("RESULT ".length))
}

/** The records a user reads, without ids and times: order, role, text, turn. */
const records = (outcome: Outcome) =>
  outcome.messages.map((m) => ({
    seq: m.seq,
    role: m.role,
    text: m.text,
    turn: m.turnId?.replace(outcome.sessionId, "SESSION")
  }))

const count = (xs: ReadonlyArray<string>, x: string) => xs.filter((y) => y === x).length

// 1. the reference run, at collection: the cases are derived from its journal points
const referenceDir = mkdtempSync(join(tmpdir(), "braid-crash-reference-"))
const referenceRun = await child(referenceDir, { BRAID_POINTS: join(referenceDir, "points") })
if (referenceRun.status !== 0) {
  throw new Error(`the uninterrupted session failed (${referenceRun.status}):\n${referenceRun.stderr}`)
}
const reference = outcomeOf(referenceRun.stdout, referenceRun.stderr)
const referenceCalls = lines(join(referenceDir, "calls.log"))
const points = lines(join(referenceDir, "points"))
const cases = points.flatMap((point) => [
  ...(point.includes(":activity:") ? [{ mode: "during" as const, point }] : []),
  { mode: "after" as const, point }
])

/** At most `n` children at a time: the machine has two cores. */
const limit = (n: number) => {
  let running = 0
  const queue: Array<() => void> = []
  return async <A>(task: () => Promise<A>): Promise<A> => {
    if (running >= n) await new Promise<void>((resume) => queue.push(resume))
    running++
    try {
      return await task()
    } finally {
      running--
      queue.shift()?.()
    }
  }
}
const slot = limit(Number(process.env.BRAID_CRASH_CONCURRENCY ?? 3))

describe("the reference run of a durable practice session", () => {
  it("journals model calls, store writes, signals and a continueAsNew, and ends objective-met", () => {
    // what the cases below cover: guards against a fixture that records nothing
    assert.strictEqual(reference.endReason, "objective-met")
    assert.strictEqual(reference.status, "completed")
    assert.isAbove(points.filter((p) => p.includes("/model#")).length, 5, points.join("\n"))
    assert.isTrue(points.some((p) => p.includes(":signal:")), points.join("\n"))
    assert.isTrue(points.some((p) => p.startsWith("1:")), "no second execution (continueAsNew)")
    // each model call answered once, each distinct
    assert.strictEqual(new Set(referenceCalls).size, referenceCalls.length)
    assert.strictEqual(referenceCalls.length, points.filter((p) => p.includes("/model#")).length)
    assert.deepStrictEqual(records(reference).map((m) => m.role), [
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant",
      "user",
      "assistant"
    ])
  })
})

describe.concurrent("SIGKILL at every journal point of a practice session, then a restart", () => {
  for (const { mode, point } of cases) {
    it(
      `${mode} ${point}: the session ends as uninterrupted, each model call made once (the in-flight one twice)`,
      () =>
        slot(async () => {
          const dir = mkdtempSync(join(tmpdir(), "braid-crash-"))
          const killed = await child(dir, { BRAID_POINTS: join(dir, "points"), BRAID_KILL_AT: `${mode}:${point}` })
          assert.isTrue(
            killed.signal === "SIGKILL",
            `not killed at ${mode}:${point} (${killed.status}, ${killed.signal}):\n${killed.stdout}\n${killed.stderr}`
          )
          assert.notInclude(killed.stdout, "RESULT")
          // it died where it was told: the points before were written, this one only if `after`
          const before = lines(join(dir, "points"))
          const expected = points.slice(0, points.indexOf(point) + (mode === "after" ? 1 : 0))
          assert.includeMembers([...before], expected, `killed before ${point}`)
          assert.strictEqual(before.includes(point), mode === "after")
          const callsAtKill = lines(join(dir, "calls.log"))

          const resumed = await child(dir)
          assert.strictEqual(resumed.status, 0, `the restarted session failed:\n${resumed.stderr}`)
          const outcome = outcomeOf(resumed.stdout, resumed.stderr)
          assert.strictEqual(outcome.endReason, reference.endReason)
          assert.strictEqual(outcome.status, reference.status)
          assert.deepStrictEqual(records(outcome), records(reference))

          const calls = lines(join(dir, "calls.log"))
          const inFlight = mode === "during" && point.includes("/model#") ? callsAtKill.at(-1) : undefined
          if (inFlight !== undefined) assert.include(referenceCalls, inFlight)
          for (const call of referenceCalls) {
            assert.strictEqual(count(calls, call), call === inFlight ? 2 : 1, `${call.slice(0, 80)}: times made`)
          }
          assert.strictEqual(calls.length, referenceCalls.length + (inFlight === undefined ? 0 : 1), calls.join("\n"))
        }),
      20 * bound
    )
  }
})
