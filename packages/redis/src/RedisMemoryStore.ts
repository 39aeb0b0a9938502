/**
 * The Redis memory store (ioredis). Each scope is three keys sharing one hash tag (so a scope
 * lives in one cluster slot): a hash of entries, a sorted set of write order and a sorted set of
 * expiry times. Writes, evictions and deletes are Lua scripts, so each is atomic.
 *
 * Keys: `<prefix>{<scope key>}:e|o|x|n`, prefix `braid:memory:` by default, where the scope key
 * is `MemoryStore.scopeKey` (`kind:tenant:id`, escaped, `~` for no tenant), so no two scopes
 * share keys whatever their ids hold.
 *
 * @since 0.1.0
 */
import { Io, Json } from "@braid/core"
import { MemoryStoreError } from "@braid/memory/Errors"
import * as MemorySql from "@braid/memory/MemorySql"
import {
  applyLimit,
  decodeEntry,
  decodeRecord,
  encodeRecord,
  type Entry,
  idempotencyWindowMillis,
  isLive,
  matches,
  MemoryStore,
  type MemoryStoreShape,
  type Scope,
  scopeKey,
  valueJsonOf
} from "@braid/memory/MemoryStore"
import { Duration, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import { Redis } from "ioredis"
import * as RedisClient from "./internal/redis.js"

/**
 * Options of the Redis store.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The prefix of every key. Default `braid:memory:`. */
  readonly prefix?: string
}

const PUT = `
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], ARGV[1], seq .. '\\n' .. ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) else redis.call('ZREM', KEYS[3], ARGV[1]) end
if ARGV[5] ~= '' then
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
  for _, k in ipairs(expired) do
    redis.call('HDEL', KEYS[1], k); redis.call('ZREM', KEYS[2], k); redis.call('ZREM', KEYS[3], k)
  end
  local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
  if excess > 0 then
    local old = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
    for _, k in ipairs(old) do
      redis.call('HDEL', KEYS[1], k); redis.call('ZREM', KEYS[2], k); redis.call('ZREM', KEYS[3], k)
    end
  end
end
return seq
`

/**
 * A write with an idempotency key: KEYS[5] (hash: key -> record) and KEYS[6] (zset: key -> when
 * it lapses) hold the scope's applied keys. A lapsed key is dropped; an applied one returns its
 * record (the first write's entry) and writes nothing; a free one is claimed, then PUT runs.
 */
const PUT_ONCE = `
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', ARGV[4])
for _, k in ipairs(lapsed) do redis.call('HDEL', KEYS[5], k); redis.call('ZREM', KEYS[6], k) end
local first = redis.call('HGET', KEYS[5], ARGV[6])
if first then return first end
redis.call('HSET', KEYS[5], ARGV[6], ARGV[7]); redis.call('ZADD', KEYS[6], ARGV[8], ARGV[6])
${PUT}`

const DELETE = `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1]); redis.call('ZREM', KEYS[3], ARGV[1])
return n
`

const CLEAR = `
local n = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return n
`

interface Scripts {
  braidMemoryPut(
    e: string,
    o: string,
    x: string,
    n: string,
    key: string,
    stored: string,
    expiresAt: string,
    now: string,
    max: string
  ): Promise<number>
  braidMemoryPutOnce(
    e: string,
    o: string,
    x: string,
    n: string,
    i: string,
    ie: string,
    key: string,
    stored: string,
    expiresAt: string,
    now: string,
    max: string,
    idempotencyKey: string,
    record: string,
    lapsesAt: string
  ): Promise<number | string>
  braidMemoryDelete(e: string, o: string, x: string, key: string): Promise<number>
  braidMemoryClear(e: string, o: string, x: string, n: string, i: string, ie: string): Promise<number>
}

const corrupt = (operation: string, key: string | undefined, detail: string) =>
  new MemoryStoreError({
    store: "redis",
    operation,
    reason: "Corrupt",
    message: `entry ${
      key === undefined ? "(key unknown)" : JSON.stringify(key.slice(0, 100))
    } does not decode: ${detail}`
  })

/**
 * An entry as stored in the hash: `<seq>\n<entry JSON without its value>\n<value JSON>` (JSON
 * text has no raw newline). Entries written by 0.1 (`<seq>\n<entry JSON>`) are read too, a
 * missing value as `null`.
 */
