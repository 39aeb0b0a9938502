/**
 * Tutorial 3: a resilient model call.
 *
 * A flaky "large model" (a scripted stand-in: it answers, is overloaded, or is down, in a fixed
 * order) sits behind the usual stack of policies:
 *
 *   large model -> timeout -> retry -> circuit breaker -> fallback (small model, canned reply) -> rate limit
 *
 * and we watch each policy do its job: retries absorb a short overload (honouring the server's
 * retry-after hint), the breaker stops hammering a model that is down, the fallback keeps users
 * answered meanwhile, the rate limit refuses a user who asks too often, and the breaker lets one
 * probe through when the model is back. Everything runs offline in about a second.
 *
 * Run it: npx tsx examples/03-resilient-model-call.ts
 */
import { Describe, Primitive, Runner } from "@braid/core"
import { CircuitBreaker, Fallback, RateLimit, RateLimited, Retry, Timeout } from "@braid/resilience"
import { Data, Effect } from "effect"
import assert from "node:assert"

// Model errors follow the resilience contract: `transient` says whether a retry may help, and a
// server may send `retryAfterMillis`. (The errors of @braid/llm carry the same two fields.)
class Overloaded
  extends Data.TaggedError("Overloaded")<{ readonly transient: true; readonly retryAfterMillis: number }>
{}
class ServerDown extends Data.TaggedError("ServerDown")<{ readonly transient: true }> {}

interface Ask {
  readonly user: string
  readonly question: string
}

// The script of the large model: what each successive call does.
type Outcome = "ok" | "overloaded" | "down" | "slow"
const script: Array<Outcome> = [
  "overloaded",
  "overloaded",
  "ok", // scene 1: a short overload, absorbed by retries
  "slow",
  "ok", //                     scene 2: a hung call, cut by the timeout, then retried
  "down",
  "down",
  "down", //           scene 3: the model goes down (one user call, three attempts) ...
  "down",
  "down",
  "down" //            ... and a second one: the breaker opens
]
let largeCalls = 0
const largeModel = Primitive.make(
  "largeModel",
  (ask: Ask) =>
    Effect.suspend((): Effect.Effect<string, Overloaded | ServerDown> => {
      const outcome = script[largeCalls++] ?? "ok" // after the script: the model is back
      switch (outcome) {
        case "ok":
          return Effect.succeed(`[large] A thoughtful answer to "${ask.question}"`)
        case "overloaded":
          return Effect.fail(new Overloaded({ transient: true, retryAfterMillis: 10 }))
        case "down":
          return Effect.fail(new ServerDown({ transient: true }))
        case "slow":
          return Effect.as(Effect.sleep("10 seconds"), "too late")
      }
    })
)
const smallModel = Primitive.sync("smallModel", (ask: Ask) => `[small] A short answer to "${ask.question}"`)
const canned = Primitive.sync("cannedReply", (_: Ask) => "Sorry, I cannot answer right now.")

// One breaker per upstream, shared by name across every pipeline of the process.
const breaker = CircuitBreaker.named("example-large-model", {
  trigger: CircuitBreaker.consecutive(2), // two failed calls in a row (each after its retries)
  openFor: "1 second",
  onStateChange: (c) => Effect.sync(() => console.log(`   breaker ${c.breaker}: ${c.from} -> ${c.to}`))
})

const resilientLarge = largeModel.pipe(
  Timeout.within("100 millis"), //         bound each attempt
  Retry.policy({ //                        retry transient errors (timeouts included)
    maxAttempts: 3,
    baseDelay: "5 millis",
    maxDelay: "50 millis",
    onRetry: (i) =>
      Effect.sync(() =>
        console.log(
          `   retry: attempt ${i.attempt} failed (${(i.error as { _tag: string })._tag}), next in ${
            Math.round(i.delayMillis)
          } ms`
        )
      )
  }),
  CircuitBreaker.guard(breaker) //         stop calling a model that keeps failing
)

// Keep answering meanwhile: the large model (with its policies), then a small one, then a canned reply.
const withFallback = Fallback.chain([resilientLarge, smallModel, canned], { name: "reply" })

const answer = withFallback.pipe(
  RateLimit.policy({ //                    and keep any one user from flooding us
    name: "rateLimit",
    limits: [
      { key: (ask) => `user:${ask.user}`, limit: 4, window: "1 minute", name: "per-user" }, // token bucket: 4 at once, then one every 15 s
      { key: "global", limit: 1000, window: "1 hour", name: "global" }
    ]
  })
)

const ask = (user: string, question: string) => Runner.runPromise(answer, { user, question })

console.log("1. The large model is briefly overloaded: retries absorb it (waiting the server's 10 ms hint).")
const first = await ask("ada", "How do I start running?")
console.log(`   -> ${first}`)
assert.match(first, /^\[large\]/)
assert.strictEqual(largeCalls, 3)

console.log("2. A call hangs: the timeout interrupts it after 100 ms and the retry tries again.")
const second = await ask("ada", "How far should I run?")
console.log(`   -> ${second}`)
assert.match(second, /^\[large\]/)
assert.strictEqual(largeCalls, 5)

console.log("3. The large model goes down: each call exhausts its retries and the fallback answers.")
const third = await ask("grace", "What should I eat before a run?")
console.log(`   -> ${third}`)
const fourth = await ask("grace", "And after?")
console.log(`   -> ${fourth}`)
assert.match(third, /^\[small\]/)
assert.match(fourth, /^\[small\]/)
assert.strictEqual(await Effect.runPromise(breaker.state), "open")

console.log("4. With the breaker open, the large model is not called at all: the small model answers at once.")
const before = largeCalls
const fifth = await ask("alan", "Is stretching useful?")
console.log(`   -> ${fifth}`)
assert.match(fifth, /^\[small\]/)
assert.strictEqual(largeCalls, before, "the open breaker refused without calling the model")

console.log("5. Ada asks too often: her fifth question in a minute is refused by the per-user rate limit.")
await ask("ada", "Question three?")
await ask("ada", "Question four?")
const refused = await ask("ada", "Question five?").catch((e: unknown) => e)
assert.ok(refused instanceof RateLimited)
console.log(`   -> refused: ${refused.message}`)
assert.strictEqual(refused.key, "user:ada")

console.log("6. The model is back. After the open period one probe goes through, succeeds, and the breaker closes.")
const { openUntil } = await Effect.runPromise(breaker.stats)
await Effect.runPromise(Effect.sleep(Math.max(0, (openUntil ?? 0) - Date.now()) + 20))
const sixth = await ask("grace", "Ready for a 5k?")
console.log(`   -> ${sixth}`)
assert.match(sixth, /^\[large\]/)
assert.strictEqual(await Effect.runPromise(breaker.state), "closed")

// The pipeline describes itself: the policies are primitives like any other.
console.log("\nThe pipeline:")
console.log(Describe.toText(answer))

console.log(
  "Done: every user got an answer or a clear refusal, and the failing model was left alone while it was down."
)
