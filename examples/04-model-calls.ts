/**
 * Tutorial 4: model calls.
 *
 * A running coach answers questions through the model port (`@effect/ai`'s `LanguageModel`,
 * re-exported as `Ai.LanguageModel`), metered by `Metered`. Offline (no
 * `ANTHROPIC_API_KEY`) the deterministic scripted model answers from rules; with a key, the same
 * code talks to Claude. Along the way: generate, stream, prompt caching, transient errors and a
 * retry, a cost report per run, session and agent, and budgets (a hard stop, a switch to a
 * cheaper model, a cost alert).
 *
 * Run it: npx tsx examples/04-model-calls.ts        (offline)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/04-model-calls.ts   (Claude)
 */
import { Primitive, Runner, sequence } from "@braid/core"
import type { ScriptedLanguageModel } from "@braid/llm"
import { Accounting, Ai, AiErrors, DefaultLanguageModel, Errors, Metered } from "@braid/llm"
import { Effect, Schedule, Stream } from "effect"
import assert from "node:assert"

// 1. The model. Rules make offline replies read naturally; with a key they are not used.
const coachRules: ReadonlyArray<ScriptedLanguageModel.Rule> = [
  {
    when: /how (?:far|long) should I run/i,
    reply: "Start with 3 easy runs of 20 minutes a week, then add 10% each week."
  },
  {
    when: /rest day/i,
    reply: "Yes: one full rest day a week lets your legs adapt. Walk or stretch if you feel restless."
  },
  {
    when: /motivat/i,
    reply: "Pick a race eight weeks out, tell a friend, and put your runs in the calendar like meetings."
  },
  {
    when: /plan for (\w+)/i,
    reply: "Week plan for {{1}}: Monday easy 20 min, Wednesday intervals 6x1 min, Saturday long run 40 min."
  }
]
const scripted: ScriptedLanguageModel.Options = { rules: coachRules, default: "Keep it easy and consistent: {{input}}" }
// Claude with a key, the scripted model without; metered either way (usage, cost, budgets).
const Model = DefaultLanguageModel.layer({ scripted })

const system = "You are a friendly running coach. Answer in at most two sentences."
const prompt = (question: string): Ai.Prompt.RawInput => [
  { role: "system", content: system },
  { role: "user", content: question }
]