const storedText = (entry: Entry, valueJson: string): string => {
  const { value: _, ...meta } = entry
  return `${JSON.stringify(meta)}\n${valueJson}`
}

/**
 * Decodes a stored entry with `Json.parse` and `MemoryStore.decodeEntry`; its scope is the one
 * it was read from (so entries moved by `migrate` read back in their new scope).
 */
const decodeStored = (
  operation: string,
  scope: Scope,
  key: string | undefined,
  raw: unknown
): Either.Either<{ readonly seq: number; readonly entry: Entry }, MemoryStoreError> => {
  if (typeof raw !== "string") return Either.left(corrupt(operation, key, `expected text, got ${typeof raw}`))
  const nl = raw.indexOf("\n")
  const seq = nl > 0 ? Number(raw.slice(0, nl)) : NaN
  if (!Number.isSafeInteger(seq)) return Either.left(corrupt(operation, key, "no write order"))
  const nl2 = raw.indexOf("\n", nl + 1)
  const meta = Json.parse(nl2 < 0 ? raw.slice(nl + 1) : raw.slice(nl + 1, nl2))
  if (Either.isLeft(meta)) return Either.left(corrupt(operation, key, meta.left.message))
  if (typeof meta.right !== "object" || meta.right === null || Array.isArray(meta.right)) {
    return Either.left(corrupt(operation, key, "not an object"))
  }
  if (key === undefined && typeof (meta.right as { key?: unknown }).key === "string") {
    key = (meta.right as { key: string }).key
  }
  let value: unknown = (meta.right as { value?: unknown }).value ?? null
  if (nl2 >= 0) {
    const parsed = Json.parse(raw.slice(nl2 + 1))
    if (Either.isLeft(parsed)) return Either.left(corrupt(operation, key, `value: ${parsed.left.message}`))
    value = parsed.right
  }
  const entry = decodeEntry({ ...meta.right, value, scope })
  return Either.isLeft(entry)
    ? Either.left(corrupt(operation, key, entry.left))
    : Either.right({ seq, entry: entry.right })
}

/** Every scope of 0.1 (`{kind:<encodeURIComponent of "T/x">}`) moved to its 0.2 key. */
const OLD_KEY = /^\{(run|session|user|global):([^:{}]*)\}:([eoxn])$/
const SCHEMA_VERSION = "2"

/** A Redis glob that matches `text` literally. */
const globLiteral = (text: string): string => text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

/**
 * The scope of a 0.1 scope id, by the rule of the SQL stores' migration: `T/global` (kind
 * global) is tenant `T`; a session or user id with a `/` splits at its first `/`.
 */
const scopeOfOldId = (kind: Scope["kind"], id: string): Scope => {
  if (kind === "global" && id.length > 7 && id.endsWith("/global")) {
    return { kind, tenant: id.slice(0, -7), id: "global" }
  }
  const slash = id.indexOf("/")
  if ((kind === "session" || kind === "user") && slash >= 0) {
    return { kind, tenant: id.slice(0, slash), id: id.slice(slash + 1) }
  }
  return { kind, id }
}

/**
 * Moves the scopes written by 0.1 under `prefix` (`<prefix>{<kind>:<id>}:e|o|x|n`, the tenant
 * joined into the id) to their 0.2 keys, which keep the tenant apart (see `MemoryStore.scopeKey`;
 * old ids are split by the rule of the SQL stores' migration), then records that it ran under
 * `<prefix>schema`, so the next start only reads that key. A scope whose new keys already exist
 * is left where it is (nothing is overwritten) and counted in `skipped`. The layer runs it when
 * it is built; call it yourself before `make` on a client of your own.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Redis } from "ioredis"
 * import { RedisMemoryStore } from "@braid/redis"
 *
 * const moved = Effect.flatMap(Effect.sync(() => new Redis()), (client) => RedisMemoryStore.migrate(client, { prefix: "myapp:memory:" }))
 * ```
 *
 * @category utils
 * @since 0.2.0
 */
