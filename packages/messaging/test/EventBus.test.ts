import { EventBus } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

describe("EventBus.validateChannel", () => {
  it.effect("accepts domain.entity.action names", () =>
    Effect.gen(function*() {
      assert.strictEqual(
        yield* EventBus.validateChannel("meeting.participant.timed_out"),
        "meeting.participant.timed_out"
      )
      assert.strictEqual(yield* EventBus.validateChannel("a1.b-2.c_3"), "a1.b-2.c_3")
    }))
})
