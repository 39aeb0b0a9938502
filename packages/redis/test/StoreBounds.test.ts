/**
 * Store calls are bounded: a Redis link that accepts and never answers, or accepts then closes,
 * never hangs a rate-limited or cached call. Local TCP servers play the broken Redis; TestClock
 * drives the bounds (no wall-clock assertion).
 */
import { Attributes, Io, Primitive, Runner } from "@braid/core"
import { RedisBreakerStore, RedisCache, RedisRateLimit } from "@braid/redis"
import { Cache, CircuitBreaker, CircuitOpen, Errors, Metrics, RateLimit, StoreError } from "@braid/resilience"
import { byName, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Metric, Option, Ref, TestClock } from "effect"
import type { Duration, Scope } from "effect"
import { Redis } from "ioredis"
import * as net from "node:net"
import { vi } from "vitest"

type Behaviour = "silent" | "closing"

/** A TCP server on a free local port: `silent` accepts and never answers, `closing` accepts then closes. */
const brokenRedis = (behaviour: Behaviour): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: net.Server; readonly sockets: Set<net.Socket> }>((resume) => {
      const sockets = new Set<net.Socket>()
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        if (behaviour === "closing") return void socket.destroy()
        sockets.add(socket)
        socket.on("data", () => {}) // read and drop
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ server }) => (server.address() as net.AddressInfo).port))

/** A client as a user would make it (default retry settings), closed with the scope. */
const clientOf = (port: number): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true })
      c.on("error", () => {})
      return c
    }),
    (c) => Effect.sync(() => c.disconnect())
  )

/** One turn of Node's event loop (not a timer: no wall-clock wait). */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Runs `self` in a fiber and moves the TestClock by `step` each time the fiber waits on a timer,
 * until it ends (at most `rounds` moves): a bounded call ends after a bounded number of moves.
 */
const drive = <A, E>(self: Effect.Effect<A, E>, step: Duration.DurationInput, rounds = 10) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let moves = 0; moves <= rounds;) {
      const done = fiber.unsafePoll()
      if (done !== null) return done
      if (Chunk.isNonEmpty(yield* TestClock.sleeps())) {
        yield* TestClock.adjust(step)
        moves++
      } else {
        yield* nextTurn // the fiber is running or waiting on I/O: let the event loop turn
      }
    }
    const exit = fiber.unsafePoll()
    yield* Fiber.interrupt(fiber)
    return exit ?? Exit.die(new Error(`still running after ${rounds} moves of the clock: the call hangs`))
  })

const ask = Primitive.make("ask", (user: string) => Effect.succeed(`ok ${user}`))

const storeErrorOf = (exit: Exit.Exit<unknown, unknown>): StoreError => {
  const e = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
  assert.instanceOf(
    e,
    StoreError,
    `expected a StoreError, got ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "a success"}`
  )
  return e as StoreError
}

