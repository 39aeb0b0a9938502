import { Agent } from "@braid/agents"
import { Runner } from "@braid/core"
import { ScriptedLanguageModel } from "@braid/llm"
import { Retry } from "@braid/resilience"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck as fc, Fiber, Schema, TestClock } from "effect"
import { systemOf, testModel } from "./agentTestModel.js"

const Verdict = Schema.Struct({
  score: Schema.Number.pipe(Schema.between(0, 1)),
  reason: Schema.NonEmptyString,
  tags: Schema.optional(Schema.Array(Schema.String))
})

const judge = Agent.make({ name: "judge", instructions: "You grade answers." })
const ask = Agent.conversation(["Grade: the sky is blue"])

describe("Agent.structured", () => {
  it.effect("decodes a JSON reply, keeps the reply, and asks for JSON after the agent's own instructions", () => {
    const m = testModel(() => ({ text: `{"score": 0.8, "reason": "correct"}` }))
    return Effect.gen(function*() {
      const graded = Agent.structured(judge, Verdict)
      const out = yield* Runner.run(graded, ask)
      assert.deepStrictEqual(out.value, { score: 0.8, reason: "correct" })
      assert.strictEqual(out.reply.agent, "judge")
      assert.strictEqual(out.reply.usage.outputTokens, 5)
      assert.strictEqual(graded.kind, "structured")
      assert.strictEqual(graded.name, "structured(judge)")
      assert.strictEqual(graded.children[0]!.primitive, judge)
      const system = systemOf(m.requests[0]!)
      assert.isTrue(
        system.startsWith("You grade answers.\n\nReply with JSON only, no prose, matching this JSON Schema: {")
      )
      assert.include(system, `"score"`)
      assert.strictEqual(system, `You grade answers.\n\n${Agent.structuredInstruction(Verdict)}`)
      // the user's messages are untouched
      assert.deepStrictEqual(m.requests[0]!.messages, [{ role: "user", content: "Grade: the sky is blue" }])
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("pipeable; a custom instruction, or none", () => {
    const m = testModel(() => ({ text: `{"score": 1, "reason": "ok"}` }))
    return Effect.gen(function*() {
      yield* Runner.run(
        judge.pipe(Agent.structured(Verdict, { instruction: "Answer as {\"score\", \"reason\"}." })),
        ask
      )
      yield* Runner.run(judge.pipe(Agent.structured(Verdict, { instruction: false, name: "grade" })), ask)
      assert.strictEqual(systemOf(m.requests[0]!), "You grade answers.\n\nAnswer as {\"score\", \"reason\"}.")
      assert.strictEqual(systemOf(m.requests[1]!), "You grade answers.")
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("finds the JSON inside prose and inside ``` fences (balanced, strings with braces included)", () =>
    Effect.gen(function*() {
      const decode = (text: string) => Agent.decodeStructured("judge", Verdict, text)
      assert.deepStrictEqual(
        yield* decode(`Sure! Here it is: {"score": 0.5, "reason": "half {right}"} Hope that helps.`),
        {
          score: 0.5,
          reason: "half {right}"
        }
      )
      assert.deepStrictEqual(
        yield* decode(
          "My verdict:\n```json\n{\n  \"score\": 0.25,\n  \"reason\": \"vague\",\n  \"tags\": [\"a\", \"b\"]\n}\n```\nDone."
        ),
        { score: 0.25, reason: "vague", tags: ["a", "b"] }
      )
      // prose with brackets before the JSON: the first candidate that decodes wins
      assert.deepStrictEqual(yield* decode(`[note] {"score": 1, "reason": "ok"} {"score": 0, "reason": "later"}`), {
        score: 1,
        reason: "ok"
      })
      // a top-level array
      assert.deepStrictEqual(yield* Agent.decodeStructured("lister", Schema.Array(Schema.Int), "The ids: [1, 2, 3]."), [
        1,
        2,
        3
      ])
      // through a scripted model, in prose
      const out = yield* Runner.run(Agent.structured(judge, Verdict), ask).pipe(
        Effect.provide(
          ScriptedLanguageModel.layer({ rules: [{ when: "sky", reply: `I'd say {"score": 0.9, "reason": "true"}.` }] })
        )
      )
      assert.deepStrictEqual(out.value, { score: 0.9, reason: "true" })
    }))

  it.effect("an invalid field fails with a transient StructuredOutputInvalid naming its path", () => {
    const m = testModel(() => ({ text: `{"score": 0.5, "reason": "ok", "tags": ["a", 7]}` }))
    return Effect.gen(function*() {
      const e = yield* Effect.flip(Runner.run(Agent.structured(judge, Verdict), ask))
      assert.strictEqual(e._tag, "StructuredOutputInvalid")
      if (e._tag !== "StructuredOutputInvalid") return
      assert.strictEqual(e.agent, "judge")
      assert.strictEqual(e.path, "tags[1]")
      assert.include(e.message, "tags[1]")
      assert.include(e.message, "Expected string, actual 7")
      assert.strictEqual(e.reply, `{"score": 0.5, "reason": "ok", "tags": ["a", 7]}`)
      assert.isTrue(e.transient)

      const range = yield* Effect.flip(Agent.decodeStructured("judge", Verdict, `{"score": 7, "reason": "x"}`))
      assert.strictEqual(range.path, "score")
      const none = yield* Effect.flip(Agent.decodeStructured("judge", Verdict, "It is good. ".repeat(100)))
      assert.strictEqual(none.path, "(root)")
      assert.strictEqual(none.message, "no JSON object in the reply")
      assert.strictEqual(none.reply.length, 503) // truncated to 500 characters and "..."
    }).pipe(Effect.provide(m.layer))
  })

  it.effect("an untrusted reply with a \"__proto__\" key or hostile nesting is refused, typed, never applied", () =>
    Effect.gen(function*() {
      const Open = Schema.Struct({
        score: Schema.Number,
        meta: Schema.Record({ key: Schema.String, value: Schema.Unknown })
      })
      const poisoned = `{"score": 1, "meta": {"__proto__": {"isAdmin": true}}}`
      const e = yield* Effect.flip(Agent.decodeStructured("judge", Open, poisoned))
      assert.strictEqual(e.path, "meta")
      assert.strictEqual(e.message, `refused JSON: forbidden key "__proto__"`)
      // the escaped spelling too
      const escaped = yield* Effect.flip(
        Agent.decodeStructured("judge", Open, `{"score": 1, "meta": {"\\u005f_proto__": {"isAdmin": true}}}`)
      )
      assert.strictEqual(escaped.path, "meta")
      // 20,000 levels deep: a typed failure, not a RangeError
      const deep = yield* Effect.flip(Agent.decodeStructured("judge", Open, "[".repeat(20_000) + "]".repeat(20_000)))
      assert.strictEqual(deep._tag, "StructuredOutputInvalid")
      assert.include(deep.message, "nesting deeper than")
      // fuzz: any JSON object, with a "__proto__" key planted somewhere, never changes a prototype
      fc.assert(
        fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue(), (obj, planted) => {
          const rest = JSON.stringify(obj).slice(1) // "}" or `"k":v,...}`
          const text = `{"score": 1, "meta": {"__proto__": ${JSON.stringify(planted)}${
            rest === "}" ? "}" : `,${rest}`
          }}`
          const out = Effect.runSync(Effect.either(Agent.decodeStructured("judge", Open, text)))
          return out._tag === "Left" || Object.getPrototypeOf(out.right.meta) === Object.prototype
        }),
        { numRuns: 200 }
      )
      fc.assert(
        fc.property(fc.anything(), (x) => {
          let text: string
          try {
            text = JSON.stringify(x) ?? "null"
          } catch {
            return true
          }
          const out = Effect.runSync(Effect.either(Agent.decodeStructured("judge", Open, text)))
          return out._tag === "Left" || Object.getPrototypeOf(out.right.meta) === Object.prototype
        }),
        { numRuns: 200 }
      )
    }))

  it.effect("Retry.policy asks again and recovers on the second, valid reply", () => {
    const m = testModel((_, call) => ({
      text: call === 1 ? "I think it is mostly right." : `{"score": 0.7, "reason": "mostly right"}`
    }))
    return Effect.gen(function*() {
      const graded = judge.pipe(
        Agent.structured(Verdict),
        Retry.policy({ maxAttempts: 2, baseDelay: "1 millis", maxDelay: "1 millis" })
      )
      const fiber = yield* Effect.fork(Runner.run(graded, ask))
      yield* TestClock.adjust("1 second") // the backoff before the second attempt
      const out = yield* Fiber.join(fiber)
      assert.deepStrictEqual(out.value, { score: 0.7, reason: "mostly right" })
      assert.strictEqual(m.requests.length, 2)

      // without a retry, the same first reply is an error
      const once = testModel(() => ({ text: "I think it is mostly right." }))
      const e = yield* Effect.flip(Runner.run(Agent.structured(judge, Verdict), ask).pipe(Effect.provide(once.layer)))
      assert.strictEqual(e._tag, "StructuredOutputInvalid")
    }).pipe(Effect.provide(m.layer))
  })
})
