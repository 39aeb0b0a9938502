/**
 * The registry, organizations, conversations, engagement locks, typed bodies and history every
 * messaging backend must have (`agentsSuite`), and the lease behaviour of every lock store on the
 * TestClock (`lockSuite`). Run against memory here, SQLite in @braid/sqlite and PostgreSQL in
 * @braid/postgres (imported by relative path).
 */
import { WorkflowContext } from "@braid/core"
import { Errors as MessagingErrors, Lock, Messaging } from "@braid/messaging"
import { assert, describe, it } from "@effect/vitest"
import {
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  FastCheck as fc,
  Fiber,
  Layer,
  Option,
  Queue,
  Schema,
  Scope,
  TestClock,
  TestServices
} from "effect"
import { run } from "./messagingConformance.js"

type Env = Messaging.Messaging | Lock.Lock

const Draft = Schema.Struct({ draft: Schema.String, words: Schema.Number, at: Schema.DateFromString })

/**
 * Every one of `locks` (one per contender: the same service, or services on separate pools)
 * tries to acquire `target` at once and holds it until all have tried: exactly one wins, the
 * others are `AgentBusy`.
 */
export const contend = (locks: ReadonlyArray<Lock.Service>, target: string) =>
  Effect.gen(function*() {
    const release = yield* Deferred.make<void>()
    const fibers = yield* Effect.forEach(
      locks,
      (lock, i) =>
        Effect.scoped(Effect.zipRight(lock.acquire(target, `holder-${i}`), Deferred.await(release))).pipe(
          Effect.either,
          Effect.fork
        ),
      { concurrency: "unbounded" }
    )
    yield* Effect.sleep("300 millis")
    yield* Deferred.succeed(release, undefined)
    const outcomes = yield* Effect.forEach(fibers, Fiber.join)
    assert.strictEqual(outcomes.filter(Either.isRight).length, 1, "exactly one holder")
    for (const o of outcomes.filter(Either.isLeft)) assert.strictEqual(o.left._tag, "AgentBusy")
  })

