/**
 * Tutorial 4: model calls.
 *
 * A running coach answers questions through the `LanguageModel` port. Offline (no
 * `ANTHROPIC_API_KEY`) the deterministic scripted model answers from rules; with a key, the same
 * code talks to Claude. Along the way: generate, stream, prompt caching, transient errors and a
 * retry, a cost report per run, session and agent, and budgets (a hard stop, a switch to a
 * cheaper model, a cost alert).
 *
 * Run it: npx tsx examples/04-model-calls.ts        (offline)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/04-model-calls.ts   (Claude)
 */
import { Primitive, Runner, sequence } from "@braid/core"
import { Accounting, DefaultModel, Errors, LanguageModel, ScriptedModel } from "@braid/llm"
import { Effect, Schedule, Stream } from "effect"
import assert from "node:assert"

// 1. The model. Rules make offline replies read naturally; with a key they are not used.
const coachRules: ReadonlyArray<ScriptedModel.Rule> = [
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
const Model = DefaultModel.layer({ scripted: { rules: coachRules, default: "Keep it easy and consistent: {{input}}" } })

const main = Effect.gen(function*() {
  const online = yield* DefaultModel.isOnline
  console.log("== Tutorial 4: model calls ==\n")
  console.log(
    online
      ? "ANTHROPIC_API_KEY is set: talking to Claude.\n"
      : "No ANTHROPIC_API_KEY: the scripted model answers (deterministic, offline).\n"
  )
  const system = "You are a friendly running coach. Answer in at most two sentences."

  // 2. generate: one request, one response with text, stop reason and usage.
  const answer = yield* LanguageModel.generate({
    system,
    messages: [LanguageModel.user("How far should I run in my first month?")],
    maxTokens: 200
  })
  console.log(`generate -> ${answer.text}`)
  console.log(
    `  stop: ${answer.stopReason}, model: ${answer.model}, usage: ${answer.usage.inputTokens} in / ${answer.usage.outputTokens} out${
      answer.usage.estimated ? " (estimated)" : ""
    }\n`
  )
  assert.ok(answer.text.length > 0)
  if (!online) {
    assert.strictEqual(answer.text, "Start with 3 easy runs of 20 minutes a week, then add 10% each week.")
    assert.strictEqual(answer.usage.estimated, true)
  }

  // 3. stream: text deltas as they arrive, then one Finish with the whole response.
  process.stdout.write("stream   -> ")
  const deltas: Array<string> = []
  const streamed = yield* LanguageModel.stream({ system, messages: [LanguageModel.user("Do I need a rest day?")] })
    .pipe(
      Stream.runFoldEffect(undefined as LanguageModel.Response | undefined, (last, event) =>
        event._tag === "TextDelta"
          ? Effect.sync(() => {
            deltas.push(event.text)
            process.stdout.write(event.text)
            return last
          })
          : Effect.succeed(event.response))
    )
  console.log(`\n  ${deltas.length} deltas, ${streamed?.usage.outputTokens} output tokens\n`)
  assert.ok(streamed !== undefined && streamed.text === deltas.join(""))

  // 4. Prompt caching: mark a long, stable system prompt as cacheable. The first call writes the
  //    cache, the next ones read it (and cache reads cost a tenth of fresh input).
  const longSystem = {
    text: `${system}\n\nClient file:\n${
      "- prefers morning runs, knee niggle in 2024, goal: 10k in spring\n".repeat(30)
    }`,
    cache: true
  }
  const first = yield* LanguageModel.generate({
    system: longSystem,
    messages: [LanguageModel.user("Give me a plan for Monday")]
  })
  const second = yield* LanguageModel.generate({
    system: longSystem,
    messages: [LanguageModel.user("Give me a plan for Tuesday")]
  })
  console.log(
    `prompt cache: first call wrote ${first.usage.cacheWriteTokens} tokens, second read ${second.usage.cacheReadTokens}`
  )
  if (!online) {
    assert.ok(first.usage.cacheWriteTokens > 0 && second.usage.cacheReadTokens === first.usage.cacheWriteTokens)
  }

  // 5. Errors are typed and say whether they are transient. Here a model that is overloaded on
  //    its first call; a retry that only retries transient errors gets through.
  const flaky = ScriptedModel.layer({
    rules: coachRules,
    failures: [{ calls: [1], error: new Errors.Overloaded({ message: "overloaded (simulated)" }) }]
  })
  const retried = yield* LanguageModel.generate({ messages: [LanguageModel.user("Any tips to stay motivated?")] }).pipe(
    Effect.tapError((e) =>
      Effect.sync(() => console.log(`\nfirst attempt failed: ${e._tag} (transient: ${e.transient})`))
    ),
    Effect.retry({ while: (e) => e.transient, schedule: Schedule.recurs(2) }),
    Effect.provide(flaky)
  )
  console.log(`retried  -> ${retried.text}\n`)
  assert.match(retried.text, /race eight weeks out/)

  // 6. Cost: every call is accounted once `Accounting` is provided. Steps name their agent.
  const ask = (agent: string) =>
    Primitive.make(
      agent,
      (question: string) =>
        Effect.map(
          LanguageModel.generate({ system, messages: [LanguageModel.user(question)], metadata: { agent } }),
          (r) => r.text
        )
    )
  const session = sequence(ask("coach"), ask("reviewer")).pipe(Primitive.named("coaching-session"))
  const costs = yield* Effect.gen(function*() {
    yield* Runner.run(session, "How long should I run on Saturday?", { runId: "run-1", sessionId: "ada" })
    yield* Runner.run(session, "Is a rest day really needed?", { runId: "run-2", sessionId: "ada" })
    return yield* Accounting.report
  }).pipe(Effect.provide(Accounting.layer()))
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
        (q) => LanguageModel.generate({ system, messages: [LanguageModel.user(q)], metadata: { agent: "planner" } })
      )
  )
  const alerts: Array<string> = []
  const stopped = yield* Effect.flip(Runner.run(chatty, undefined, { runId: "budgeted" })).pipe(
    Effect.provide(Accounting.layer({
      budgets: [{ scope: "run", limit: { tokens: 120 }, warnAt: 0.5 }],
      onAlert: (a) =>
        Effect.sync(() => alerts.push(`${a.scope} ${a.key} passed ${a.threshold} ${a.unit} (spent ${a.spent})`))
    }))
  )
  console.log(`budget: ${stopped._tag}: ${stopped.message}`)
  console.log(`cost alert: ${alerts.join("; ")}`)
  assert.strictEqual(stopped._tag, "BudgetExceeded")
  assert.strictEqual(alerts.length, 1)

  //    Or keep going on a cheaper model once a dollar budget is spent.
  const models = yield* Runner.run(chatty, undefined, { runId: "frugal" }).pipe(
    Effect.map((rs) => rs.map((r) => r.model)),
    Effect.provide(Accounting.layer({
      budgets: [{
        scope: "run",
        limit: { usd: 0.0002 },
        onExceeded: { switchTo: online ? "claude-haiku-5-5" : "braid-scripted-mini" }
      }]
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
