/**
 * The Redis memory store (ioredis). Each scope is three keys sharing one hash tag (so a scope
 * lives in one cluster slot): a hash of entries, a sorted set of write order and a sorted set of
 * expiry times. Writes, evictions and deletes are Lua scripts, so each is atomic.
 *
 * Keys: `<prefix>{<kind>:<id>}:e|o|x|n`, prefix `braid:memory:` by default.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option, Redacted } from "effect"
import { Redis } from "ioredis"
import { MemoryStoreError } from "./Errors.js"
import { applyLimit, type Entry, isLive, matches, MemoryStore, type MemoryStoreShape, type Scope } from "./MemoryStore.js"

/**
 * Options of the Redis store.
 *
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

const DELETE = `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1]); redis.call('ZREM', KEYS[3], ARGV[1])
return n
`

const CLEAR = `
local n = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return n
`

interface Scripts {
  braidMemoryPut(e: string, o: string, x: string, n: string, key: string, json: string, expiresAt: string, now: string, max: string): Promise<number>
  braidMemoryDelete(e: string, o: string, x: string, key: string): Promise<number>
  braidMemoryClear(e: string, o: string, x: string, n: string): Promise<number>
}

const parse = (raw: string): { readonly seq: number; readonly entry: Entry } => {
  const nl = raw.indexOf("\n")
  return { seq: Number(raw.slice(0, nl)), entry: JSON.parse(raw.slice(nl + 1)) as Entry }
}

/**
 * The store over an ioredis client you own (it is not closed by the store).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis"
 * import { RedisMemoryStore } from "@braid/agents"
 *
 * const store = RedisMemoryStore.make(new Redis("redis://127.0.0.1:6379"), { prefix: "myapp:memory:" })
 * ```
 *
 * @since 0.1.0
 */
export const make = (client: Redis, options: Options = {}): MemoryStoreShape => {
  const prefix = options.prefix ?? "braid:memory:"
  if (!("braidMemoryPut" in client)) {
    client.defineCommand("braidMemoryPut", { numberOfKeys: 4, lua: PUT })
    client.defineCommand("braidMemoryDelete", { numberOfKeys: 3, lua: DELETE })
    client.defineCommand("braidMemoryClear", { numberOfKeys: 4, lua: CLEAR })
  }
  const redis = client as unknown as Redis & Scripts
  const base = (scope: Scope) => `${prefix}{${scope.kind}:${encodeURIComponent(scope.id)}}:`
  const keys = (scope: Scope) => {
    const b = base(scope)
    return { e: `${b}e`, o: `${b}o`, x: `${b}x`, n: `${b}n` }
  }
  const failure = (operation: string, e: unknown) =>
    new MemoryStoreError({ store: "redis", operation, message: e instanceof Error ? e.message : String(e) })
  const attempt = <A>(operation: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => failure(operation, e) })
  return {
    name: "redis",
    put: (entry, put) => {
      const k = keys(entry.scope)
      return Effect.asVoid(attempt("put", () =>
        redis.braidMemoryPut(
          k.e,
          k.o,
          k.x,
          k.n,
          entry.key,
          JSON.stringify(entry),
          entry.expiresAt === undefined ? "" : String(entry.expiresAt),
          String(put.now),
          put.maxEntries === undefined ? "" : String(Math.max(0, put.maxEntries))
        )))
    },
    // One HGET through ioredis's callback (no promise), decoded in the same step; an entry that
    // does not decode is a MemoryStoreError, not a defect.
    get: (scope, key, now) =>
      Effect.async<Option.Option<Entry>, MemoryStoreError>((resume) => {
        redis.hget(`${base(scope)}e`, key, (err, raw) => {
          if (err) return resume(Effect.fail(failure("get", err)))
          if (raw === null || raw === undefined) return resume(Effect.succeed(Option.none()))
          let entry: Entry
          try {
            entry = parse(raw).entry
          } catch (e) {
            return resume(Effect.fail(failure("get", e)))
          }
          resume(Effect.succeed(isLive(entry, now) ? Option.some(entry) : Option.none()))
        })
      }),
    query: (scope, filter, now) =>
      Effect.map(attempt("query", () => redis.hvals(keys(scope).e)), (raws) => {
        const rows = raws.map(parse).filter((r) => isLive(r.entry, now) && matches(r.entry, filter))
        rows.sort((a, b) => a.seq - b.seq)
        return applyLimit(rows.map((r) => r.entry), filter.limit)
      }),
    delete: (scope, key) => {
      const k = keys(scope)
      return Effect.map(attempt("delete", () => redis.braidMemoryDelete(k.e, k.o, k.x, key)), (n) => n > 0)
    },
    clear: (scope) => {
      const k = keys(scope)
      return attempt("clear", () => redis.braidMemoryClear(k.e, k.o, k.x, k.n))
    }
  }
}

/**
 * A Redis memory store on `url` (default: `REDIS_URL`, else `redis://127.0.0.1:6379`). The
 * connection is opened when the layer is built and closed with it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, RedisMemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer().pipe(Layer.provide(RedisMemoryStore.layer({ prefix: "myapp:memory:" })))
 * ```
 *
 * @since 0.1.0
 */
export const layer = (options: Options & { readonly url?: Redacted.Redacted<string> } = {}): Layer.Layer<MemoryStore, MemoryStoreError> =>
  Layer.scoped(
    MemoryStore,
    Effect.gen(function*() {
      const url = options.url ?? (yield* Config.redacted("REDIS_URL").pipe(
        Config.withDefault(Redacted.make("redis://127.0.0.1:6379")),
        Effect.mapError((e) => new MemoryStoreError({ store: "redis", operation: "config", message: String(e) }))
      ))
      const client = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            const c = new Redis(Redacted.value(url), { lazyConnect: true, maxRetriesPerRequest: 2 })
            // Connection errors surface as failed commands (MemoryStoreError); keep the last one
            // for the connect failure instead of letting ioredis print it as unhandled.
            let lastError: unknown = undefined
            c.on("error", (e) => {
              lastError = e
            })
            try {
              await c.connect()
            } catch (e) {
              c.disconnect() // stop ioredis from reconnecting in the background
              throw lastError ?? e
            }
            return c
          },
          catch: (e) => new MemoryStoreError({ store: "redis", operation: "connect", message: e instanceof Error ? e.message : String(e) })
        }),
        (c) => Effect.promise(() => c.quit().catch(() => c.disconnect()))
      )
      return make(client, options)
    })
  )
