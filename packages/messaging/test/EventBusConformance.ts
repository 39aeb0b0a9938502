/**
 * The conformance suite of `EventBus`: every transport must pass it unchanged.
 */
import { Errors as CoordinationErrors, EventBus } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Queue, Schema, Stream } from "effect"

const Joined = EventBus.channel("meeting.participant.joined", Schema.Struct({ name: Schema.String, at: Schema.Number }))
const Left = EventBus.channel("meeting.participant.left", Schema.Struct({ name: Schema.String }))
const AnyParticipant = EventBus.channel("meeting.participant.*", Schema.Struct({ name: Schema.String }))
const Dated = EventBus.channel("demo.clock.ticked", Schema.Struct({ at: Schema.DateFromString }))

const takeN = <A>(queue: Queue.Queue<A>, n: number) =>
  Effect.timeoutFail(Effect.all(Array.from({ length: n }, () => Queue.take(queue))), {
    duration: "5 seconds",
    onTimeout: () => new Error(`expected ${n} items in time`)
  })

/** Nothing more arrives within `millis`. */
const quiet = <A>(queue: Queue.Queue<A>, millis = 150) =>
  Effect.gen(function*() {
    yield* Effect.sleep(millis)
    return yield* Queue.size(queue)
  })

export const conformance = (name: string, makeLayer: () => Layer.Layer<EventBus.EventBus, unknown>) =>
  describe(`EventBus conformance: ${name}`, () => {
    const run = <A, E>(body: Effect.Effect<A, E, EventBus.EventBus | import("effect").Scope.Scope>) =>
      Effect.scoped(body).pipe(Effect.provide(makeLayer()))

    it.live("delivers typed events to a subscriber, in order", () =>
      run(Effect.gen(function*() {
        const got = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(Joined, (e, ch) => Queue.offer(got, `${ch}:${e.name}:${e.at}`))
        for (let i = 0; i < 20; i++) yield* EventBus.publish(Joined, { name: `p${i}`, at: i })
        const items = yield* takeN(got, 20)
        assert.deepStrictEqual(items, Array.from({ length: 20 }, (_, i) => `meeting.participant.joined:p${i}:${i}`))
      })))

    it.live("every subscriber gets every event; other channels are not delivered", () =>
      run(Effect.gen(function*() {
        const a = yield* Queue.unbounded<string>()
        const b = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(Joined, (e) => Queue.offer(a, e.name))
        yield* EventBus.subscribe(Joined, (e) => Queue.offer(b, e.name))
        yield* EventBus.publish(Left, { name: "nobody" })
        yield* EventBus.publish(Joined, { name: "x", at: 1 })
        yield* EventBus.publish(Joined, { name: "y", at: 2 })
        assert.deepStrictEqual(yield* takeN(a, 2), ["x", "y"])
        assert.deepStrictEqual(yield* takeN(b, 2), ["x", "y"])
        assert.strictEqual(yield* quiet(a), 0)
      })))

    it.live("a wildcard subscription gets the matching channels only", () =>
      run(Effect.gen(function*() {
        const got = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(AnyParticipant, (e, ch) => Queue.offer(got, `${ch}:${e.name}`))
        yield* EventBus.publish(Joined, { name: "ann", at: 0 })
        yield* EventBus.publishEncoded("meeting.session.started", { name: "not me" })
        yield* EventBus.publish(Left, { name: "ann" })
        assert.deepStrictEqual(yield* takeN(got, 2), ["meeting.participant.joined:ann", "meeting.participant.left:ann"])
        assert.strictEqual(yield* quiet(got), 0)
      })))

    it.live("overlapping subscriptions in one process (a.b.c and a.*.*) each get an event exactly once", () =>
      run(Effect.gen(function*() {
        const exact = yield* Queue.unbounded<string>()
        const wide = yield* Queue.unbounded<string>()
        const middle = yield* Queue.unbounded<string>()
        const exact2 = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(Joined, (e) => Queue.offer(exact, e.name))
        yield* EventBus.subscribe(
          EventBus.channel("meeting.*.*", Schema.Struct({ name: Schema.String })),
          (e, ch) => Queue.offer(wide, `${ch}:${e.name}`)
        )
        yield* EventBus.subscribe(AnyParticipant, (e) => Queue.offer(middle, e.name))
        yield* EventBus.subscribe(Joined, (e) => Queue.offer(exact2, e.name)) // a second subscription to the same pattern
        yield* EventBus.publish(Joined, { name: "once", at: 1 })
        yield* EventBus.publish(Left, { name: "left" })
        assert.deepStrictEqual(yield* takeN(exact, 1), ["once"])
        assert.deepStrictEqual(yield* takeN(exact2, 1), ["once"])
        assert.deepStrictEqual(yield* takeN(middle, 2), ["once", "left"])
        assert.deepStrictEqual(yield* takeN(wide, 2), [
          "meeting.participant.joined:once",
          "meeting.participant.left:left"
        ])
        const sizes = yield* Effect.all([quiet(exact), quiet(exact2, 0), quiet(middle, 0), quiet(wide, 0)])
        assert.deepStrictEqual(sizes, [0, 0, 0, 0], "no second copy")
      })))

    it.live("events are encoded and decoded with the channel schema (a Date travels as a string)", () =>
      run(Effect.gen(function*() {
        const got = yield* Queue.unbounded<Date>()
        yield* EventBus.subscribe(Dated, (e) => Queue.offer(got, e.at))
        yield* EventBus.publish(Dated, { at: new Date("2026-01-02T03:04:05.000Z") })
        const [at] = yield* takeN(got, 1)
        assert.instanceOf(at, Date)
        assert.strictEqual(at!.toISOString(), "2026-01-02T03:04:05.000Z")
      })))

    it.live("bad channel names are typed errors on publish and subscribe", () =>
      run(Effect.gen(function*() {
        for (
          const bad of [
            "Meeting.participant.joined",
            "meeting.joined",
            "a.b.c.d",
            "meeting..joined",
            "1a.b.c",
            "a.b.c d",
            "a.*.c"
          ]
        ) {
          const exit = yield* Effect.exit(EventBus.publishEncoded(bad, {}))
          assert.isTrue(Exit.isFailure(exit), bad)
          const err = yield* Effect.flip(EventBus.publishEncoded(bad, {}))
          assert.instanceOf(err, CoordinationErrors.InvalidChannel)
        }
        const sub = yield* Effect.flip(
          EventBus.subscribe(EventBus.channel("Bad.Name", Schema.Unknown), () => Effect.void)
        )
        assert.strictEqual(sub._tag, "InvalidChannel")
      })))

    it.live("a payload that does not decode is reported, counted, and the subscription goes on", () =>
      run(Effect.gen(function*() {
        const got = yield* Queue.unbounded<string>()
        const invalid = yield* Queue.unbounded<CoordinationErrors.InvalidEvent>()
        const sub = yield* EventBus.subscribe(Joined, (e) => Queue.offer(got, e.name), {
          onInvalid: (e) => Queue.offer(invalid, e)
        })
        yield* EventBus.publishEncoded("meeting.participant.joined", { name: 42 })
        yield* EventBus.publish(Joined, { name: "ok", at: 1 })
        const [bad] = yield* takeN(invalid, 1)
        assert.strictEqual(bad!.channel, "meeting.participant.joined")
        assert.isAbove(bad!.issues.length, 0)
        assert.deepStrictEqual(yield* takeN(got, 1), ["ok"])
        const stats = yield* sub.stats
        assert.strictEqual(stats.invalid, 1)
        assert.strictEqual(stats.handled, 1)
      })))

    it.live("a failing or dying subscriber does not affect the others (or its own later events)", () =>
      run(Effect.gen(function*() {
        const good = yield* Queue.unbounded<number>()
        const errors = yield* Queue.unbounded<string>()
        const failing = yield* EventBus.subscribe(Joined, (e) => e.at % 2 === 0 ? Effect.fail("even") : Effect.void, {
          onError: () => Queue.offer(errors, "fail")
        })
        const dying = yield* EventBus.subscribe(Joined, () => Effect.die(new Error("crash")), {
          onError: () => Queue.offer(errors, "die")
        })
        yield* EventBus.subscribe(Joined, (e) => Queue.offer(good, e.at))
        for (let i = 0; i < 10; i++) yield* EventBus.publish(Joined, { name: "n", at: i })
        assert.deepStrictEqual(yield* takeN(good, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        yield* takeN(errors, 15)
        const f = yield* failing.stats
        const d = yield* dying.stats
        assert.deepStrictEqual([f.received, f.failed, f.handled], [10, 5, 5])
        assert.deepStrictEqual([d.received, d.failed], [10, 10])
      })))

    it.live("a subscription ends with its scope", () =>
      run(Effect.gen(function*() {
        const got = yield* Queue.unbounded<string>()
        yield* Effect.scoped(Effect.gen(function*() {
          yield* EventBus.subscribe(Left, (e) => Queue.offer(got, e.name))
          yield* EventBus.publish(Left, { name: "during" })
          yield* takeN(got, 1)
        }))
        const watcher = yield* Queue.unbounded<string>()
        yield* EventBus.subscribe(Left, (e) => Queue.offer(watcher, e.name))
        yield* EventBus.publish(Left, { name: "after" })
        yield* takeN(watcher, 1)
        assert.strictEqual(yield* quiet(got), 0)
      })))

    it.live("stream() follows a channel", () =>
      run(Effect.gen(function*() {
        const fiber = yield* Effect.fork(EventBus.stream(Left).pipe(Stream.take(3), Stream.runCollect))
        // The stream subscribes when it starts: publish until it has taken three.
        for (let i = 0; i < 250 && fiber.unsafePoll() === null; i++) {
          yield* EventBus.publish(Left, { name: String(i) })
          yield* Effect.sleep(20)
        }
        const items = yield* fiber.await.pipe(Effect.flatten, Effect.timeout("5 seconds"))
        const got = [...items].map((r) => Number(r.event.name))
        assert.strictEqual(got.length, 3)
        assert.deepStrictEqual(got, [got[0]!, got[0]! + 1, got[0]! + 2], "three consecutive events, in order")
      })))
  })
