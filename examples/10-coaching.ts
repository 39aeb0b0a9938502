/**
 * Tutorial 10: the coaching workflow.
 *
 * A whole coaching day as one typed pipeline from `@braid/workflows`: the client's profile
 * becomes the coach's instructions; in the morning the coach and the client agree on goals
 * while an observer agent writes insights on a parallel track; the goals go to memory; in the
 * evening the coach recalls them and reviews the day. Every exchange is scored for relevance as
 * it happens, every message carries its tokens and cost, and every reply goes through rate
 * limits, a concurrency cap, retries and a fallback reply.
 *
 * Then we break things on purpose: a model outage in the middle of a session, an idle client,
 * more clients at once than the coach has capacity for, and a model that stays down, which ends
 * the session (`model-outage`) in the session store that practice and coaching share.
 *
 * Run it: npx tsx examples/10-coaching.ts                              (offline, scripted model)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/10-coaching.ts (Claude)
 */
import { Agent } from "@braid/agents"
import { Describe, Runner, WorkflowContext } from "@braid/core"
import { Models } from "@braid/eval"
import { Accounting, Ai, Errors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { Coaching, Samples, Scripts, SessionStore } from "@braid/workflows"
import { Effect, Either, Layer } from "effect"
import assert from "node:assert"

const online = (await Effect.runPromise(Models.mode())) === "anthropic"

/** The scripted model, metered (cost, accounting). */
const scripted = (options: ScriptedLanguageModel.Options) =>
  Metered.fromProvider(ScriptedLanguageModel.provider(options))

// 1. Configure the workflow once; its bulkhead and rate limits are shared by every session run with it.
const coaching = Coaching.make({
  idleTimeout: "15 minutes",
  capacity: { maxConcurrent: 20, maxQueued: 5 },
  rateLimits: { perUser: { limit: 30, window: "1 minute" }, global: { limit: 600, window: "1 minute" } }
})

// 2. What the client says. The scripted coach knows this day; Claude improvises around it.
const day: Coaching.DayInput = Samples.coachingDay

const printSession = (report: Coaching.SessionReport) => {
  console.log(`\n-- ${report.phase} session (ended: ${report.endedBy}) --`)
  for (const m of report.messages) {
    const who = m.role === "user" ? "Ada  " : "Coach"
    const cost = m.role === "assistant"
      ? `   [${m.usage.inputTokens}+${m.usage.outputTokens} tokens, $${m.costUsd.toFixed(5)}${
        m.fallback ? ", FALLBACK" : ""
      }]`
      : ""
    console.log(`${who}: ${m.content.replace(/\n/g, "\n       ")}${cost}`)
  }
}

const main = Effect.gen(function*() {
  console.log(`== Tutorial 10: the coaching workflow (${online ? "Claude" : "scripted model, offline"}) ==\n`)
  console.log(
    "The pipeline, as it describes itself (first four levels; `npx braid describe coaching` draws all of it):"
  )
  console.log(Describe.toText(coaching.day).split("\n").filter((l) => l.search(/\w/) <= 12).join("\n"))

  // 3. Run the day.
  const report = yield* Runner.run(coaching.day, day, { userId: "ada" })
  printSession(report.morning)
  console.log(`\nGoals stored in memory: ${report.goals.map((g) => `"${g}"`).join(", ") || "(none)"}`)
  console.log("Observer insights (written on the parallel track):")
  for (const i of report.insights) console.log(`  ${i}`)
  printSession(report.evening)
  console.log(`\nReview: ${report.review ?? "(not reached)"}`)
  console.log(
    `Relevance per exchange: ${
      [...report.morning.exchanges, ...report.evening.exchanges].map((e) => e.relevance.toFixed(2)).join(", ")
    }`
  )
  console.log(
    `Day: ${report.totals.messages} messages, ${report.totals.inputTokens} tokens in, ${report.totals.outputTokens} out, $${
      report.totals.costUsd.toFixed(5)
    }`
  )

  // The goals really are in memory, in the client's scope: any later session can recall them.
  const remembered = yield* Effect.flatMap(Memory.Memory, (m) => m.query({ scope: "user", tags: ["goal"] })).pipe(
    Effect.provide(WorkflowContext.layer({ userId: "ada" }))
  )
  console.log(`Memory (user scope, tag "goal"): ${JSON.stringify(remembered[0]?.value)}`)
  const accounting = yield* Accounting.report
  console.log(
    `Accounting by agent: ${
      Object.entries(accounting.byAgent).map(([a, t]) => `${a} ${t.calls} calls $${t.costUsd.toFixed(5)}`).join(", ")
    }`
  )

  assert.ok(report.morning.messages.length >= 2)
  assert.ok(report.totals.costUsd > 0)
  assert.strictEqual(report.totals.messages, report.morning.messages.length + report.evening.messages.length)
  if (!online) {
    assert.deepStrictEqual(report.goals, ["finish the quarterly report draft (9-11)", "run 30 minutes at lunch"])
    assert.strictEqual(report.morning.endedBy, "objective-met")
    assert.strictEqual(report.evening.endedBy, "objective-met")
    assert.strictEqual(report.insights.length, 3)
    assert.deepStrictEqual(remembered[0]?.value, report.goals)
  }
}).pipe(Effect.provide(WorkflowLayers()))

function WorkflowLayers() {
  return Layer.mergeAll(Models.layer(Scripts.coaching), Memory.layerInMemory())
}

// 4. A model outage in the middle of the morning (scripted: the model fails every attempt on the
//    second message). The client gets the fallback reply, the session goes on, nothing is lost.
const outage = Effect.gen(function*() {
  console.log("\n== A model outage in the middle of a session ==")
  const failing: ScriptedLanguageModel.Options = {
    ...Scripts.coaching,
    failures: [{
      when: (prompt) =>
        !Ai.systemText(prompt).startsWith("You are the observer") &&
        Ai.lastUserText(prompt).includes("quarterly report"),
      error: new Errors.Overloaded({ message: "the model is overloaded (simulated)" })
    }]
  }
  const report = yield* Runner.run(Coaching.make({ retry: { baseDelay: "10 millis" } }).day, day, { userId: "ada" })
    .pipe(
      Effect.provide(Layer.merge(scripted(failing), Memory.layerInMemory()))
    )
  printSession(report.morning)
  console.log(
    `\n${report.morning.totals.fallbacks} fallback reply (after 3 attempts); the goals were still agreed: ${
      report.goals.join("; ")
    }`
  )
  assert.strictEqual(report.morning.totals.fallbacks, 1)
  assert.strictEqual(report.morning.messages.length, 6) // every message kept, the failed turn included
  assert.strictEqual(report.goals.length, 2)
})

// 5. An idle client: the session completes by itself after the idle timeout.
const idle = Effect.gen(function*() {
  console.log("\n== An idle client ==")
  const quick = Coaching.make({ idleTimeout: "300 millis" })
  const report = yield* Runner.run(quick.day, {
    profile: Samples.adaProfile,
    morning: [day.morning[0]!, { text: "Sorry, I got pulled into a call!", after: "1 second" }],
    evening: [{ end: true }]
  }, { userId: "ada" }).pipe(Effect.provide(Layer.merge(scripted(Scripts.coaching), Memory.layerInMemory())))
  console.log(
    `morning session ended by: ${report.morning.endedBy} after ${report.morning.messages.length} messages (the late message arrived after the end)`
  )
  assert.strictEqual(report.morning.endedBy, "idle-timeout")
  assert.strictEqual(report.morning.messages.length, 2)
})

// 6. More clients than capacity: 2 replies at once, 1 waiting; the 4th client gets a clear error.
const capacity = Effect.gen(function*() {
  console.log("\n== Capacity: 2 in flight, 1 queued ==")
  const small = Coaching.make({ capacity: { maxConcurrent: 2, maxQueued: 1 } })
  const ask = (user: string) =>
    Runner.run(small.reply, {
      messages: [Agent.user("Good morning!")],
      context: { userId: user, instructions: "Be brief." }
    }).pipe(
      Effect.either,
      Effect.map((r) => [user, r] as const)
    )
  const results = yield* Effect.all(["ada", "bob", "cy", "dee"].map(ask), { concurrency: "unbounded" }).pipe(
    Effect.provide(scripted({ ...Scripts.coaching, latency: "100 millis" }))
  )
  for (const [user, r] of results) {
    console.log(
      `  ${user}: ${
        Either.isRight(r) ? `answered ("${r.right.text.slice(0, 40)}...")` : `${r.left._tag}: ${r.left.message}`
      }`
    )
  }
  const rejected = results.filter(([, r]) => Either.isLeft(r))
  assert.strictEqual(rejected.length, 1)
  assert.strictEqual(Either.isLeft(rejected[0]![1]) && rejected[0]![1].left._tag, "CapacityExceeded")
})

// 7. The model stays down. After 3 failed replies in a row the session ends (`model-outage`) with
//    a notice, instead of answering every message with a fallback. With a `SessionStore` in
//    context every session and message is stored (one model for coaching and practice), and the
//    failures go to the error log the admin views read.
const modelDown: ScriptedLanguageModel.Options = {
  ...Scripts.coaching,
  failures: [{
    when: (prompt) => !Ai.systemText(prompt).startsWith("You are the observer"),
    error: new Errors.Overloaded({ message: "the model is overloaded (simulated)" })
  }]
}
const longOutage = Effect.gen(function*() {
  console.log("\n== The model stays down: the session ends, and the store remembers ==")
  const report = yield* Runner.run(
    Coaching.make({ retry: { baseDelay: "10 millis" }, outageAfter: 3 }).day,
    { ...day, morning: [...day.morning, "Are you there?"] },
    { userId: "ada", sessionId: "outage-day" }
  )
  const store = yield* SessionStore.SessionStore
  const admin = SessionStore.system("default")
  const morning = yield* store.getSession(admin, "outage-day:morning")
  const errors = yield* store.recentErrors(admin)
  console.log(
    `morning session: ${morning.status}, ended by ${morning.endReason} after ${morning.totals.messages} messages (${morning.totals.fallbacks} fallbacks)`
  )
  console.log(`it ended with: "${morning.endMessage}"`)
  console.log(`error log: ${errors.map((e) => `${e.severity}/${e.source}`).join(", ")}`)
  assert.strictEqual(report.morning.endedBy, "model-outage")
  assert.strictEqual(morning.endReason, "model-outage")
  assert.strictEqual(morning.totals.messages, 6) // the 4th message was never sent: the session had ended
  assert.ok(errors.some((e) => e.severity === "critical"))
}).pipe(Effect.provide(Layer.mergeAll(scripted(modelDown), Memory.layerInMemory(), SessionStore.layerMemory)))

await Effect.runPromise(main)
if (!online) {
  // Failure injection and latency belong to the scripted model: these run offline only.
  await Effect.runPromise(Effect.all([outage, idle, capacity, longOutage], { discard: true }))
}
console.log("\nDone.")
