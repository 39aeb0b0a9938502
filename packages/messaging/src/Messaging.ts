/**
 * Agent messaging: one-way `send`, `request`/reply with a timeout, and an asynchronous inbox per
 * agent (unread messages, wait for a message with a timeout, mark as read), persisted in SQLite
 * or PostgreSQL so that pending messages survive a restart and are delivered when the agent's
 * handler (`serve`) resumes.
 *
 * Delivery by `serve` is in order and at least once: a message is marked read only after its
 * handler succeeded; a handler failure leaves it unread and it is retried after `pollInterval`.
 * New messages are noticed at once inside one process and by polling (`pollInterval`, default
 * 250 ms) across processes sharing a database. Replies are consumed by the `request` waiting for
 * them and never appear among an inbox's unread messages.
 *
 * - A message body is any JSON value. It is copied on the way in (`Json.copy`): a later change
 *   to the caller's object does not change the message, and a body with no lossless JSON form
 *   (a BigInt, a cycle, NaN, nesting deeper than 1,000, a `"__proto__"` key) is refused with a
 *   `MessageInvalid` naming the path, and nothing is stored.
 * - Every call to a SQL store is bounded by `timeout` (default `Io.defaultTimeout`, 5 s): a
 *   database that accepts bytes and never answers is a `MessageStoreError`, never a hang.
 * - `serve` outlives store errors: after a failed read it retries on the Effect Clock, with a
 *   delay doubling from `pollInterval` up to `maxRetryDelay` (default 30 s), each retry logged,
 *   and goes back to normal after the first read that works.
 * - The in-memory store keeps unread messages only: a message marked read is dropped (nothing
 *   reads read messages back), and at most 1,000 unconsumed replies per agent are kept (a reply
 *   that arrives after its request timed out is never consumed), the oldest dropped first.
 *
 * @since 0.1.0
 */
import { Json, Sql } from "@braid/core"
import { Cause, Clock, Context, Duration, Effect, Either, Layer, Option, PubSub, Queue, Schema } from "effect"
import type { Scope } from "effect"
import { MessageInvalid, MessageStoreError, RequestTimedOut } from "./Errors.js"

/**
 * A message. `body` is any JSON value.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const decode = Schema.decodeUnknownSync(Messaging.Message)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Message = Schema.Struct({
  id: Schema.String,
  from: Schema.String,
  to: Schema.String,
  kind: Schema.Literal("message", "request", "reply"),
  /** For a reply: the id of the request it answers. */
  correlationId: Schema.optional(Schema.String),
  body: Schema.Unknown,
  sentAt: Schema.Number,
  readAt: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Message = typeof Message.Type

/**
 * Where messages are kept. The service hands a store only messages whose body is plain JSON
 * (already copied); a store bounds its own calls (see `sqlStoreWith`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  readonly insert: (message: Message) => Effect.Effect<void, MessageStoreError>
  /** Unread messages and requests (not replies) to `agent`, oldest first. */
  readonly unread: (agent: string) => Effect.Effect<ReadonlyArray<Message>, MessageStoreError>
  readonly markRead: (agent: string, ids: ReadonlyArray<string>, at: number) => Effect.Effect<void, MessageStoreError>
  /** The unread reply to `requestId` addressed to `agent`, if it has arrived. */
  readonly reply: (agent: string, requestId: string) => Effect.Effect<Option.Option<Message>, MessageStoreError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Inbox {
  readonly agent: string
  readonly unread: Effect.Effect<ReadonlyArray<Message>, MessageStoreError>
  /** The oldest unread message, waiting up to `timeout` for one to arrive (`None` after it). */
  readonly waitForMessage: (timeout: Duration.DurationInput) => Effect.Effect<Option.Option<Message>, MessageStoreError>
  readonly markRead: (ids: ReadonlyArray<string> | string) => Effect.Effect<void, MessageStoreError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly send: (from: string, to: string, body: unknown) => Effect.Effect<string, MessageInvalid | MessageStoreError>
  readonly request: (
    from: string,
    to: string,
    body: unknown,
    options: { readonly timeout: Duration.DurationInput }
  ) => Effect.Effect<unknown, RequestTimedOut | MessageInvalid | MessageStoreError>
  readonly reply: (request: Message, body: unknown) => Effect.Effect<string, MessageInvalid | MessageStoreError>
  readonly inbox: (agent: string) => Inbox
  /**
   * Delivers `agent`'s messages to `handler`, pending ones first, in order, for the life of the
   * scope. For a request, a handler result other than `undefined` is sent back as the reply (a
   * result with no JSON form is logged and the request stays unanswered). A store error pauses
   * delivery (retried with backoff, logged); it never stops it.
   */
  readonly serve: <E, R>(
    agent: string,
    handler: (message: Message) => Effect.Effect<unknown, E, R>
  ) => Effect.Effect<void, never, Scope.Scope | R>
}

