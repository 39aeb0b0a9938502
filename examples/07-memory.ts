/**
 * Tutorial 7: memory that outlives the process.
 *
 * In the morning, a coaching client states her goals for the day; a pipeline stores them in her
 * user-scoped memory (typed with Schema, with a TTL) in a SQLite file. The process ends. In the
 * evening, a new process opens the same file, recalls the goals into the coach agent's context
 * and reviews the day. Another client, on the same file, sees none of it: scopes are isolation
 * boundaries taken from the run's context.
 *
 * The evening half really is another process: this file spawns itself with the argument
 * "evening" and the path of the SQLite file.
 *
 * Run it: npx tsx examples/07-memory.ts
 */
import { Agent } from "@braid/agents"
import { Primitive, Runner, sequence } from "@braid/core"
import { Ai, DefaultLanguageModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { SqliteMemoryStore } from "@braid/sqlite"
import { Effect, Layer, Schema } from "effect"
import assert from "node:assert"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const Goal = Schema.Struct({ title: Schema.String, minutes: Schema.Int })
const Goals = Schema.Array(Goal)
const goals = Memory.forSchema(Goals)

// The memory of this app: SQLite on a file, one day of retention for user entries.
const MemoryOn = (filename: string) =>
  Memory.layer({ retention: { user: { ttl: "1 day", maxEntries: 50 } } }).pipe(
    Layer.provide(SqliteMemoryStore.layer({ filename }))
  )

// ---------------------------------------------------------------------------------------------
// Morning: parse the goals and remember them.
// ---------------------------------------------------------------------------------------------
const parseGoals = Primitive.sync("parseGoals", (text: string) =>
  text.split(";").map((part) => {
    const [title, minutes] = part.split("@").map((s) => s.trim())
    return { title: title!, minutes: Number(minutes) }
  }))

const saveGoals = Primitive.make(
  "saveGoals",
  (today: ReadonlyArray<typeof Goal.Type>) =>
    Effect.as(Memory.withAgent("intake")(goals.store("goals:today", today, { scope: "user", tags: ["goal"] })), today)
)

const morning = sequence(parseGoals, saveGoals).pipe(Primitive.named("morning"))

// ---------------------------------------------------------------------------------------------
// Evening: recall the goals into the coach's context and review the day.
// ---------------------------------------------------------------------------------------------
const coach = Agent.make({
  name: "coach",
  instructions: "You are a warm, concise coach. Review the day against the client's goals."
})

const Model = DefaultLanguageModel.layer({
  scripted: {
    rules: [{
      when: (prompt) => Ai.systemText(prompt).startsWith("You are a warm, concise coach"),
      reply: (prompt) => {
        // The scripted coach reads the goals from the memory section of its system prompt.
        const memory = Ai.systemText(prompt).split("Relevant memory:")[1] ?? ""
        const titles = [...memory.matchAll(/"title":"([^"]+)"/g)].map((m) => m[1])
        return titles.length === 0
          ? "I have no goals on record for you today."
          : `This morning you set ${titles.length} goals: ${titles.join(", ")}. ${
            Ai.lastUserText(prompt).includes("ran") ? "You ran: well done!" : ""
          }`.trim()
      }
    }]
  }
})

const evening = sequence(
  Primitive.sync("checkIn", (text: string) => Agent.conversation([text])),
  coach.pipe(Memory.recall({ scope: "user", tags: ["goal"] }))
).pipe(Primitive.named("evening"))

const runEvening = (filename: string) =>
  Effect.gen(function*() {
    console.log(`[evening, pid ${process.pid}] reopening ${filename}`)
    const review = yield* Runner.run(evening, "I ran this afternoon, but no reading yet.", {
      userId: "ada",
      sessionId: "evening"
    })
    console.log(`  coach -> ada: ${review.text}`)
    const stored = yield* Runner.run(
      Primitive.make("peek", (_: void) => goals.retrieve("goals:today", { scope: "user" })),
      undefined,
      { userId: "ada" }
    )
    const online = yield* DefaultLanguageModel.isOnline
    assert.strictEqual(stored._tag, "Some", "the goals survived the restart")
    if (stored._tag === "Some") {
      console.log(
        `  provenance: written by ${stored.value.agent} in run ${stored.value.runId} at step ${
          stored.value.stepPath ?? "(untracked)"
        }`
      )
      assert.strictEqual(stored.value.agent, "intake")
      assert.deepStrictEqual(stored.value.value.map((g) => g.title), ["run 5k", "read 20 pages"])
    }
    if (!online) assert.match(review.text, /2 goals: run 5k, read 20 pages\. You ran: well done!/)

    const other = yield* Runner.run(evening, "How did I do?", { userId: "grace" })
    console.log(`  coach -> grace: ${other.text}`)
    if (!online) assert.strictEqual(other.text, "I have no goals on record for you today.")
  }).pipe(Effect.provide(Layer.merge(MemoryOn(filename), Model)))

const runMorning = (filename: string) =>
  Effect.gen(function*() {
    console.log(`[morning, pid ${process.pid}] writing to ${filename}`)
    const today = yield* Runner.run(morning, "run 5k @ 35; read 20 pages @ 25", {
      userId: "ada",
      sessionId: "morning",
      instrumentation: "on"
    })
    console.log(`  ada's goals for today: ${today.map((g) => `${g.title} (${g.minutes} min)`).join(", ")}`)
  }).pipe(Effect.provide(MemoryOn(filename)))

const [, , phase, file] = process.argv

if (phase === "evening") {
  Effect.runPromise(runEvening(file!)).catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  const dir = mkdtempSync(join(tmpdir(), "braid-07-"))
  const filename = join(dir, "memory.db")
  console.log("== Tutorial 7: memory across a process restart (SQLite) ==\n")
  Effect.runPromise(runMorning(filename))
    .then(() => {
      console.log("\nThe morning process closes its store. The evening is another process:\n")
      const child = spawnSync(process.execPath, [
        ...process.execArgv,
        fileURLToPath(import.meta.url),
        "evening",
        filename
      ], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"]
      })
      process.stdout.write(child.stdout)
      process.stderr.write(child.stderr)
      assert.strictEqual(child.status, 0, "the evening process succeeded")
      console.log(
        "\nDone: typed goals stored in the morning, recalled in the evening by a new process, isolated per user."
      )
    })
    .catch((e) => {
      console.error(e)
      process.exitCode = 1
    })
    .finally(() => rmSync(dir, { recursive: true, force: true }))
}
