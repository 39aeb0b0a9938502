import { Runner } from "@braid/core"
import { ClientProfile } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

describe("ClientProfile", () => {
  it.effect("turns a profile into the coach's instructions, with defaults", () =>
    Effect.gen(function*() {
      const out = yield* Runner.run(ClientProfile.instructions, {
        userId: "u1",
        name: "Ada",
        aspirations: ["run a 10k", "sleep 7 hours"],
        challenges: ["late meetings"]
      })
      assert.strictEqual(out.profile.tone, "warm")
      assert.include(out.instructions, "You are Ada's personal coach.")
      assert.include(out.instructions, "Ada wants to: run a 10k; sleep 7 hours.")
      assert.include(out.instructions, "Known obstacles: late meetings.")
      assert.include(out.instructions, "Be warm and encouraging")
    }))

  it.effect("a bad profile is a DecodeError naming the field", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(Runner.run(ClientProfile.instructions, { userId: "u1", name: "", aspirations: [] }))
      assert.strictEqual(e._tag, "DecodeError")
      assert.strictEqual(e._tag === "DecodeError" && e.path, "name")
    }))
})