export const migrate = (
  client: Redis,
  options: { readonly prefix?: string } = {}
): Effect.Effect<{ readonly moved: number; readonly skipped: number }, MemoryStoreError> =>
  Effect.tryPromise({
    try: async () => {
      const prefix = options.prefix ?? "braid:memory:"
      if ((await client.get(`${prefix}schema`)) === SCHEMA_VERSION) return { moved: 0, skipped: 0 }
      const scopes = new Map<string, Array<string>>()
      let cursor = "0"
      do {
        const [next, batch] = await client.scan(cursor, "MATCH", `${globLiteral(prefix)}{*`, "COUNT", 1000)
        cursor = next
        for (const key of batch) {
          const m = OLD_KEY.exec(key.slice(prefix.length))
          if (m === null) continue
          const old = `${m[1]}:${m[2]}`
          scopes.set(old, [...(scopes.get(old) ?? []), key])
        }
      } while (cursor !== "0")
      let moved = 0
      let skipped = 0
      for (const [old, keys] of scopes) {
        const colon = old.indexOf(":")
        let id: string
        try {
          id = decodeURIComponent(old.slice(colon + 1))
        } catch {
          skipped++
          continue
        }
        const base = `${prefix}{${scopeKey(scopeOfOldId(old.slice(0, colon) as Scope["kind"], id))}}:`
        const targets = keys.map((k) => `${base}${k.slice(-1)}`)
        if ((await client.exists(...["e", "o", "x", "n"].map((s) => `${base}${s}`))) > 0) {
          skipped++
          continue
        }
        for (let i = 0; i < keys.length; i++) {
          // another process migrating at the same time may have moved it already
          await client.renamenx(keys[i]!, targets[i]!).catch(() => 0)
        }
        moved++
      }
      await client.set(`${prefix}schema`, SCHEMA_VERSION)
      return { moved, skipped }
    },
    catch: (e) =>
      new MemoryStoreError({
        store: "redis",
        operation: "migrate",
        message: e instanceof Error ? e.message : String(e)
      })
  })

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.2.0
 */
export interface MakeOptions extends Options {
  /**
   * The bound of every store call: past it the call fails with a `MemoryStoreError` whose
   * `reason` is "Timeout". Default `Io.defaultTimeout` (5 s).
   */
  readonly timeout?: Duration.DurationInput
}

