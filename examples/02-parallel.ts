/**
 * Tutorial 2: parallel work.
 *
 * Three reviewers look at the same draft at once (`parallel`), a failing reviewer either stops
 * everything (fail-fast) or is reported beside the others (settle), and a batch of drafts is
 * scored with bounded concurrency (`forEach`), results in input order. Parallel branches share
 * the run's state.
 *
 * Run it: npx tsx examples/02-parallel.ts
 */
import { forEach, parallel, Primitive, Runner, sequence, State } from "@braid/core"
import { Duration, Effect, Either } from "effect"
import assert from "node:assert"

// A reviewer takes a while (real time here, so you can see the concurrency).
const reviewer = <A>(name: string, millis: number, review: (draft: string) => A) =>
  Primitive.make(name, (draft: string) =>
    Effect.gen(function*() {
      yield* Effect.sleep(Duration.millis(millis))
      yield* State.update(Reviewed, (n) => n + 1)
      return review(draft)
    }))

const Reviewed = State.key("reviewed", 0)

const length = reviewer("length", 120, (d) => d.split(/\s+/).length)
const tone = reviewer("tone", 120, (d) => (d.includes("!") ? "enthusiastic" : "calm"))
const questions = reviewer("questions", 120, (d) => d.split("?").length - 1)

class ReviewerUnavailable extends Error {
  readonly _tag = "ReviewerUnavailable"
}
const flaky = Primitive.make(
  "flaky",
  (_: string) =>
    Effect.zipRight(Effect.sleep("20 millis"), Effect.fail(new ReviewerUnavailable("the style reviewer is offline")))
)

const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.timed(effect), ([d, a]) => [Math.round(Duration.toMillis(d)), a] as const)

const main = Effect.gen(function*() {
  console.log("== Tutorial 2: parallel work ==\n")
  const draft = "What would make this week a success? Let's start small!"

  // 1. Struct form: the output is a struct of every branch's output, fully typed.
  const review = sequence(
    parallel({ length, tone, questions }),
    Primitive.make(
      "report",
      (r: { length: number; tone: string; questions: number }) =>
        Effect.map(State.get(Reviewed), (n) => ({ ...r, reviewers: n }))
    )
  )
  const [ms, out] = yield* timed(Runner.run(review, draft))
  console.log(`Three 120 ms reviews in parallel took ${ms} ms:`, out)
  assert.deepStrictEqual(out, { length: 10, tone: "enthusiastic", questions: 1, reviewers: 3 })
  assert.ok(ms < 300, `parallel branches ran concurrently (${ms} ms)`)

  // 2. Fail-fast (the default): the first failure interrupts the others and is the result.
  const strict = parallel({ length, tone, flaky })
  const failure = yield* Effect.flip(Runner.run(strict, draft))
  console.log(`\nFail-fast: ${failure.message} (the other reviewers were interrupted)`)
  assert.ok(failure instanceof ReviewerUnavailable)

  // 3. Settle: every branch runs to its end; each result is Either.right(value) or Either.left(error).
  const lenient = parallel({ length, tone, flaky }, { mode: "settle" })
  const settled = yield* Runner.run(lenient, draft)
  const describeOutcome = (result: Either.Either<unknown, ReviewerUnavailable>) =>
    Either.match(result, { onRight: (value) => `ok ${String(value)}`, onLeft: (error) => `failed: ${error.message}` })
  for (const [name, result] of Object.entries(settled)) {
    console.log(`  settle: ${name} -> ${describeOutcome(result as Either.Either<unknown, ReviewerUnavailable>)}`)
  }
  assert.deepStrictEqual(settled.length, Either.right(10))
  assert.ok(Either.isLeft(settled.flaky))

  // 4. forEach: score a batch, at most 4 at a time; results keep the input order.
  const drafts = Array.from({ length: 8 }, (_, i) => `draft ${i}: ${"word ".repeat(i + 1).trim()}`)
  const scoreAll = forEach(length, { concurrency: 4 })
  const [batchMs, scores] = yield* timed(Runner.run(scoreAll, drafts))
  console.log(`\nScored ${drafts.length} drafts (120 ms each, 4 at a time) in ${batchMs} ms:`, scores)
  assert.deepStrictEqual(scores, [3, 4, 5, 6, 7, 8, 9, 10])
  assert.ok(batchMs >= 230 && batchMs < 600, `two waves of four (${batchMs} ms)`)

  console.log("\nDone: parallel branches, fail-fast versus settle, bounded forEach, shared state.")
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
