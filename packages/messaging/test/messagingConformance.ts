/**
 * The behaviour every `Messaging` store must have (`suite`), run against the memory store here,
 * SQLite in @braid/sqlite and PostgreSQL in @braid/postgres (imported by relative path).
 */
import { Errors as CoordinationErrors, Messaging } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Queue, Schema } from "effect"

/** A prefix of this run's agent names. */
export const run = `r${process.pid}x${Date.now().toString(36)}`

/** The behaviour every store must have. `layer` gives a fresh service over the same storage. */
export const suite = (name: string, layer: () => Layer.Layer<Messaging.Messaging, unknown>) =>
  describe(`Messaging: ${name}`, () => {
    let n = 0
    const agent = (role: string) => `${run}-${name}-${n++}-${role}`
    /** Registers the agents (messages go to registered agents only). */
    const register = (m: Messaging.Service, ...names: ReadonlyArray<string>) =>
      Effect.forEach(names, (name) => m.registry.register({ name }), { discard: true })

    it.live("send, unread in order, mark as read", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const id1 = yield* m.send(a, b, { n: 1 })
        yield* m.send(a, b, { n: 2 })
        yield* m.send(b, a, "not for b")
        const unread = yield* m.inbox(b).unread
        assert.deepStrictEqual(unread.map((x) => x.body), [{ n: 1 }, { n: 2 }])
        assert.deepStrictEqual([unread[0]!.from, unread[0]!.to, unread[0]!.kind, unread[0]!.id], [a, b, "message", id1])
        yield* m.inbox(b).markRead(id1)
        assert.deepStrictEqual((yield* m.inbox(b).unread).map((x) => x.body), [{ n: 2 }])
      }).pipe(Effect.provide(layer())))

    it.live("waitForMessage returns at once, waits for an arrival, or gives None after the timeout", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const b = agent("b")
        yield* register(m, b)
        assert.isTrue(Option.isNone(yield* m.inbox(b).waitForMessage("50 millis")))
        const waiting = yield* Effect.fork(m.inbox(b).waitForMessage("5 seconds"))
        yield* Effect.sleep("20 millis")
        yield* m.send(agent("a"), b, "hello")
        const got = yield* Fiber.join(waiting)
        assert.strictEqual(Option.getOrThrow(got).body, "hello")
      }).pipe(Effect.provide(layer())))

    it.live("request/reply: the handler's result is the reply; no reply in time is RequestTimedOut", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [asker, critic, sleeper] = [agent("asker"), agent("critic"), agent("sleeper")]
        yield* register(m, asker, critic, sleeper)
        yield* m.serve(critic, (msg) => Effect.succeed({ verdict: `ok: ${(msg.body as { draft: string }).draft}` }))
        const answer = yield* m.request(asker, critic, { draft: "v1" }, { timeout: "5 seconds" })
        assert.deepStrictEqual(answer, { verdict: "ok: v1" })
        assert.deepStrictEqual(yield* m.inbox(asker).unread, [], "replies are consumed by the request")
        const err = yield* Effect.flip(m.request(asker, sleeper, "anyone?", { timeout: "100 millis" }))
        assert.strictEqual(err._tag, "RequestTimedOut")
        assert.strictEqual((err as { to: string }).to, sleeper)
      }).pipe(Effect.scoped, Effect.provide(layer())))

    it.live("a body with no JSON form, or a bad address, is refused with MessageInvalid naming the path; nothing is stored", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const cyclic: Record<string, unknown> = { x: 1 }
        cyclic["self"] = cyclic
        const deep: Array<unknown> = []
        let cur = deep
        for (let i = 0; i < 1500; i++) cur.push(cur = [])
        const cases: Array<[unknown, string]> = [
          [{ n: BigInt(1) }, "n"],
          [cyclic, "self"],
          [{ a: [1, Number.NaN] }, "a[1]"],
          [{ a: { b: Infinity } }, "a.b"],
          [JSON.parse("{\"ok\": {\"__proto__\": {\"admin\": true}}}"), "ok"],
          [deep, "(root)"]
        ]
        for (const [body, where] of cases) {
          const err = yield* Effect.flip(m.send(a, b, body))
          assert.instanceOf(err, CoordinationErrors.MessageInvalid)
          assert.strictEqual((err as CoordinationErrors.MessageInvalid).field, "body")
          if (where !== "(root)") assert.include((err as CoordinationErrors.MessageInvalid).path, where)
          const r = yield* Effect.flip(m.request(a, b, body, { timeout: "1 second" }))
          assert.strictEqual(r._tag, "MessageInvalid")
        }
        for (
          const [from, to] of [["", b], [a, ""], [42 as unknown as string, b], [
            a,
            undefined as unknown as string
          ]] as const
        ) {
          const err = yield* Effect.flip(m.send(from, to, "hi"))
          assert.strictEqual(err._tag, "MessageInvalid")
        }
        assert.deepStrictEqual(yield* m.inbox(b).unread, [], "nothing was stored")
      }).pipe(Effect.provide(layer())))

    it.live("the body is copied on the way in: a later change of the caller's object does not change the message", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const body = { items: [1, 2], meta: { at: new Date(0) } }
        yield* m.send(a, b, body)
        body.items.push(3)
        body.meta.at = new Date(1)
        const [got] = yield* m.inbox(b).unread
        assert.deepStrictEqual(got!.body, { items: [1, 2], meta: { at: "1970-01-01T00:00:00.000Z" } })
        ;(got!.body as { items: Array<number> }).items.push(99) // a reader's change stays with the reader
        assert.deepStrictEqual(((yield* m.inbox(b).unread)[0]!.body as { items: Array<number> }).items, [1, 2])
      }).pipe(Effect.provide(layer())))

    it.live("idempotency keys: a repeated send or request with a key stores nothing and returns the first id", () =>
      Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b, critic] = [agent("a"), agent("b"), agent("critic")]
        yield* register(m, a, b, critic)
        const key = `${agent("key")}/step\u001f1`
        const first = yield* m.send(a, b, { n: 1 }, { idempotencyKey: key })
        // the same key again, with another body, and from a new service over the same storage (a restart)
        assert.strictEqual(yield* m.send(a, b, { n: 2 }, { idempotencyKey: key }), first)
        const again = yield* Effect.provide(
          Effect.flatMap(Messaging.Messaging, (m2) => m2.send(a, b, { n: 3 }, { idempotencyKey: key })),
          layer()
        )
        assert.strictEqual(again, first)
        // concurrent repeats: one message
        const ids = yield* Effect.all(
          Array.from({ length: 8 }, () => m.send(a, b, "race", { idempotencyKey: `${key}-race` })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(new Set(ids).size, 1)
        // without a key, or with another key, a send is new; a typed send takes the key too
        yield* m.send(a, b, { n: 4 })
        yield* m.typed(Schema.Struct({ n: Schema.Number })).send(a, b, { n: 5 }, { idempotencyKey: `${key}-typed` })
        yield* m.typed(Schema.Struct({ n: Schema.Number })).send(a, b, { n: 6 }, { idempotencyKey: `${key}-typed` })
        const unread = yield* m.inbox(b).unread
        assert.deepStrictEqual(unread.map((x) => x.body), [{ n: 1 }, "race", { n: 4 }, { n: 5 }])
        // the key is per organization
        const other = yield* m.forOrganization(`${run}-other`)
        yield* other.registry.register({ name: b })
        assert.notStrictEqual(yield* other.send(a, b, { n: 1 }, { idempotencyKey: key }), first)
        // a request repeated with its key (its first try timed out, unanswered) waits for the first
        // request's reply: the critic saw one request
        const asked = yield* Effect.flip(
          m.request(a, critic, "q", { timeout: "50 millis", idempotencyKey: `${key}-request` })
        )
        assert.strictEqual(asked._tag, "RequestTimedOut")
        let requests = 0
        yield* m.serve(critic, (msg) => Effect.sync(() => ({ seen: ++requests, body: msg.body })))
        const answer = yield* m.request(a, critic, "q again", {
          timeout: "10 seconds",
          idempotencyKey: `${key}-request`
        })
        assert.deepStrictEqual(answer, { seen: 1, body: "q" })
        // a bad key is refused, naming the field; nothing is stored
        for (const bad of ["", 42, "x".repeat(1025), "nul\u0000"]) {
          const e = yield* Effect.flip(m.send(a, b, "bad", { idempotencyKey: bad as string }))
          assert.strictEqual(e._tag, "MessageInvalid")
          assert.strictEqual((e as CoordinationErrors.MessageInvalid).field, "idempotencyKey")
        }
        assert.strictEqual((yield* m.inbox(b).unread).length, 4)
        // a key applied already wins over the guard: the repeat to an unregistered agent returns the first id
        yield* m.registry.unregister(b)
        assert.strictEqual(yield* m.send(a, b, { n: 1 }, { idempotencyKey: key }), first)
        const missing = yield* Effect.flip(m.send(a, b, "x", { idempotencyKey: `${key}-new` }))
        assert.strictEqual(missing._tag, "AgentNotFound")
      }).pipe(Effect.scoped, Effect.provide(layer())))

    it.live("pending messages survive a restart and are delivered, in order, when the handler resumes", () =>
      Effect.gen(function*() {
        const [a, b] = [agent("a"), agent("b")]
        // First life: messages arrive while b has no handler.
        yield* Effect.gen(function*() {
          const m = yield* Messaging.Messaging
          yield* register(m, a, b)
          for (let i = 1; i <= 3; i++) yield* m.send(a, b, i)
        }).pipe(Effect.provide(layer()))
        // Second life (a new service and connection): b's handler starts and gets them.
        yield* Effect.gen(function*() {
          const m = yield* Messaging.Messaging
          const got = yield* Queue.unbounded<unknown>()
          const failedOnce = yield* Deferred.make<void>()
          yield* m.serve(b, (msg) =>
            msg.body === 2
              ? Effect.flatMap(Deferred.succeed(failedOnce, undefined), (first) =>
                first ? Effect.fail("transient") : Queue.offer(got, msg.body))
              : Queue.offer(got, msg.body))
          yield* m.send(a, b, 4)
          const items = yield* Effect.all(Array.from({ length: 4 }, () => Queue.take(got))).pipe(
            Effect.timeout("10 seconds")
          )
          assert.deepStrictEqual(items, [1, 2, 3, 4], "in order; the failed message was retried before the next ones")
          // each message is marked read once its handler has returned (shortly after we saw it)
          let unread = yield* m.inbox(b).unread
          for (let i = 0; i < 250 && unread.length > 0; i++) {
            yield* Effect.sleep("20 millis")
            unread = yield* m.inbox(b).unread
          }
          assert.deepStrictEqual(unread, [])
        }).pipe(Effect.scoped, Effect.provide(layer()))
      }))
  })
