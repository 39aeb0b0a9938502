import { Agent } from "@braid/agents"
import { Primitive, Runner, WorkflowContext } from "@braid/core"
import { Accounting, Ai, Errors as LlmErrors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { Retry } from "@braid/resilience"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema, TestClock } from "effect"
import { lastText, messagesOf, systemOf, testModel } from "./agentTestModel.js"

const Weather = Ai.Tool.make("weather", {
  description: "The forecast for a city",
  // `days` travels as a string: the tool sees the decoded number, the model the encoded string
  parameters: { city: Schema.String, days: Schema.NumberFromString },
  success: Schema.Struct({ sky: Schema.String, city: Schema.String })
})
const Add = Ai.Tool.make("add", {
  description: "adds",
  parameters: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number
})

class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { transient: Schema.Boolean }) {}

describe("Agent", () => {
  it.effect("calls the model with its instructions and its settings, attributing the call to itself", () => {
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
      assert.strictEqual(reply.finishReason, "stop")
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
      assert.strictEqual(req.settings.agent, "coach")
      assert.strictEqual(req.settings.model, "m-1")
      assert.strictEqual(req.settings.maxTokens, 200)
      assert.strictEqual(systemOf(req), "You are a running coach.")
      assert.deepStrictEqual(messagesOf(req), [{ role: "user", content: [{ type: "text", text: "How do I start?" }] }])
      assert.deepStrictEqual(req.tools, [], "no tools offered")
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

  it.effect("a toolkit: native tool calls and results, Schema-typed arguments, usage summed over the loop", () => {
    const m = testModel((_req, call) =>
      call === 1
        ? { text: "Let me check.", toolCalls: [{ id: "t1", name: "weather", params: { city: "Oslo", days: "2" } }] }
        : { text: "Clear skies." }
    )
    const seen: Array<{ city: string; days: number }> = []
    const Tools = Ai.Toolkit.make(Weather)
    const handlers = Tools.toLayer({
      weather: (args) => Effect.sync(() => (seen.push(args), { sky: "clear", city: args.city }))
    })
    return Effect.gen(function*() {
      const agent = Agent.make({ name: "forecaster", instructions: "Forecast.", toolkit: Tools })
      assert.deepStrictEqual(agent.tools, ["weather"])
      const reply = yield* Runner.run(agent, Agent.conversation(["Weather in Oslo?"]))
      assert.deepStrictEqual(seen, [{ city: "Oslo", days: 2 }], "the handler sees the decoded arguments")
      assert.strictEqual(reply.calls, 2)
      assert.strictEqual(reply.usage.inputTokens, 20)
      assert.strictEqual(reply.usage.outputTokens, 10)
      assert.strictEqual(reply.text, "Clear skies.")
      assert.deepStrictEqual(reply.messages, [
        {
          role: "assistant",
          name: "forecaster",
          content: "Let me check.",
          toolCalls: [{ id: "t1", name: "weather", params: { city: "Oslo", days: "2" } }]
        },
        {
          role: "tool",
          name: "weather",
          toolCallId: "t1",
          content: `{"sky":"clear","city":"Oslo"}`,
          result: { sky: "clear", city: "Oslo" }
        },
        { role: "assistant", name: "forecaster", content: "Clear skies." }
      ])
      assert.deepStrictEqual(m.requests[0]!.tools, ["weather"])
      // The second call carries the call and its result as native parts, not as text turns.
      assert.deepStrictEqual(messagesOf(m.requests[1]!), [
        { role: "user", content: [{ type: "text", text: "Weather in Oslo?" }] },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Let me check." },
            { type: "tool-call", id: "t1", name: "weather", params: { city: "Oslo", days: "2" } }
          ]
        },
        {
          role: "tool",
          content: [{
            type: "tool-result",
            id: "t1",
            name: "weather",
            result: { sky: "clear", city: "Oslo" },
            isFailure: false
          }]
        }
      ])
    }).pipe(Effect.provide(handlers), Effect.provide(m.layer))
  })

  it.effect("bad arguments and unknown tools are the model's malformed output (transient); the loop is bounded", () => {
    const m = testModel((req) => {
      const last = lastText(req)
      if (last.includes("bad")) return { toolCalls: [{ id: "1", name: "add", params: { a: "x", b: 1 } }] }
      if (last.includes("unknown")) return { toolCalls: [{ id: "1", name: "nope", params: {} }] }
      return { toolCalls: [{ id: "1", name: "add", params: { a: 1, b: 1 } }] } // forever
    })
    const Tools = Ai.Toolkit.make(Add)
    return Effect.gen(function*() {
      const agent = Agent.make({ name: "calc", instructions: "Add.", toolkit: Tools, maxToolIterations: 3 })
      const bad = yield* Effect.flip(Runner.run(agent, Agent.conversation(["bad"])))
      assert.strictEqual(bad._tag, "MalformedResponse")
      assert.isTrue(bad._tag === "MalformedResponse" && bad.transient, "a retry asks the model again")
      const unknown = yield* Effect.flip(Runner.run(agent, Agent.conversation(["unknown"])))
      assert.strictEqual(unknown._tag, "MalformedResponse")
      const before = m.requests.length
      const loop = yield* Effect.flip(Runner.run(agent, Agent.conversation(["loop"])))
      assert.strictEqual(loop._tag, "ToolIterationsExceeded")
      assert.strictEqual(m.requests.length - before, 3, "exactly maxToolIterations model calls")
    }).pipe(Effect.provide(Tools.toLayer({ add: ({ a, b }) => Effect.succeed(a + b) })), Effect.provide(m.layer))
  })

  it.effect("a tool result without a JSON form (BigInt, cycle) is a ToolError naming the path, not a defect", () => {
    const m = testModel((req) =>
      req.messages.at(-1)!.content === "" ? { text: "done" } : { toolCalls: [{ id: "1", name: "big", params: {} }] }
    )
    return Effect.gen(function*() {
      const cyclic: Record<string, unknown> = { a: 1 }
      cyclic["self"] = cyclic
      const results: Record<string, unknown> = { bigint: { total: { n: BigInt(1) } }, cycle: cyclic }
      const Big = Ai.Tool.make("big", { description: "returns a value", success: Schema.Unknown })
      const Tools = Ai.Toolkit.make(Big)
      for (const [which, value] of Object.entries(results)) {
        const agent = Agent.make({ name: "calc", instructions: "Use the tool.", toolkit: Tools })
        const run = Runner.run(agent, Agent.conversation([which])).pipe(
          Effect.provide(Tools.toLayer({ big: () => Effect.succeed(value) }))
        )
        const exit = yield* Effect.exit(run)
        assert.isTrue(
          Exit.isFailure(exit) && Option.isSome(Cause.failureOption(exit.cause)),
          `${which}: a typed failure, not a defect`
        )
        const err = yield* Effect.flip(run)
        assert.strictEqual(err._tag, "ToolError")
        assert.include(
          err.message,
          which === "bigint" ? "no JSON form: JSON: a BigInt has no JSON form at total.n" : "a cycle"
        )
      }
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("a transient tool failure is retried with backoff; a hung tool times out into a ToolError", () => {
    let attempts = 0
    const Lookup = Ai.Tool.make("lookup", {
      description: "looks up",
      parameters: { key: Schema.String },
      success: Schema.String,
      failure: Flaky
    })
    const Slow = Ai.Tool.make("slow", { description: "never answers", success: Schema.String })
    const Tools = Ai.Toolkit.make(Lookup, Slow)
    const handlers = Tools.toLayer({
      lookup: ({ key }) =>
        Effect.suspend(() =>
          ++attempts < 3 ? Effect.fail(new Flaky({ transient: true })) : Effect.succeed(`value of ${key}`)
        ),
      slow: () => Effect.never
    })
    const m = testModel((req, call) => {
      if (lastText(req).includes("slow")) return { toolCalls: [{ id: "s1", name: "slow", params: {} }] }
      return call === 1
        ? { toolCalls: [{ id: "l1", name: "lookup", params: { key: "k" } }] }
        : { text: `got ${lastText(req)}` }
    })
    return Effect.gen(function*() {
      const agent = Agent.make({
        name: "finder",
        instructions: "Find.",
        toolkit: Tools,
        toolPolicy: { timeout: "10 seconds", retry: { maxAttempts: 3, baseDelay: "1 second", backoff: "constant" } },
        toolPolicies: { slow: { timeout: "3 seconds", retry: false } }
      })
      const fiber = yield* Effect.fork(Runner.run(agent, Agent.conversation(["find k"])))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(attempts, 2, "the second attempt came after the first delay")
      yield* TestClock.adjust("1 second")
      const reply = yield* Fiber.join(fiber)
      assert.strictEqual(attempts, 3)
      assert.strictEqual(reply.text, `got "value of k"`)

      const slow = yield* Effect.fork(Effect.flip(Runner.run(agent, Agent.conversation(["slow please"]))))
      yield* TestClock.adjust("3 seconds")
      const err = yield* Fiber.join(slow)
      assert.strictEqual(err._tag, "ToolError")
      if (err._tag === "ToolError") {
        assert.strictEqual(err.tool, "slow")
        assert.strictEqual(err.callId, "s1")
        assert.strictEqual((err.error as { _tag: string })._tag, "TimeoutError")
      }
    }).pipe(Effect.provide(handlers), Effect.provide(m.layer))
  })

  it.effect("a tool with failureMode \"return\" sends its failure back to the model as a failed result", () => {
    const Lookup = Ai.Tool.make("lookup", {
      description: "looks up",
      parameters: { key: Schema.String },
      success: Schema.String,
      failure: Schema.Struct({ reason: Schema.String }),
      failureMode: "return"
    })
    const Tools = Ai.Toolkit.make(Lookup)
    const m = testModel((_req, call) =>
      call === 1 ? { toolCalls: [{ id: "l1", name: "lookup", params: { key: "k" } }] } : { text: "Not found, sorry." }
    )
    return Effect.gen(function*() {
      const agent = Agent.make({ name: "finder", instructions: "Find.", toolkit: Tools, toolPolicy: { retry: false } })
      const reply = yield* Runner.run(agent, Agent.conversation(["find k"]))
      assert.strictEqual(reply.text, "Not found, sorry.")
      assert.deepStrictEqual(reply.messages[1], {
        role: "tool",
        name: "lookup",
        toolCallId: "l1",
        content: `{"reason":"no such key"}`,
        result: { reason: "no such key" },
        isFailure: true
      })
      assert.deepStrictEqual(messagesOf(m.requests[1]!).at(-1), {
        role: "tool",
        content: [{ type: "tool-result", id: "l1", name: "lookup", result: { reason: "no such key" }, isFailure: true }]
      })
    }).pipe(
      Effect.provide(Tools.toLayer({ lookup: () => Effect.fail({ reason: "no such key" }) })),
      Effect.provide(m.layer)
    )
  })

  it.effect("an agent is a span of kind agent, with the model call and each tool call (execute_tool) nested under it", () => {
    const m = testModel((_req, call) =>
      call === 1 ? { toolCalls: [{ id: "c7", name: "add", params: { a: 1, b: 2 } }] } : { text: "3" }
    )
    const Tools = Ai.Toolkit.make(Add)
    return Effect.gen(function*() {
      const greeter = Agent.make({ name: "greeter", instructions: "Greet.", toolkit: Tools })
      const { exit, spans } = yield* withSpans(
        Runner.run(greeter, Agent.conversation(["hello"]), { instrumentation: "on" })
      )
      successValue(exit)
      const span = byName(spans, "invoke_agent greeter")
      assert.strictEqual(span.attributes["braid.primitive.kind"], "agent")
      assert.strictEqual(span.attributes["gen_ai.agent.name"], "greeter")
      assert.strictEqual(span.attributes["gen_ai.usage.output_tokens"], 10)
      const chat = spans.find((s) => s.name.startsWith("chat"))!
      assert.isDefined(chat, `a model span among ${spans.map((s) => s.name).join(", ")}`)
      assert.strictEqual(parentOf(spans, chat)?.name, "invoke_agent greeter")
      const tool = byName(spans, "execute_tool add")
      assert.strictEqual(parentOf(spans, tool)?.name, "invoke_agent greeter")
      assert.strictEqual(tool.attributes["gen_ai.tool.name"], "add")
      assert.strictEqual(tool.attributes["gen_ai.tool.call.id"], "c7")
      assert.strictEqual(tool.attributes["gen_ai.tool.type"], "function")
    }).pipe(Effect.provide(Tools.toLayer({ add: ({ a, b }) => Effect.succeed(a + b) })), Effect.provide(m.layer))
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
    }).pipe(Effect.provide(ScriptedLanguageModel.layer({
      rules: [{ when: "plan", reply: "Rest on Sunday." }],
      failures: [{ calls: [1], error: new LlmErrors.Overloaded({ message: "busy" }) }]
    }))))

  it.effect("memory written by a tool records the agent; recalled memory reaches the system prompt", () => {
    const m = testModel((_req, call) =>
      call === 1 ? { toolCalls: [{ id: "1", name: "note", params: { text: "prefers mornings" } }] } : { text: "noted" }
    )
    const Note = Ai.Tool.make("note", {
      description: "Remember a fact",
      parameters: { text: Schema.String },
      dependencies: [Memory.Memory, WorkflowContext.WorkflowContext]
    })
    const Tools = Ai.Toolkit.make(Note)
    return Effect.gen(function*() {
      const intake = Agent.make({ name: "intake", instructions: "Take notes.", toolkit: Tools })
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
    }).pipe(
      Effect.provide(
        Tools.toLayer({ note: ({ text }) => Effect.orDie(Memory.store("preference", text, { scope: "user" })) })
      ),
      Effect.provide(Layer.merge(m.layer, Memory.layerInMemory()))
    )
  })

  it.effect("cost is Metered's: the reply's cost is the sum of its responses' and matches the accounting by agent", () =>
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
    }).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({ default: "Sure." })))))

  it.effect("without Metered there is no cost: the reply counts the provider's tokens and $0", () =>
    Effect.gen(function*() {
      const coach = Agent.make({ name: "coach", instructions: "Coach." })
      const reply = yield* Runner.run(coach, Agent.conversation(["hello"]))
      assert.strictEqual(reply.costUsd, 0)
      assert.isAbove(reply.usage.outputTokens, 0)
      assert.strictEqual(reply.model, "braid-scripted")
    }).pipe(Effect.provide(ScriptedLanguageModel.layer({ default: "Sure." }))))

  it.effect("the conversation as the model sees it: other agents' words on the user side, user turns first and last", () => {
    const m = testModel(() => ({ text: "ok" }))
    return Effect.gen(function*() {
      const billing = Agent.make({ name: "billing", instructions: "Billing." })
      yield* Runner.run(billing, {
        messages: [
          Agent.assistant("Hello, I am triage.", "triage"),
          Agent.user("I was charged twice"),
          {
            role: "assistant",
            name: "triage",
            content: "Sending you to billing.",
            toolCalls: [{ id: "x1", name: "lookup", params: {} }]
          },
          { role: "tool", name: "lookup", toolCallId: "x1", content: "found", result: "found" },
          Agent.system("[handoff from triage] duplicate charge"),
          Agent.assistant("Let me look.", "billing")
        ]
      })
      const req = m.requests[0]!
      assert.deepStrictEqual(messagesOf(req), [
        {
          role: "user",
          content: [{
            type: "text",
            text: "[triage] Hello, I am triage.\n\nI was charged twice\n\n[triage] Sending you to billing."
          }]
        },
        { role: "assistant", content: [{ type: "text", text: "Let me look." }] },
        { role: "user", content: [{ type: "text", text: "(continue)" }] }
      ], "another agent's tool traffic is not this agent's")
      assert.strictEqual(systemOf(req), "Billing.\n\n[handoff from triage] duplicate charge")
      yield* Runner.run(billing, { messages: [Agent.assistant("Anything else?")] })
      assert.deepStrictEqual(m.requests[1]!.messages.map((x) => x.role), ["user", "assistant", "user"])
    }).pipe(Effect.provide(m.layer))
  })
})
