/**
 * Tutorial 6: agents handing off to each other.
 *
 * A support desk: a triage agent reads the customer's message and hands the conversation to a
 * specialist (billing or tech, chosen by a typed predicate, with a default). The handoff carries
 * a typed ticket (Schema, validated on transfer), passes on a filtered history (no tool traffic,
 * card numbers redacted, only the recent turns), and billing hands back to triage, which closes
 * the conversation. The run keeps the chain of handoffs: who handed to whom, why, when.
 *
 * Offline by default (a scripted model); with ANTHROPIC_API_KEY set, the same agents talk to Claude.
 *
 * Run it: npx tsx examples/06-handoff.ts
 */
import { Agent, Handoff, History } from "@braid/agents"
import { Describe, Primitive, Runner, sequence } from "@braid/core"
import { Ai, DefaultLanguageModel } from "@braid/llm"
import { Effect, Schema } from "effect"
import assert from "node:assert"

// 1. The scripted model: each agent's reply depends on who is asking (its system prompt).
const asks = (prompt: Ai.Prompt.Prompt, instructions: string) => Ai.systemText(prompt).startsWith(instructions)
const Model = DefaultLanguageModel.layer({
  scripted: {
    rules: [
      {
        when: (prompt) => asks(prompt, "You are the front desk") && Ai.systemText(prompt).includes("handed back"),
        // What billing said reaches triage as "[billing] ..." on the user side of the conversation.
        reply: (prompt) =>
          `Good news from billing: "${
            Ai.lastUserText(prompt).split("\n\n").at(-1)?.replace(/^\[billing\] /, "")
          }" Anything else?`
      },
      {
        when: (prompt) => asks(prompt, "You are the front desk"),
        reply: "BILLING: duplicate charge on invoice INV-2041."
      },
      {
        when: (prompt) => asks(prompt, "You resolve billing issues"),
        reply: (prompt) =>
          JSON.stringify(prompt.content).includes("4111")
            ? "I can see a card number, which I should never see."
            : "Refund of 49.00 EUR issued for the duplicate charge on INV-2041."
      },
      {
        when: (prompt) => asks(prompt, "You fix technical problems"),
        reply: "Please clear the app cache and sign in again."
      },
      {
        when: (prompt) => asks(prompt, "You help with everything else"),
        reply: "Let me find the right person for you."
      }
    ]
  }
})

// 2. The agents. Billing's instructions are computed from the ticket it receives.
const Ticket = Schema.Struct({
  topic: Schema.Literal("billing", "tech", "other"),
  invoiceId: Schema.optional(Schema.String.pipe(Schema.pattern(/^INV-\d+$/))),
  summary: Schema.String
})
const topicOf = (text: string): typeof Ticket.Type.topic =>
  text.startsWith("BILLING") ? "billing" : text.startsWith("TECH") ? "tech" : "other"

const triage = Agent.make({
  name: "triage",
  instructions:
    "You are the front desk. Start your reply with BILLING, TECH or OTHER, then summarise the issue in one line."
})
const billing = Agent.make({
  name: "billing",
  instructions: (c) => {
    const ticket = Handoff.payloadOf(Ticket)(c)
    return `You resolve billing issues. Ticket: ${ticket._tag === "Some" ? JSON.stringify(ticket.value) : "none"}.`
  }
})
const tech = Agent.make({ name: "tech", instructions: "You fix technical problems." })
const general = Agent.make({ name: "general", instructions: "You help with everything else." })

// 3. The handoff: a conditional strategy picks the specialist; a typed ticket; a history filter;
//    billing hands back to triage when it is done.
const desk = Handoff.handoff(triage, { billing, tech, general }, {
  name: "supportDesk",
  strategy: Handoff.conditional(
    (reply) => reply.text.startsWith("BILLING") ? "billing" : reply.text.startsWith("TECH") ? "tech" : undefined,
    { default: "general" }
  ),
  reason: (reply) => `triage says: ${reply.text}`,
  payload: {
    schema: Ticket,
    // typed: `from` returns the Schema's type (a ticket of another shape does not compile)
    from: (reply) => {
      const invoiceId = /INV-\d+/.exec(reply.text)?.[0]
      return { topic: topicOf(reply.text), ...(invoiceId !== undefined ? { invoiceId } : {}), summary: reply.text }
    }
  },
  history: History.compose(
    History.removeToolCalls,
    History.redact([/\b\d{4}(?: ?\d{4}){3}\b/g], "[card]"),
    History.lastN(4)
  ),
  returnToCaller: (reply) => reply.agent === "billing"
})

const pipeline = sequence(
  Primitive.sync("customerMessage", (text: string) => Agent.conversation([text])),
  desk
).pipe(Primitive.named("support"))

const main = Effect.gen(function*() {
  const online = yield* DefaultLanguageModel.isOnline
  console.log(`== Tutorial 6: handoff between agents (${online ? "Claude" : "scripted model, offline"}) ==\n`)
  console.log(Describe.toText(pipeline))
  console.log()

  const message = "Hi, my card 4111 1111 1111 1111 was charged twice for my subscription this month!"
  console.log(`customer: ${message}\n`)
  const run = Effect.gen(function*() {
    const reply = yield* pipeline.invoke(message)
    const chain = yield* Handoff.chain
    return { reply, chain }
  })
  const { reply, chain } = yield* Runner.run(Primitive.make("desk", (_: void) => run), undefined, {
    sessionId: "ticket-1"
  })

  console.log("The chain of handoffs:")
  for (const r of chain) console.log(`  ${r.from} -> ${r.to} [${r.strategy}, ${r.payloadBytes} B payload] ${r.reason}`)
  console.log(`\n${reply.agent}: ${reply.text}\n`)

  if (!online) {
    assert.deepStrictEqual(chain.map((r) => `${r.from}->${r.to}:${r.strategy}`), [
      "triage->billing:conditional",
      "billing->triage:return"
    ])
    assert.ok(chain[0]!.payloadBytes > 0)
    assert.strictEqual(reply.agent, "triage")
    assert.match(reply.text, /Refund of 49.00 EUR issued/, "billing never saw the card number: the filter redacted it")
  }

  console.log("A ticket that does not validate is refused on transfer, before the specialist runs:")
  const strict = Handoff.handoff(triage, billing, {
    payload: { schema: Ticket, from: () => ({ topic: "billing" as const, invoiceId: "2041", summary: "?" }) }
  })
  const error = yield* Effect.flip(Runner.run(strict, Agent.conversation([message])))
  console.log(`  ${error._tag}: ${error.message}`)
  assert.strictEqual(error._tag, "HandoffPayloadError")
  if (error._tag === "HandoffPayloadError") assert.strictEqual(error.path, "invoiceId")

  console.log("\nDone: a conditional handoff with a typed ticket, a filtered history and a hand-back.")
}).pipe(Effect.provide(Model))

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
