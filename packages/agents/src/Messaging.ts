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
 * @since 0.1.0
 */
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Cause, Clock, Config, Context, Duration, Effect, Layer, Option, PubSub, Queue, Redacted, Schema } from "effect"
import type { Scope } from "effect"
import { MessageStoreError, RequestTimedOut } from "./CoordinationErrors.js"

/**
 * A message. `body` is any JSON value.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Messaging } from "@braid/agents"
 *
 * const decode = Schema.decodeUnknownSync(Messaging.Message)
 * ```
 *
 * @since 0.1.0
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
 */
export type Message = typeof Message.Type

/**
 * Where messages are kept.
 *
 * @since 0.1.0
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
 */
export interface Service {
  readonly send: (from: string, to: string, body: unknown) => Effect.Effect<string, MessageStoreError>
  readonly request: (
    from: string,
    to: string,
    body: unknown,
    options: { readonly timeout: Duration.DurationInput }
  ) => Effect.Effect<unknown, RequestTimedOut | MessageStoreError>
  readonly reply: (request: Message, body: unknown) => Effect.Effect<string, MessageStoreError>
  readonly inbox: (agent: string) => Inbox
  /**
   * Delivers `agent`'s messages to `handler`, pending ones first, in order, for the life of the
   * scope. For a request, a handler result other than `undefined` is sent back as the reply.
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
 * import { Messaging } from "@braid/agents"
 *
 * const program = Effect.gen(function*() {
 *   const messaging = yield* Messaging.Messaging
 *   yield* messaging.send("planner", "critic", { draft: "v1" })
 *   return yield* messaging.inbox("critic").unread
 * }).pipe(Effect.provide(Messaging.layerMemory()))
 * ```
 *
 * @since 0.1.0
 */
export class Messaging extends Context.Tag("@braid/agents/Messaging")<Messaging, Service>() {}

let counter = 0
const newId = (now: number) =>
  `${now.toString(36).padStart(9, "0")}-${(counter++ % 1_679_616).toString(36).padStart(4, "0")}-${Math.random().toString(36).slice(2, 10)}`

/**
 * @since 0.1.0
 */
export interface Options {
  /** How often waiting readers look at the store for messages from other processes. Default 250 ms. */
  readonly pollInterval?: Duration.DurationInput
}

/**
 * Builds the service on a store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/agents"
 *
 * const service = Effect.flatMap(Messaging.memoryStore, (store) => Messaging.make(store))
 * ```
 *
 * @since 0.1.0
 */
export const make = (store: Store, options: Options = {}): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const poll = Duration.decode(options.pollInterval ?? "250 millis")
    // In-process wake-ups: the name of the agent that just got a message.
    const arrivals = yield* Effect.acquireRelease(PubSub.unbounded<string>(), PubSub.shutdown)

    const deliver = (message: Message) =>
      Effect.zipRight(store.insert(message), PubSub.publish(arrivals, message.to))

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

