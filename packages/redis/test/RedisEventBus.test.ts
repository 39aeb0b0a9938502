import { Errors as CoordinationErrors, EventBus } from "@braid/messaging"
import { RedisEventBus } from "@braid/redis"
import { describeWith, faultyProxy, REDIS_URL, silentServer, withPort } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Either, Queue, Schema } from "effect"
import { Redis } from "ioredis"
import { conformance } from "../../messaging/test/EventBusConformance.js"

conformance("memory", () => EventBus.layerMemory)

const describeRedis = await describeWith("redis")
const runPrefix = `braid-test-${process.pid}-${Date.now()}:`
let n = 0

describeRedis("Redis", () => {
  // Each test gets its own prefix (and its own two connections).
  conformance("redis", () => RedisEventBus.layer({ url: REDIS_URL, prefix: `${runPrefix}${n++}:` }))

  it.live("events travel through Redis: a raw Redis subscriber sees the prefixed channel and the JSON payload", () =>
    Effect.gen(function*() {
      const raw = new Redis(REDIS_URL)
      const seen: Array<[string, string]> = []
      const prefix = `${runPrefix}raw:`
      yield* Effect.promise(() => raw.psubscribe(`${prefix}*`))
      raw.on("pmessage", (_p, ch, msg) => seen.push([ch, msg]))
      yield* EventBus.publishEncoded("demo.raw.sent", { x: 1 }).pipe(
        Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix }))
      )
      for (let i = 0; i < 250 && seen.length === 0; i++) yield* Effect.sleep(20)
      yield* Effect.promise(() => raw.quit())
      assert.deepStrictEqual(seen, [[`${prefix}demo.raw.sent`, `{"x":1}`]])
    }))

  it.live("a server that accepts and never answers: connecting fails with EventBusError within the bound", () =>
    Effect.gen(function*() {
      const silent = yield* silentServer
      const err = yield* Effect.flip(
        EventBus.publishEncoded("a.b.c", 1).pipe(
          Effect.provide(
            RedisEventBus.layer({ url: withPort(REDIS_URL, silent.port), prefix: "x:", timeout: "300 millis" })
          )
        )
      )
      assert.strictEqual(err._tag, "EventBusError")
      assert.include(err.message, "no answer within 300 ms")
    }).pipe(Effect.scoped))

  it.live("a link that goes silent: publish and subscribe end with EventBusError within the bound", () =>
    Effect.gen(function*() {
      const u = new URL(REDIS_URL)
      const link = yield* faultyProxy(Number(u.port || 6379), u.hostname || "127.0.0.1")
      yield* Effect.gen(function*() {
        yield* EventBus.publishEncoded("demo.silent.sent", 1)
        link.silence()
        const published = yield* Effect.flip(EventBus.publishEncoded("demo.silent.sent", 2))
        assert.strictEqual(published._tag, "EventBusError")
        assert.include(published.message, "no answer within 2000 ms")
        const subscribed = yield* Effect.flip(
          EventBus.subscribe(EventBus.channel("demo.silent.*", Schema.Unknown), () => Effect.void)
        )
        assert.strictEqual(subscribed._tag, "EventBusError")
      }).pipe(
        Effect.scoped,
        Effect.provide(
          RedisEventBus.layer({
            url: withPort(REDIS_URL, link.port),
            prefix: `${runPrefix}silent:`,
            timeout: "2 seconds"
          })
        )
      )
    }).pipe(Effect.scoped))

  it.live("connections killed by the server (CLIENT KILL): never an uncaught error; after the reconnection events flow again", () =>
    Effect.gen(function*() {
      const uncaught: Array<unknown> = []
      const onUncaught = (e: unknown) => void uncaught.push(e)
      process.on("uncaughtException", onUncaught)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("uncaughtException", onUncaught)))
      const admin = new Redis(REDIS_URL)
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.quit()))
      const prefix = `${runPrefix}killed:`
      const Ping = EventBus.channel("demo.ping.sent", Schema.Number)
      yield* Effect.gen(function*() {
        const got = yield* Queue.unbounded<number>()
        yield* EventBus.subscribe(Ping, (n) => Queue.offer(got, n))
        const list = yield* Effect.promise(() => admin.client("LIST") as Promise<string>)
        const ours = list.split("\n").filter((l) => l.includes(`name=braid-bus-`) && l.includes(prefix))
        assert.strictEqual(ours.length, 2, "the publisher and the subscriber, named after the prefix")
        for (const line of ours) {
          const id = /\bid=(\d+)/.exec(line)![1]!
          yield* Effect.promise(() => admin.client("KILL", "ID", id))
        }
        // Until both connections are back, events may be lost (at most once) or a publish may fail, typed.
        let n = 0
        let received: number | undefined
        for (let i = 0; i < 250 && received === undefined; i++) {
          const r = yield* Effect.either(EventBus.publish(Ping, ++n))
          if (Either.isLeft(r)) assert.instanceOf(r.left, CoordinationErrors.EventBusError)
          yield* Effect.sleep(20)
          const polled = yield* Queue.poll(got)
          if (polled._tag === "Some") received = polled.value
        }
        assert.isDefined(received, "events flow again after the reconnection")
      }).pipe(Effect.scoped, Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix })))
      assert.deepStrictEqual(uncaught, [])
    }).pipe(Effect.scoped))

  it.live("a message on the channel that is not JSON is reported as an invalid event, never a crash", () =>
    Effect.gen(function*() {
      const prefix = `${runPrefix}garbled:`
      const raw = new Redis(REDIS_URL)
      yield* Effect.addFinalizer(() => Effect.promise(() => raw.quit()))
      yield* Effect.gen(function*() {
        const invalid = yield* Queue.unbounded<CoordinationErrors.InvalidEvent>()
        const got = yield* Queue.unbounded<unknown>()
        yield* EventBus.subscribe(EventBus.channel("demo.raw.sent", Schema.Unknown), (e) => Queue.offer(got, e), {
          onInvalid: (e) => Queue.offer(invalid, e)
        })
        yield* Effect.promise(() => raw.publish(`${prefix}demo.raw.sent`, "{not json"))
        yield* Effect.promise(() => raw.publish(`${prefix}demo.raw.sent`, `{"__proto__": {"admin": true}}`))
        yield* Effect.promise(() => raw.publish(`${prefix}demo.raw.sent`, `{"ok": 1}`))
        const bad = yield* Effect.all([Queue.take(invalid), Queue.take(invalid)]).pipe(Effect.timeout("5 seconds"))
        assert.include(bad[0].issues[0], "not a JSON event")
        assert.include(bad[1].issues[0], "__proto__")
        assert.deepStrictEqual(yield* Queue.take(got).pipe(Effect.timeout("5 seconds")), { ok: 1 })
      }).pipe(Effect.scoped, Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix })))
    }).pipe(Effect.scoped))

  it.live("a prefix with glob characters matches its own channels only", () =>
    Effect.gen(function*() {
      const star = `${runPrefix}glob*:`
      const other = `${runPrefix}globX:`
      yield* Effect.gen(function*() {
        const got = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(EventBus.channel("demo.glob.sent", Schema.String), (e) => Queue.offer(got, e))
        yield* EventBus.publishEncoded("demo.glob.sent", "other").pipe(
          Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix: other }))
        )
        yield* EventBus.publishEncoded("demo.glob.sent", "mine")
        assert.strictEqual(yield* Queue.take(got).pipe(Effect.timeout("5 seconds")), "mine")
        yield* Effect.sleep(100)
        assert.strictEqual(yield* Queue.size(got), 0)
      }).pipe(Effect.scoped, Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix: star })))
    }))

  it.live("a payload with no JSON form is an EventBusError naming the path", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(
        EventBus.publishEncoded("demo.big.sent", { n: BigInt(1) }).pipe(
          Effect.provide(RedisEventBus.layer({ url: REDIS_URL, prefix: `${runPrefix}big:` }))
        )
      )
      assert.strictEqual(err._tag, "EventBusError")
      assert.include(err.message, "at n")
    }))

  it.live("a bad URL is a typed EventBusError", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(
        EventBus.publishEncoded("a.b.c", 1).pipe(
          Effect.provide(RedisEventBus.layer({ url: "redis://127.0.0.1:1", prefix: "x:" }))
        )
      )
      assert.strictEqual(err._tag, "EventBusError")
    }))
})
