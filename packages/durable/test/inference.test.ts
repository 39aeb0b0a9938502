import { Durable } from "@braid/durable"
import { assert, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"

it.effect("a step's types come from its effect, also when the effect is written with callbacks", () =>
  Effect.gen(function*() {
    // the effect is context-sensitive (an unannotated callback): A and E still come from it
    const step = Durable.step(
      "save",
      Effect.flatMap(Durable.idempotencyKey, (key) => Effect.succeed(Option.getOrElse(key, () => "none"))),
      Schema.String
    )
    assert.strictEqual(yield* step, "none") // outside a durable run: the effect itself
  }))
