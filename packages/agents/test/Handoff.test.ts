import { Agent, Handoff, History } from "@braid/agents"
import type { HandoffPayloadError } from "@braid/agents/Errors"
import { Primitive, Runner, sequence, WorkflowContext } from "@braid/core"
import { Ai } from "@braid/llm"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc, Fiber, Option, Schema, TestClock } from "effect"
import { lastText, systemOf, testModel } from "./agentTestModel.js"

const Ticket = Schema.Struct({
  topic: Schema.Literal("billing", "tech"),
  invoiceId: Schema.String.pipe(Schema.pattern(/^INV-\d+$/))
})

/** Each agent answers "<agent>: <last user message>", unless the test says otherwise. */
const echo = (overrides: Record<string, (req: any) => string> = {}, delays: Record<string, number> = {}) =>
  testModel((req) => {
    const agent = req.metadata?.agent as string
    // The customer's message is the first paragraph of the first (user) turn.
    const text = overrides[agent]?.(req) ?? `${agent}: ${String(req.messages[0]?.content ?? "").split("\n\n")[0]}`
    return delays[agent] === undefined ? { text } : { text, delay: delays[agent] }
  })

const triage = Agent.make({ name: "triage", instructions: "Triage." })
const billing = Agent.make({
  name: "billing",
  instructions: (c) => `Billing. Ticket: ${JSON.stringify(Handoff.received(c)?.payload ?? null)}`
})
const tech = Agent.make({ name: "tech", instructions: "Tech." })
const general = Agent.make({ name: "general", instructions: "General." })