/**
 * The store over an ioredis client you own (it is not closed by the store). Every call is
 * bounded by `timeout`; an entry that does not decode fails the read with a `MemoryStoreError`
 * (reason "Corrupt"). Give your client an "error" listener (ioredis reports connection errors
 * there); the store's calls fail typed either way.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { RedisMemoryStore } from "@braid/redis"
 *
 * const store = RedisMemoryStore.make(new Redis("redis://127.0.0.1:6379"), { prefix: "myapp:memory:", timeout: "2 seconds" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (client: Redis, options: MakeOptions = {}): MemoryStoreShape => {
  const prefix = options.prefix ?? "braid:memory:"
  const timeout = Duration.decode(options.timeout ?? Io.defaultTimeout)
  if (!("braidMemoryPutOnce" in client)) {
    client.defineCommand("braidMemoryPut", { numberOfKeys: 4, lua: PUT })
    client.defineCommand("braidMemoryPutOnce", { numberOfKeys: 6, lua: PUT_ONCE })
    client.defineCommand("braidMemoryDelete", { numberOfKeys: 3, lua: DELETE })
    client.defineCommand("braidMemoryClear", { numberOfKeys: 6, lua: CLEAR })
  }
  const redis = client as Redis & Partial<Scripts> as Redis & Scripts
  const base = (scope: Scope) => `${prefix}{${scopeKey(scope)}}:`
  const keys = (scope: Scope) => {
    const b = base(scope)
    return { e: `${b}e`, o: `${b}o`, x: `${b}x`, n: `${b}n`, i: `${b}i`, ie: `${b}ie` }
  }
  const failure = (operation: string, e: unknown) =>
    e instanceof MemoryStoreError
      ? e
      : new MemoryStoreError({ store: "redis", operation, message: e instanceof Error ? e.message : String(e) })
  /** One call, bounded; its arguments are made inside the step. */
  const attempt = <A>(operation: string, f: () => Promise<A>) =>
    Io.promise(f, timeout, MemorySql.timedOut("redis", operation), (e) => failure(operation, e))
  return {
    name: "redis",
    put: (entry, put) =>
      Effect.flatMap(
        attempt("put", (): Promise<number | string> => {
          const json = valueJsonOf("redis", entry, put.valueJson)
          if (Either.isLeft(json)) return Promise.reject(json.left)
          const k = keys(entry.scope)
          const args = [
            entry.key,
            storedText(entry, json.right),
            entry.expiresAt === undefined ? "" : String(entry.expiresAt),
            String(put.now),
            put.maxEntries === undefined ? "" : String(Math.max(0, put.maxEntries))
          ] as const
          return put.idempotencyKey === undefined
            ? redis.braidMemoryPut(k.e, k.o, k.x, k.n, ...args)
            : redis.braidMemoryPutOnce(
              k.e,
              k.o,
              k.x,
              k.n,
              k.i,
              k.ie,
              ...args,
              put.idempotencyKey,
              encodeRecord(entry, json.right),
              String(put.now + idempotencyWindowMillis)
            )
        }),
        (result): Effect.Effect<Entry | void, MemoryStoreError> => {
          if (typeof result !== "string") return Effect.void
          const first = decodeRecord(result)
          return Either.isRight(first) ? Effect.succeed(first.right) : Effect.fail(
            corrupt(
              "put",
              entry.key,
              `the record of idempotency key ${JSON.stringify(put.idempotencyKey)}: ${first.left}`
            )
          )
        }
      ),
    // One HGET through ioredis's callback (no promise), decoded in the same step.
    get: (scope, key, now) =>
      Io.bounded(
        Effect.async<Option.Option<Entry>, MemoryStoreError>((resume) => {
          redis.hget(`${base(scope)}e`, key, (err, raw) => {
            if (err) return resume(Effect.fail(failure("get", err)))
            if (raw === null || raw === undefined) return resume(Effect.succeed(Option.none()))
            const decoded = decodeStored("get", scope, key, raw)
            if (Either.isLeft(decoded)) return resume(Effect.fail(decoded.left))
            resume(Effect.succeed(isLive(decoded.right.entry, now) ? Option.some(decoded.right.entry) : Option.none()))
          })
        }),
        timeout,
        MemorySql.timedOut("redis", "get")
      ),
    query: (scope, filter, now) =>
      Effect.flatMap(attempt("query", () => redis.hvals(keys(scope).e)), (raws) => {
        const rows: Array<{ readonly seq: number; readonly entry: Entry }> = []
        for (const raw of raws) {
          const decoded = decodeStored("query", scope, undefined, raw)
          if (Either.isLeft(decoded)) return Exit.fail(decoded.left)
          if (isLive(decoded.right.entry, now) && matches(decoded.right.entry, filter)) rows.push(decoded.right)
        }
        rows.sort((a, b) => a.seq - b.seq)
        return Exit.succeed(applyLimit(rows.map((r) => r.entry), filter.limit))
      }),
    delete: (scope, key) =>
      Effect.map(
        attempt("delete", () => {
          const k = keys(scope)
          return redis.braidMemoryDelete(k.e, k.o, k.x, key)
        }),
        (n) => n > 0
      ),
    clear: (scope) =>
      attempt("clear", () => {
        const k = keys(scope)
        return redis.braidMemoryClear(k.e, k.o, k.x, k.n, k.i, k.ie)
      })
  }
}

/**
 * A Redis memory store on `url` (default: `REDIS_URL`, else `redis://127.0.0.1:6379`). The
 * connection is opened when the layer is built (then `migrate` runs), and closed with it; every
 * step, and every store call, is bounded by `timeout` (default `Io.defaultTimeout`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory } from "@braid/memory"
 * import { RedisMemoryStore } from "@braid/redis"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(RedisMemoryStore.layer({ prefix: "myapp:memory:" })))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: MakeOptions & { readonly url?: Redacted.Redacted<string> } = {}
): Layer.Layer<MemoryStore, MemoryStoreError> =>
  Layer.scoped(
    MemoryStore,
    Effect.gen(function*() {
      const client = yield* RedisClient.connect(options.url, {
        timeout: options.timeout,
        commandTimeout: true,
        onError: (failure) =>
          failure.timeoutMillis !== undefined
            ? MemorySql.timedOut("redis", "connect")(failure.timeoutMillis)
            : new MemoryStoreError({ store: "redis", operation: "connect", message: failure.reason })
      })
      yield* migrate(client, options)
      return make(client, options)
    })
  )