for (const behaviour of ["silent", "closing"] as const) {
  describe(`a Redis that ${behaviour === "silent" ? "accepts and never answers" : "accepts then closes"}`, () => {
    it.scoped("RateLimit: the call fails with StoreError within the store's bound (default Io.defaultTimeout)", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(yield* brokenRedis(behaviour))
        const p = ask.pipe(
          RateLimit.policy({
            limits: [{ key: "global", limit: 5, window: "1 minute" }],
            store: RedisRateLimit.store(client)
          })
        )
        const exit = yield* drive(Runner.run(p, "a"), Io.defaultTimeout)
        const e = storeErrorOf(exit)
        assert.strictEqual(e.operation, "ratelimit.consume")
        if (behaviour === "silent") {
          assert.instanceOf(e.cause, Errors.StoreTimeout)
          assert.strictEqual(e.message, "redis store: ratelimit.consume failed: no answer within 5000 ms")
        }
      }))

    it.scoped("CircuitBreaker: a store call ends with StoreError within its bound; the breaker uses this process's state", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(yield* brokenRedis(behaviour))
        const failures: Array<StoreError> = []
        const breaker = CircuitBreaker.unsafeMake({
          name: `bounded-${behaviour}-${Math.random().toString(36).slice(2)}`,
          trigger: CircuitBreaker.consecutive(2),
          store: RedisBreakerStore.store(client, { timeout: "250 millis" }),
          onStoreError: (e) => Effect.sync(() => void failures.push(e))
        })
        // the call runs (the breaker fails open on its store) ...
        assert.deepStrictEqual(
          yield* drive(breaker.execute(Effect.succeed("ran")), "250 millis", 2),
          Exit.succeed("ran")
        )
        assert.strictEqual(failures.length, 1)
        assert.strictEqual(failures[0]!.operation, "breaker.get")
        if (behaviour === "silent") {
          assert.deepStrictEqual(failures[0]!.cause, new Errors.StoreTimeout({ timeoutMillis: 250 }))
        }
        // ... and this process's own breaker still protects the dependency
        for (let i = 0; i < 2; i++) yield* drive(breaker.execute(Effect.fail("down")), "250 millis", 4)
        const refused = yield* drive(breaker.execute(Effect.succeed("ran")), "250 millis", 2)
        assert.instanceOf(
          Option.getOrUndefined(Exit.isFailure(refused) ? Cause.failureOption(refused.cause) : Option.none()),
          CircuitOpen
        )
      }))

    it.scoped("RateLimit: the timeout option sets the bound", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(yield* brokenRedis(behaviour))
        const store = RedisRateLimit.store(client, { timeout: "250 millis" })
        const exit = yield* drive(
          store.consume([{ key: "k", algorithm: "fixed-window", limit: 1, windowMillis: 1000, cost: 1 }], 0),
          "250 millis",
          1
        )
        const e = storeErrorOf(exit)
        if (behaviour === "silent") assert.deepStrictEqual(e.cause, new Errors.StoreTimeout({ timeoutMillis: 250 }))
      }))

    it.scoped("Cache: a timed-out read is a miss, a timed-out write is dropped; the call succeeds (event + metric)", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(yield* brokenRedis(behaviour))
        const calls = yield* Ref.make(0)
        const name = `bounded-${behaviour}-${Math.random().toString(36).slice(2)}`
        const step = Primitive.make("lookup", (q: string) => Effect.as(Ref.update(calls, (n) => n + 1), `v-${q}`))
        const p = step.pipe(Cache.policy({ name, store: RedisCache.store(client, { timeout: "1 second" }) }))
        const exit = yield* drive(withSpans(Runner.run(p, "a")), "1 second")
        assert.isTrue(Exit.isSuccess(exit))
        if (!Exit.isSuccess(exit)) return
        assert.deepStrictEqual(exit.value.exit, Exit.succeed("v-a"))
        assert.strictEqual(yield* Ref.get(calls), 1)
        const events = byName(exit.value.spans, name).events.filter((e) => e.name === "braid.cache.store_error")
        assert.deepStrictEqual(events.map((e) => e.attributes?.["braid.cache.operation"]), ["get", "set"])
        if (behaviour === "silent") {
          assert.deepStrictEqual(events.map((e) => e.attributes?.["error.type"]), ["StoreTimeout", "StoreTimeout"])
        }
        const lost = yield* Metric.value(
          Metric.tagged(
            Metric.tagged(Metrics.cacheStoreErrors, Attributes.Resilience.cacheName, name),
            Attributes.Resilience.cacheOperation,
            "get"
          )
        )
        assert.strictEqual(lost.count, 1)
      }))

    it.scoped("Cache: invalidate is bounded too", () =>
      Effect.gen(function*() {
        const client = yield* clientOf(yield* brokenRedis(behaviour))
        const cache = Cache.make({ name: "inv", store: RedisCache.store(client, { timeout: "1 second" }) })
        const exit = yield* drive(cache.invalidate("k"), "1 second")
        assert.deepStrictEqual(exit, Exit.void)
      }))

    it.scoped("redisStoreFromConfig: connecting is bounded and fails with StoreError (connect)", () =>
      Effect.gen(function*() {
        const port = yield* brokenRedis(behaviour)
        const exit = yield* drive(
          Effect.scoped(RedisRateLimit.storeFromConfig({ url: `redis://127.0.0.1:${port}`, timeout: "2 seconds" })),
          "2 seconds"
        )
        const e = storeErrorOf(exit)
        assert.strictEqual(e.operation, "connect")
        const cacheExit = yield* drive(
          Effect.scoped(RedisCache.storeFromConfig({ url: `redis://127.0.0.1:${port}`, timeout: "2 seconds" })),
          "2 seconds"
        )
        assert.strictEqual(storeErrorOf(cacheExit).operation, "connect")
      }))
  })
}

describe("the Redis client a store holds", () => {
  it.scoped("a refused connection is a StoreError, with no unhandled 'error' event and no password in the message", () =>
    Effect.gen(function*() {
      // a port that was free a moment ago: nothing listens there
      const port = yield* Effect.scoped(brokenRedis("closing"))
      const printed = vi.spyOn(console, "error").mockImplementation(() => {})
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
        yield* RedisRateLimit.storeFromConfig({ url: `redis://user:s3cret-pw@127.0.0.1:${port}` })
      })))
      // give ioredis the chance to report anything late
      yield* nextTurn
      const logged = printed.mock.calls.map((args) => args.map(String).join(" "))
      printed.mockRestore()
      const e = storeErrorOf(exit)
      assert.strictEqual(e.operation, "connect")
      assert.notInclude(e.message, "s3cret-pw")
      assert.deepStrictEqual(logged.filter((l) => l.includes("ioredis")), [])
    }))

  it("options are checked where the store is built", () => {
    assert.throws(
      () => RedisRateLimit.storeFromConfig({ timeout: -1 }),
      Errors.InvalidOption,
      "RedisRateLimit.storeFromConfig: option timeout must be a finite duration > 0"
    )
    assert.throws(
      () => RedisCache.storeFromConfig({ prefix: 1 as never }),
      Errors.InvalidOption,
      "RedisCache.storeFromConfig: option prefix must be a string"
    )
  })
})