/**
 * The messaging service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const program = Effect.gen(function*() {
 *   const messaging = yield* Messaging.Messaging
 *   yield* messaging.send("planner", "critic", { draft: "v1" })
 *   return yield* messaging.inbox("critic").unread
 * }).pipe(Effect.provide(Messaging.layerMemory()))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Messaging extends Context.Tag("@braid/messaging/Messaging")<Messaging, Service>() {}

let counter = 0
const newId = (now: number) =>
  `${now.toString(36).padStart(9, "0")}-${(counter++ % 1_679_616).toString(36).padStart(4, "0")}-${
    Math.random().toString(36).slice(2, 10)
  }`

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How often waiting readers look at the store for messages from other processes. Default 250 ms. */
  readonly pollInterval?: Duration.DurationInput
  /** The longest pause of `serve` between retries after store errors. Default 30 s. */
  readonly maxRetryDelay?: Duration.DurationInput
  /** The bound of every call to a SQL store (`layerSql`, and the layers of @braid/sqlite and @braid/postgres). Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

const address = (field: "from" | "to", value: unknown): MessageInvalid | undefined =>
  typeof value === "string" && value.length > 0
    ? undefined
    : new MessageInvalid({
      field,
      path: "(root)",
      reason: `expected a non-empty string, got ${typeof value === "string" ? "\"\"" : typeof value}`
    })

/** The message's body copied (detached from the caller), after its addresses are checked. */
const checked = (from: unknown, to: unknown, body: unknown): Either.Either<unknown, MessageInvalid> => {
  const bad = address("from", from) ?? address("to", to)
  if (bad !== undefined) return Either.left(bad)
  const invalid = (e: Json.JsonError) =>
    Either.left(new MessageInvalid({ field: "body", path: e.path, reason: e.detail }))
  const copy = Json.copy(body)
  if (Either.isLeft(copy)) return invalid(copy.left)
  // then the rules of reading back (a "__proto__" key would make the stored message unreadable)
  const shape = Json.check(copy.right)
  return shape === undefined ? Either.right(copy.right) : invalid(shape)
}