/** The behaviour every backend must have. `layer` gives a fresh service over the same storage. */
export const agentsSuite = (
  name: string,
  layer: () => Layer.Layer<Env, unknown>,
  options: { readonly fuzzRuns?: number } = {}
) =>
  describe(`Messaging agents: ${name}`, () => {
    let n = 0
    const agent = (role: string) => `${run}-${name}-a${n++}-${role}`
    const register = (m: Messaging.Service, ...names: ReadonlyArray<string>) =>
      Effect.forEach(names, (name) => m.registry.register({ name }), { discard: true })
    const live = <A, E>(body: Effect.Effect<A, E, Env | Scope.Scope>) =>
      Effect.scoped(body).pipe(Effect.provide(layer()))

    it.live("registry: register, look up, list by capability and status, update, unregister", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [critic, writer] = [agent("critic"), agent("writer")]
        const first = yield* m.registry.register({ name: critic, capabilities: ["review", "edit", "review"] })
        assert.deepStrictEqual([first.name, first.organization, first.capabilities, first.status], [
          critic,
          "default",
          ["review", "edit"],
          "online"
        ])
        yield* m.registry.register({ name: writer, capabilities: ["write"], status: "offline" })
        const reviewers = yield* m.registry.list({ capability: "review" })
        assert.deepStrictEqual(reviewers.filter((a) => a.name.startsWith(run)).map((a) => a.name), [critic])
        const offline = yield* m.registry.list({ status: "offline" })
        assert.include(offline.map((a) => a.name), writer)
        assert.notInclude(offline.map((a) => a.name), critic)
        const updated = yield* m.registry.setStatus(critic, "offline")
        assert.strictEqual(updated.status, "offline")
        assert.strictEqual(updated.registeredAt, first.registeredAt, "an update keeps the registration time")
        assert.deepStrictEqual(updated.capabilities, ["review", "edit"])
        yield* m.registry.unregister(critic)
        const gone = yield* Effect.flip(m.registry.lookup(critic))
        assert.strictEqual(gone._tag, "AgentNotFound")
        assert.strictEqual((yield* Effect.flip(m.registry.unregister(critic)))._tag, "AgentNotFound")
      })))

    it.live("send, request and a conversation to an unknown agent are AgentNotFound, and nothing is stored", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, ghost] = [agent("a"), agent("ghost")]
        yield* register(m, a)
        const sent = yield* Effect.flip(m.send(a, ghost, "hello?"))
        assert.instanceOf(sent, MessagingErrors.AgentNotFound)
        assert.strictEqual((sent as MessagingErrors.AgentNotFound).agent, ghost)
        const asked = yield* Effect.flip(m.request(a, ghost, "anyone?", { timeout: "10 seconds" }))
        assert.strictEqual(asked._tag, "AgentNotFound", "at once, not a timeout")
        const talk = yield* Effect.flip(m.startConversation({ from: a, to: ghost, topic: "t" }))
        assert.strictEqual(talk._tag, "AgentNotFound")
        assert.deepStrictEqual(yield* m.inbox(ghost).unread, [])
        assert.deepStrictEqual((yield* m.history({ from: a })).messages, [])
      })))

    it.live("organizations: an agent of one organization cannot see or message another's", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const acme = yield* m.forOrganization(`${run}-acme`)
        const globex = yield* m.forOrganization(`${run}-globex`)
        const [bot, spy] = [agent("bot"), agent("spy")]
        yield* register(acme, bot)
        yield* register(globex, spy)
        yield* register(m, bot) // the same name in the default organization is another agent
        assert.strictEqual((yield* Effect.flip(globex.send(spy, bot, "hi")))._tag, "AgentNotFound")
        assert.strictEqual((yield* Effect.flip(globex.registry.lookup(bot)))._tag, "AgentNotFound")
        assert.notInclude((yield* globex.registry.list()).map((a) => a.name), bot)
        yield* acme.send(agent("x"), bot, "for acme's bot")
        assert.deepStrictEqual((yield* acme.inbox(bot).unread).map((x) => x.body), ["for acme's bot"])
        assert.deepStrictEqual(yield* m.inbox(bot).unread, [], "the default organization's bot got nothing")
        assert.deepStrictEqual(yield* globex.inbox(bot).unread, [])
        assert.deepStrictEqual((yield* globex.history()).messages, [])
        assert.strictEqual((yield* acme.registry.lookup(bot)).organization, `${run}-acme`)
        // the organization of a run is its tenant, as for memory scopes
        const ofRun = yield* m.forRun.pipe(
          Effect.provideServiceEffect(
            WorkflowContext.WorkflowContext,
            WorkflowContext.make({ tenantId: `${run}-acme` })
          )
        )
        assert.deepStrictEqual((yield* ofRun.inbox(bot).unread).map((x) => x.body), ["for acme's bot"])
        assert.strictEqual((yield* m.forRun).organization, "default", "no run, or a run without a tenant")
        for (const bad of ["", "a\u0000b", "x".repeat(513), 42 as unknown as string]) {
          const e = yield* Effect.flip(m.forOrganization(bad))
          assert.strictEqual(e._tag, "InvalidInput")
          assert.strictEqual(e.field, "organization")
        }
      })))

    it.live("a conversation: start, exchange, end with a closing message; state and history", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [planner, critic, outsider] = [agent("planner"), agent("critic"), agent("outsider")]
        yield* register(m, planner, critic, outsider)
        const seen = yield* Queue.unbounded<Messaging.Message>()
        yield* m.serve(critic, (msg) => Queue.offer(seen, msg))
        const talk = yield* m.startConversation({ from: planner, to: critic, topic: "launch plan" })
        assert.deepStrictEqual([talk.topic, talk.participants], ["launch plan", [planner, critic]])
        const open = yield* talk.state
        assert.deepStrictEqual([open.state, open.endedAt, open.id], ["open", undefined, talk.id])
        yield* talk.say(planner, "first draft")
        const got = yield* Queue.take(seen).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual([got.body, got.conversationId, got.from], ["first draft", talk.id, planner])
        // the other participant, as another process would: by id
        const other = yield* m.conversation(talk.id)
        yield* other.say(critic, "too long")
        const refused = yield* Effect.flip(talk.say(outsider, "me too"))
        assert.deepStrictEqual([refused._tag, (refused as MessagingErrors.ConversationRefused).reason], [
          "ConversationRefused",
          "not a participant"
        ])
        yield* other.end(critic, "approved after cuts")
        const ended = yield* talk.state
        assert.deepStrictEqual([ended.state, ended.endedBy], ["ended", critic])
        assert.isNumber(ended.endedAt)
        const late = yield* Effect.flip(talk.say(planner, "one more thing"))
        assert.strictEqual((late as MessagingErrors.ConversationRefused).reason, "ended")
        assert.strictEqual((yield* Effect.flip(talk.end(planner, "bye")))._tag, "ConversationRefused")
        const history = yield* talk.history()
        assert.deepStrictEqual(history.messages.map((x) => [x.from, x.kind, x.body]), [
          [planner, "message", "first draft"],
          [critic, "message", "too long"],
          [critic, "closing", "approved after cuts"]
        ])
        const closing = (yield* m.inbox(planner).unread).find((x) => x.kind === "closing")
        assert.strictEqual(closing?.body, "approved after cuts", "the closing message reaches the other participant")
        assert.strictEqual((yield* Effect.flip(m.conversation("no-such-id")))._tag, "ConversationNotFound")
      })))

    it.live("locking: an engaged agent is busy (AgentBusy at once by default, or a bounded wait), free again after end", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b, c] = [agent("a"), agent("b"), agent("c")]
        yield* register(m, a, b, c)
        const talk = yield* m.startConversation({ from: a, to: b, topic: "one" })
        assert.strictEqual((yield* m.registry.lookup(b)).status, "busy")
        assert.include((yield* m.registry.list({ status: "busy" })).map((x) => x.name), b)
        const busy = yield* Effect.flip(m.startConversation({ from: c, to: b, topic: "two" }))
        assert.instanceOf(busy, MessagingErrors.AgentBusy)
        assert.deepStrictEqual(
          [(busy as MessagingErrors.AgentBusy).agent, (busy as MessagingErrors.AgentBusy).holder],
          [
            b,
            talk.id
          ]
        )
        assert.strictEqual((yield* m.registry.lookup(c)).status, "online", "the refused starter was not left locked")
        // a waiting start gets b once the first conversation ends
        const waiting = yield* Effect.fork(
          m.startConversation({ from: c, to: b, topic: "three", lock: { wait: "20 seconds", retryEvery: "20 millis" } })
        )
        yield* Effect.sleep("50 millis")
        yield* talk.end(a, "done")
        const second = yield* Fiber.join(waiting)
        assert.strictEqual((yield* second.state).state, "open")
        assert.strictEqual((yield* m.registry.lookup(a)).status, "online")
        const timedOut = yield* Effect.flip(
          m.startConversation({ from: a, to: c, topic: "four", lock: { wait: "100 millis", retryEvery: "20 millis" } })
        )
        assert.strictEqual(timedOut._tag, "AgentBusy")
        assert.isAtLeast((timedOut as MessagingErrors.AgentBusy).waitedMillis, 100)
      })))

    it.live("closing the starter's scope (an interruption) ends the conversation and frees both agents", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const started = yield* Deferred.make<string>()
        const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
          const talk = yield* m.startConversation({ from: a, to: b, topic: "interrupted" })
          yield* Deferred.succeed(started, talk.id)
          return yield* Effect.never
        })))
        const id = yield* Deferred.await(started)
        assert.strictEqual((yield* m.registry.lookup(a)).status, "busy")
        yield* Fiber.interrupt(fiber)
        const state = yield* Effect.flatMap(m.conversation(id), (c) => c.state)
        assert.deepStrictEqual([state.state, state.endedBy], ["ended", undefined])
        assert.deepStrictEqual([(yield* m.registry.lookup(a)).status, (yield* m.registry.lookup(b)).status], [
          "online",
          "online"
        ])
      })))

    it.live("cross-fiber contention: of 8 concurrent acquisitions of one agent exactly one wins", () =>
      live(Effect.gen(function*() {
        const lock = yield* Lock.Lock
        const target = agent("contended")
        yield* contend(Array.from({ length: 8 }, () => lock), target)
        assert.isTrue(Option.isNone(yield* lock.holderOf(target)), "released with the winner's scope")
      })))

    it.live("typed bodies: invalid on send is MessageInvalid naming the field; undecodable on receipt is BodyInvalid", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const drafts = m.typed(Draft)
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const at = new Date("2026-01-02T03:04:05.000Z")
        yield* drafts.send(a, b, { draft: "v1", words: 3, at })
        const bad = yield* Effect.flip(drafts.send(a, b, { draft: "v2", words: "many" as unknown as number, at }))
        assert.deepStrictEqual([bad._tag, (bad as MessagingErrors.MessageInvalid).path], ["MessageInvalid", "words"])
        yield* m.send(a, b, { draft: "v3" }) // an untyped sender, a wrong shape
        const raw = yield* m.inbox(b).unread
        assert.strictEqual(raw.length, 2, "the invalid typed body was not stored")
        const first = yield* drafts.decode(raw[0]!)
        assert.instanceOf(first.body.at, Date)
        assert.strictEqual(first.body.at.toISOString(), at.toISOString())
        const undecodable = yield* Effect.flip(drafts.decode(raw[1]!))
        assert.deepStrictEqual([undecodable._tag, undecodable.messageId, undecodable.path], [
          "BodyInvalid",
          raw[1]!.id,
          "words"
        ])
        assert.strictEqual((yield* Effect.flip(drafts.unread(b)))._tag, "BodyInvalid")
        // typed serve: the bad message goes to onInvalid and is marked read; delivery goes on
        const good = yield* Queue.unbounded<string>()
        const invalid = yield* Queue.unbounded<string>()
        yield* drafts.serve(b, (msg) => Queue.offer(good, msg.body.draft), {
          onInvalid: (e) => Queue.offer(invalid, e.path)
        })
        yield* drafts.send(a, b, { draft: "v4", words: 5, at })
        const delivered = yield* Effect.all([Queue.take(good), Queue.take(good)]).pipe(Effect.timeout("10 seconds"))
        assert.deepStrictEqual(delivered, ["v1", "v4"])
        assert.deepStrictEqual(yield* Queue.take(invalid), "words")
        // a typed request: the reply is decoded with its own Schema
        const oracle = agent("oracle")
        yield* register(m, oracle)
        yield* m.serve(oracle, (msg) => Effect.succeed({ words: (msg.body as { words: number }).words * 2 }))
        const Answer = Schema.Struct({ words: Schema.Number })
        const doubled = yield* drafts.request(a, oracle, { draft: "d", words: 21, at }, {
          timeout: "10 seconds",
          reply: Answer
        })
        assert.deepStrictEqual(doubled, { words: 42 })
        const wrongReply = yield* Effect.flip(
          drafts.request(a, oracle, { draft: "d", words: 1, at }, {
            timeout: "10 seconds",
            reply: Schema.Struct({ words: Schema.String })
          })
        )
        assert.deepStrictEqual([wrongReply._tag, (wrongReply as MessagingErrors.BodyInvalid).path], [
          "BodyInvalid",
          "words"
        ])
        // a typed conversation
        const [c, d] = [agent("c"), agent("d")]
        yield* register(m, c, d)
        const talk = yield* m.startConversation({ from: c, to: d, topic: "typed", body: Draft })
        yield* talk.say(c, { draft: "x", words: 1, at })
        const refused = yield* Effect.flip(talk.say(d, { draft: 7 as unknown as string, words: 1, at }))
        assert.strictEqual((refused as MessagingErrors.MessageInvalid).path, "draft")
        const page = yield* talk.history()
        assert.instanceOf(page.messages[0]!.body.at, Date)
      })))

    it.live("history by sender is cursor-paginated in a stable order, with no duplicates or gaps", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b, c] = [agent("a"), agent("b"), agent("c")]
        yield* register(m, b, c)
        const ids: Array<string> = []
        for (let i = 0; i < 7; i++) ids.push(yield* m.send(a, i % 2 === 0 ? b : c, i))
        yield* m.send(b, c, "not from a")
        const seen: Array<unknown> = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page: Messaging.HistoryPage<unknown> = yield* m.history({
            from: a,
            limit: 3,
            ...(cursor !== undefined ? { cursor } : {})
          })
          seen.push(...page.messages.map((x) => x.body))
          cursor = page.next
          pages++
        } while (cursor !== undefined && pages < 10)
        assert.deepStrictEqual(seen, [0, 1, 2, 3, 4, 5, 6])
        assert.strictEqual(pages, 3)
        assert.deepStrictEqual((yield* m.history({ from: a, to: c })).messages.map((x) => x.body), [1, 3, 5])
        yield* m.inbox(b).markRead(ids[0]!)
        const again = yield* m.history({ from: a, limit: 1 })
        assert.deepStrictEqual([again.messages[0]!.body, typeof again.messages[0]!.readAt], [0, "number"])
        for (
          const [query, field] of [
            [{ cursor: "garbage" }, "cursor"],
            [{ limit: 0 }, "limit"],
            [{ limit: 1.5 }, "limit"],
            [{ limit: 5000 }, "limit"],
            [{ from: "" }, "from"]
          ] as const
        ) {
          const e = yield* Effect.flip(m.history(query))
          assert.deepStrictEqual([e._tag, (e as MessagingErrors.InvalidInput).field], ["InvalidInput", field])
        }
      })))

    it.live("wrong-typed arguments of every entry fail typed, naming the argument; nothing crashes", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const [a, b] = [agent("a"), agent("b")]
        yield* register(m, a, b)
        const wrong = <T>(value: unknown) => value as T
        const cases = [
          [m.history(wrong(null)), "InvalidInput", "query"],
          [m.history(wrong([1])), "InvalidInput", "query"],
          [m.registry.list(wrong(42)), "InvalidInput", "filter"],
          [m.registry.list({ status: wrong("asleep") }), "InvalidInput", "status"],
          [m.registry.register(wrong(null)), "InvalidInput", "(root)"],
          [m.registry.register({ name: a, capabilities: wrong("review") }), "InvalidInput", "capabilities"],
          [
            Effect.scoped(m.startConversation(wrong<Messaging.StartConversation<unknown, unknown>>(null))),
            "InvalidInput",
            "options"
          ],
          [
            Effect.scoped(m.startConversation({ from: a, to: b, topic: "t", body: wrong<Schema.Schema<unknown>>({}) })),
            "InvalidInput",
            "body"
          ],
          [Effect.scoped(m.startConversation({ from: a, to: a, topic: "t" })), "InvalidInput", "to"],
          [m.request(a, b, 1, wrong(undefined)), "MessageInvalid", "timeout"],
          [m.request(a, b, 1, { timeout: wrong("forever") }), "MessageInvalid", "timeout"],
          [m.request(a, b, 1, { timeout: Number.NaN }), "MessageInvalid", "timeout"],
          [m.conversation(wrong(7)), "InvalidInput", "id"]
        ] as const
        for (const [call, tag, field] of cases) {
          const e = yield* Effect.flip(call as Effect.Effect<unknown, { _tag: string; field: string }>)
          assert.deepStrictEqual([e._tag, e.field], [tag, field])
        }
        assert.deepStrictEqual(yield* m.inbox(b).unread, [], "no request was stored")
      })))

    it.live("fuzz: names with separators, __proto__, huge or wrong-typed input fail typed or round-trip; nothing crashes", () =>
      live(Effect.gen(function*() {
        const m = yield* Messaging.Messaging
        const names = fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom(
            "__proto__",
            "constructor",
            "a/b",
            "a:b",
            "a.b",
            "a'b",
            "a\"b",
            "%_",
            "a\u0000b",
            "\ud800",
            "x".repeat(600)
          ),
          fc.anything() as fc.Arbitrary<unknown>
        )
        let i = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(names, fc.anything(), async (raw, capabilities) => {
              const name = typeof raw === "string" ? `${run}-fz${i++}-${raw}` : raw
              const registered = await Effect.runPromise(
                Effect.either(m.registry.register({ name, capabilities } as unknown as Messaging.Registration))
              )
              if (Either.isLeft(registered)) {
                assert.strictEqual(registered.left._tag, "InvalidInput")
                const sent = await Effect.runPromise(Effect.either(m.send("fuzzer", name as string, 1)))
                assert.isTrue(Either.isLeft(sent))
                assert.include(["MessageInvalid", "AgentNotFound"], Either.isLeft(sent) ? sent.left._tag : "")
                return
              }
              assert.strictEqual(registered.right.name, name)
              await Effect.runPromise(m.send("fuzzer", name as string, { n: 1 }))
              const unread = await Effect.runPromise(m.inbox(name as string).unread)
              assert.deepStrictEqual(unread.map((x) => x.body), [{ n: 1 }])
              const looked = await Effect.runPromise(m.registry.lookup(name as string))
              assert.deepStrictEqual(looked.capabilities, registered.right.capabilities)
            }),
            { numRuns: options.fuzzRuns ?? 100 }
          )
        )
        const [left, right] = [agent("left"), agent("right")]
        yield* register(m, left, right)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(names, async (topic) => {
              const started = await Effect.runPromise(Effect.either(Effect.scoped(Effect.flatMap(
                m.startConversation({ from: left, to: right, topic: topic as string }),
                (c) => Effect.as(c.end(left, "bye"), c.topic)
              ))))
              if (Either.isLeft(started)) {
                assert.deepStrictEqual([started.left._tag, (started.left as MessagingErrors.InvalidInput).field], [
                  "InvalidInput",
                  "topic"
                ])
              } else assert.strictEqual(started.right, topic)
            }),
            { numRuns: Math.ceil((options.fuzzRuns ?? 100) / 3) }
          )
        )
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.anything(), fc.anything(), async (cursor, limit) => {
              const page = await Effect.runPromise(
                Effect.either(m.history({ cursor, limit } as unknown as Messaging.HistoryQuery))
              )
              if (Either.isLeft(page)) assert.strictEqual(page.left._tag, "InvalidInput")
            }),
            { numRuns: options.fuzzRuns ?? 100 }
          )
        )
      })))
  })

