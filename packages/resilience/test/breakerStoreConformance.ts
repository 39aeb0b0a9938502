/**
 * What every shared `CircuitBreaker` store must give (`suite`): run on the memory store here,
 * Redis in @braid/redis and PostgreSQL in @braid/postgres (imported by relative path). `connect`
 * gives a new store over the same storage, as another process (or a restarted one) would have.
 */
import { CircuitBreaker, CircuitOpen } from "@braid/resilience"
import { assert, describe, it } from "@effect/vitest"
import type { Scope } from "effect"
import { Data, Deferred, Effect, Fiber, TestClock } from "effect"

// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- Data.TaggedError takes {} for an error without fields
class Down extends Data.TaggedError("Down")<{}> {}

const run = `b${process.pid}x${Date.now().toString(36)}`
let n = 0

export const suite = (
  name: string,
  connect: () => Effect.Effect<CircuitBreaker.Store, unknown, Scope.Scope>
) =>
  describe(`CircuitBreaker shared state: ${name}`, () => {
    /** A breaker over a new connection to the store: a "process". */
    const processOf = (breaker: string, options: Partial<CircuitBreaker.Options> = {}) =>
      Effect.map(connect(), (store) =>
        CircuitBreaker.unsafeMake({
          name: breaker,
          trigger: CircuitBreaker.consecutive(3),
          openFor: "10 seconds",
          store,
          onStoreError: (e) => Effect.die(e),
          ...options
        }))
    const failing = Effect.fail(new Down())

    it.scoped("compareAndSet: of concurrent sets from one generation, by two connections, exactly one wins", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-cas`
        const [one, two] = [yield* connect(), yield* connect()]
        assert.deepStrictEqual(yield* one.get(id), CircuitBreaker.initialState)
        const next = (until: number): CircuitBreaker.SharedState => ({
          state: "open",
          gen: 1,
          until,
          reopens: 0,
          successes: 0
        })
        const wins = yield* Effect.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).compareAndSet(id, 0, next(1000 + i))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(wins.filter(Boolean).length, 1)
        const stored = yield* two.get(id)
        assert.strictEqual(stored.gen, 1)
        assert.strictEqual(stored.until, 1000 + wins.indexOf(true))
        assert.isFalse(yield* one.compareAndSet(id, 0, next(5)), "a stale generation never sets")
        assert.isTrue(yield* one.compareAndSet(id, 1, { ...next(7), state: "half-open", gen: 2, successes: 1 }))
        assert.deepStrictEqual(yield* two.get(id), { state: "half-open", gen: 2, until: 7, reopens: 0, successes: 1 })
      }))

    it.scoped("an open breaker is open for every process and for a restarted one, at once", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-open`
        const [a, b] = [yield* processOf(id), yield* processOf(id)]
        for (let i = 0; i < 3; i++) assert.instanceOf(yield* Effect.flip(a.execute(failing)), Down)
        assert.strictEqual(yield* b.state, "open")
        let called = 0
        const refused = yield* Effect.flip(b.execute(Effect.sync(() => ++called)))
        assert.instanceOf(refused, CircuitOpen)
        assert.strictEqual((refused as CircuitOpen).retryAfterMillis, 10_000)
        assert.strictEqual(called, 0, "the other process did not call the dependency")
        const restarted = yield* processOf(id)
        assert.instanceOf(yield* Effect.flip(restarted.execute(Effect.void)), CircuitOpen)
        assert.strictEqual((yield* restarted.stats).openUntil, 10_000)
      }))

    it.scoped("after the open period, one probe among concurrent callers of both processes; its success closes both", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-probe`
        const [a, b] = [yield* processOf(id), yield* processOf(id)]
        for (let i = 0; i < 3; i++) yield* Effect.flip(a.execute(failing))
        yield* TestClock.adjust("10 seconds")
        const release = yield* Deferred.make<void>()
        let probes = 0
        const dependency = Effect.zipRight(Effect.sync(() => ++probes), Deferred.await(release))
        const fibers = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => i % 2 === 0 ? a : b),
          (breaker) => Effect.fork(Effect.either(breaker.execute(dependency))),
          { concurrency: "unbounded" }
        )
        // every caller but the probe is refused without waiting for it
        let refused = 0
        for (let i = 0; i < 200 && refused < 11; i++) {
          yield* Effect.yieldNow()
          refused = 0
          for (const f of fibers) {
            const done = f.unsafePoll()
            if (done !== null && done._tag === "Failure") refused++
            if (done !== null && done._tag === "Success" && done.value._tag === "Left") refused++
          }
          if (refused < 11) yield* Effect.sleep("1 millis").pipe(Effect.fork, Effect.zipRight(TestClock.adjust(1)))
        }
        assert.strictEqual(probes, 1, "a single probe ran")
        assert.strictEqual(yield* b.state, "half-open")
        yield* Deferred.succeed(release, undefined)
        const outcomes = yield* Effect.forEach(fibers, Fiber.join)
        assert.strictEqual(outcomes.filter((o) => o._tag === "Right").length, 1)
        for (const o of outcomes) if (o._tag === "Left") assert.instanceOf(o.left, CircuitOpen)
        assert.strictEqual(yield* a.state, "closed")
        assert.strictEqual(yield* b.state, "closed")
        assert.strictEqual(yield* b.execute(Effect.succeed("ok")), "ok")
        // a's own window was reset with the close: one failure does not reopen it
        yield* Effect.flip(a.execute(failing))
        assert.strictEqual(yield* b.state, "closed")
      }))

    it.scoped("a failed probe reopens the breaker for both, for longer with openBackoff", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-reopen`
        const options = { openBackoff: { factor: 2, max: "1 minute" as const } }
        const [a, b] = [yield* processOf(id, options), yield* processOf(id, options)]
        for (let i = 0; i < 3; i++) yield* Effect.flip(a.execute(failing))
        yield* TestClock.adjust("10 seconds")
        assert.instanceOf(yield* Effect.flip(b.execute(failing)), Down, "b's probe ran and failed")
        const refused = yield* Effect.flip(a.execute(Effect.void))
        assert.instanceOf(refused, CircuitOpen)
        assert.strictEqual((refused as CircuitOpen).retryAfterMillis, 20_000)
        yield* TestClock.adjust("20 seconds")
        assert.strictEqual(yield* a.execute(Effect.succeed(1)), 1)
        assert.strictEqual(yield* b.state, "closed")
      }))

    it.scoped("a probe claimed by a process that died is claimable again after probeLease", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-lease`
        const [a, b] = [yield* processOf(id, { probeLease: "30 seconds" }), yield* processOf(id)]
        for (let i = 0; i < 3; i++) yield* Effect.flip(a.execute(failing))
        yield* TestClock.adjust("10 seconds")
        // a claims the probe and never settles it (its process dies: the fiber never ends)
        yield* Effect.forkDaemon(a.execute(Effect.never))
        yield* TestClock.adjust(1)
        const refused = yield* Effect.flip(b.execute(Effect.void))
        assert.instanceOf(refused, CircuitOpen)
        assert.strictEqual((refused as CircuitOpen).state, "half-open")
        yield* TestClock.adjust("30 seconds")
        assert.strictEqual(yield* b.execute(Effect.succeed("probe")), "probe")
        assert.strictEqual(yield* a.state, "closed")
      }))

    it.scoped("isolate in one process holds every process open; reset in another closes it for all", () =>
      Effect.gen(function*() {
        const id = `${run}-${n++}-isolate`
        const changes: Array<string> = []
        const [a, b] = [
          yield* processOf(id, { onStateChange: (c) => Effect.sync(() => changes.push(`${c.from}>${c.to}`)) }),
          yield* processOf(id)
        ]
        yield* a.isolate
        const refused = yield* Effect.flip(b.execute(Effect.void))
        assert.strictEqual((refused as CircuitOpen).state, "isolated")
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(yield* b.state, "isolated")
        yield* b.reset
        assert.strictEqual(yield* a.execute(Effect.succeed(1)), 1)
        assert.deepStrictEqual(changes, ["closed>isolated"])
      }))
  })