/**
 * Builds the service on a store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const service = Effect.flatMap(Messaging.memoryStore, (store) => Messaging.make(store))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: Store, options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const poll = Duration.decode(options.pollInterval ?? "250 millis")
    const maxRetryDelay = Duration.toMillis(options.maxRetryDelay ?? "30 seconds")
    // In-process wake-ups: the name of the agent that just got a message.
    const arrivals = yield* Effect.acquireRelease(PubSub.unbounded<string>(), PubSub.shutdown)

    const deliver = (message: Message) => Effect.zipRight(store.insert(message), PubSub.publish(arrivals, message.to))

    /** Runs `look` until it finds something, waking on arrivals for `agent` or every poll interval. */
    const waitFor = <A>(agent: string, look: Effect.Effect<Option.Option<A>, MessageStoreError>) =>
      Effect.scoped(Effect.gen(function*() {
        const wake = yield* PubSub.subscribe(arrivals)
        while (true) {
          const found = yield* look
          if (Option.isSome(found)) return found.value
          // Wait for an arrival for this agent, or the poll interval.
          yield* Effect.raceFirst(
            Queue.take(wake).pipe(Effect.repeat({ until: (to) => to === agent })),
            Effect.sleep(poll)
          )
        }
      }))

    /** Checks and copies, then stores a new message; its id. */
    const post = (from: string, to: string, kind: Message["kind"], body: unknown, correlationId?: string) =>
      Effect.gen(function*() {
        const copy = checked(from, to, body)
        if (Either.isLeft(copy)) return yield* copy.left
        const now = yield* Clock.currentTimeMillis
        const id = newId(now)
        yield* deliver({
          id,
          from,
          to,
          kind,
          ...(correlationId !== undefined ? { correlationId } : {}),
          body: copy.right,
          sentAt: now
        })
        return id
      })

    const send = (from: string, to: string, body: unknown) => post(from, to, "message", body)

    const reply = (request: Message, body: unknown) => post(request.to, request.from, "reply", body, request.id)

    const request = (from: string, to: string, body: unknown, opts: { readonly timeout: Duration.DurationInput }) =>
      Effect.gen(function*() {
        const id = yield* post(from, to, "request", body)
        const answer = yield* waitFor(from, store.reply(from, id)).pipe(
          Effect.timeoutFail({
            duration: opts.timeout,
            onTimeout: () =>
              new RequestTimedOut({ from, to, requestId: id, timeoutMillis: Duration.toMillis(opts.timeout) })
          })
        )
        yield* store.markRead(from, [answer.id], yield* Clock.currentTimeMillis)
        return answer.body
      })

    const inbox = (agent: string): Inbox => ({
      agent,
      unread: store.unread(agent),
      waitForMessage: (timeout) =>
        waitFor(agent, Effect.map(store.unread(agent), (list) => Option.fromNullable(list[0]))).pipe(
          Effect.timeoutOption(timeout)
        ),
      markRead: (ids) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => store.markRead(agent, typeof ids === "string" ? [ids] : ids, now)
        )
    })

    const serve = <E, R>(agent: string, handler: (message: Message) => Effect.Effect<unknown, E, R>) => {
      /** Waits for pending messages and hands them to the handler, in order, until one fails. */
      const round = Effect.gen(function*() {
        const pending = yield* waitFor(
          agent,
          Effect.map(store.unread(agent), (list) => list.length > 0 ? Option.some(list) : Option.none())
        )
        for (const message of pending) {
          const exit = yield* Effect.exit(handler(message))
          if (exit._tag === "Failure") {
            yield* Effect.logWarning(
              `messaging: handler of ${agent} failed on ${message.id}; retrying later`,
              Cause.pretty(exit.cause)
            )
            yield* Effect.sleep(poll)
            return
          }
          if (message.kind === "request" && exit.value !== undefined) {
            yield* reply(message, exit.value).pipe(
              Effect.catchTag(
                "MessageInvalid",
                (e) => Effect.logError(`messaging: ${agent}'s reply to ${message.id} was refused: ${e.message}`)
              )
            )
          }
          yield* store.markRead(agent, [message.id], yield* Clock.currentTimeMillis)
        }
      })
      return Effect.asVoid(Effect.forkScoped(Effect.gen(function*() {
        let failures = 0
        while (true) {
          const exit = yield* Effect.exit(round)
          if (exit._tag === "Success") {
            if (failures > 0) yield* Effect.logInfo(`messaging: ${agent}'s inbox is delivering again`)
            failures = 0
            continue
          }
          failures++
          const delay = Math.min(Duration.toMillis(poll) * 2 ** Math.min(failures - 1, 30), maxRetryDelay)
          const failure = Cause.failureOption(exit.cause)
          const why = Option.isSome(failure) ? failure.value.message : Cause.pretty(exit.cause)
          yield* Effect.logWarning(`messaging: ${agent}'s inbox paused (${why}); retry ${failures} in ${delay} ms`)
          yield* Effect.sleep(Duration.millis(delay))
        }
      })))
    }

    return { send, request, reply, inbox, serve }
  })

/** At most this many unconsumed replies are kept per agent by the in-memory store. */
const maxKeptReplies = 1_000

/** A copy of a stored message for a reader (a reader's changes never reach the store). */
const copyOut = (m: Message): Message =>
  typeof m.body === "object" && m.body !== null ? { ...m, body: JSON.parse(JSON.stringify(m.body)) } : m

/**
 * The in-memory store: its unread messages and its unconsumed replies.
 *
 * @since 0.2.0
 * @category models
 */
export interface MemoryStore extends Store {
  /** What the store holds: unread messages and requests, and unconsumed replies, over all agents. */
  readonly size: Effect.Effect<{ readonly unread: number; readonly replies: number }>
}