/** Lets I/O started by woken fibers finish (a real pause; the TestClock does not move). */
const settle = TestServices.provideLive(Effect.sleep("30 millis"))

/** Moves the TestClock by 100 ms steps (letting I/O finish between them) until `fiber` is done. */
const advanceUntilDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("100 millis")
      yield* settle
    }
    return yield* Fiber.join(fiber)
  })

/** The lease behaviour of every lock store, on the TestClock. `store` gives a store over shared storage. */
export const lockSuite = (name: string, store: () => Effect.Effect<Lock.LockStore, unknown, Scope.Scope>) =>
  describe(`Lock leases: ${name}`, () => {
    let n = 0
    const agent = (role: string) => `${run}-${name}-l${n++}-${role}`
    /** A lock on a new agent, held by `holder` in a scope the test closes. */
    const held = (role: string, holder: string, lease: Duration.DurationInput) =>
      Effect.gen(function*() {
        const lock = Lock.make(yield* store())
        const target = agent(role)
        const scope = yield* Scope.make()
        yield* lock.acquire(target, holder, { lease }).pipe(Scope.extend(scope))
        return { lock, scope, target }
      })

    it.scoped("a crashed holder's lock expires with its lease; until then the agent is busy", () =>
      Effect.gen(function*() {
        const s = yield* store()
        const lock = Lock.make(s)
        const target = agent("crashed")
        const now = yield* TestClock.currentTimeMillis
        // what a process that died while holding the lock leaves behind: no renewal, no release
        assert.isTrue(
          yield* s.tryAcquire("default", { agent: target, holder: "dead", token: "t", expiresAt: now + 30_000 }, now)
        )
        const busy = yield* Effect.flip(Effect.scoped(lock.acquire(target, "alive")))
        assert.deepStrictEqual([busy._tag, (busy as MessagingErrors.AgentBusy).holder], ["AgentBusy", "dead"])
        yield* TestClock.adjust("29 seconds")
        assert.strictEqual((yield* Effect.flip(Effect.scoped(lock.acquire(target, "alive"))))._tag, "AgentBusy")
        yield* TestClock.adjust("1 second")
        const lease = yield* Effect.scoped(lock.acquire(target, "alive"))
        assert.strictEqual(lease.holder, "alive")
      }))

    it.scoped("a held lock is renewed while its scope is open and released when it closes", () =>
      Effect.gen(function*() {
        const { lock, scope, target } = yield* held("renewed", "holder", "3 seconds")
        for (let i = 0; i < 10; i++) {
          yield* TestClock.adjust("1 second")
          yield* settle
        }
        const holding = yield* lock.holderOf(target)
        assert.strictEqual(Option.getOrThrow(holding).holder, "holder", "still held 10 s into a 3 s lease")
        assert.strictEqual((yield* Effect.flip(Effect.scoped(lock.acquire(target, "other"))))._tag, "AgentBusy")
        yield* Scope.close(scope, Exit.void)
        assert.isTrue(Option.isNone(yield* lock.holderOf(target)))
        yield* Effect.scoped(lock.acquire(target, "other"))
      }))

    it.scoped("a lease released elsewhere (releaseHolder) is reported as lost by its holder's renewal", () =>
      Effect.gen(function*() {
        const lock = Lock.make(yield* store())
        const target = agent("lost")
        const lease = yield* lock.acquire(target, "meeting-1", { lease: "3 seconds" })
        const lost = yield* Effect.fork(lease.lost)
        yield* TestClock.adjust("1 second")
        yield* settle
        assert.isNull(lost.unsafePoll(), "still held")
        assert.strictEqual(yield* lock.releaseHolder("meeting-1"), 1)
        yield* Effect.scoped(lock.acquire(target, "meeting-2", { lease: "1 minute" }))
        yield* advanceUntilDone(lost)
      }))

    it.scoped("a waiting acquisition is bounded by `wait` and succeeds if the lock is freed in time", () =>
      Effect.gen(function*() {
        const { lock, scope, target } = yield* held("waited", "first", "1 minute")
        const gaveUp = yield* Effect.fork(
          Effect.flip(Effect.scoped(lock.acquire(target, "second", { wait: "5 seconds" })))
        )
        const e = yield* advanceUntilDone(gaveUp)
        assert.strictEqual(e._tag, "AgentBusy")
        const waited = (e as MessagingErrors.AgentBusy).waitedMillis
        assert.isTrue(waited >= 5000 && waited <= 6000, `gave up after the 5 s wait on the Clock (${waited} ms)`)
        const patient = yield* Effect.fork(Effect.scoped(lock.acquire(target, "third", { wait: "5 seconds" })))
        yield* TestClock.adjust("1 second")
        yield* settle
        yield* Scope.close(scope, Exit.void)
        const lease = yield* advanceUntilDone(patient)
        assert.strictEqual(lease.holder, "third")
      }))

    it.scoped("bad arguments are InvalidInput naming the field", () =>
      Effect.gen(function*() {
        const lock = Lock.make(yield* store())
        for (
          const [call, field] of [
            [lock.acquire("", "h"), "agent"],
            [lock.acquire("a", "x".repeat(600)), "holder"],
            [lock.acquire("a", "h", { lease: "forever" as unknown as number }), "lease"],
            [lock.acquire("a", "h", { wait: Number.NaN }), "wait"],
            [lock.acquire("a", "h", null as unknown as Lock.AcquireOptions), "options"]
          ] as const
        ) {
          const e = yield* Effect.flip(Effect.scoped(call))
          assert.deepStrictEqual([e._tag, (e as MessagingErrors.InvalidInput).field], ["InvalidInput", field])
        }
        assert.strictEqual((yield* Effect.flip(lock.forOrganization(""))).field, "organization")
      }))
  })