    const send = (from: string, to: string, body: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const id = newId(now)
        return Effect.as(deliver({ id, from, to, kind: "message", body, sentAt: now }), id)
      })

    const reply = (request: Message, body: unknown) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const id = newId(now)
        return Effect.as(
          deliver({ id, from: request.to, to: request.from, kind: "reply", correlationId: request.id, body, sentAt: now }),
          id
        )
      })

    const request = (from: string, to: string, body: unknown, opts: { readonly timeout: Duration.DurationInput }) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const id = newId(now)
        yield* deliver({ id, from, to, kind: "request", body, sentAt: now })
        const answer = yield* waitFor(from, store.reply(from, id)).pipe(
          Effect.timeoutFail({
            duration: opts.timeout,
            onTimeout: () => new RequestTimedOut({ from, to, requestId: id, timeoutMillis: Duration.toMillis(opts.timeout) })
          })
        )
        yield* store.markRead(from, [answer.id], yield* Clock.currentTimeMillis)
        return answer.body
      })

    const inbox = (agent: string): Inbox => ({
      agent,
      unread: store.unread(agent),
      waitForMessage: (timeout) =>
        waitFor(agent, Effect.map(store.unread(agent), (list) => Option.fromNullable(list[0]))).pipe(Effect.timeoutOption(timeout)),
      markRead: (ids) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => store.markRead(agent, typeof ids === "string" ? [ids] : ids, now))
    })

    const serve = <E, R>(agent: string, handler: (message: Message) => Effect.Effect<unknown, E, R>) =>
      Effect.asVoid(Effect.forkScoped(Effect.gen(function*() {
        while (true) {
          const pending = yield* waitFor(agent, Effect.map(store.unread(agent), (list) => list.length > 0 ? Option.some(list) : Option.none()))
          for (const message of pending) {
            const exit = yield* Effect.exit(handler(message))
            if (exit._tag === "Failure") {
              yield* Effect.logWarning(`messaging: handler of ${agent} failed on ${message.id}; retrying later`, Cause.pretty(exit.cause))
              yield* Effect.sleep(poll)
              break
            }
            if (message.kind === "request" && exit.value !== undefined) yield* reply(message, exit.value)
            yield* store.markRead(agent, [message.id], yield* Clock.currentTimeMillis)
          }
        }
      }).pipe(
        Effect.catchAll((e) => Effect.logError(`messaging: ${agent}'s inbox stopped: ${e.message}`))
      )))

    return { send, request, reply, inbox, serve }
  })

/**
 * A store in memory (lost when the process ends).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/agents"
 *
 * const service = Effect.flatMap(Messaging.memoryStore, (store) => Messaging.make(store, { pollInterval: "50 millis" }))
 * ```
 *
 * @since 0.1.0
 */
export const memoryStore: Effect.Effect<Store> = Effect.sync(() => {
  const messages: Array<Message> = []
  return {
    insert: (m) => Effect.sync(() => void messages.push(m)),
    unread: (agent) => Effect.sync(() => messages.filter((m) => m.to === agent && m.readAt === undefined && m.kind !== "reply")),
    markRead: (agent, ids, at) =>
      Effect.sync(() => {
        for (let i = 0; i < messages.length; i++) {
          const m = messages[i]!
          if (m.to === agent && ids.includes(m.id) && m.readAt === undefined) messages[i] = { ...m, readAt: at }
        }
      }),
    reply: (agent, requestId) =>
      Effect.sync(() =>
        Option.fromNullable(messages.find((m) => m.to === agent && m.kind === "reply" && m.correlationId === requestId && m.readAt === undefined))
      )
  }
})

const storeError = (operation: string) => (e: unknown) =>
  new MessageStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

interface Row {
  readonly id: string
  readonly sender: string
  readonly recipient: string
  readonly kind: string
  readonly correlation_id: string | null
  readonly body: string
  readonly sent_at: number | string
  readonly read_at: number | string | null
}

const decodeMessage = Schema.decodeUnknown(Message)
const fromRow = (r: Row) =>
  decodeMessage({
    id: r.id,
    from: r.sender,
    to: r.recipient,
    kind: r.kind,
    ...(r.correlation_id !== null ? { correlationId: r.correlation_id } : {}),
    body: JSON.parse(r.body),
    sentAt: Number(r.sent_at),
    ...(r.read_at !== null ? { readAt: Number(r.read_at) } : {})
  })

/**
 * A store on the `SqlClient` in context (SQLite or PostgreSQL): table `braid_inbox_messages`,
 * created if missing (idempotent, run on every start).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { SqliteClient } from "@effect/sql-sqlite-node"
 * import { Messaging } from "@braid/agents"
 *
 * const store = Messaging.sqlStore.pipe(Effect.provide(SqliteClient.layer({ filename: "inbox.db" })))
 * ```
 *
 * @since 0.1.0
 */
