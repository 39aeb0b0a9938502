import { Sse } from "@braid/server"
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"

describe("Sse", () => {
  it("parse reads back what format writes, however the text is cut into chunks; comments are skipped", () => {
    const message = fc.record({
      event: fc.stringMatching(/^[A-Za-z]{1,12}$/),
      id: fc.option(fc.nat().map(String), { nil: undefined }),
      data: fc.json().filter((j) => !j.includes("\n"))
    })
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 5 }), (messages, cuts) => {
        const text = messages.map((m, i) => (i % 2 === 0 ? ": keep-alive\n\n" : "") + Sse.format(m)).join("")
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
        let buffer = ""
        const got: Array<Sse.Message> = []
        let from = 0
        for (const to of [...points, text.length]) {
          const parsed = Sse.parse(buffer + text.slice(from, to))
          buffer = parsed.rest
          got.push(...parsed.messages)
          from = to
        }
        assert.deepStrictEqual(got, messages)
        assert.strictEqual(buffer, "")
      })
    )
  })
})
