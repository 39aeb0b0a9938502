/**
 * The conformance suite every memory store runs: the same tests, through the `Memory` service
 * and the raw store, for in-memory, SQLite, PostgreSQL and Redis.
 */
import { Json, Primitive, Runner, WorkflowContext } from "@braid/core"
import { Memory, MemoryStore } from "@braid/memory"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, FastCheck as fc, Layer, Option, Schema, TestClock } from "effect"

export interface ConformanceOptions {
  /** Builds the store under test (fresh table / key prefix when it can). */
  readonly layer: Layer.Layer<MemoryStore.MemoryStore, unknown>
  /** Number of property-test runs (fewer on networked stores). */
  readonly numRuns?: number
}

const ctx = (o: WorkflowContext.ContextOptions) => WorkflowContext.layer(o)

export const conformance = (name: string, options: ConformanceOptions) => {
  // Every test uses its own scope ids, so stores shared between tests (and test files) never collide.
  const uid = () => crypto.randomUUID().slice(0, 12)
  const withMemory = <A, E>(
    config: Memory.Config,
    context: WorkflowContext.ContextOptions,
    body: Effect.Effect<A, E, Memory.Memory | WorkflowContext.WorkflowContext | MemoryStore.MemoryStore>
  ) =>
    body.pipe(
      Effect.provide(ctx(context)),
      Effect.provide(Memory.layer(config)),
      Effect.provide(options.layer)
    )

  describe(`MemoryStore conformance: ${name}`, () => {
    it.effect("store then retrieve returns the value with its provenance", () => {
      const s = uid()
      return Effect.gen(function*() {
        yield* TestClock.setTime(1_000)
        const step = Primitive.make(
          "writer",
          (_: void) =>
            Memory.withAgent("coach")(
              Memory.store("goal", { title: "run 5k", weeks: 8 }, { tags: ["goal", "fitness"] })
            )
        )
        const pipeline = step.pipe(Primitive.named("morning"))
        const entry = yield* Runner.run(pipeline, undefined, {
          runId: `run-${s}`,
          sessionId: `s-${s}`,
          instrumentation: "on"
        })
        assert.strictEqual(entry.agent, "coach")
        const got = yield* Effect.provide(Memory.retrieve("goal"), ctx({ sessionId: `s-${s}` }))
        assert.isTrue(Option.isSome(got))
        const e = Option.getOrThrow(got)
        assert.deepStrictEqual(e.value, { title: "run 5k", weeks: 8 })
        assert.strictEqual(e.agent, "coach")
        assert.strictEqual(e.runId, `run-${s}`)
        assert.strictEqual(e.stepPath, "morning")
        assert.strictEqual(e.createdAt, 1_000)
        assert.deepStrictEqual(e.scope, { kind: "session", id: `s-${s}` })
        const tenanted = yield* Effect.provide(Memory.store("t", 1), ctx({ sessionId: `s-${s}`, tenantId: `t-${s}` }))
        assert.deepStrictEqual(tenanted.scope, { kind: "session", tenant: `t-${s}`, id: `s-${s}` })
        const back = yield* Effect.provide(Memory.retrieve("t"), ctx({ sessionId: `s-${s}`, tenantId: `t-${s}` }))
        assert.deepStrictEqual(Option.getOrThrow(back).scope, { kind: "session", tenant: `t-${s}`, id: `s-${s}` })
        assert.deepStrictEqual([...e.tags], ["goal", "fitness"])
        assert.isUndefined(e.expiresAt)
        assert.strictEqual(e.id, entry.id)
        assert.isTrue(Option.isNone(yield* Effect.provide(Memory.retrieve("missing"), ctx({ sessionId: `s-${s}` }))))
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("values of every JSON shape round-trip", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const values: ReadonlyArray<unknown> = [
            null,
            true,
            0,
            -1.5,
            "",
            "héllo ✓ 'quote' \"dq\"",
            [],
            [1, "a", null],
            { a: { b: [1, 2, { c: "d" }] } }
          ]
          for (let i = 0; i < values.length; i++) yield* Memory.store(`k${i}`, values[i])
          for (let i = 0; i < values.length; i++) {
            assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve(`k${i}`)).value, values[i])
          }
        })
      )
    })

    it.effect("what is stored is a JSON copy: mutating the written value or a read entry changes nothing stored", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const goal = { title: "run 5k", weeks: [1, 2], due: new Date("2026-06-01T00:00:00.000Z"), gone: undefined }
          const written = yield* Memory.store("goal", goal)
          assert.strictEqual(written.value, goal, "store returns the entry with the value as passed")
          goal.weeks.push(3)
          goal.title = "changed by the writer"
          const first = Option.getOrThrow(yield* Memory.retrieve("goal"))
          assert.deepStrictEqual(first.value, { title: "run 5k", weeks: [1, 2], due: "2026-06-01T00:00:00.000Z" })
          ;(first.value as { title: string }).title = "changed by a reader"
          const second = Option.getOrThrow(yield* Memory.retrieve("goal"))
          assert.strictEqual((second.value as { title: string }).title, "run 5k")
          assert.strictEqual(
            (Option.getOrThrow(yield* Memory.retrieve("goal")).value as { title: string }).title,
            "run 5k"
          )
        })
      )
    })

    it.effect("a value with no lossless JSON form fails with a MemoryInputError naming the key and the path, and stores nothing", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const circular: Record<string, unknown> = { a: 1 }
          circular.self = circular
          const deep = JSON.parse("[".repeat(1_100) + "]".repeat(1_100)) as unknown
          const cases: ReadonlyArray<readonly [string, unknown, string]> = [
            ["loop", circular, "value.self"],
            ["big", { n: 10n }, "value.n"],
            ["nan", { a: [1, NaN] }, "value.a[1]"],
            ["inf", Infinity, "value"],
            ["proto", JSON.parse("{\"ok\": {\"__proto__\": {\"admin\": true}}}"), "value.ok"],
            ["deep", deep, "value"]
          ]
          for (const [key, value, field] of cases) {
            const e = yield* Effect.flip(Memory.store(key, value))
            assert.strictEqual(e._tag, "MemoryInputError", key)
            if (e._tag !== "MemoryInputError") continue
            assert.include(e.message, `"${key}"`)
            assert.isTrue(e.field.startsWith(field), `${key}: ${e.field}`)
            assert.isTrue(Option.isNone(yield* Memory.retrieve(key)))
          }
          assert.deepStrictEqual(yield* Memory.list(), [])
        })
      )
    })

    it.effect("a stored undefined reads back as null (also inside arrays); undefined properties are left out", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const written = yield* Memory.store("u", undefined)
          assert.isUndefined(written.value, "store returns the value as passed")
          yield* Memory.store("arr", [1, undefined])
          yield* Memory.store("obj", { a: undefined, b: 1 })
          assert.strictEqual(Option.getOrThrow(yield* Memory.retrieve("u")).value, null)
          assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve("arr")).value, [1, null])
          assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve("obj")).value, { b: 1 })
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.value), [null, [1, null], { b: 1 }])
          assert.deepStrictEqual((yield* Memory.query({ text: "null" })).map((e) => e.key), ["u", "arr"])
        })
      )
    })

    it.effect("keys and tags: well-formed, NUL-free, 1..1024 UTF-8 bytes; anything else is a MemoryInputError naming the key", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const longest = "€".repeat(341) + "a" // 1,024 bytes
          const tooLong = "é".repeat(513) // 1,026 bytes
          for (const key of ["k", "😀", "a/b:c", "%25~{x}", longest, "__proto__", "constructor"]) {
            yield* Memory.store(key, key.length)
            assert.strictEqual(Option.getOrThrow(yield* Memory.retrieve(key)).value, key.length, key.slice(0, 10))
          }
          assert.strictEqual((yield* Memory.list()).length, 7)
          const bad: ReadonlyArray<readonly [unknown, string]> = [
            ["\uD800", "lone surrogate"],
            ["a\uDC00b", "lone surrogate"],
            ["\uDE00\uD83D", "lone surrogate"],
            ["a\u0000b", "NUL"],
            ["", "empty"],
            [tooLong, "1024"],
            [42, "string"],
            [undefined, "string"]
          ]
          for (const [key, why] of bad) {
            const ops: ReadonlyArray<
              Effect.Effect<unknown, Memory.MemoryError, Memory.Memory | WorkflowContext.WorkflowContext>
            > = [
              Memory.store(key as string, 1),
              Memory.retrieve(key as string),
              Memory.delete(key as string)
            ]
            for (const op of ops) {
              const e = yield* Effect.flip(op)
              assert.strictEqual(e._tag, "MemoryInputError")
              if (e._tag !== "MemoryInputError") continue
              assert.strictEqual(e.field, "key")
              assert.include(e.reason, why === "lone surrogate" ? "lone surrogate" : why === "NUL" ? "NUL" : why)
              if (typeof key === "string") {
                assert.strictEqual(e.key, JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key))
              }
            }
          }
          // "\uD800" and "\uDBFF" would both become U+FFFD in a driver: refused, not merged
          for (const tags of [["ok", "\uD800"], ["a\u0000"], [""], ["x".repeat(1025)], "goal"]) {
            const e = yield* Effect.flip(Memory.store("tagged", 1, { tags: tags as Array<string> }))
            assert.strictEqual(e._tag, "MemoryInputError")
            assert.isTrue(e._tag === "MemoryInputError" && e.field.startsWith("tags"))
            const q = yield* Effect.flip(Memory.query({ tags: tags as Array<string> }))
            assert.strictEqual(q._tag, "MemoryInputError")
          }
          assert.strictEqual((yield* Memory.list()).length, 7, "nothing refused was stored")
        })
      )
    })

    it.effect("query options: from/to finite, limit a non-negative integer; otherwise a MemoryInputError naming the option", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* Memory.store("a", 1)
          const bad: ReadonlyArray<readonly [Memory.QueryOptions, string]> = [
            [{ from: NaN }, "from"],
            [{ to: Infinity }, "to"],
            [{ from: -Infinity }, "from"],
            [{ limit: 1.5 }, "limit"],
            [{ limit: -1 }, "limit"],
            [{ limit: NaN }, "limit"],
            [{ limit: "2" as unknown as number }, "limit"],
            [{ from: "0" as unknown as number }, "from"],
            [{ agent: "a\uD800" }, "agent"],
            [{ text: 5 as unknown as string }, "text"],
            [{ scope: "tenant" as unknown as "user" }, "scope"]
          ]
          for (const [options, field] of bad) {
            const e = yield* Effect.flip(Memory.query(options))
            assert.strictEqual(e._tag, "MemoryInputError", field)
            assert.strictEqual(e._tag === "MemoryInputError" ? e.field : "", field)
            assert.include(e.message, field)
          }
          assert.deepStrictEqual((yield* Memory.query({ from: 0, to: Number.MAX_SAFE_INTEGER, limit: 0 })).length, 0)
          assert.deepStrictEqual(
            (yield* Memory.query({ from: -1e300, to: 1e300, limit: 5 })).map((e) => e.key),
            ["a"],
            "any finite bound"
          )
          assert.deepStrictEqual(
            (yield* Memory.query({ from: -0.5, to: 0.5 })).map((e) => e.key),
            ["a"],
            "fractional bounds"
          )
          assert.deepStrictEqual((yield* Memory.query({ from: 0.5 })).map((e) => e.key), [], "fractional bounds")
          assert.deepStrictEqual((yield* Memory.query({ limit: Number.MAX_SAFE_INTEGER })).map((e) => e.key), ["a"])
          yield* Memory.store("long", 1, { ttl: 1e300 })
          yield* Memory.store("frac", 1, { ttl: 0.5 })
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["a", "long", "frac"])
        })
      )
    })

    it.effect("store options and configuration: a ttl that is no duration, a fractional maxEntries, a bad scope are typed errors", () => {
      const s = uid()
      return Effect.gen(function*() {
        for (const ttl of [NaN, -1, "soon", null]) {
          const e = yield* Effect.flip(Memory.store("k", 1, { ttl: ttl as number }))
          assert.strictEqual(e._tag === "MemoryInputError" ? e.field : e._tag, "ttl")
        }
        const forever = yield* Memory.store("forever", 1, { ttl: Infinity })
        assert.isUndefined(forever.expiresAt, "an infinite ttl never expires")
        const badAgent = yield* Effect.flip(Memory.store("k", 1, { agent: "\uDC00" }))
        assert.strictEqual(badAgent._tag === "MemoryInputError" ? badAgent.field : badAgent._tag, "agent")
        for (
          const config of [{ retention: { session: { maxEntries: 1.5 } } }, {
            retention: { session: { ttl: "later" } }
          }, { defaultScope: "all" }]
        ) {
          const e = yield* Effect.flip(Effect.provide(Memory.list(), Memory.layer(config as Memory.Config)))
          assert.strictEqual(e._tag, "MemoryInputError")
          assert.strictEqual(e._tag === "MemoryInputError" ? e.operation : "", "config")
        }
      }).pipe(Effect.provide(ctx({ sessionId: s })), Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("ids of the context follow the same rules: an empty, NUL or lone-surrogate id is refused, not mixed up", () => {
      const s = uid()
      return Effect.gen(function*() {
        for (
          const [o, field] of [
            [{ sessionId: "" }, "sessionId"],
            [{ sessionId: `a\u0000${s}` }, "sessionId"],
            [{ sessionId: `\uD800${s}` }, "sessionId"],
            [{ sessionId: s, tenantId: "" }, "tenantId"],
            [{ sessionId: s, tenantId: "x".repeat(513) }, "tenantId"]
          ] as const
        ) {
          const e = yield* Effect.flip(Effect.provide(Memory.store("k", 1), ctx(o)))
          assert.strictEqual(e._tag === "MemoryInputError" ? e.field : e._tag, field)
          const r = yield* Effect.flip(Effect.provide(Memory.list(), ctx(o)))
          assert.strictEqual(r._tag, "MemoryInputError")
        }
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("fuzz: random keys (any UTF-16 units), tags and values are stored and read back exactly, or refused with a MemoryInputError", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const units = fc.array(
            fc.oneof(
              fc.integer({ min: 0, max: 0x7f }),
              fc.integer({ min: 0xd7f0, max: 0xe010 }),
              fc.integer({ min: 0, max: 0xffff })
            ),
            { maxLength: 12 }
          )
            .map((codes) => String.fromCharCode(...codes))
          const value = fc.oneof(
            fc.jsonValue(),
            fc.constantFrom<unknown>(
              NaN,
              1n,
              undefined,
              [undefined],
              { a: undefined },
              JSON.parse("{\"__proto__\": 1}"),
              Symbol("s"),
              () => 1
            )
          )
          const samples = fc.sample(
            fc.record({ key: units, tags: fc.array(units, { maxLength: 3 }), value }),
            options.numRuns ?? 40
          )
          const stored = new Map<string, unknown>()
          for (const sample of samples) {
            const exit = yield* Effect.exit(Memory.store(sample.key, sample.value, { tags: sample.tags }))
            if (exit._tag === "Failure") {
              const e = Cause.failureOption(exit.cause)
              assert.isTrue(
                Option.isSome(e) && e.value._tag === "MemoryInputError",
                `${JSON.stringify(sample.key)}: ${Cause.pretty(exit.cause)}`
              )
              continue
            }
            const text = Json.encode(sample.value)
            stored.set(sample.key, Either.isRight(text) ? JSON.parse(text.right) : undefined)
            const back = Option.getOrThrow(yield* Memory.retrieve(sample.key))
            assert.deepStrictEqual(back.value, stored.get(sample.key))
            assert.deepStrictEqual([...back.tags], sample.tags)
          }
          const all = yield* Memory.list()
          assert.strictEqual(all.length, stored.size)
          for (const e of all) assert.deepStrictEqual(e.value, stored.get(e.key))
        })
      )
    })

    it.effect("writing a key again replaces the entry and makes it the newest", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* Memory.store("a", 1)
          yield* Memory.store("b", 2)
          yield* Memory.store("a", 3)
          const all = yield* Memory.list()
          assert.deepStrictEqual(all.map((e) => [e.key, e.value]), [["b", 2], ["a", 3]])
        })
      )
    })

    it.effect("idempotency key: a repeated write is a no-op returning the first write's entry, even after a rewrite", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const first = yield* Memory.store("a", { n: 1 }, { idempotencyKey: "op-1", tags: ["t"] })
          const again = yield* Memory.store("a", { n: 99 }, { idempotencyKey: "op-1" })
          assert.strictEqual(again.id, first.id, "the first write's entry comes back")
          assert.deepStrictEqual(again.value, { n: 1 })
          assert.deepStrictEqual([...again.tags], ["t"])
          assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve("a")).value, { n: 1 })
          // a later write of the same key (another operation) replaces it; replaying op-1 then
          // must not bring the old value back
          yield* Memory.store("a", { n: 2 }, { idempotencyKey: "op-2" })
          yield* Memory.store("a", { n: 1 }, { idempotencyKey: "op-1" })
          assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve("a")).value, { n: 2 })
          // after a delete too
          yield* Memory.delete("a")
          yield* Memory.store("a", { n: 1 }, { idempotencyKey: "op-1" })
          assert.isTrue(Option.isNone(yield* Memory.retrieve("a")))
          // writes without a key still apply every time
          yield* Memory.store("b", 1)
          yield* Memory.store("b", 2)
          assert.deepStrictEqual(Option.getOrThrow(yield* Memory.retrieve("b")).value, 2)
        })
      )
    })

    it.effect("idempotency keys are per scope; concurrent writes with one key apply once; bad keys are refused", () => {
      const s = uid()
      return Effect.gen(function*() {
        const one = yield* Effect.provide(
          Memory.store("k", "s1", { idempotencyKey: "op" }),
          ctx({ sessionId: `a-${s}` })
        )
        const two = yield* Effect.provide(
          Memory.store("k", "s2", { idempotencyKey: "op" }),
          ctx({ sessionId: `b-${s}` })
        )
        assert.notStrictEqual(one.id, two.id)
        assert.strictEqual(two.value, "s2", "the same key in another scope is another write")
        const results = yield* Effect.provide(
          Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => Memory.store(`c${i}`, i, { idempotencyKey: "race" }),
            { concurrency: 20 }
          ),
          ctx({ sessionId: `c-${s}` })
        )
        assert.strictEqual(new Set(results.map((e) => e.id)).size, 1, "every caller sees the one write that applied")
        const all = yield* Effect.provide(Memory.list(), ctx({ sessionId: `c-${s}` }))
        assert.strictEqual(all.length, 1)
        assert.strictEqual(all[0]!.id, results[0]!.id)
        for (const bad of ["", "a\0b", 42 as unknown as string]) {
          const error = yield* Effect.flip(
            Effect.provide(Memory.store("k", 1, { idempotencyKey: bad }), ctx({ sessionId: `d-${s}` }))
          )
          assert.strictEqual(error._tag, "MemoryInputError")
          assert.match(error.message, /idempotencyKey/)
        }
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("idempotency keys lapse after the window; clearing a scope forgets them (TestClock)", () => {
      const s = uid()
      const scope: MemoryStore.Scope = { kind: "session", id: `w-${s}` }
      const entry = (id: string, value: number): MemoryStore.Entry => ({
        id,
        scope,
        key: "k",
        value,
        tags: [],
        createdAt: 0
      })
      return Effect.gen(function*() {
        const store = yield* MemoryStore.MemoryStore
        assert.isUndefined(yield* store.put(entry("e1", 1), { now: 0, idempotencyKey: "op" }))
        const dup = yield* store.put(entry("e2", 2), { now: 1000, idempotencyKey: "op" })
        assert.strictEqual((dup as MemoryStore.Entry).id, "e1")
        const later = MemoryStore.idempotencyWindowMillis
        assert.isUndefined(yield* store.put(entry("e3", 3), { now: later, idempotencyKey: "op" }), "lapsed")
        assert.strictEqual(Option.getOrThrow(yield* store.get(scope, "k", later)).id, "e3")
        yield* store.clear(scope)
        assert.isUndefined(yield* store.put(entry("e4", 4), { now: later + 1, idempotencyKey: "op" }))
        assert.strictEqual(Option.getOrThrow(yield* store.get(scope, "k", later + 1)).value, 4)
      }).pipe(Effect.provide(options.layer))
    })

    it.effect("query filters by agent, tags, time range and text; limit keeps the most recent", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* TestClock.setTime(100)
          yield* Memory.store("g1", "Run a 5k in spring", { agent: "coach", tags: ["goal", "fitness"] })
          yield* TestClock.setTime(200)
          yield* Memory.store("g2", { text: "Read 12 books" }, { agent: "coach", tags: ["goal"] })
          yield* TestClock.setTime(300)
          yield* Memory.store("n1", "Prefers MORNING sessions", { agent: "intake", tags: ["note"] })
          yield* TestClock.setTime(400)
          yield* Memory.store("spring-plan", "interval training", { agent: "planner", tags: ["plan", "fitness"] })
          const keys = (es: ReadonlyArray<MemoryStore.Entry>) => es.map((e) => e.key)
          assert.deepStrictEqual(keys(yield* Memory.query({ agent: "coach" })), ["g1", "g2"])
          assert.deepStrictEqual(keys(yield* Memory.query({ tags: ["fitness"] })), ["g1", "spring-plan"])
          assert.deepStrictEqual(keys(yield* Memory.query({ tags: ["goal", "fitness"] })), ["g1"])
          assert.deepStrictEqual(keys(yield* Memory.query({ from: 200, to: 400 })), ["g2", "n1"])
          assert.deepStrictEqual(keys(yield* Memory.query({ text: "morning" })), ["n1"])
          assert.deepStrictEqual(keys(yield* Memory.query({ text: "books" })), ["g2"])
          assert.deepStrictEqual(
            keys(yield* Memory.query({ text: "SPRING" })),
            ["g1", "spring-plan"],
            "text matches keys and values"
          )
          assert.deepStrictEqual(keys(yield* Memory.query({ limit: 2 })), ["n1", "spring-plan"])
          assert.deepStrictEqual(keys(yield* Memory.query({ agent: "coach", text: "run", from: 50 })), ["g1"])
          assert.deepStrictEqual(keys(yield* Memory.query({ text: "%" })), [], "LIKE wildcards are literal")
          assert.deepStrictEqual(keys(yield* Memory.query({ text: "_" })), [], "LIKE wildcards are literal")
          assert.deepStrictEqual(keys(yield* Memory.query({ limit: 0 })), [])
        })
      )
    })

    it.effect("delete removes one entry and says whether it existed", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* Memory.store("a", 1)
          yield* Memory.store("b", 2)
          assert.isTrue(yield* Memory.delete("a"))
          assert.isFalse(yield* Memory.delete("a"))
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["b"])
        })
      )
    })

    it.effect("a TTL per entry: expired entries are never returned (TestClock)", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* Memory.store("short", 1, { ttl: "1 minute", tags: ["t"] })
          yield* Memory.store("long", 2, { ttl: "1 hour", tags: ["t"] })
          yield* Memory.store("forever", 3, { tags: ["t"] })
          assert.strictEqual((yield* Memory.list()).length, 3)
          yield* TestClock.adjust("59 seconds")
          assert.isTrue(Option.isSome(yield* Memory.retrieve("short")))
          yield* TestClock.adjust("1 second")
          assert.isTrue(Option.isNone(yield* Memory.retrieve("short")), "expired exactly at its TTL")
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["long", "forever"])
          assert.deepStrictEqual((yield* Memory.query({ tags: ["t"] })).map((e) => e.key), ["long", "forever"])
          assert.deepStrictEqual((yield* Memory.query({ text: "short" })).map((e) => e.key), [])
          yield* TestClock.adjust("2 hours")
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["forever"])
        })
      )
    })

    it.effect("a TTL per scope kind applies to entries without their own", () => {
      const s = uid()
      return withMemory(
        { retention: { session: { ttl: "10 minutes" } } },
        { sessionId: s, userId: `u-${s}` },
        Effect.gen(function*() {
          const e = yield* Memory.store("a", 1)
          assert.strictEqual(e.expiresAt, e.createdAt + 600_000)
          yield* Memory.store("b", 2, { ttl: "1 hour" })
          yield* Memory.store("c", 3, { scope: "user" })
          yield* TestClock.adjust("11 minutes")
          assert.deepStrictEqual((yield* Memory.list()).map((x) => x.key), ["b"])
          assert.deepStrictEqual(
            (yield* Memory.list({ scope: "user" })).map((x) => x.key),
            ["c"],
            "other scope kinds keep theirs"
          )
        })
      )
    })

    it.effect("max entries per scope evicts the oldest, per scope", () => {
      const s = uid()
      return withMemory(
        { retention: { session: { maxEntries: 3 } } },
        { sessionId: s, userId: `u-${s}` },
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* Memory.store(`k${i}`, i)
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["k2", "k3", "k4"])
          yield* Memory.store("k2", 22) // rewrite: k2 is now the newest
          yield* Memory.store("k5", 5)
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["k4", "k2", "k5"])
          for (let i = 0; i < 5; i++) yield* Memory.store(`u${i}`, i, { scope: "user" })
          assert.strictEqual(
            (yield* Memory.list({ scope: "user" })).length,
            5,
            "the limit is for the session scope kind only"
          )
        })
      )
    })

    it.effect("eviction counts only live entries: expired ones go first", () => {
      const s = uid()
      return withMemory(
        { retention: { session: { maxEntries: 2 } } },
        { sessionId: s },
        Effect.gen(function*() {
          yield* Memory.store("old", 0)
          yield* Memory.store("brief", 1, { ttl: "1 second" })
          yield* TestClock.adjust("2 seconds")
          yield* Memory.store("new", 2)
          assert.deepStrictEqual((yield* Memory.list()).map((e) => e.key), ["old", "new"])
        })
      )
    })

    it.effect("sessions, users, runs and tenants are isolated", () => {
      const s = uid()
      return Effect.gen(function*() {
        const write = (o: WorkflowContext.ContextOptions, scope: MemoryStore.ScopeKind, value: string) =>
          Effect.provide(Memory.store("secret", value, { scope }), ctx(o))
        const read = (o: WorkflowContext.ContextOptions, scope: MemoryStore.ScopeKind) =>
          Effect.provide(
            Effect.all({
              one: Effect.map(Memory.retrieve("secret", { scope }), Option.map((e) => e.value)),
              all: Effect.map(Memory.list({ scope }), (es) => es.map((e) => e.value)),
              q: Effect.map(Memory.query({ scope, text: "secret" }), (es) => es.map((e) => e.value))
            }),
            ctx(o)
          )
        yield* write({ runId: `r1-${s}`, sessionId: `s1-${s}`, userId: `u1-${s}` }, "session", "s1 secret")
        yield* write({ runId: `r1-${s}`, sessionId: `s1-${s}`, userId: `u1-${s}` }, "user", "u1 secret")
        yield* write({ runId: `r1-${s}`, sessionId: `s1-${s}`, userId: `u1-${s}` }, "run", "r1 secret")
        yield* write({ tenantId: `t1-${s}`, sessionId: `s1-${s}` }, "session", "t1 s1 secret")
        const none = { one: Option.none(), all: [], q: [] }
        assert.deepStrictEqual(yield* read({ sessionId: `s2-${s}`, userId: `u1-${s}` }, "session"), none)
        assert.deepStrictEqual(yield* read({ sessionId: `s1-${s}`, userId: `u2-${s}` }, "user"), none)
        assert.deepStrictEqual(yield* read({ runId: `r2-${s}` }, "run"), none)
        assert.deepStrictEqual(yield* read({ tenantId: `t2-${s}`, sessionId: `s1-${s}` }, "session"), none)
        assert.deepStrictEqual(
          (yield* read({ sessionId: `s1-${s}` }, "session")).all,
          ["s1 secret"],
          "no tenant sees no tenant's entry"
        )
        assert.deepStrictEqual((yield* read({ tenantId: `t1-${s}`, sessionId: `s1-${s}` }, "session")).all, [
          "t1 s1 secret"
        ])
        assert.deepStrictEqual(
          (yield* read({ sessionId: `s9-${s}`, userId: `u1-${s}` }, "user")).all,
          ["u1 secret"],
          "the user scope spans sessions"
        )
        const missing = yield* Effect.flip(
          Effect.provide(Memory.store("x", 1, { scope: "user" }), ctx({ sessionId: s }))
        )
        assert.strictEqual(missing._tag, "MemoryScopeUnavailable")
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("tenants are a field of the scope: tenant acme + user bob is not user acme/bob, tenant a/b + user c is not tenant a + user b/c", () => {
      const s = uid()
      return Effect.gen(function*() {
        type Ctx = WorkflowContext.ContextOptions
        const kinds: ReadonlyArray<readonly [MemoryStore.ScopeKind, (id: string) => Ctx]> = [
          ["user", (id) => ({ userId: id })],
          ["session", (id) => ({ sessionId: id })],
          ["run", (id) => ({ runId: id })]
        ]
        for (const [kind, ofId] of kinds) {
          const with_ = (tenant: string | undefined, id: string): Ctx => ({
            ...ofId(id),
            ...(tenant !== undefined ? { tenantId: tenant } : {})
          })
          const pairs: ReadonlyArray<readonly [Ctx, Ctx]> = [
            [with_(`acme${s}`, "bob"), with_(undefined, `acme${s}/bob`)],
            [with_(`a${s}/b`, "c"), with_(`a${s}`, "b/c")],
            [with_(`t${s}`, "x:y"), with_(`t${s}:x`, "y")],
            [with_(`t${s}`, "x"), with_(undefined, `t${s}%2Fx`)],
            [with_(`p${s}`, "~"), with_(undefined, `p${s}`)],
            [with_(`q${s}`, "global"), with_(undefined, `q${s}/global`)]
          ]
          for (const [one, other] of pairs) {
            yield* Effect.provide(Memory.store("secret", `one ${JSON.stringify(one)}`, { scope: kind }), ctx(one))
            const seen = yield* Effect.provide(
              Effect.all([
                Memory.retrieve("secret", { scope: kind }),
                Memory.list({ scope: kind }),
                Memory.query({ scope: kind, text: "one" })
              ]),
              ctx(other)
            )
            assert.deepStrictEqual(
              [Option.isNone(seen[0]), seen[1].length, seen[2].length],
              [true, 0, 0],
              `${kind} ${JSON.stringify(other)}`
            )
            assert.isFalse(yield* Effect.provide(Memory.delete("secret", { scope: kind }), ctx(other)))
            yield* Effect.provide(Memory.store("secret", "other", { scope: kind }), ctx(other))
            const mine = yield* Effect.provide(Memory.retrieve("secret", { scope: kind }), ctx(one))
            assert.strictEqual(Option.getOrThrow(mine).value, `one ${JSON.stringify(one)}`)
            assert.deepStrictEqual(
              Option.getOrThrow(mine).scope,
              one.tenantId === undefined ? { kind, id: Option.getOrThrow(mine).scope.id } : {
                kind,
                tenant: one.tenantId,
                id: Option.getOrThrow(mine).scope.id
              }
            )
          }
        }
        // the global scope: one per tenant, and one without
        yield* Effect.provide(Memory.store("motd", "acme's", { scope: "global" }), ctx({ tenantId: `acme${s}` }))
        const global = yield* Effect.provide(
          Memory.retrieve("motd", { scope: "global" }),
          ctx({ tenantId: `other${s}` })
        )
        assert.isTrue(Option.isNone(global))
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer))
    })

    it.effect("property: tenants and ids made of separators (/ : % ~ { } | \\ and more) share a scope only when both are equal", () =>
      Effect.gen(function*() {
        const run = uid()
        const piece = fc.stringOf(
          fc.constantFrom("/", ":", "%", "~", "{", "}", "|", "\\", "-", ".", "2F", "a", "é", "😀", "global", " "),
          { minLength: 1, maxLength: 5 }
        )
        const who = fc.record({ tenant: fc.option(piece, { nil: undefined }), id: piece })
        const samples = fc.sample(fc.tuple(who, who), options.numRuns ?? 40)
        let n = 0
        for (const [a, b] of samples) {
          n++
          const of = (w: { tenant: string | undefined; id: string }): WorkflowContext.ContextOptions => ({
            userId: `${run}${n}${w.id}`,
            ...(w.tenant !== undefined ? { tenantId: `${run}${n}${w.tenant}` } : {})
          })
          yield* Effect.provide(Memory.store("k", "a", { scope: "user" }), ctx(of(a)))
          const seen = yield* Effect.provide(Memory.retrieve("k", { scope: "user" }), ctx(of(b)))
          const same = a.tenant === b.tenant && a.id === b.id
          assert.strictEqual(Option.isSome(seen), same, `${JSON.stringify(a)} / ${JSON.stringify(b)}`)
          assert.strictEqual((yield* Effect.provide(Memory.list({ scope: "user" }), ctx(of(b)))).length, same ? 1 : 0)
        }
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer)))

    it.effect("property: random interleavings of writes and reads across sessions and users never leak", () =>
      Effect.gen(function*() {
        const run = uid()
        const Op = fc.record({
          op: fc.constantFrom("store", "retrieve", "list", "query", "delete"),
          session: fc.integer({ min: 0, max: 2 }),
          user: fc.integer({ min: 0, max: 2 }),
          scope: fc.constantFrom("session" as const, "user" as const),
          key: fc.constantFrom("a", "b", "c"),
          value: fc.integer({ min: 0, max: 1000 })
        })
        const samples = fc.sample(fc.array(Op, { minLength: 1, maxLength: 25 }), options.numRuns ?? 40)
        let caseNo = 0
        for (const ops of samples) {
          caseNo++
          // The model: what each scope must hold. Values carry their scope, so a leak is visible.
          const model = new Map<string, Map<string, string>>()
          const scopeKey = (o: { scope: string; session: number; user: number }) =>
            o.scope === "session" ? `session:${o.session}` : `user:${o.user}`
          yield* Effect.forEach(ops, (o) => {
            const context = { sessionId: `${run}-c${caseNo}-s${o.session}`, userId: `${run}-c${caseNo}-u${o.user}` }
            const owner = scopeKey(o)
            const expected = () => model.get(owner) ?? new Map<string, string>()
            const check = (values: ReadonlyArray<unknown>) => {
              for (const v of values) {
                assert.isString(v)
                assert.isTrue((v as string).startsWith(`${owner}|`), `read ${String(v)} from ${owner}`)
              }
            }
            const eff = Effect.gen(function*() {
              switch (o.op) {
                case "store": {
                  const v = `${owner}|${o.value}`
                  yield* Memory.store(o.key, v, { scope: o.scope })
                  const m = expected()
                  m.delete(o.key)
                  m.set(o.key, v)
                  model.set(owner, m)
                  break
                }
                case "retrieve": {
                  const got = yield* Memory.retrieve(o.key, { scope: o.scope })
                  check(Option.toArray(got).map((e) => e.value))
                  assert.strictEqual(Option.getOrUndefined(got)?.value, expected().get(o.key))
                  break
                }
                case "list":
                case "query": {
                  const got = o.op === "list"
                    ? yield* Memory.list({ scope: o.scope })
                    : yield* Memory.query({ scope: o.scope, text: "|" })
                  check(got.map((e) => e.value))
                  assert.deepStrictEqual(got.map((e) => e.value), [...expected().values()])
                  break
                }
                case "delete": {
                  const existed = yield* Memory.delete(o.key, { scope: o.scope })
                  assert.strictEqual(existed, expected().delete(o.key))
                  break
                }
              }
            })
            return Effect.provide(eff, ctx(context))
          }, { discard: true })
        }
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer)))

    it.effect("property: concurrent interleavings across scopes never return another scope's entries", () =>
      Effect.gen(function*() {
        const run = uid()
        const samples = fc.sample(
          fc.array(
            fc.record({
              session: fc.integer({ min: 0, max: 3 }),
              user: fc.integer({ min: 0, max: 3 }),
              read: fc.boolean()
            }),
            { minLength: 5, maxLength: 40 }
          ),
          Math.max(5, Math.floor((options.numRuns ?? 40) / 4))
        )
        let caseNo = 0
        for (const ops of samples) {
          caseNo++
          yield* Effect.forEach(ops, (o, i) => {
            const context = { sessionId: `${run}-${caseNo}-s${o.session}`, userId: `${run}-${caseNo}-u${o.user}` }
            const eff = o.read
              ? Effect.gen(function*() {
                for (const e of yield* Memory.list({ scope: "session" })) assert.strictEqual(e.value, `s${o.session}`)
                for (const e of yield* Memory.list({ scope: "user" })) assert.strictEqual(e.value, `u${o.user}`)
              })
              : Effect.zipRight(
                Memory.store(`k${i}`, `s${o.session}`, { scope: "session" }),
                Memory.store(`k${i}`, `u${o.user}`, { scope: "user" })
              )
            return Effect.provide(eff, ctx(context))
          }, { concurrency: 8, discard: true })
        }
      }).pipe(Effect.provide(Memory.layer()), Effect.provide(options.layer)))

    it.effect("many concurrent writers lose nothing", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => Memory.store(`k${i}`, i), {
            concurrency: 50,
            discard: true
          })
          const all = yield* Memory.list()
          assert.strictEqual(all.length, 200)
          assert.deepStrictEqual(new Set(all.map((e) => e.value)), new Set(Array.from({ length: 200 }, (_, i) => i)))
        })
      )
    })

    it.effect("concurrent writers with a max: exactly max entries remain, the newest writes win", () => {
      const s = uid()
      return withMemory(
        { retention: { session: { maxEntries: 10 } } },
        { sessionId: s },
        Effect.gen(function*() {
          yield* Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) => Memory.store(`k${i}`, i), {
            concurrency: 20,
            discard: true
          })
          const all = yield* Memory.list()
          assert.strictEqual(all.length, 10)
        })
      )
    })

    it.effect("typed entries: forSchema encodes and decodes; a decode failure names the key", () => {
      const s = uid()
      return withMemory(
        {},
        { sessionId: s },
        Effect.gen(function*() {
          const Goal = Schema.Struct({ title: Schema.String, due: Schema.DateFromString })
          const goals = Memory.forSchema(Goal)
          const stored = yield* goals.store("goal-1", { title: "run 5k", due: new Date("2026-06-01T00:00:00.000Z") })
          assert.instanceOf(stored.value.due, Date)
          const raw = Option.getOrThrow(yield* Memory.retrieve("goal-1"))
          assert.deepStrictEqual(raw.value, { title: "run 5k", due: "2026-06-01T00:00:00.000Z" }, "stored encoded")
          const back = Option.getOrThrow(yield* goals.retrieve("goal-1"))
          assert.strictEqual(back.value.due.toISOString(), "2026-06-01T00:00:00.000Z")
          yield* Memory.store("goal-2", { title: 42 })
          const err = yield* Effect.flip(goals.retrieve("goal-2"))
          assert.strictEqual(err._tag, "MemoryDecodeError")
          assert.strictEqual(err._tag === "MemoryDecodeError" ? err.key : "", "goal-2")
          assert.include(err.message, "goal-2")
          const err2 = yield* Effect.flip(goals.list())
          assert.strictEqual(err2._tag === "MemoryDecodeError" ? err2.key : "", "goal-2")
        })
      )
    })

    it.effect("the raw store: scope-explicit operations and clear", () =>
      Effect.gen(function*() {
        const store = yield* MemoryStore.MemoryStore
        const a: MemoryStore.Scope = { kind: "global", id: `g-${uid()}` }
        const b: MemoryStore.Scope = { kind: "global", id: `g-${uid()}` }
        const entry = (scope: MemoryStore.Scope, key: string, expiresAt?: number): MemoryStore.Entry => ({
          id: crypto.randomUUID(),
          scope,
          key,
          value: key,
          tags: [],
          createdAt: 10,
          ...(expiresAt !== undefined ? { expiresAt } : {})
        })
        yield* store.put(entry(a, "x"), { now: 10 })
        yield* store.put(entry(a, "y", 50), { now: 10 })
        yield* store.put(entry(b, "x"), { now: 10 })
        assert.strictEqual((yield* store.query(a, {}, 20)).length, 2)
        assert.strictEqual((yield* store.query(a, {}, 50)).length, 1)
        assert.isTrue(Option.isNone(yield* store.get(a, "y", 50)))
        assert.strictEqual(yield* store.clear(a), 2)
        assert.strictEqual((yield* store.query(a, {}, 20)).length, 0)
        assert.strictEqual((yield* store.query(b, {}, 20)).length, 1)
        yield* store.clear(b)
      }).pipe(Effect.provide(options.layer)))
  })
}