/**
 * A store in memory (lost when the process ends). It keeps unread messages only: a message is
 * dropped when it is marked read, and at most 1,000 unconsumed replies per agent are kept (the
 * oldest are dropped first). Readers get copies.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const service = Effect.flatMap(Messaging.memoryStore, (store) => Messaging.make(store, { pollInterval: "50 millis" }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const memoryStore: Effect.Effect<MemoryStore> = Effect.sync(() => {
  // Per agent: unread messages and requests by id (a Map keeps insertion order), and unread replies by request id.
  const unread = new Map<string, Map<string, Message>>()
  const replies = new Map<string, Map<string, Message>>()
  const count = (maps: Map<string, Map<string, Message>>) => {
    let n = 0
    for (const m of maps.values()) n += m.size
    return n
  }
  return {
    insert: (m) =>
      Effect.sync(() => {
        const byAgent = m.kind === "reply" ? replies : unread
        let list = byAgent.get(m.to)
        if (list === undefined) byAgent.set(m.to, list = new Map())
        list.set(m.kind === "reply" ? m.correlationId ?? m.id : m.id, m)
        if (m.kind === "reply" && list.size > maxKeptReplies) list.delete(list.keys().next().value!)
      }),
    unread: (agent) => Effect.sync(() => Array.from(unread.get(agent)?.values() ?? [], copyOut)),
    markRead: (agent, ids) =>
      Effect.sync(() => {
        const list = unread.get(agent)
        const answered = replies.get(agent)
        for (const id of ids) {
          if (list?.delete(id)) continue
          if (answered !== undefined) {
            for (const [requestId, r] of answered) {
              if (r.id === id) {
                answered.delete(requestId)
                break
              }
            }
          }
        }
        if (list !== undefined && list.size === 0) unread.delete(agent)
        if (answered !== undefined && answered.size === 0) replies.delete(agent)
      }),
    reply: (agent, requestId) =>
      Effect.sync(() => {
        const r = replies.get(agent)?.get(requestId)
        return r === undefined ? Option.none() : Option.some(copyOut(r))
      }),
    size: Effect.sync(() => ({ unread: count(unread), replies: count(replies) }))
  }
})

const storeError = (operation: string) => (e: unknown) =>
  e instanceof MessageStoreError
    ? e
    : new MessageStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

const decodeMessage = Schema.decodeUnknownEither(Message)
/** A row is untrusted: its body is parsed with `Json.parse`, then the whole message decoded with its Schema. */
const fromRow = (r: Sql.Row): Either.Either<Message, MessageStoreError> => {
  const id = typeof r["id"] === "string" ? r["id"] : JSON.stringify(r["id"] ?? null)
  const text = r["body"]
  const body = typeof text === "string"
    ? Json.parse(text)
    : Either.left(new Error(`the stored body is not text (${typeof text})`))
  if (Either.isLeft(body)) {
    return Either.left(
      new MessageStoreError({
        operation: "read",
        reason: `message ${id}: stored body is not valid JSON: ${body.left.message}`
      })
    )
  }
  const number = (v: unknown) => typeof v === "string" && v !== "" ? Number(v) : v
  return Either.mapLeft(
    decodeMessage({
      id: r["id"],
      from: r["sender"],
      to: r["recipient"],
      kind: r["kind"],
      ...(r["correlation_id"] != null ? { correlationId: r["correlation_id"] } : {}),
      body: body.right,
      sentAt: number(r["sent_at"]),
      ...(r["read_at"] != null ? { readAt: number(r["read_at"]) } : {})
    }),
    (e) => new MessageStoreError({ operation: "read", reason: `message ${id} did not decode: ${e.message}` })
  )
}

/**
 * Options of the SQL store.
 *
 * @since 0.2.0
 * @category models
 */
export interface SqlStoreOptions {
  /** The bound of every call (a statement that gets no answer in time is a `MessageStoreError`). Default `Io.defaultTimeout` (5 s). */
  readonly timeout?: Duration.DurationInput
}