export const sqlStore: Effect.Effect<Store, MessageStoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS braid_inbox_messages (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    correlation_id TEXT,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    read_at BIGINT
  )`.pipe(Effect.mapError(storeError("migrate")))
  yield* sql`CREATE INDEX IF NOT EXISTS braid_inbox_messages_unread ON braid_inbox_messages (recipient, read_at, sent_at)`.pipe(
    Effect.mapError(storeError("migrate"))
  )
  const rows = (effect: Effect.Effect<ReadonlyArray<Row>, unknown>, operation: string) =>
    effect.pipe(Effect.flatMap((rs) => Effect.forEach(rs, fromRow)), Effect.mapError(storeError(operation)))
  return {
    insert: (m) =>
      sql`INSERT INTO braid_inbox_messages (id, recipient, sender, kind, correlation_id, body, sent_at)
          VALUES (${m.id}, ${m.to}, ${m.from}, ${m.kind}, ${m.correlationId ?? null}, ${JSON.stringify(m.body ?? null)}, ${m.sentAt})`.pipe(
        Effect.asVoid,
        Effect.mapError(storeError("insert"))
      ),
    unread: (agent) =>
      rows(
        sql<Row>`SELECT * FROM braid_inbox_messages WHERE recipient = ${agent} AND read_at IS NULL AND kind <> 'reply' ORDER BY sent_at, id`,
        "unread"
      ),
    markRead: (agent, ids, at) =>
      ids.length === 0
        ? Effect.void
        : sql`UPDATE braid_inbox_messages SET read_at = ${at} WHERE recipient = ${agent} AND read_at IS NULL AND ${sql.in("id", ids)}`.pipe(
          Effect.asVoid,
          Effect.mapError(storeError("markRead"))
        ),
    reply: (agent, requestId) =>
      rows(
        sql<Row>`SELECT * FROM braid_inbox_messages WHERE recipient = ${agent} AND kind = 'reply' AND correlation_id = ${requestId} AND read_at IS NULL`,
        "reply"
      ).pipe(Effect.map((list) => Option.fromNullable(list[0])))
  }
})

/**
 * Messaging in memory.
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/agents"
 *
 * const MessagingLive = Messaging.layerMemory()
 * ```
 *
 * @since 0.1.0
 */
export const layerMemory = (options: Options = {}): Layer.Layer<Messaging> =>
  Layer.scoped(Messaging, Effect.flatMap(memoryStore, (store) => make(store, options)))

/**
 * Messaging on the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { Config, Layer } from "effect"
 * import { PgClient } from "@effect/sql-pg"
 * import { Messaging } from "@braid/agents"
 *
 * const MessagingLive = Messaging.layerSql().pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))
 * ```
 *
 * @since 0.1.0
 */
export const layerSql = (options: Options = {}): Layer.Layer<Messaging, MessageStoreError, SqlClient.SqlClient> =>
  Layer.scoped(Messaging, Effect.flatMap(sqlStore, (store) => make(store, options)))

/**
 * Messaging persisted in a SQLite file.
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/agents"
 *
 * const MessagingLive = Messaging.layerSqlite({ filename: "inbox.db" })
 * ```
 *
 * @since 0.1.0
 */
export const layerSqlite = (config: { readonly filename: string } & Options): Layer.Layer<Messaging, MessageStoreError | unknown> =>
  layerSql(config).pipe(Layer.provide(SqliteClient.layer({ filename: config.filename })))

/**
 * Messaging persisted in PostgreSQL at `DATABASE_URL` (read with `Config`).
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/agents"
 *
 * const MessagingLive = Messaging.layerPgConfig()
 * ```
 *
 * @since 0.1.0
 */
export const layerPgConfig = (options: Options = {}): Layer.Layer<Messaging, unknown> =>
  layerSql(options).pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))

/**
 * Messaging persisted in PostgreSQL at `url`.
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/agents"
 *
 * const MessagingLive = Messaging.layerPg({ url: "postgres://postgres@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.1.0
 */
export const layerPg = (config: { readonly url: string } & Options): Layer.Layer<Messaging, unknown> =>
  layerSql(config).pipe(Layer.provide(PgClient.layer({ url: Redacted.make(config.url) })))
