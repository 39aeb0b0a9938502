import { Agent, History } from "@braid/agents"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { testModel } from "./agentTestModel.js"

const convo: ReadonlyArray<Agent.Message> = [
  { role: "system", content: "Customer is on the pro plan." },
  { role: "user", content: "My card 4111 1111 1111 1111 was charged twice" },
  { role: "assistant", name: "triage", content: "Checking.", toolCalls: [{ id: "1", name: "invoices", params: {} }] },
  { role: "tool", name: "invoices", toolCallId: "1", content: "[inv-1, inv-2]" },
  { role: "assistant", name: "triage", content: "", toolCalls: [{ id: "2", name: "refund", params: {} }] },
  { role: "tool", name: "refund", toolCallId: "2", content: "pending" },
  { role: "assistant", name: "triage", content: "Two charges found, email ada@example.com sent." },
  { role: "user", content: "Thanks" }
]

describe("History", () => {
  it.effect("keepAll keeps everything; lastN keeps the last N and system notes, never an orphan tool result", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* History.keepAll(convo), convo)
      const last3 = yield* History.lastN(3)(convo)
      assert.deepStrictEqual(last3.map((m) => m.content), [
        "Customer is on the pro plan.",
        "Two charges found, email ada@example.com sent.",
        "Thanks"
      ], "the tool result that opened the cut is dropped")
      const last4 = yield* History.lastN(4, { keepSystem: false })(convo)
      assert.deepStrictEqual(
        last4.map((m) => m.role),
        ["assistant", "tool", "assistant", "user"],
        "a tool result stays with its call"
      )
      const last3b = yield* History.lastN(3, { keepSystem: false })(convo)
      assert.deepStrictEqual(last3b.map((m) => m.role), ["assistant", "user"], "the cut skips the leading tool result")
      assert.deepStrictEqual((yield* History.lastN(0)(convo)).map((m) => m.role), ["system"])
    }))

  it.effect("byRole filters by role; removeToolCalls drops tool traffic and empty tool-call turns", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* History.byRole("user")(convo)).map((m) => m.content), [
        convo[1]!.content,
        "Thanks"
      ])
      const clean = yield* History.removeToolCalls(convo)
      assert.deepStrictEqual(clean.map((m) => m.role), ["system", "user", "assistant", "assistant", "user"])
      assert.isTrue(clean.every((m) => m.toolCalls === undefined))
    }))

  it.effect("redact by patterns (strings and regexps) or by a function", () =>
    Effect.gen(function*() {
      const r = yield* History.redact([/\b\d{4}(?: \d{4}){3}\b/, "ada@example.com"])(convo)
      assert.strictEqual(r[1]!.content, "My card [REDACTED] was charged twice")
      assert.strictEqual(r[6]!.content, "Two charges found, email [REDACTED] sent.")
      const f = yield* History.redact((text) => text.replaceAll("Thanks", "[thanks]"))(convo)
      assert.strictEqual(f[7]!.content, "[thanks]")
      assert.strictEqual(f[0], convo[0], "untouched messages are kept as they are")
    }))

  it.effect("summarize replaces older messages with one model-written note and keeps the last ones", () => {
    const m = testModel(() => ({ text: "Customer was double charged; refund pending." }))
    return Effect.gen(function*() {
      const out = yield* History.summarize({ keepLast: 2 })(convo)
      assert.deepStrictEqual(out.map((x) => x.role), ["system", "assistant", "user"])
      assert.strictEqual(
        out[0]!.content,
        "Summary of the earlier conversation: Customer was double charged; refund pending."
      )
      assert.strictEqual(m.requests.length, 1)
      assert.include(m.requests[0]!.messages[0]!.content, "charged twice")
      assert.deepStrictEqual(m.requests[0]!.metadata, { agent: "history.summarize" })
      const short = yield* History.summarize({ keepLast: 10 })(convo)
      assert.deepStrictEqual(short, convo)
      assert.strictEqual(m.requests.length, 1, "nothing to summarise: no model call")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("transforms compose left to right", () =>
    Effect.gen(function*() {
      const both = yield* History.compose(History.removeToolCalls, History.lastN(2, { keepSystem: false }))(convo)
      assert.deepStrictEqual(both.map((x) => x.content), ["Two charges found, email ada@example.com sent.", "Thanks"])
      const other = yield* History.compose(History.lastN(2, { keepSystem: false }), History.removeToolCalls)(convo)
      assert.deepStrictEqual(other.map((x) => x.content), ["Two charges found, email ada@example.com sent.", "Thanks"])
      const order = yield* History.compose(
        History.redact(["Thanks"], "X"),
        History.filter((msg) => msg.content !== "X")
      )(convo)
      assert.strictEqual(order.length, convo.length - 1)
    }))
})