/**
 * A store on the `Sql.SqlDriver` in context (`SqliteDriver.layer` of @braid/sqlite,
 * `PostgresDriver.layer` of @braid/postgres): table `braid_inbox_messages`, created if missing
 * (idempotent, run on every start). Every call, the creation included, is bounded by `timeout`
 * (`Sql.bounded`): past it the call is a `MessageStoreError` and its connection is abandoned.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { Messaging } from "@braid/messaging"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const store = Messaging.sqlStoreWith({ timeout: "2 seconds" }).pipe(Effect.provide(DriverLive))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const sqlStoreWith = (
  options: SqlStoreOptions = {}
): Effect.Effect<Store, MessageStoreError, Sql.SqlDriver> =>
  Effect.gen(function*() {
    const driver = yield* Sql.SqlDriver
    const bound = Sql.bounded(options.timeout)
    const call = <A>(operation: string, effect: Effect.Effect<A, unknown>): Effect.Effect<A, MessageStoreError> =>
      Effect.mapError(bound(effect), storeError(operation))
    yield* call(
      "migrate",
      driver.execute(`CREATE TABLE IF NOT EXISTS braid_inbox_messages (
        id TEXT PRIMARY KEY,
        recipient TEXT NOT NULL,
        sender TEXT NOT NULL,
        kind TEXT NOT NULL,
        correlation_id TEXT,
        body TEXT NOT NULL,
        sent_at BIGINT NOT NULL,
        read_at BIGINT
      )`)
    )
    yield* call(
      "migrate",
      driver.execute(
        "CREATE INDEX IF NOT EXISTS braid_inbox_messages_unread ON braid_inbox_messages (recipient, read_at, sent_at)"
      )
    )
    const rows = (operation: string, text: string, params: ReadonlyArray<Sql.Param>) =>
      call(operation, Effect.flatMap(driver.query(text, params), (rs) => Effect.forEach(rs, fromRow)))
    return {
      insert: (m) =>
        call(
          "insert",
          Effect.flatMap(
            Json.encode(m.body ?? null),
            (body) =>
              driver.execute(
                `INSERT INTO braid_inbox_messages (id, recipient, sender, kind, correlation_id, body, sent_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)`,
                [m.id, m.to, m.from, m.kind, m.correlationId ?? null, body, m.sentAt]
              )
          )
        ).pipe(Effect.asVoid),
      unread: (agent) =>
        rows(
          "unread",
          "SELECT * FROM braid_inbox_messages WHERE recipient = ? AND read_at IS NULL AND kind <> 'reply' ORDER BY sent_at, id",
          [agent]
        ),
      markRead: (agent, ids, at) =>
        ids.length === 0
          ? Effect.void
          : call(
            "markRead",
            driver.execute(
              `UPDATE braid_inbox_messages SET read_at = ? WHERE recipient = ? AND read_at IS NULL AND id IN (${
                ids.map(() => "?").join(", ")
              })`,
              [at, agent, ...ids]
            )
          ).pipe(Effect.asVoid),
      reply: (agent, requestId) =>
        rows(
          "reply",
          "SELECT * FROM braid_inbox_messages WHERE recipient = ? AND kind = 'reply' AND correlation_id = ? AND read_at IS NULL",
          [agent, requestId]
        ).pipe(Effect.map((list) => Option.fromNullable(list[0])))
    }
  })

/**
 * `sqlStoreWith()` with the default bound.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { Messaging } from "@braid/messaging"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const store = Messaging.sqlStore.pipe(Effect.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const sqlStore: Effect.Effect<Store, MessageStoreError, Sql.SqlDriver> = sqlStoreWith()

/**
 * Messaging in memory.
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/messaging"
 *
 * const MessagingLive = Messaging.layerMemory()
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: Options = {}): Layer.Layer<Messaging> =>
  Layer.scoped(Messaging, Effect.flatMap(memoryStore, (store) => make(store, options)))

/**
 * Messaging on the `Sql.SqlDriver` in context (every store call bounded by `options.timeout`).
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { Sql } from "@braid/core"
 * import { Messaging } from "@braid/messaging"
 *
 * declare const DriverLive: Layer.Layer<Sql.SqlDriver> // SqliteDriver.layer(...) or PostgresDriver.layer(...)
 *
 * const MessagingLive = Messaging.layerSql().pipe(Layer.provide(DriverLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (options: Options = {}): Layer.Layer<Messaging, MessageStoreError, Sql.SqlDriver> =>
  Layer.scoped(
    Messaging,
    Effect.flatMap(
      sqlStoreWith(options.timeout !== undefined ? { timeout: options.timeout } : {}),
      (store) => make(store, options)
    )
  )
