/**
 * The pieces `Coaching` exports for durable sessions: what a coach reply means for its session
 * (`judgeReply`, the one rule both the live and the durable session apply) and the conversation
 * read back from stored messages (`history`).
 */
import { Coaching } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"

const phase = fc.constantFrom<Coaching.Phase>("morning", "evening")
const text = fc.string({ maxLength: 80 })

describe("Coaching.judgeReply", () => {
  it("a reply with its phase's objective line ends the session objective-met; the morning's sets the goals", () => {
    fc.assert(fc.property(phase, text.filter((t) => !t.includes(":")), fc.nat(5), (p, before, failures) => {
      const line = p === "morning" ? "GOALS: run 5k; read" : "REVIEW: 1/2 goals done"
      const judged = Coaching.judgeReply({}, {
        phase: p,
        reply: { text: `${before.replace(/\n/g, " ")}\n${line}` },
        failures,
        exchanges: 1,
        costUsd: 0
      })
      assert.strictEqual(judged.end?.reason, "objective-met")
      assert.strictEqual(judged.failures, 0)
      assert.deepStrictEqual(judged.goals, p === "morning" ? ["run 5k", "read"] : undefined)
    }))
  })

  it("a fallback reply counts a failure and never meets the objective; outageAfter in a row ends it model-outage", () => {
    fc.assert(fc.property(phase, fc.nat(6), fc.integer({ min: 1, max: 6 }), (p, failures, outageAfter) => {
      const judged = Coaching.judgeReply({ outageAfter }, {
        phase: p,
        reply: { text: "GOALS: a; b", fallbackCause: "Overloaded: busy" },
        failures,
        exchanges: 1,
        costUsd: 0
      })
      assert.strictEqual(judged.failures, failures + 1)
      assert.isUndefined(judged.objective)
      if (failures + 1 >= outageAfter) {
        assert.strictEqual(judged.end?.reason, "model-outage")
        assert.strictEqual(judged.end?.message, Coaching.defaultOutageMessage)
        assert.include(judged.end?.critical, "Overloaded: busy")
      } else {
        assert.isUndefined(judged.end)
      }
    }))
  })

  it("then the turn limit, then the session's budget, in that order; otherwise the session goes on", () => {
    const judge = (exchanges: number, costUsd: number) =>
      Coaching.judgeReply({ turnLimit: 3, sessionBudgetUsd: 0.5 }, {
        phase: "evening",
        reply: { text: "How did it go?" },
        failures: 2,
        exchanges,
        costUsd
      })
    assert.isUndefined(judge(2, 0.1).end)
    assert.strictEqual(judge(2, 0.1).failures, 0)
    assert.strictEqual(judge(3, 0.9).end?.reason, "turn-limit")
    assert.strictEqual(judge(2, 0.5).end?.reason, "budget-exhausted")
  })
})

describe("Coaching.history", () => {
  it("the user's messages and the coach's replies in order, without system notes", () => {
    fc.assert(fc.property(
      fc.array(
        fc.record({ role: fc.constantFrom<"user" | "assistant" | "system">("user", "assistant", "system"), text })
      ),
      (stored) => {
        const messages = Coaching.history(stored, "coach")
        const kept = stored.filter((m) => m.role !== "system")
        assert.strictEqual(messages.length, kept.length)
        messages.forEach((m, i) => {
          assert.strictEqual(m.role, kept[i]!.role)
          assert.strictEqual(m.content, kept[i]!.text)
        })
      }
    ))
  })
})