describe("handoff: immediate", () => {
  it.effect("runs the caller, then the target with the history, a note, the validated payload; records the chain", () => {
    const m = echo({ triage: () => "This is about invoice INV-7." })
    return Effect.gen(function*() {
      yield* TestClock.setTime(5_000)
      const desk = Handoff.handoff(triage, billing, {
        reason: "billing question",
        payload: {
          schema: Ticket,
          from: (r) => ({ topic: "billing" as const, invoiceId: /INV-\d+/.exec(r.text)![0] })
        }
      })
      const program = Effect.gen(function*() {
        const reply = yield* desk.invoke(Agent.conversation(["I was charged twice"]))
        return { reply, chain: yield* Handoff.chain }
      })
      const { reply, chain } = yield* Effect.provide(program, WorkflowContext.layer())
      assert.strictEqual(reply.agent, "billing")
      assert.deepStrictEqual(chain, [{
        from: "triage",
        to: "billing",
        reason: "billing question",
        at: 5_000,
        strategy: "immediate",
        payloadBytes: Buffer.byteLength(JSON.stringify({ topic: "billing", invoiceId: "INV-7" }))
      }])
      const [first, second] = m.requests
      assert.strictEqual(first!.metadata?.agent, "triage")
      assert.strictEqual(second!.metadata?.agent, "billing")
      assert.deepStrictEqual(second!.messages, [{
        role: "user",
        content: "I was charged twice\n\n[triage] This is about invoice INV-7."
      }], "what triage said reaches billing as triage's words")
      assert.include(systemOf(second!), `Ticket: {"topic":"billing","invoiceId":"INV-7"}`)
      assert.include(systemOf(second!), "[handoff from triage] billing question")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("a payload failing a refinement fails on transfer with HandoffPayloadError naming the field; the target never runs", () => {
    const m = echo()
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, {
        payload: { schema: Ticket, from: () => ({ topic: "billing" as const, invoiceId: "7" }) }
      })
      const err = yield* Effect.flip(Runner.run(desk, Agent.conversation(["help"])))
      assert.strictEqual(err._tag, "HandoffPayloadError")
      if (err._tag === "HandoffPayloadError") {
        assert.strictEqual(err.path, "invoiceId")
        assert.strictEqual(err.to, "billing")
      }
      assert.deepStrictEqual(m.requests.map((r) => r.metadata?.agent), ["triage"])
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("the history filter decides what the target sees", () => {
    const m = echo({ triage: () => "Card 4111 1111 1111 1111 noted." })
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, {
        history: History.compose(History.redact([/\d{4}( \d{4}){3}/]), History.lastN(1, { keepSystem: false }))
      })
      yield* Runner.run(desk, Agent.conversation(["older question", "my card 4111 1111 1111 1111"]))
      const seen = m.requests[1]!.messages.map((x) => x.content)
      assert.deepStrictEqual(seen, ["[triage] Card [REDACTED] noted."])
      assert.notInclude(JSON.stringify(m.requests[1]), "4111")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("when: no transfer, the caller's reply is the answer and the chain stays empty", () => {
    const m = echo()
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, { when: (r) => r.text.includes("invoice") })
      const program = Effect.gen(function*() {
        return { reply: yield* desk.invoke(Agent.conversation(["hello"])), chain: yield* Handoff.chain }
      })
      const { reply, chain } = yield* Effect.provide(program, WorkflowContext.layer())
      assert.strictEqual(reply.agent, "triage")
      assert.deepStrictEqual(chain, [])
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("return to caller: the target hands back, the caller answers with the target's work; both moves are in the chain", () => {
    const m = echo({
      triage: (req) =>
        req.messages.some((x: any) => x.content.includes("Refund issued"))
          ? "All sorted: refund issued."
          : "Sending you to billing.",
      billing: () => "Refund issued for INV-7."
    })
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, {
        reason: "refund",
        returnToCaller: (r) => r.text.startsWith("Refund")
      })
      const program = Effect.gen(function*() {
        return { reply: yield* desk.invoke(Agent.conversation(["refund please"])), chain: yield* Handoff.chain }
      })
      const { reply, chain } = yield* Effect.provide(program, WorkflowContext.layer())
      assert.strictEqual(reply.agent, "triage")
      assert.strictEqual(reply.text, "All sorted: refund issued.")
      assert.deepStrictEqual(chain.map((r) => [r.from, r.to, r.strategy]), [["triage", "billing", "immediate"], [
        "billing",
        "triage",
        "return"
      ]])
      assert.include(systemOf(m.requests[2]!), "[handoff from billing] billing handed back to triage")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("every handoff is a span linking both agents, with reason, payload size and strategy", () => {
    const m = echo({ triage: () => "INV-1" })
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, {
        reason: "billing question",
        payload: { schema: Ticket, from: () => ({ topic: "billing" as const, invoiceId: "INV-1" }) }
      })
      const { exit, spans } = yield* withSpans(
        Runner.run(desk, Agent.conversation(["help"]), { instrumentation: "on" })
      )
      successValue(exit)
      const span = byName(spans, "handoff(triage,billing)")
      assert.strictEqual(span.attributes["braid.primitive.kind"], "handoff")
      assert.strictEqual(span.attributes["braid.handoff.from"], "triage")
      assert.strictEqual(span.attributes["braid.handoff.to"], "billing")
      assert.strictEqual(span.attributes["braid.handoff.reason"], "billing question")
      assert.strictEqual(
        span.attributes["braid.handoff.payload_bytes"],
        JSON.stringify({ topic: "billing", invoiceId: "INV-1" }).length
      )
      assert.strictEqual(span.attributes["braid.handoff.strategy"], "immediate")
      assert.strictEqual(parentOf(spans, byName(spans, "invoke_agent triage"))?.name, "handoff(triage,billing)")
      assert.strictEqual(parentOf(spans, byName(spans, "invoke_agent billing"))?.name, "handoff(triage,billing)")
    }).pipe(Effect.provide(m.layer))
  })
})

describe("handoff: queued versus immediate", () => {
  // billing takes 10 s per task. Two desks hand off to it at the same time.
  const slow = () => echo({}, { billing: 10_000 })

  it.effect("queued: the second task waits in billing's inbox until the first is done", () => {
    const m = slow()
    return Effect.gen(function*() {
      const deskA = Handoff.handoff(triage, billing, { strategy: "queued", reason: "a" })
      const deskB = Handoff.handoff(tech, billing, { strategy: "queued", reason: "b" })
      const a = yield* Effect.fork(Runner.run(deskA, Agent.conversation(["first"])))
      yield* Effect.yieldNow()
      const b = yield* Effect.fork(Runner.run(deskB, Agent.conversation(["second"])))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Handoff.pending("billing"), 2, "one running, one waiting")
      assert.strictEqual(
        m.requests.filter((r) => r.metadata?.agent === "billing").length,
        1,
        "only the first reached billing"
      )
      yield* TestClock.adjust("9 seconds")
      const ra = yield* Fiber.join(a)
      assert.strictEqual(ra.text, "billing: first")
      assert.isNull(b.unsafePoll(), "the second is still running after 10 s")
      assert.strictEqual(yield* Handoff.pending("billing"), 1)
      yield* TestClock.adjust("10 seconds")
      const rb = yield* Fiber.join(b)
      assert.strictEqual(rb.text, "billing: second")
      assert.strictEqual(yield* Handoff.pending("billing"), 0)
    }).pipe(Effect.provide(m.layer), Effect.provideService(Handoff.Inboxes, Handoff.makeInboxes()))
  })

  it.effect("queued is first come, first served, and a failed task frees the inbox", () => {
    const m = echo({
      billing: (req) => {
        if (req.messages.at(-1)?.content.includes("boom")) throw new Error("boom")
        return "ok"
      }
    }, { billing: 1_000 })
    return Effect.gen(function*() {
      const done: Array<string> = []
      const desk = Handoff.handoff(triage, billing, { strategy: "queued" })
      const fibers = yield* Effect.forEach(
        ["t1", "t2", "boom", "t4"],
        (t) =>
          Effect.fork(
            Effect.tap(Effect.exit(Runner.run(desk, Agent.conversation([t]))), () => Effect.sync(() => done.push(t)))
          ),
        { concurrency: 1 }
      )
      yield* TestClock.adjust("10 seconds")
      yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(done, ["t1", "t2", "boom", "t4"])
      assert.strictEqual(yield* Handoff.pending("billing"), 0)
    }).pipe(Effect.provide(m.layer), Effect.provideService(Handoff.Inboxes, Handoff.makeInboxes()))
  })

  it.effect("queued: a task interrupted while waiting does not let the next one jump ahead of the running one", () => {
    const m = slow()
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, billing, { strategy: "queued" })
      const first = yield* Effect.fork(Runner.run(desk, Agent.conversation(["first"])))
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.fork(Runner.run(desk, Agent.conversation(["second"])))
      yield* TestClock.adjust("1 second")
      const third = yield* Effect.fork(Runner.run(desk, Agent.conversation(["third"])))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(second)
      assert.strictEqual(yield* Handoff.pending("billing"), 2)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(
        m.requests.filter((r) => r.metadata?.agent === "billing").map((r) => r.messages[0]!.content.split("\n\n")[0]),
        ["first"],
        "third still waits for first"
      )
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual((yield* Fiber.join(first)).text, "billing: first")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(third)).text, "billing: third")
    }).pipe(Effect.provide(m.layer), Effect.provideService(Handoff.Inboxes, Handoff.makeInboxes()))
  })

  it.effect("immediate: both run at once and are done after 10 s", () => {
    const m = slow()
    return Effect.gen(function*() {
      const deskA = Handoff.handoff(triage, billing, { strategy: "immediate" })
      const deskB = Handoff.handoff(tech, billing, { strategy: "immediate" })
      const a = yield* Effect.fork(Runner.run(deskA, Agent.conversation(["first"])))
      const b = yield* Effect.fork(Runner.run(deskB, Agent.conversation(["second"])))
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(a)).text, "billing: first")
      assert.strictEqual((yield* Fiber.join(b)).text, "billing: second")
    }).pipe(Effect.provide(m.layer), Effect.provideService(Handoff.Inboxes, Handoff.makeInboxes()))
  })
})

