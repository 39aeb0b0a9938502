import { WorkflowContext } from "@braid/core"
import { Memory, MemoryStore } from "@braid/memory"
import type { MemoryStoreError } from "@braid/memory/Errors"
import { RedisMemoryStore } from "@braid/redis"
import { describeWith, faultyProxy, REDIS_URL, silentServer } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Cause, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { Redis } from "ioredis"
import { afterAll } from "vitest"
import { conformance } from "../../memory/test/memoryConformance.js"

const describeRedis = await describeWith("redis")
const prefix = `braid:memory:test-${crypto.randomUUID().slice(0, 8)}:`
const url = Redacted.make(REDIS_URL)

const keysUnder = async (p: string) => {
  const client = new Redis(REDIS_URL)
  try {
    const found: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${p}*`, "COUNT", 1000)
      cursor = next
      found.push(...batch)
    } while (cursor !== "0")
    return { client, found }
  } catch (e) {
    client.disconnect()
    throw e
  }
}

describeRedis("Redis memory store", () => {
  afterAll(async () => {
    const { client, found } = await keysUnder(prefix)
    if (found.length > 0) await client.del(...found)
    await client.quit()
  })

  conformance("redis", { layer: RedisMemoryStore.layer({ url, prefix }), numRuns: 25 })

  it.effect("keys live under the configured prefix, one hash tag per scope", () =>
    Effect.gen(function*() {
      const p = `${prefix}layout:`
      const program = Effect.gen(function*() {
        const s = yield* MemoryStore.MemoryStore
        yield* s.put({
          id: "1",
          scope: { kind: "user", id: "a:b" },
          key: "k",
          value: 1,
          tags: [],
          createdAt: 0,
          expiresAt: 10
        }, { now: 0 })
        yield* s.put({
          id: "2",
          scope: { kind: "user", tenant: "t/1", id: "b" },
          key: "k",
          value: 1,
          tags: [],
          createdAt: 0
        }, { now: 0 })
      })
      yield* Effect.provide(program, RedisMemoryStore.layer({ url, prefix: p }))
      const { client, found } = yield* Effect.promise(() => keysUnder(p))
      yield* Effect.promise(() => client.quit())
      assert.sameMembers(found, [
        `${p}schema`,
        ...["e", "o", "x", "n"].map((k) => `${p}{user:~:a%003ab}:${k}`),
        ...["e", "o", "n"].map((k) => `${p}{user:t%002f1:b}:${k}`)
      ])
    }))

  it.effect("an entry that does not decode (written by something else) fails the read with a typed error, not a defect", () =>
    Effect.gen(function*() {
      const p = `${prefix}garbled:`
      const scope = { kind: "user", id: "u" } as const
      const client = new Redis(REDIS_URL)
      yield* Effect.promise(() => client.hset(`${p}{user:~:u}:e`, "bad", "1\n{not json"))
      yield* Effect.promise(() => client.quit())
      const error = yield* Effect.flip(Effect.provide(
        Effect.flatMap(MemoryStore.MemoryStore, (s) => s.get(scope, "bad", 0)),
        RedisMemoryStore.layer({ url, prefix: p })
      ))
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.operation, "get")
    }))

  it.effect("a corrupted entry fails get, query and list with a typed Corrupt error (never a defect)", () =>
    Effect.gen(function*() {
      const p = `${prefix}corrupt:`
      const scope = { kind: "user", id: "u" } as const
      const hash = `${p}{user:~:u}:e`
      const client = new Redis(REDIS_URL)
      const garbage = [
        "1\n{not json",
        "x\n{}\nnull",
        "1\n[]\nnull",
        "1\n{\"__proto__\": {}}\nnull",
        "1\n{}\n{bad",
        "1\n{\"id\": 5}\n1",
        "no newline"
      ]
      try {
        for (const raw of garbage) {
          yield* Effect.promise(() => client.hset(hash, "bad", raw))
          const exits = yield* Effect.provide(
            Effect.flatMap(MemoryStore.MemoryStore, (s) => {
              const reads: ReadonlyArray<Effect.Effect<unknown, MemoryStoreError>> = [
                s.get(scope, "bad", 0),
                s.query(scope, {}, 0),
                s.query(scope, { text: "x", limit: 1 }, 0)
              ]
              return Effect.all(reads.map((read) => Effect.flip(read)))
            }),
            RedisMemoryStore.layer({ url, prefix: p })
          )
          for (const error of exits) {
            assert.strictEqual(error._tag, "MemoryStoreError")
            assert.strictEqual(error.reason, "Corrupt", `${JSON.stringify(raw)}: ${error.message}`)
          }
        }
        // through Memory.list too
        const listed = yield* Effect.flip(Effect.provide(
          Memory.list({ scope: "user" }),
          Layer.mergeAll(
            Memory.layer().pipe(Layer.provide(RedisMemoryStore.layer({ url, prefix: p }))),
            WorkflowContext.layer({ userId: "u" })
          )
        ))
        assert.strictEqual(listed._tag, "MemoryStoreError")
      } finally {
        yield* Effect.promise(() => client.quit())
      }
    }))

  it.effect("entries written by 0.1 are moved to their 0.2 keys once (tenant split out of the id), and still read", () =>
    Effect.gen(function*() {
      const p = `${prefix}v1:`
      const client = new Redis(REDIS_URL)
      const old = (kind: string, id: string, key: string, value: unknown, seq: number) => {
        const base = `${p}{${kind}:${encodeURIComponent(id)}}:`
        const entry = { id: `e${seq}`, scope: { kind, id }, key, value, tags: [], createdAt: seq }
        return Promise.all([
          client.hset(`${base}e`, key, `${seq}\n${JSON.stringify(entry)}`),
          client.zadd(`${base}o`, seq, key),
          client.set(`${base}n`, String(seq))
        ])
      }
      yield* Effect.promise(() => old("user", "acme/bob", "k", "acme bob", 1))
      yield* Effect.promise(() => old("user", "ada", "k", "ada", 2))
      yield* Effect.promise(() => old("global", "a/b/global", "k", "a/b global", 3))
      yield* Effect.promise(() => old("user", "ada", "gone", undefined, 4)) // 0.1 dropped a stored undefined
      yield* Effect.promise(() => client.quit())
      const read = (o: WorkflowContext.ContextOptions, scope: "user" | "global", key = "k") =>
        Effect.provide(
          Effect.map(Memory.retrieve(key, { scope }), Option.map((e) => [e.value, e.scope] as const)),
          Layer.mergeAll(
            Memory.layer().pipe(Layer.provide(RedisMemoryStore.layer({ url, prefix: p }))),
            WorkflowContext.layer(o)
          )
        )
      assert.deepStrictEqual(
        yield* read({ tenantId: "acme", userId: "bob" }, "user"),
        Option.some(["acme bob", { kind: "user", tenant: "acme", id: "bob" }] as const)
      )
      assert.isTrue(Option.isNone(yield* read({ userId: "acme/bob" }, "user")))
      assert.deepStrictEqual(
        yield* read({ userId: "ada" }, "user"),
        Option.some(["ada", { kind: "user", id: "ada" }] as const)
      )
      assert.deepStrictEqual(
        yield* read({ userId: "ada" }, "user", "gone"),
        Option.some([null, { kind: "user", id: "ada" }] as const)
      )
      assert.deepStrictEqual(
        yield* read({ tenantId: "a/b" }, "global"),
        Option.some(["a/b global", { kind: "global", tenant: "a/b", id: "global" }] as const)
      )
      const moved = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Effect.acquireRelease(
          Effect.sync(() => new Redis(REDIS_URL)),
          (c) => Effect.promise(() => c.quit())
        )
        return yield* RedisMemoryStore.migrate(c, { prefix: p })
      }))
      assert.deepStrictEqual(moved, { moved: 0, skipped: 0 }, "recorded as done")
    }))

  it.live("on a server that accepts and never answers, the layer fails with a typed Timeout", () =>
    Effect.gen(function*() {
      const { port } = yield* silentServer
      const error = yield* Effect.flip(
        Layer.build(RedisMemoryStore.layer({ url: Redacted.make(`redis://127.0.0.1:${port}`), timeout: "200 millis" }))
          .pipe(Effect.scoped)
      )
      assert.strictEqual(error._tag, "MemoryStoreError")
      assert.strictEqual(error.reason, "Timeout")
    }).pipe(Effect.scoped))

  it.live("on a link that goes silent, every store call fails with a typed Timeout", () =>
    Effect.gen(function*() {
      const proxy = yield* faultyProxy(Number(new URL(REDIS_URL).port || 6379))
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const c = new Redis({ host: "127.0.0.1", port: proxy.port, maxRetriesPerRequest: 1 })
          c.on("error", () => {})
          await c.ping()
          return c
        }),
        (c) => Effect.sync(() => c.disconnect())
      )
      const store = RedisMemoryStore.make(client, { prefix: `${prefix}silent:`, timeout: "200 millis" })
      const scope = { kind: "user", id: "u" } as const
      const entry = { id: "1", scope, key: "k", value: 1, tags: [], createdAt: 0 }
      yield* store.put(entry, { now: 0 }).pipe(Effect.retry({ times: 5 })) // the bound is short: a loaded machine may need a second try
      proxy.silence()
      const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, MemoryStoreError>]> = [
        ["put", store.put(entry, { now: 0, maxEntries: 2 })],
        ["get", store.get(scope, "k", 0)],
        ["query", store.query(scope, {}, 0)],
        ["delete", store.delete(scope, "k")],
        ["clear", store.clear(scope)]
      ]
      for (const [operation, call] of calls) {
        const error = yield* Effect.flip(call)
        assert.strictEqual(error.reason, "Timeout", `${operation}: ${error.message}`)
        assert.strictEqual(error.operation, operation)
      }
    }).pipe(Effect.scoped))

  it.live("a killed connection (CLIENT KILL) fails or retries calls typed, and the store goes on", () =>
    Effect.gen(function*() {
      const p = `${prefix}kill:`
      const name = `braid-kill-${crypto.randomUUID().slice(0, 8)}`
      const client = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const c = new Redis(REDIS_URL, { connectionName: name, maxRetriesPerRequest: 2 })
          c.on("error", () => {})
          await c.ping()
          return c
        }),
        (c) => Effect.promise(() => c.quit().catch(() => "closed"))
      )
      const store = RedisMemoryStore.make(client, { prefix: p, timeout: "2 seconds" })
      const scope = { kind: "user", id: "u" } as const
      yield* store.put({ id: "1", scope, key: "a", value: 1, tags: [], createdAt: 0 }, { now: 0 })
      const admin = new Redis(REDIS_URL)
      const put = yield* Effect.fork(
        Effect.exit(
          store.put({ id: "2", scope, key: "b", value: 2, tags: [], createdAt: 0 }, { now: 0, maxEntries: 5 })
        )
      )
      yield* Effect.promise(() => admin.client("KILL", "SKIPME", "yes", "TYPE", "normal").then(() => admin.quit()))
      const exit = yield* Fiber.join(put)
      if (exit._tag === "Failure") {
        const e = Cause.failureOption(exit.cause)
        assert.isTrue(Option.isSome(e) && e.value._tag === "MemoryStoreError", Cause.pretty(exit.cause))
      }
      const keys = (yield* store.query(scope, {}, 0)).map((e) => e.key)
      assert.includeMembers(keys, ["a"])
    }).pipe(Effect.scoped))
})