const main = Effect.gen(function*() {
  const online = yield* DefaultLanguageModel.isOnline
  console.log("== Tutorial 4: model calls ==\n")
  console.log(
    online
      ? "ANTHROPIC_API_KEY is set: talking to Claude.\n"
      : "No ANTHROPIC_API_KEY: the scripted model answers (deterministic, offline).\n"
  )

  // 2. generateText: one request, one response with text, finish reason and usage (Metered's).
  const answer = yield* Ai.LanguageModel.generateText({ prompt: prompt("How far should I run in my first month?") })
    .pipe(Ai.withSettings({ maxTokens: 200 }))
  const usage = Metered.usageOf(answer)!
  console.log(`generate -> ${answer.text}`)
  console.log(
    `  finish: ${answer.finishReason}, model: ${usage.model}, usage: ${usage.inputTokens} in / ${usage.outputTokens} out${
      usage.estimated ? " (estimated)" : ""
    }, $${usage.costUsd.toFixed(6)}\n`
  )
  assert.ok(answer.text.length > 0)
  if (!online) {
    assert.strictEqual(answer.text, "Start with 3 easy runs of 20 minutes a week, then add 10% each week.")
    assert.strictEqual(usage.estimated, true)
  }

  // 3. streamText: text deltas as they arrive, then the finish part with the usage.
  process.stdout.write("stream   -> ")
  const deltas: Array<string> = []
  let outputTokens = 0
  yield* Ai.LanguageModel.streamText({ prompt: prompt("Do I need a rest day?") }).pipe(
    Stream.runForEach((part) =>
      Effect.sync(() => {
        if (part.type === "text-delta") {
          deltas.push(part.delta)
          process.stdout.write(part.delta)
        } else if (part.type === "finish") outputTokens = Metered.usageOf(part)?.outputTokens ?? 0
      })
    )
  )
  console.log(`\n  ${deltas.length} deltas, ${outputTokens} output tokens\n`)
  assert.ok(deltas.length > 0 && outputTokens > 0)

  // 4. Prompt caching: mark a long, stable system prompt as cacheable. The first call writes the
  //    cache, the next ones read it (and cache reads cost a tenth of fresh input).
  const longSystem = `${system}\n\nClient file:\n${
    "- prefers morning runs, knee niggle in 2024, goal: 10k in spring\n".repeat(30)
  }`
  const cached = (question: string) =>
    Ai.LanguageModel.generateText({
      prompt: [
        { role: "system", content: longSystem, options: { braid: { cache: true } } },
        { role: "user", content: question }
      ]
    })
  const first = Metered.usageOf(yield* cached("Give me a plan for Monday"))!
  const second = Metered.usageOf(yield* cached("Give me a plan for Tuesday"))!
  console.log(`prompt cache: first call wrote ${first.cacheWriteTokens} tokens, second read ${second.cacheReadTokens}`)
  if (!online) assert.ok(first.cacheWriteTokens > 0 && second.cacheReadTokens === first.cacheWriteTokens)

  // 5. Errors are typed and say whether they are transient (`AiErrors`: Braid's errors travel in
  //    @effect/ai's AiError). Here a model overloaded on its first call; a retry of transient
  //    errors gets through.
  const flaky = DefaultLanguageModel.layer({
    scripted: {
      ...scripted,
      failures: [{ calls: [1], error: new Errors.Overloaded({ message: "overloaded (simulated)" }) }]
    }
  })
  const retried = yield* Ai.LanguageModel.generateText({ prompt: "Any tips to stay motivated?" }).pipe(
    Effect.tapError((e) =>
      Effect.sync(() =>
        console.log(`\nfirst attempt failed: ${AiErrors.toModelError(e)._tag} (transient: ${AiErrors.isTransient(e)})`)
      )
    ),
    Effect.retry({ while: AiErrors.isTransient, schedule: Schedule.recurs(2) }),
    Effect.provide(flaky)
  )
  console.log(`retried  -> ${retried.text}\n`)
  if (!online) assert.match(retried.text, /race eight weeks out/)

  // 6. Cost: every call through Metered is accounted, per run, session, agent and model. Steps
  //    name their agent with Ai.withSettings.
  const ask = (agent: string) =>
    Primitive.make(
      agent,
      (question: string) =>
        Effect.map(Ai.LanguageModel.generateText({ prompt: prompt(question) }).pipe(Ai.withSettings({ agent })), (r) =>
          r.text)
    )
  const session = sequence(ask("coach"), ask("reviewer")).pipe(Primitive.named("coaching-session"))
  const costs = yield* Effect.gen(function*() {
    yield* Runner.run(session, "How long should I run on Saturday?", { runId: "run-1", sessionId: "ada" })
    yield* Runner.run(session, "Is a rest day really needed?", { runId: "run-2", sessionId: "ada" })
    return yield* Accounting.report
  }).pipe(Effect.provide(DefaultLanguageModel.layer({ scripted })))
  console.log("cost report:")
  console.log(Accounting.format(costs))
  console.log(`  per run: ${Object.entries(costs.byRun).map(([k, t]) => `${k} $${t.costUsd.toFixed(6)}`).join(", ")}`)
  console.log(`  per session: ${Object.entries(costs.bySession).map(([k, t]) => `${k} ${t.calls} calls`).join(", ")}\n`)
  assert.strictEqual(costs.total.calls, 4)
  assert.strictEqual(costs.bySession["ada"]?.calls, 4)
  assert.strictEqual(costs.byAgent["coach"]?.calls, 2)
  assert.ok(costs.total.costUsd > 0)

  // 7. Budgets. A token budget per run stops the run with a typed BudgetExceeded, before the
  //    call that would go over is sent; a warning threshold fires the cost alert first.
  const chatty = Primitive.make(
    "chatty",
    (_: void) =>
      Effect.forEach(
        ["Plan for Monday", "Plan for Tuesday", "Plan for Wednesday", "Plan for Thursday"],
        (q) => Ai.LanguageModel.generateText({ prompt: prompt(q) }).pipe(Ai.withSettings({ agent: "planner" }))
      )
  )
  const alerts: Array<string> = []
  const stopped = yield* Effect.flip(Runner.run(chatty, undefined, { runId: "budgeted" })).pipe(
    Effect.map(AiErrors.toModelError),
    Effect.provide(DefaultLanguageModel.layer({
      scripted,
      metered: {
        budgets: [{ scope: "run", limit: { tokens: 120 }, warnAt: 0.5 }],
        onAlert: (a) =>
          Effect.sync(() => alerts.push(`${a.scope} ${a.key} passed ${a.threshold} ${a.unit} (spent ${a.spent})`))
      }
    }))
  )
  console.log(`budget: ${stopped._tag}: ${stopped.message}`)
  console.log(`cost alert: ${alerts.join("; ")}`)
  assert.strictEqual(stopped._tag, "BudgetExceeded")
  assert.strictEqual(alerts.length, 1)

  //    Or keep going on a cheaper model once a dollar budget is spent.
  const models = yield* Runner.run(chatty, undefined, { runId: "frugal" }).pipe(
    Effect.map((rs) => rs.map((r) => Metered.usageOf(r)!.model)),
    Effect.provide(DefaultLanguageModel.layer({
      scripted,
      metered: {
        budgets: [{
          scope: "run",
          limit: { usd: 0.0002 },
          onExceeded: { switchTo: online ? "claude-haiku-5-5" : "braid-scripted-mini" }
        }]
      }
    }))
  )
  console.log(`switch to a cheaper model: ${models.join(" -> ")}`)
  assert.notStrictEqual(models[0], models[models.length - 1])

  console.log("\nDone: one port, typed errors, streaming, caching, costs and budgets.")
}).pipe(Effect.provide(Model))

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