describe("handoff: conditional", () => {
  it.effect("a typed predicate picks the target; undefined takes the default", () => {
    const m = echo({ triage: (req) => req.messages.at(-1).content })
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, { billing, tech, general }, {
        strategy: Handoff.conditional(
          (reply) => reply.text.includes("invoice") ? "billing" : reply.text.includes("error") ? "tech" : undefined,
          { default: "general" }
        )
      })
      const to = (text: string) => Effect.map(Runner.run(desk, Agent.conversation([text])), (r) => r.agent)
      assert.strictEqual(yield* to("my invoice is wrong"), "billing")
      assert.strictEqual(yield* to("error 500 on login"), "tech")
      assert.strictEqual(yield* to("hello there"), "general")
      const program = Effect.gen(function*() {
        yield* desk.invoke(Agent.conversation(["error again"]))
        return yield* Handoff.chain
      })
      const chain = yield* Effect.provide(program, WorkflowContext.layer())
      assert.deepStrictEqual(chain.map((r) => [r.to, r.strategy]), [["tech", "conditional"]])
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("without a default, a choice outside the candidates fails with UnknownHandoffTarget", () => {
    const m = echo()
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, { billing, tech }, {
        strategy: Handoff.conditional<"billing" | "tech">(() => undefined)
      })
      const err = yield* Effect.flip(Runner.run(desk, Agent.conversation(["?"])))
      assert.strictEqual(err._tag, "UnknownHandoffTarget")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("a model decision picks the target; an answer naming no candidate takes the default", () => {
    const m = echo({
      "triage.router": (req) => req.messages[0].content.includes("printer") ? "Tech" : "legal",
      triage: () => "Let me route you."
    })
    return Effect.gen(function*() {
      const desk = Handoff.handoff(triage, { billing, tech }, {
        strategy: Handoff.byModel({
          candidates: { billing: "invoices and refunds", tech: "devices and errors" },
          default: "billing"
        })
      })
      assert.strictEqual((yield* Runner.run(desk, Agent.conversation(["my printer is on fire"]))).agent, "tech")
      assert.strictEqual((yield* Runner.run(desk, Agent.conversation(["sue them"]))).agent, "billing")
      const router = m.requests.find((r) => r.metadata?.agent === "triage.router")!
      assert.include(systemOf(router), "- tech: devices and errors")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("handoffs nest: a handoff is itself an agent-like step", () => {
    const m = echo()
    return Effect.gen(function*() {
      const inner = Handoff.handoff(billing, tech, { reason: "needs a fix" })
      const outer = Handoff.handoff(triage, inner, { reason: "billing first" })
      const pipeline = sequence(Primitive.sync("ask", (q: string) => Agent.conversation([q])), outer)
      const program = Effect.gen(function*() {
        return { reply: yield* pipeline.invoke("help"), chain: yield* Handoff.chain }
      })
      const { reply, chain } = yield* Effect.provide(program, WorkflowContext.layer())
      assert.strictEqual(reply.agent, "tech")
      assert.deepStrictEqual(chain.map((r) => `${r.from}->${r.to}`), ["triage->billing", "billing->tech"])
    }).pipe(Effect.provide(m.layer))
  })
})

describe("handoff: payloads without a JSON form", () => {
  it.effect("a payload that decodes but has no JSON form (BigInt, cycle) is a HandoffPayloadError naming the path; the target never runs", () => {
    const m = echo()
    return Effect.gen(function*() {
      const Big = Schema.Struct({ invoice: Schema.Struct({ amount: Schema.BigIntFromSelf }) })
      const big = Handoff.handoff(triage, billing, {
        payload: { schema: Big, from: () => ({ invoice: { amount: BigInt(12) } }) }
      })
      const err = yield* Effect.flip(Runner.run(big, Agent.conversation(["help"])))
      assert.strictEqual(err._tag, "HandoffPayloadError")
      if (err._tag === "HandoffPayloadError") {
        assert.strictEqual(err.path, "invoice.amount")
        assert.include(err.message, "no JSON form")
      }
      const cyclic: Record<string, unknown> = { topic: "billing" }
      cyclic["again"] = cyclic
      const loop = Handoff.handoff(triage, billing, { payload: { schema: Schema.Unknown, from: () => cyclic } })
      const cycle = yield* Effect.flip(Runner.run(loop, Agent.conversation(["help"])))
      assert.strictEqual(cycle._tag, "HandoffPayloadError")
      if (cycle._tag === "HandoffPayloadError") assert.strictEqual(cycle.path, "again")
      assert.isFalse(m.requests.some((r) => r.metadata?.agent === "billing"), "the target never ran")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("fuzz: any payload either transfers with its JSON size or fails typed (never a defect)", () => {
    const m = echo()
    return Effect.gen(function*() {
      const cases = fc.sample(
        fc.oneof(
          fc.anything({
            withBigInt: true,
            withMap: true,
            withSet: true,
            withNullPrototype: true,
            withBoxedValues: true
          }),
          fc.letrec((tie) => ({
            node: fc.oneof(
              { depthSize: "small" },
              fc.bigInt(),
              fc.double(),
              fc.dictionary(fc.constantFrom("a", "__proto__", "b.c", "[0]"), tie("node"))
            )
          })).node
        ),
        150
      )
      for (const payload of cases) {
        const desk = Handoff.handoff(triage, billing, { payload: { schema: Schema.Unknown, from: () => payload } })
        const exit = yield* Effect.exit(
          Effect.provide(Runner.run(desk, Agent.conversation(["help"])), WorkflowContext.layer())
        )
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          assert.isTrue(Option.isSome(failure), `a typed failure, not a defect: ${Cause.pretty(exit.cause)}`)
          assert.strictEqual((failure as Option.Some<{ _tag: string }>).value._tag, "HandoffPayloadError")
        }
      }
    }).pipe(Effect.provide(m.layer))
  })
})

describe("handoff offered as a tool (swarm-style)", () => {
  it.effect("the model transfers with a typed payload; the target runs with the history and a note; the chain records it", () => {
    const m = testModel((req) => {
      if (req.metadata.agent === "triage") {
        return {
          text: "Let me get billing.",
          toolCalls: [{
            id: "h1",
            name: "transfer_to_billing",
            params: { invoiceId: "INV-9", reason: "duplicate charge" }
          }]
        }
      }
      return { text: "Refunded INV-9." }
    })
    return Effect.gen(function*() {
      yield* TestClock.setTime(7_000)
      const Transfer = { invoiceId: Schema.String, reason: Schema.String }
      const receivedBy = Agent.make({
        name: "billing",
        instructions: (c) =>
          Option.match(Handoff.payloadOf(Schema.Struct(Transfer))(c), {
            onNone: () => "Billing.",
            onSome: (p) => `Billing. Invoice: ${p.invoiceId}`
          })
      })
      const desk = Agent.make({
        name: "triage",
        instructions: "Triage.",
        handoffs: [Handoff.tool(receivedBy, { description: "Invoices, refunds, charges", payload: Transfer })]
      })
      assert.deepStrictEqual(desk.tools, ["transfer_to_billing"])
      const program = Effect.gen(function*() {
        return { reply: yield* desk.invoke(Agent.conversation(["I was charged twice"])), chain: yield* Handoff.chain }
      })
      const { chain, reply } = yield* Effect.provide(program, WorkflowContext.layer())
      assert.strictEqual(reply.agent, "billing")
      assert.strictEqual(reply.text, "Refunded INV-9.")
      assert.strictEqual(reply.calls, 2, "the caller's call and the target's")
      assert.strictEqual(reply.usage.inputTokens, 20)
      assert.deepStrictEqual(reply.messages.map((x) => `${x.role}:${x.name}`), [
        "assistant:triage",
        "tool:transfer_to_billing",
        "assistant:billing"
      ])
      assert.deepStrictEqual(reply.messages[0]!.toolCalls, [{
        id: "h1",
        name: "transfer_to_billing",
        params: { invoiceId: "INV-9", reason: "duplicate charge" }
      }])
      assert.deepStrictEqual(chain, [{
        from: "triage",
        to: "billing",
        reason: "duplicate charge",
        at: 7_000,
        strategy: "tool",
        payloadBytes: Buffer.byteLength(JSON.stringify({ invoiceId: "INV-9", reason: "duplicate charge" }))
      }])
      const [first, second] = m.requests
      assert.deepStrictEqual(first!.tools, ["transfer_to_billing"])
      assert.strictEqual(second!.metadata.agent, "billing")
      assert.include(systemOf(second!), "Billing. Invoice: INV-9")
      assert.include(systemOf(second!), "[handoff from triage] duplicate charge")
      assert.deepStrictEqual(second!.messages, [
        { role: "user", content: "I was charged twice\n\n[triage] Let me get billing." }
      ], "what triage said reaches billing as triage's words; its tool traffic is triage's own")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("without a call to it the caller answers; a payload failing its refinement fails typed", () => {
    const m = testModel((req) =>
      lastText(req).includes("refund")
        ? { toolCalls: [{ id: "h2", name: "transfer_to_billing", params: { invoiceId: "nope" } }] }
        : { text: "Hello!" }
    )
    return Effect.gen(function*() {
      const desk = Agent.make({
        name: "triage",
        instructions: "Triage.",
        handoffs: [
          Handoff.tool(billing, { description: "Billing", payload: { invoiceId: Ticket.fields.invoiceId } })
        ]
      })
      const hello = yield* Effect.provide(desk.invoke(Agent.conversation(["hi"])), WorkflowContext.layer())
      assert.strictEqual(hello.agent, "triage")
      const err = yield* Effect.flip(
        Effect.provide(desk.invoke(Agent.conversation(["refund"])), WorkflowContext.layer())
      )
      assert.strictEqual(err._tag, "MalformedResponse", "the response did not decode: the model's malformed output")
    }).pipe(Effect.provide(m.layer))
  })
})

describe("types", () => {
  it("payloads are typed at compile time: from returns the schema's type, a mismatch does not compile", () => {
    // @ts-expect-error a topic outside the schema's literals does not compile
    Handoff.handoff(triage, billing, {
      payload: { schema: Ticket, from: () => ({ topic: "sales" as const, invoiceId: "INV-1" }) }
    })
    // @ts-expect-error a missing field does not compile
    Handoff.handoff(triage, billing, {
      payload: { schema: Ticket, from: () => ({ topic: "billing" as const }) }
    })
    const ok = Handoff.handoff(triage, billing, {
      payload: { schema: Ticket, from: (reply) => ({ topic: "tech" as const, invoiceId: reply.text }) }
    })
    assert.strictEqual(ok.kind, "handoff")
    Handoff.tool(billing, {
      description: "Billing",
      payload: { invoiceId: Schema.String },
      // @ts-expect-error the payload of a handoff tool has only the fields of its schema
      reason: (p) => p.amount
    })
    expectTypeOf(Handoff.payloadOf(Ticket)).returns.toEqualTypeOf<Option.Option<typeof Ticket.Type>>()
  })

  it("an agent with a toolkit and handoff tools keeps its errors and requirements precise", () => {
    const Stock = Ai.Tool.make("stock", { parameters: { sku: Schema.String }, success: Schema.Number })
    const shop = Agent.make({
      name: "shop",
      instructions: "You sell.",
      toolkit: Ai.Toolkit.make(Stock),
      toolPolicies: { stock: { timeout: "5 seconds" } },
      handoffs: [Handoff.tool(billing, { description: "Billing", payload: { orderId: Schema.String } })]
    })
    expectTypeOf<Primitive.Context<typeof shop>>().toEqualTypeOf<
      Ai.LanguageModel.LanguageModel | WorkflowContext.WorkflowContext | Ai.Tool.Handler<"stock">
    >()
    expectTypeOf<Primitive.Error<typeof shop>>().toEqualTypeOf<Agent.AgentError | HandoffPayloadError>()
    assert.deepStrictEqual(shop.tools, ["stock", "transfer_to_billing"])
  })
})
