import { Agent } from "@braid/agents"
import { Primitive, Runner } from "@braid/core"
import { Accounting, Errors as LlmErrors, ScriptedModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { Retry } from "@braid/resilience"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema, TestClock } from "effect"
import { systemOf, testModel } from "./agentTestModel.js"

describe("Agent", () => {
  it.effect("calls the model with its instructions and attributes the call to itself", () => {
    const m = testModel(() => ({ text: "Walk-run three times a week." }))
    return Effect.gen(function*() {
      const coach = Agent.make({
        name: "coach",
        instructions: "You are a running coach.",
        model: "m-1",
        maxTokens: 200
      })
      const reply = yield* Runner.run(coach, Agent.conversation(["How do I start?"]))
      assert.strictEqual(reply.text, "Walk-run three times a week.")
      assert.strictEqual(reply.agent, "coach")
      assert.strictEqual(reply.model, "m-1")
      assert.strictEqual(reply.calls, 1)
      assert.deepStrictEqual(reply.usage, {
        inputTokens: 10,
        outputTokens: 5,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        estimated: false
      })
      assert.deepStrictEqual(reply.messages, [{
        role: "assistant",
        name: "coach",
        content: "Walk-run three times a week."
      }])
      const req = m.requests[0]!
      assert.deepStrictEqual(req.metadata, { agent: "coach" })
      assert.strictEqual(systemOf(req), "You are a running coach.")
      assert.deepStrictEqual(req.messages, [{ role: "user", content: "How do I start?" }])
      assert.strictEqual(req.maxTokens, 200)
      assert.strictEqual(coach.kind, "agent")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("instructions computed from a profile; a bad profile fails with DecodeError naming the field", () => {
    const m = testModel(() => ({ text: "ok" }))
    return Effect.gen(function*() {
      const Client = Schema.Struct({ name: Schema.String, goal: Schema.String, sessionsPerWeek: Schema.Int })
      const coach = Agent.make({
        name: "coach",
        instructions: Agent.fromProfile(
          Client,
          (c) => `You coach ${c.name} towards "${c.goal}", ${c.sessionsPerWeek}x a week.`
        )
      })
      yield* Runner.run(
        coach,
        Agent.conversation(["hi"], { profile: { name: "Ada", goal: "a 10k", sessionsPerWeek: 3 } })
      )
      assert.strictEqual(systemOf(m.requests[0]!), `You coach Ada towards "a 10k", 3x a week.`)
      const err = yield* Effect.flip(
        Runner.run(coach, Agent.conversation(["hi"], { profile: { name: "Ada", goal: "x", sessionsPerWeek: "3" } }))
      )
      assert.strictEqual(err._tag, "DecodeError")
      assert.strictEqual(err._tag === "DecodeError" ? err.path : "", "sessionsPerWeek")
      assert.strictEqual(m.requests.length, 1, "the model is not called with a bad profile")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("tools: Schema-typed arguments, results fed back, usage summed over the loop", () => {
    const m = testModel((req, call) =>
      call === 1
        ? { text: "Let me check.", toolCalls: [{ id: "t1", name: "weather", input: { city: "Oslo", days: 2 } }] }
        : { text: `Forecast: ${req.messages.at(-1)!.content}` }
    )
    return Effect.gen(function*() {
      const seen: Array<{ city: string; days: number }> = []
      const weather = Agent.tool({
        name: "weather",
        description: "The forecast for a city",
        parameters: Schema.Struct({ city: Schema.String, days: Schema.Int }),
        run: (args) => Effect.sync(() => (seen.push(args), { sky: "clear", city: args.city }))
      })
      const agent = Agent.make({ name: "forecaster", instructions: "Forecast.", tools: [weather] })
      const reply = yield* Runner.run(agent, Agent.conversation(["Weather in Oslo?"]))
      assert.deepStrictEqual(seen, [{ city: "Oslo", days: 2 }])
      assert.strictEqual(reply.calls, 2)
      assert.strictEqual(reply.usage.inputTokens, 20)
      assert.strictEqual(reply.usage.outputTokens, 10)
      assert.include(reply.text, `"sky":"clear"`)
      assert.deepStrictEqual(reply.messages.map((x) => x.role), ["assistant", "tool", "assistant"])
      const tools = m.requests[0]!.tools!
      assert.strictEqual(tools[0]!.name, "weather")
      assert.deepStrictEqual(
        (tools[0]!.inputSchema as any).required,
        ["city", "days"],
        "JSON Schema derived from the Schema"
      )
      assert.include(m.requests[1]!.messages.at(-1)!.content, "[tool weather result]")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("bad tool arguments and unknown tools fail with ToolError; the loop is bounded", () => {
    const m = testModel((req) => {
      const last = req.messages.at(-1)!.content
      if (last.includes("bad")) return { toolCalls: [{ id: "1", name: "add", input: { a: "x", b: 1 } }] }
      if (last.includes("unknown")) return { toolCalls: [{ id: "1", name: "nope", input: {} }] }
      return { toolCalls: [{ id: "1", name: "add", input: { a: 1, b: 1 } }] } // forever
    })
    return Effect.gen(function*() {
      const add = Agent.tool({
        name: "add",
        description: "adds",
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        run: ({ a, b }) => Effect.succeed(a + b)
      })
      const agent = Agent.make({ name: "calc", instructions: "Add.", tools: [add], maxToolIterations: 3 })
      const bad = yield* Effect.flip(Runner.run(agent, Agent.conversation(["bad"])))
      assert.strictEqual(bad._tag, "ToolError")
      assert.include(bad.message, "invalid arguments")
      const unknown = yield* Effect.flip(Runner.run(agent, Agent.conversation(["unknown"])))
      assert.strictEqual(unknown._tag, "ToolError")
      assert.include(unknown.message, "nope")
      const before = m.requests.length
      const loop = yield* Effect.flip(Runner.run(agent, Agent.conversation(["loop"])))
      assert.strictEqual(loop._tag, "ToolIterationsExceeded")
      assert.strictEqual(m.requests.length - before, 3, "exactly maxToolIterations model calls")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("a tool result without a JSON form (BigInt, cycle) is a ToolError naming the path, not a TypeError defect", () => {
    const m = testModel((req) =>
      req.messages.at(-1)!.content.includes("result]")
        ? { text: "done" }
        : { toolCalls: [{ id: "1", name: "big", input: {} }] }
    )
    return Effect.gen(function*() {
      const cyclic: Record<string, unknown> = { a: 1 }
      cyclic["self"] = cyclic
      const results: Record<string, unknown> = { bigint: { total: { n: BigInt(1) } }, cycle: cyclic }
      for (const [which, value] of Object.entries(results)) {
        const big = Agent.tool({
          name: "big",
          description: "returns a value",
          parameters: Schema.Struct({}),
          run: () => Effect.succeed(value)
        })
        const agent = Agent.make({ name: "calc", instructions: "Use the tool.", tools: [big] })
        const exit = yield* Effect.exit(Runner.run(agent, Agent.conversation([which])))
        assert.isTrue(
          Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause)),
          `${which}: a typed failure, not a defect`
        )
        const err = yield* Effect.flip(Runner.run(agent, Agent.conversation([which])))
        assert.strictEqual(err._tag, "ToolError")
        assert.include(
          err.message,
          which === "bigint" ? "no JSON form: JSON: a BigInt has no JSON form at total.n" : "a cycle"
        )
      }
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("an agent is a span of kind agent, with the model call nested under it", () => {
    const m = testModel(() => ({ text: "hi" }))
    return Effect.gen(function*() {
      const greeter = Agent.make({ name: "greeter", instructions: "Greet." })
      const { exit, spans } = yield* withSpans(
        Runner.run(greeter, Agent.conversation(["hello"]), { instrumentation: "on" })
      )
      successValue(exit)
      const span = byName(spans, "invoke_agent greeter")
      assert.strictEqual(span.attributes["braid.primitive.kind"], "agent")
      assert.strictEqual(span.attributes["gen_ai.agent.name"], "greeter")
      assert.strictEqual(span.attributes["gen_ai.usage.output_tokens"], 5)
      const chat = spans.find((s) => s.name.startsWith("chat"))!
      assert.isDefined(chat, `a model span among ${spans.map((s) => s.name).join(", ")}`)
      assert.strictEqual(parentOf(spans, chat)?.name, "invoke_agent greeter")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("resilience is piped: a retried agent recovers from a transient model error and keeps its name", () =>
    Effect.gen(function*() {
      const coach = Agent.make({ name: "coach", instructions: "Coach." })
      const resilient = coach.pipe(Retry.policy({ maxAttempts: 3, baseDelay: "100 millis" }))
      assert.strictEqual(Agent.nameOf(resilient), "coach")
      const fiber = yield* Effect.fork(Runner.run(resilient, Agent.conversation(["plan my week"])))
      yield* TestClock.adjust("10 seconds")
      const reply = yield* Fiber.join(fiber)
      assert.strictEqual(reply.agent, "coach")
      assert.strictEqual(reply.text, "Rest on Sunday.")
    }).pipe(Effect.provide(ScriptedModel.layer({
      rules: [{ when: "plan", reply: "Rest on Sunday." }],
      failures: [{ calls: [1], error: new LlmErrors.Overloaded({ message: "busy" }) }]
    }))))

  it.effect("memory written by a tool records the agent; recalled memory reaches the system prompt", () => {
    const m = testModel((_req, call) =>
      call === 1 ? { toolCalls: [{ id: "1", name: "note", input: { text: "prefers mornings" } }] } : { text: "noted" }
    )
    return Effect.gen(function*() {
      const note = Agent.tool({
        name: "note",
        description: "Remember a fact",
        parameters: Schema.Struct({ text: Schema.String }),
        run: ({ text }) => Memory.store("preference", text, { scope: "user" })
      })
      const intake = Agent.make({ name: "intake", instructions: "Take notes.", tools: [note] })
      yield* Runner.run(intake, Agent.conversation(["I like mornings"]), { userId: "ada" })
      const stored = yield* Runner.run(
        Primitive.make("read", (_: void) => Memory.retrieve("preference", { scope: "user" })),
        undefined,
        { userId: "ada" }
      )
      assert.strictEqual(Option.getOrThrow(stored).agent, "intake")

      const coach = Agent.make({ name: "coach", instructions: "Coach." }).pipe(Memory.recall({ scope: "user" }))
      yield* Runner.run(coach, Agent.conversation(["when should I train?"]), { userId: "ada" })
      assert.include(systemOf(m.requests.at(-1)!), "Relevant memory:\n- preference: prefers mornings")
    }).pipe(Effect.provide(Layer.merge(m.layer, Memory.layerInMemory())))
  })

  it.effect("usage and cost are attributed to the agent: the reply's cost matches the accounting by agent", () =>
    Effect.gen(function*() {
      const coach = Agent.make({ name: "coach", instructions: "Coach." })
      const planner = Agent.make({ name: "planner", instructions: "Plan." })
      const a = yield* Runner.run(coach, Agent.conversation(["hello coach, how are you today?"]))
      const b = yield* Runner.run(planner, Agent.conversation(["plan"]))
      const report = yield* Accounting.report
      assert.strictEqual(report.byAgent["coach"]!.calls, 1)
      assert.strictEqual(report.byAgent["planner"]!.calls, 1)
      assert.isAbove(a.costUsd, 0)
      assert.closeTo(report.byAgent["coach"]!.costUsd, a.costUsd, 1e-12)
      assert.closeTo(report.byAgent["planner"]!.costUsd, b.costUsd, 1e-12)
      assert.strictEqual(report.byAgent["coach"]!.inputTokens, a.usage.inputTokens)
    }).pipe(Effect.provide(Accounting.wrap(ScriptedModel.layer({ default: "Sure." })))))

  it.effect("the conversation as the model sees it: other agents' words on the user side, user turns first and last", () => {
    const m = testModel(() => ({ text: "ok" }))
    return Effect.gen(function*() {
      const billing = Agent.make({ name: "billing", instructions: "Billing." })
      yield* Runner.run(billing, {
        messages: [
          Agent.assistant("Hello, I am triage.", "triage"),
          Agent.user("I was charged twice"),
          Agent.assistant("Sending you to billing.", "triage"),
          Agent.system("[handoff from triage] duplicate charge"),
          Agent.assistant("Let me look.", "billing")
        ]
      })
      const req = m.requests[0]!
      assert.deepStrictEqual(req.messages, [
        {
          role: "user",
          content: "[triage] Hello, I am triage.\n\nI was charged twice\n\n[triage] Sending you to billing."
        },
        { role: "assistant", content: "Let me look." },
        { role: "user", content: "(continue)" }
      ])
      assert.strictEqual(systemOf(req), "Billing.\n\n[handoff from triage] duplicate charge")
      yield* Runner.run(billing, { messages: [Agent.assistant("Anything else?")] })
      assert.deepStrictEqual(m.requests[1]!.messages.map((x) => x.role), ["user", "assistant", "user"])
    }).pipe(Effect.provide(m.layer))
  })
})
