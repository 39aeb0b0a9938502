/**
 * Agent messaging: a registry of agents by organization, one-way `send`, `request`/reply with a
 * timeout, an asynchronous inbox per agent (unread messages, wait for a message with a timeout,
 * mark as read), conversations between two agents (start, exchange, end with a closing message,
 * state, history) with engagement locks, typed bodies, and the history of messages by sender,
 * recipient or conversation, cursor-paginated. Persisted in SQLite or PostgreSQL, pending
 * messages survive a restart and are delivered when the agent's handler (`serve`) resumes.
 *
 * - **Registry.** An agent is registered with a name, capabilities and a status (online, busy,
 *   offline). `send`, `request` and `startConversation` to an agent that is not registered fail
 *   with `AgentNotFound` and store nothing (`requireRegistered: false` restores the open inbox
 *   of 0.2 for `send` and `request`; a conversation always needs both agents registered). An agent holding an engagement lock is listed as `busy`.
 * - **Organizations.** Every record (message, agent, conversation, lock) is keyed by its
 *   organization: a service sees one organization only (`"default"` unless `forOrganization`,
 *   or `forRun`: the run's `WorkflowContext` tenant), so an agent of one organization cannot see
 *   or message another's.
 * - **Conversations.** `startConversation` locks both agents for the life of its scope (or until
 *   `end`), failing at once with `AgentBusy` when one is engaged (default), or waiting up to
 *   `lock.wait`. See `Lock` for leases and crashes.
 * - **Typed bodies.** `typed(schema)` and a conversation's `body` Schema encode bodies on send
 *   (an invalid body is a `MessageInvalid` naming the field) and decode them on receipt (a stored
 *   body that does not decode is a `BodyInvalid` for the receiver).
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
 * - The in-memory store drops a message from the inbox when it is marked read, keeps the newest
 *   `historyLimit` messages (default 10,000 per organization) for `history`, and at most 1,000
 *   unconsumed replies per agent (a reply that arrives after its request timed out is never
 *   consumed), the oldest dropped first.
 *
 * @since 0.1.0
 */
import { Journal, Json, Sql, WorkflowContext } from "@braid/core"
import {
  Cause,
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  ExecutionStrategy,
  Exit,
  Layer,
  Option,
  PubSub,
  Queue,
  Schema,
  Scope
} from "effect"
import {
  AgentBusy,
  AgentNotFound,
  BodyInvalid,
  ConversationNotFound,
  ConversationRefused,
  InvalidInput,
  MessageInvalid,
  MessageStoreError,
  RequestTimedOut
} from "./Errors.js"
import * as Input from "./internal/input.js"
import * as Lock from "./Lock.js"

/**
 * A message. `body` is any JSON value. A message of a conversation carries its
 * `conversationId`; the last one of a conversation is of kind `closing`.
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
  kind: Schema.Literal("message", "request", "reply", "closing"),
  /** For a reply: the id of the request it answers. */
  correlationId: Schema.optional(Schema.String),
  /** For a message of a conversation: its id. */
  conversationId: Schema.optional(Schema.String),
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
 * A message whose body was decoded with a Schema.
 *
 * @example
 * ```ts
 * import type { Messaging } from "@braid/messaging"
 *
 * const draftOf = (m: Messaging.TypedMessage<{ readonly draft: string }>) => m.body.draft
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type TypedMessage<A> = Omit<Message, "body"> & { readonly body: A }

/**
 * The status an agent declares. An agent that holds an engagement lock (a conversation) is
 * listed as `busy` whatever it declared.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * Schema.is(Messaging.AgentStatus)("online") // true
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const AgentStatus = Schema.Literal("online", "busy", "offline")

/**
 * @since 0.3.0
 * @category models
 */
export type AgentStatus = typeof AgentStatus.Type

/**
 * A registered agent.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const isAgent = Schema.is(Messaging.Agent)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Agent = Schema.Struct({
  name: Schema.String,
  organization: Schema.String,
  capabilities: Schema.Array(Schema.String),
  status: AgentStatus,
  registeredAt: Schema.Number,
  updatedAt: Schema.Number
})

/**
 * @since 0.3.0
 * @category models
 */
export type Agent = typeof Agent.Type

/**
 * What `register` takes (checked: a name and capabilities are non-empty strings of at most 512
 * characters, without NUL or lone surrogates; at most 100 capabilities).
 *
 * @example
 * ```ts
 * import type { Messaging } from "@braid/messaging"
 *
 * const critic: Messaging.Registration = { name: "critic", capabilities: ["review"], status: "online" }
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Registration = Schema.Struct({
  name: Schema.String,
  capabilities: Schema.optional(Schema.Array(Schema.String)),
  status: Schema.optional(AgentStatus)
})

/**
 * @since 0.3.0
 * @category models
 */
export type Registration = typeof Registration.Type

/**
 * The state of a conversation. `endedBy` is the participant who ended it; a conversation whose
 * starter's scope closed without `end` is ended with no `endedBy`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const isState = Schema.is(Messaging.ConversationState)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const ConversationState = Schema.Struct({
  id: Schema.String,
  organization: Schema.String,
  topic: Schema.String,
  participants: Schema.Tuple(Schema.String, Schema.String),
  state: Schema.Literal("open", "ended"),
  startedAt: Schema.Number,
  endedAt: Schema.optional(Schema.Number),
  endedBy: Schema.optional(Schema.String)
})

/**
 * @since 0.3.0
 * @category models
 */
export type ConversationState = typeof ConversationState.Type

/**
 * A page of history, oldest first; `next` is the cursor of the following page (absent on the
 * last page).
 *
 * @example
 * ```ts
 * import type { Messaging } from "@braid/messaging"
 *
 * const count = (page: Messaging.HistoryPage<unknown>) => page.messages.length
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface HistoryPage<A> {
  readonly messages: ReadonlyArray<TypedMessage<A>>
  readonly next?: string
}

/**
 * Which messages `history` returns: those matching every given field (none: all of the
 * organization), oldest first (by send time, then id: a stable order), `limit` per page (1 to
 * 1,000, default 50), from `cursor` (a page's `next`).
 *
 * @example
 * ```ts
 * import type { Messaging } from "@braid/messaging"
 *
 * const byPlanner: Messaging.HistoryQuery = { from: "planner", limit: 20 }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface HistoryQuery {
  readonly from?: string
  readonly to?: string
  readonly conversationId?: string
  readonly limit?: number
  readonly cursor?: string
}

/**
 * A history query as a store runs it: `after` is the position of the last message already seen.
 *
 * @since 0.3.0
 * @category models
 */
export interface StoreHistoryQuery {
  readonly from?: string
  readonly to?: string
  readonly conversationId?: string
  readonly after?: { readonly sentAt: number; readonly id: string }
  readonly limit: number
}

/**
 * What must hold for a message to be stored (checked by the store in the same step as the insert).
 *
 * @since 0.3.0
 * @category models
 */
export type Guard =
  | { readonly kind: "registered"; readonly agent: string }
  | { readonly kind: "open conversation"; readonly conversationId: string }

/**
 * Options of a send or a request.
 *
 * @since 0.3.0
 * @category models
 */
export interface SendOptions {
  /**
   * Sends at most once per organization: a send or request with a key the store has applied
   * already stores nothing and returns the first message's id (a request then waits for the
   * first request's reply, while it is unconsumed). Insert-if-absent in the store, so a step
   * that runs again after a crash sends once. In a durable run a send or request with no key of
   * its own gets one from its journaled step (`Journal.nextWriteKey`). A non-empty string of
   * at most 1,024 characters; the in-memory store remembers a key for
   * `idempotencyWindowMillis`, the SQL store as long as the message is kept.
   */
  readonly idempotencyKey?: string
}

/**
 * How long the in-memory store remembers an applied idempotency key: 7 days (the SQL store keeps
 * the key with its message).
 *
 * @example
 * ```ts
 * import { Messaging } from "@braid/messaging"
 *
 * const days = Messaging.idempotencyWindowMillis / 86_400_000 // 7
 * ```
 *
 * @since 0.3.0
 * @category constants
 */
export const idempotencyWindowMillis = 7 * 24 * 60 * 60 * 1000

/**
 * What an insert did: `true` stored, `false` refused by its guard, or `{ duplicateOf }` when a
 * message with the same idempotency key was stored already (its id; nothing was stored).
 *
 * @since 0.3.0
 * @category models
 */
export type InsertResult = boolean | { readonly duplicateOf: string }

/**
 * Where messages, agents and conversations are kept, by organization. The service hands a store
 * only checked names and messages whose body is plain JSON (already copied); a store bounds its
 * own calls (see `sqlStoreWith`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /**
   * Stores `message` if `guard` holds; whether it was stored. With `idempotencyKey` (since
   * 0.3.0) insert-if-absent: a key already applied in the organization stores nothing and gives
   * `{ duplicateOf }`, the first message's id (checked before the guard).
   */
  readonly insert: (
    organization: string,
    message: Message,
    guard?: Guard,
    idempotencyKey?: string
  ) => Effect.Effect<InsertResult, MessageStoreError>
  /** Unread messages and requests (not replies) to `agent`, oldest first. */
  readonly unread: (organization: string, agent: string) => Effect.Effect<ReadonlyArray<Message>, MessageStoreError>
  readonly markRead: (
    organization: string,
    agent: string,
    ids: ReadonlyArray<string>,
    at: number
  ) => Effect.Effect<void, MessageStoreError>
  /** The unread reply to `requestId` addressed to `agent`, if it has arrived. */
  readonly reply: (
    organization: string,
    agent: string,
    requestId: string
  ) => Effect.Effect<Option.Option<Message>, MessageStoreError>
  /** Messages matching `query`, by (sentAt, id), at most `query.limit`. */
  readonly history: (
    organization: string,
    query: StoreHistoryQuery
  ) => Effect.Effect<ReadonlyArray<Message>, MessageStoreError>
  /** Registers `agent`, or updates its capabilities, status and `updatedAt` (keeping `registeredAt`). */
  readonly register: (organization: string, agent: Agent) => Effect.Effect<void, MessageStoreError>
  /** Whether the agent was registered. */
  readonly unregister: (organization: string, name: string) => Effect.Effect<boolean, MessageStoreError>
  readonly agent: (organization: string, name: string) => Effect.Effect<Option.Option<Agent>, MessageStoreError>
  /** Every agent of the organization, by name. */
  readonly agents: (organization: string) => Effect.Effect<ReadonlyArray<Agent>, MessageStoreError>
  readonly createConversation: (
    organization: string,
    conversation: ConversationState
  ) => Effect.Effect<void, MessageStoreError>
  readonly conversation: (
    organization: string,
    id: string
  ) => Effect.Effect<Option.Option<ConversationState>, MessageStoreError>
  /** Ends an open conversation and stores its closing message, in one step; `false` when it was not open. */
  readonly endConversation: (
    organization: string,
    id: string,
    end: { readonly at: number; readonly by?: string; readonly closing?: Message }
  ) => Effect.Effect<boolean, MessageStoreError>
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
 * The agent registry of one organization.
 *
 * @since 0.3.0
 * @category models
 */
export interface Registry {
  /** Registers an agent (or updates its capabilities and status); the registered agent. */
  readonly register: (registration: Registration) => Effect.Effect<Agent, InvalidInput | MessageStoreError>
  readonly unregister: (name: string) => Effect.Effect<void, AgentNotFound | InvalidInput | MessageStoreError>
  readonly setStatus: (
    name: string,
    status: AgentStatus
  ) => Effect.Effect<Agent, AgentNotFound | InvalidInput | MessageStoreError>
  /** The agent, with `busy` status while it holds an engagement lock. */
  readonly lookup: (name: string) => Effect.Effect<Agent, AgentNotFound | InvalidInput | MessageStoreError>
  /** The agents with `capability` and (effective) `status`, by name. */
  readonly list: (
    filter?: { readonly capability?: string; readonly status?: AgentStatus }
  ) => Effect.Effect<ReadonlyArray<Agent>, InvalidInput | MessageStoreError>
}

/**
 * Messaging whose bodies are described by a Schema (`typed(schema)`): encoded on send, decoded
 * on receipt.
 *
 * @since 0.3.0
 * @category models
 */
export interface Typed<A> {
  readonly send: (
    from: string,
    to: string,
    body: A,
    options?: SendOptions
  ) => Effect.Effect<string, MessageInvalid | AgentNotFound | MessageStoreError>
  /** A request whose reply is decoded with `reply` (default: any JSON value). */
  readonly request: <B = unknown, BI = unknown>(
    from: string,
    to: string,
    body: A,
    options: SendOptions & {
      readonly timeout: Duration.DurationInput
      readonly reply?: Schema.Schema<B, BI, never>
    }
  ) => Effect.Effect<B, RequestTimedOut | MessageInvalid | AgentNotFound | BodyInvalid | MessageStoreError>
  /** Decodes a received message's body. */
  readonly decode: (message: Message) => Effect.Effect<TypedMessage<A>, BodyInvalid>
  /** The unread messages of `agent`, decoded; the first that does not decode is a `BodyInvalid` naming it. */
  readonly unread: (agent: string) => Effect.Effect<ReadonlyArray<TypedMessage<A>>, BodyInvalid | MessageStoreError>
  /**
   * `serve` with decoded bodies. A message that does not decode goes to `onInvalid` (default: a
   * logged warning) and is marked read: a bad message never blocks the inbox.
   */
  readonly serve: <E, R>(
    agent: string,
    handler: (message: TypedMessage<A>) => Effect.Effect<unknown, E, R>,
    options?: { readonly onInvalid?: (error: BodyInvalid, message: Message) => Effect.Effect<void> }
  ) => Effect.Effect<void, never, Scope.Scope | R>
}

/**
 * A conversation between two agents, with bodies of type `A`.
 *
 * @since 0.3.0
 * @category models
 */
export interface Conversation<A> {
  readonly id: string
  readonly topic: string
  readonly participants: readonly [string, string]
  /** Sends `body` from one participant to the other. */
  readonly say: (
    from: string,
    body: A
  ) => Effect.Effect<string, ConversationRefused | MessageInvalid | MessageStoreError>
  /** Ends the conversation with a closing message to the other participant, and frees both agents. */
  readonly end: (
    from: string,
    closing: A
  ) => Effect.Effect<void, ConversationRefused | MessageInvalid | MessageStoreError>
  readonly state: Effect.Effect<ConversationState, ConversationNotFound | MessageStoreError>
  /** The conversation's messages, oldest first, decoded. */
  readonly history: (
    page?: { readonly limit?: number; readonly cursor?: string }
  ) => Effect.Effect<HistoryPage<A>, InvalidInput | BodyInvalid | MessageStoreError>
}

/**
 * How to start a conversation.
 *
 * @since 0.3.0
 * @category models
 */
export interface StartConversation<A, I> {
  readonly from: string
  readonly to: string
  readonly topic: string
  /** The Schema of every body of the conversation (default: any JSON value). */
  readonly body?: Schema.Schema<A, I, never>
  /** How the two agents are locked (default: fail at once with `AgentBusy`, a 30 s lease renewed while open). */
  readonly lock?: Lock.AcquireOptions
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The organization this service sees (`"default"` unless `forOrganization`). */
  readonly organization: string
  /** The same messaging, in another organization (an invalid name is `InvalidInput`). */
  readonly forOrganization: (organization: string) => Effect.Effect<Service, InvalidInput>
  /**
   * The same messaging in the organization of the current run: the `WorkflowContext`'s
   * `tenantId` when there is one (as the memory scopes do), else this service.
   */
  readonly forRun: Effect.Effect<Service, InvalidInput>
  readonly registry: Registry
  /** Sends a message; its id (with `options.idempotencyKey`, the first send's id on a repeat). */
  readonly send: (
    from: string,
    to: string,
    body: unknown,
    options?: SendOptions
  ) => Effect.Effect<string, MessageInvalid | AgentNotFound | MessageStoreError>
  readonly request: (
    from: string,
    to: string,
    body: unknown,
    options: SendOptions & { readonly timeout: Duration.DurationInput }
  ) => Effect.Effect<unknown, RequestTimedOut | MessageInvalid | AgentNotFound | MessageStoreError>
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
  /** Messaging with bodies described by `schema`. */
  readonly typed: <A, I>(schema: Schema.Schema<A, I, never>) => Typed<A>
  /**
   * Starts a conversation between two registered agents, both locked (busy) until it ends or
   * the scope closes (which ends it, with no closing message).
   */
  readonly startConversation: <A = unknown, I = unknown>(
    options: StartConversation<A, I>
  ) => Effect.Effect<
    Conversation<A>,
    AgentNotFound | AgentBusy | InvalidInput | MessageStoreError,
    Scope.Scope
  >
  /** An existing conversation (e.g. for the other participant, in another process). */
  readonly conversation: <A = unknown, I = unknown>(
    id: string,
    body?: Schema.Schema<A, I, never>
  ) => Effect.Effect<Conversation<A>, ConversationNotFound | InvalidInput | MessageStoreError>
  /** Messages of the organization by sender, recipient or conversation, oldest first, one page. */
  readonly history: (query?: HistoryQuery) => Effect.Effect<HistoryPage<unknown>, InvalidInput | MessageStoreError>
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
 *   yield* messaging.registry.register({ name: "critic" })
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
  /** Whether `send` and `request` need a registered recipient (a conversation always needs both agents registered). Default `true`. */
  readonly requireRegistered?: boolean
}

const address = (field: "from" | "to", value: unknown): MessageInvalid | undefined => {
  const problem = Input.nameProblem(value)
  return problem === undefined ? undefined : new MessageInvalid({ field, path: "(root)", reason: problem })
}

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

/** Encodes a body with its Schema for sending: a body that does not encode is a `MessageInvalid` naming the field. */
const encodeBody = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const encode = Schema.encodeEither(schema)
  return (body: A): Either.Either<I, MessageInvalid> =>
    Either.mapLeft(encode(body), (e) => new MessageInvalid({ field: "body", ...Input.firstIssue(e) }))
}

/** Decodes a received body with its Schema: one that does not decode is a `BodyInvalid` for the receiver. */
const decodeBody = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema)
  return (message: Message): Either.Either<TypedMessage<A>, BodyInvalid> =>
    Either.match(decode(message.body), {
      onLeft: (e) => Either.left(new BodyInvalid({ messageId: message.id, ...Input.firstIssue(e) })),
      onRight: (body) => Either.right({ ...message, body })
    })
}

const cursorOf = (m: Message) => `${m.sentAt}_${m.id}`

/** The checked page arguments of a history query. */
const pageOf = (
  operation: string,
  page: { readonly limit?: number; readonly cursor?: string }
): Either.Either<{ readonly limit: number; readonly after?: { sentAt: number; id: string } }, InvalidInput> => {
  const limit = page.limit ?? 50
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) {
    return Either.left(
      new InvalidInput({
        operation,
        field: "limit",
        reason: `expected an integer from 1 to 1000, got ${Input.describe(limit)}`
      })
    )
  }
  if (page.cursor === undefined) return Either.right({ limit })
  const match = typeof page.cursor === "string" ? /^(\d{1,16})_([\s\S]+)$/.exec(page.cursor) : null
  const id = match?.[2]
  if (match === null || id === undefined || Input.nameProblem(id) !== undefined) {
    return Either.left(new InvalidInput({ operation, field: "cursor", reason: "not a cursor returned by history" }))
  }
  return Either.right({ limit, after: { sentAt: Number(match[1]), id } })
}

/** Checks the names of a call: the first bad one is an `InvalidInput` naming its field. */
const names = (
  operation: string,
  fields: ReadonlyArray<readonly [string, unknown, number?]>
): Effect.Effect<void, InvalidInput> => {
  for (const [field, value, max] of fields) {
    const problem = Input.nameProblem(value, max)
    if (problem !== undefined) return Effect.fail(new InvalidInput({ operation, field, reason: problem }))
  }
  return Effect.void
}

/** What a durable run journals for a send (its message id) and a request (the reply message). */
const journaledSend = {
  success: Schema.String,
  error: Schema.Union(MessageInvalid, AgentNotFound, MessageStoreError)
}
const journaledRequest = {
  success: Message,
  error: Schema.Union(RequestTimedOut, MessageInvalid, AgentNotFound, MessageStoreError)
}

/** The checked idempotency key of a send's options (none when absent). */
const keyOf = (sendOptions: SendOptions | undefined): Effect.Effect<string | undefined, MessageInvalid> => {
  if (sendOptions === undefined || sendOptions === null) return Effect.succeed(undefined)
  if (typeof sendOptions !== "object") {
    return Effect.fail(
      new MessageInvalid({ field: "options", path: "(root)", reason: `expected an object, got ${typeof sendOptions}` })
    )
  }
  const key: unknown = sendOptions.idempotencyKey
  if (key === undefined) return Effect.succeed(undefined)
  const problem = Input.nameProblem(key, maxIdempotencyKeyLength)
  return problem === undefined
    ? Effect.succeed(key as string)
    : Effect.fail(new MessageInvalid({ field: "idempotencyKey", path: "(root)", reason: problem }))
}
const maxIdempotencyKeyLength = 1024

const decodeRegistration = Schema.decodeUnknownEither(Registration)
const maxCapabilities = 100
const maxTopicLength = 1000

/**
 * Builds the service on a store, in the default organization, with its locks on `locks`
 * (default: a lock store in memory, for one process).
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
export const make = (
  store: Store,
  options: Options & { readonly locks?: Lock.LockStore } = {}
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function*() {
    const poll = Duration.decode(options.pollInterval ?? "250 millis")
    const maxRetryDelay = Duration.toMillis(options.maxRetryDelay ?? "30 seconds")
    const requireRegistered = options.requireRegistered ?? true
    const locks = Lock.make(options.locks ?? (yield* Lock.memoryLockStore))
    // In-process wake-ups: the organization and name of the agent that just got a message.
    const arrivals = yield* Effect.acquireRelease(
      PubSub.unbounded<{ readonly organization: string; readonly to: string }>(),
      PubSub.shutdown
    )
    return yield* inOrganization(Lock.defaultOrganization, locks)

    function inOrganization(organization: string, lock: Lock.Service): Effect.Effect<Service> {
      return Effect.sync(() => build(organization, lock))
    }

    function build(organization: string, lock: Lock.Service): Service {
      const deliver = (message: Message, guard?: Guard, idempotencyKey?: string) =>
        Effect.tap(
          store.insert(organization, message, guard, idempotencyKey),
          (stored) => stored === true ? PubSub.publish(arrivals, { organization, to: message.to }) : Effect.void
        )

      /** Runs `look` until it finds something, waking on arrivals for `agent` or every poll interval. */
      const waitFor = <A>(agent: string, look: Effect.Effect<Option.Option<A>, MessageStoreError>) =>
        Effect.scoped(Effect.gen(function*() {
          const wake = yield* PubSub.subscribe(arrivals)
          while (true) {
            const found = yield* look
            if (Option.isSome(found)) return found.value
            // Wait for an arrival for this agent, or the poll interval.
            yield* Effect.raceFirst(
              Queue.take(wake).pipe(Effect.repeat({ until: (a) => a.to === agent && a.organization === organization })),
              Effect.sleep(poll)
            )
          }
        }))

      /** Checks and copies, then stores a new message if `guard` holds; its id. */
      const post = (
        from: string,
        to: string,
        kind: Message["kind"],
        body: unknown,
        extra: { readonly correlationId?: string; readonly conversationId?: string } = {},
        guard?: Guard,
        idempotencyKey?: string
      ) =>
        Effect.gen(function*() {
          const copy = checked(from, to, body)
          if (Either.isLeft(copy)) return yield* copy.left
          const now = yield* Clock.currentTimeMillis
          const id = newId(now)
          const stored = yield* deliver(
            { id, from, to, kind, ...extra, body: copy.right, sentAt: now },
            guard,
            idempotencyKey
          )
          return stored === true ? Option.some(id) : stored === false ? Option.none() : Option.some(stored.duplicateOf)
        })

      /** A new message to a registered agent (when required); its id (the first one's, for a repeated key). */
      const postTo = (
        from: string,
        to: string,
        kind: "message" | "request",
        body: unknown,
        sendOptions: SendOptions | undefined
      ) =>
        Effect.gen(function*() {
          // Inside a journaled step (the hook's or a `Durable.step`), a key of the step by default.
          const idempotencyKey = (yield* keyOf(sendOptions)) ?? Option.getOrUndefined(yield* Journal.nextWriteKey)
          const posted = yield* post(
            from,
            to,
            kind,
            body,
            {},
            requireRegistered ? { kind: "registered", agent: to } : undefined,
            idempotencyKey
          )
          if (Option.isNone(posted)) return yield* new AgentNotFound({ organization, agent: to })
          return posted.value
        })

      // In a durable run a send is a journaled step (a replay does not send again) and its
      // message is stored under the step's idempotency key (a send in flight at a crash, run
      // again, sends once).
      const send = (from: string, to: string, body: unknown, sendOptions?: SendOptions) =>
        Journal.step("messaging.send", postTo(from, to, "message", body, sendOptions), journaledSend, {
          request: { organization, from, to, body }
        })

      // a reply has no guard: it is always stored
      const reply = (request: Message, body: unknown) =>
        Effect.map(post(request.to, request.from, "reply", body, { correlationId: request.id }), Option.getOrThrow)

      /** Sends a request and waits for its reply message. */
      const exchange = (
        from: string,
        to: string,
        body: unknown,
        opts: SendOptions & { readonly timeout: Duration.DurationInput }
      ) =>
        Effect.gen(function*() {
          const timeout = Input.durationMillis(
            typeof opts === "object" && opts !== null ? opts.timeout : opts,
            Number.NaN
          )
          if (Either.isLeft(timeout) || Number.isNaN(timeout.right)) {
            return yield* new MessageInvalid({
              field: "timeout",
              path: "(root)",
              reason: Either.isLeft(timeout) ? timeout.left : "a request needs { timeout }"
            })
          }
          const id = yield* postTo(from, to, "request", body, opts)
          const answer = yield* waitFor(from, store.reply(organization, from, id)).pipe(
            Effect.timeoutFail({
              duration: Duration.millis(timeout.right),
              onTimeout: () => new RequestTimedOut({ from, to, requestId: id, timeoutMillis: timeout.right })
            })
          )
          yield* store.markRead(organization, from, [answer.id], yield* Clock.currentTimeMillis)
          return answer
        })

      /** `exchange` as a journaled step in a durable run: a replay returns the journaled reply. */
      const journaledExchange = (
        from: string,
        to: string,
        body: unknown,
        opts: SendOptions & { readonly timeout: Duration.DurationInput }
      ) =>
        Journal.step("messaging.request", exchange(from, to, body, opts), journaledRequest, {
          request: { organization, from, to, body }
        })

      const request = (
        from: string,
        to: string,
        body: unknown,
        opts: SendOptions & { readonly timeout: Duration.DurationInput }
      ) => Effect.map(journaledExchange(from, to, body, opts), (answer) => answer.body)

      const unread = (agent: string) => store.unread(organization, agent)

      const inbox = (agent: string): Inbox => ({
        agent,
        unread: unread(agent),
        waitForMessage: (timeout) =>
          waitFor(agent, Effect.map(unread(agent), (list) => Option.fromNullable(list[0]))).pipe(
            Effect.timeoutOption(timeout)
          ),
        markRead: (ids) =>
          Effect.flatMap(
            Clock.currentTimeMillis,
            (now) => store.markRead(organization, agent, typeof ids === "string" ? [ids] : ids, now)
          )
      })

      const serve = <E, R>(agent: string, handler: (message: Message) => Effect.Effect<unknown, E, R>) => {
        /** Waits for pending messages and hands them to the handler, in order, until one fails. */
        const round = Effect.gen(function*() {
          const pending = yield* waitFor(
            agent,
            Effect.map(unread(agent), (list) => list.length > 0 ? Option.some(list) : Option.none())
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
            yield* store.markRead(organization, agent, [message.id], yield* Clock.currentTimeMillis)
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

      const typed = <A, I>(schema: Schema.Schema<A, I, never>): Typed<A> => {
        const encode = encodeBody(schema)
        const decode = decodeBody(schema)
        return {
          send: (from, to, body, sendOptions) =>
            Effect.flatMap(encode(body), (encoded) => send(from, to, encoded, sendOptions)),
          request: <B, BI>(
            from: string,
            to: string,
            body: A,
            opts: SendOptions & {
              readonly timeout: Duration.DurationInput
              readonly reply?: Schema.Schema<B, BI, never>
            }
          ) =>
            Effect.gen(function*() {
              const answer = yield* journaledExchange(from, to, yield* encode(body), opts)
              if (opts.reply === undefined) return answer.body as B
              return (yield* decodeBody(opts.reply)(answer)).body
            }),
          decode,
          unread: (agent) => Effect.flatMap(unread(agent), (list) => Effect.forEach(list, decode)),
          serve: (agent, handler, serveOptions = {}) =>
            serve(agent, (message) =>
              Either.match(decode(message), {
                onLeft: (e) =>
                  Effect.as(
                    serveOptions.onInvalid?.(e, message) ??
                      Effect.logWarning(`messaging: ${agent} skipped a message: ${e.message}`),
                    undefined
                  ),
                onRight: handler
              }))
        }
      }

      const history = (historyQuery?: HistoryQuery) =>
        Effect.gen(function*() {
          const query = yield* Input.options("history", "query", historyQuery)
          yield* names("history", [
            ...(query.from !== undefined ? [["from", query.from] as const] : []),
            ...(query.to !== undefined ? [["to", query.to] as const] : []),
            ...(query.conversationId !== undefined ? [["conversationId", query.conversationId] as const] : [])
          ])
          const page = yield* pageOf("history", query)
          const found = yield* store.history(organization, {
            ...(query.from !== undefined ? { from: query.from } : {}),
            ...(query.to !== undefined ? { to: query.to } : {}),
            ...(query.conversationId !== undefined ? { conversationId: query.conversationId } : {}),
            ...(page.after !== undefined ? { after: page.after } : {}),
            limit: page.limit + 1
          })
          const messages = found.slice(0, page.limit)
          return found.length > page.limit
            ? { messages, next: cursorOf(messages[messages.length - 1]!) }
            : { messages }
        })

      /** The stored agent with its effective status (busy while it holds a lock). */
      const effective = (agent: Agent, held: ReadonlySet<string>): Agent =>
        held.has(agent.name) && agent.status !== "busy" ? { ...agent, status: "busy" } : agent

      /** `agent` with its effective status. */
      const withStatus = (agent: Agent) =>
        Effect.map(
          lock.holderOf(agent.name),
          (holding) => effective(agent, new Set(Option.isSome(holding) ? [agent.name] : []))
        )

      const lookup = (name: string) =>
        Effect.gen(function*() {
          yield* names("lookup", [["name", name]])
          const found = yield* store.agent(organization, name)
          if (Option.isNone(found)) return yield* new AgentNotFound({ organization, agent: name })
          return yield* withStatus(found.value)
        })

      const register = (registration: Registration) =>
        Effect.gen(function*() {
          const input = decodeRegistration(registration)
          if (Either.isLeft(input)) {
            const issue = Input.firstIssue(input.left)
            return yield* new InvalidInput({ operation: "register", field: issue.path, reason: issue.reason })
          }
          const { capabilities = [], name, status = "online" } = input.right
          if (capabilities.length > maxCapabilities) {
            return yield* new InvalidInput({
              operation: "register",
              field: "capabilities",
              reason: `at most ${maxCapabilities} capabilities, got ${capabilities.length}`
            })
          }
          yield* names("register", [["name", name], ...capabilities.map((c, i) => [`capabilities[${i}]`, c] as const)])
          const now = yield* Clock.currentTimeMillis
          const agent: Agent = {
            name,
            organization,
            capabilities: [...new Set(capabilities)],
            status,
            registeredAt: now,
            updatedAt: now
          }
          yield* store.register(organization, agent)
          // as stored (an update keeps the first registration time)
          return yield* withStatus(Option.getOrElse(yield* store.agent(organization, name), () => agent))
        })

      const registry: Registry = {
        register,
        unregister: (name) =>
          Effect.gen(function*() {
            yield* names("unregister", [["name", name]])
            if (!(yield* store.unregister(organization, name))) {
              return yield* new AgentNotFound({ organization, agent: name })
            }
          }),
        setStatus: (name, status) =>
          Effect.gen(function*() {
            const current = yield* lookup(name)
            return yield* register({ name, capabilities: current.capabilities, status })
          }),
        lookup,
        list: (listFilter) =>
          Effect.gen(function*() {
            const filter = yield* Input.options("list", "filter", listFilter)
            if (filter.capability !== undefined) yield* names("list", [["capability", filter.capability]])
            if (filter.status !== undefined && !Schema.is(AgentStatus)(filter.status)) {
              return yield* new InvalidInput({
                operation: "list",
                field: "status",
                reason: `expected online, busy or offline, got ${Input.describe(filter.status)}`
              })
            }
            const all = yield* store.agents(organization)
            const held = new Set((yield* lock.live).map((h) => h.agent))
            return all.map((a) => effective(a, held)).filter((a) =>
              (filter.capability === undefined || a.capabilities.includes(filter.capability)) &&
              (filter.status === undefined || a.status === filter.status)
            )
          })
      }

      const conversationOf = <A, I>(
        state: ConversationState,
        schema: Schema.Schema<A, I, never>,
        engagement?: Scope.CloseableScope
      ): Conversation<A> => {
        const encode = encodeBody(schema)
        const decode = decodeBody(schema)
        const { id, participants } = state
        const partner = (from: string) =>
          from === participants[0]
            ? Either.right(participants[1])
            : from === participants[1]
            ? Either.right(participants[0])
            : Either.left(
              new ConversationRefused({
                conversationId: id,
                agent: typeof from === "string" ? from : Input.describe(from),
                reason: "not a participant"
              })
            )
        const refusedAsEnded = (from: string) =>
          new ConversationRefused({ conversationId: id, agent: from, reason: "ended" })
        return {
          id,
          topic: state.topic,
          participants,
          say: (from, body) =>
            Effect.gen(function*() {
              const to = yield* partner(from)
              const stored = yield* post(from, to, "message", yield* encode(body), { conversationId: id }, {
                kind: "open conversation",
                conversationId: id
              })
              if (Option.isNone(stored)) return yield* refusedAsEnded(from)
              return stored.value
            }),
          end: (from, closing) =>
            Effect.gen(function*() {
              const to = yield* partner(from)
              const copy = checked(from, to, yield* encode(closing))
              if (Either.isLeft(copy)) return yield* copy.left
              const now = yield* Clock.currentTimeMillis
              const message: Message = {
                id: newId(now),
                from,
                to,
                kind: "closing",
                conversationId: id,
                body: copy.right,
                sentAt: now
              }
              if (!(yield* store.endConversation(organization, id, { at: now, by: from, closing: message }))) {
                return yield* refusedAsEnded(from)
              }
              yield* PubSub.publish(arrivals, { organization, to })
              yield* lock.releaseHolder(id).pipe(Effect.catchTag("InvalidInput", () => Effect.succeed(0)))
              if (engagement !== undefined) yield* Scope.close(engagement, Exit.void)
            }),
          state: Effect.flatMap(
            store.conversation(organization, id),
            Option.match({
              onNone: () => Effect.fail(new ConversationNotFound({ organization, conversationId: id })),
              onSome: Effect.succeed
            })
          ),
          history: (page = {}) =>
            history({ conversationId: id, ...page }).pipe(
              Effect.flatMap((p) =>
                Effect.map(
                  Effect.forEach(p.messages, (m) => decode(m as Message)),
                  (messages): HistoryPage<A> => p.next !== undefined ? { messages, next: p.next } : { messages }
                )
              )
            )
        }
      }

      const startConversation = <A = unknown, I = unknown>(startOptions: StartConversation<A, I>) =>
        Effect.gen(function*() {
          const start = yield* Input.options("startConversation", "options", startOptions)
          if (start.body !== undefined && !Schema.isSchema(start.body)) {
            return yield* new InvalidInput({
              operation: "startConversation",
              field: "body",
              reason: "expected a Schema"
            })
          }
          yield* names("startConversation", [["from", start.from], ["to", start.to], [
            "topic",
            start.topic,
            maxTopicLength
          ]])
          if (start.from === start.to) {
            return yield* new InvalidInput({
              operation: "startConversation",
              field: "to",
              reason: "an agent cannot converse with itself"
            })
          }
          for (const agent of [start.from, start.to]) {
            if (Option.isNone(yield* store.agent(organization, agent))) {
              return yield* new AgentNotFound({ organization, agent })
            }
          }
          const now = yield* Clock.currentTimeMillis
          const id = `c-${newId(now)}`
          const outer = yield* Effect.scope
          const engagement = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          const state: ConversationState = {
            id,
            organization,
            topic: start.topic,
            participants: [start.from, start.to],
            state: "open",
            startedAt: now
          }
          yield* Effect.gen(function*() {
            // In name order, so two conversations started at once between the same agents cannot deadlock.
            for (const agent of [start.from, start.to].sort()) yield* lock.acquire(agent, id, start.lock)
            yield* store.createConversation(organization, state)
            // Runs first when the scope closes: the conversation ends before its agents are free.
            yield* Effect.addFinalizer(() =>
              Effect.flatMap(Clock.currentTimeMillis, (at) => store.endConversation(organization, id, { at })).pipe(
                Effect.catchAll((e) => Effect.logWarning(`messaging: ending conversation ${id} failed: ${e.message}`))
              )
            )
          }).pipe(
            Scope.extend(engagement),
            Effect.onError((cause) => Scope.close(engagement, Exit.failCause(cause)))
          )
          return conversationOf(state, start.body ?? (Schema.Unknown as Schema.Schema<A, I, never>), engagement)
        })

      const conversation = <A = unknown, I = unknown>(id: string, body?: Schema.Schema<A, I, never>) =>
        Effect.gen(function*() {
          yield* names("conversation", [["id", id]])
          const found = yield* store.conversation(organization, id)
          if (Option.isNone(found)) return yield* new ConversationNotFound({ organization, conversationId: id })
          return conversationOf(found.value, body ?? (Schema.Unknown as Schema.Schema<A, I, never>))
        })

      const forOrganization = (other: string) =>
        Effect.flatMap(
          Input.name("forOrganization", "organization", other),
          (o) => Effect.flatMap(lock.forOrganization(o), (l) => inOrganization(o, l))
        )
      const service: Service = {
        organization,
        forOrganization,
        forRun: Effect.flatMap(
          Effect.serviceOption(WorkflowContext.WorkflowContext),
          (ctx) =>
            Option.isSome(ctx) && ctx.value.tenantId !== undefined
              ? forOrganization(ctx.value.tenantId)
              : Effect.succeed(service)
        ),
        registry,
        send,
        request,
        reply,
        inbox,
        serve,
        typed,
        startConversation,
        conversation,
        history
      }
      return service
    }
  })

/** At most this many unconsumed replies are kept per agent by the in-memory store. */
const maxKeptReplies = 1_000

/** A copy of a stored message for a reader (a reader's changes never reach the store). */
const copyOut = (m: Message): Message =>
  typeof m.body === "object" && m.body !== null ? { ...m, body: JSON.parse(JSON.stringify(m.body)) } : { ...m }

/** The order of history: by send time, then id. */
const byPosition = (a: { sentAt: number; id: string }, b: { sentAt: number; id: string }) =>
  a.sentAt - b.sentAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const matches = (m: Message, q: StoreHistoryQuery) =>
  (q.from === undefined || m.from === q.from) &&
  (q.to === undefined || m.to === q.to) &&
  (q.conversationId === undefined || m.conversationId === q.conversationId) &&
  (q.after === undefined || byPosition(m, q.after) > 0)

/**
 * The in-memory store: what it holds.
 *
 * @since 0.2.0
 * @category models
 */
export interface MemoryStore extends Store {
  /** Unread messages and requests, unconsumed replies, and messages kept for history, over all organizations. */
  readonly size: Effect.Effect<{ readonly unread: number; readonly replies: number; readonly history: number }>
}

/**
 * Options of the in-memory store.
 *
 * @since 0.3.0
 * @category models
 */
export interface MemoryStoreOptions {
  /** How many of the newest messages are kept for `history`, per organization. Default 10,000. */
  readonly historyLimit?: number
}

/**
 * A store in memory (lost when the process ends), by organization: inboxes (a message is dropped
 * from its inbox when it is marked read), at most 1,000 unconsumed replies per agent (oldest
 * dropped first), the newest `historyLimit` messages for `history`, agents and conversations.
 * Readers get copies.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Messaging } from "@braid/messaging"
 *
 * const store = Messaging.memoryStoreWith({ historyLimit: 1_000 })
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const memoryStoreWith = (options: MemoryStoreOptions = {}): Effect.Effect<MemoryStore> =>
  Effect.sync(() => {
    const historyLimit = Math.max(0, Math.floor(options.historyLimit ?? 10_000))
    type Mutable = { -readonly [K in keyof Message]: Message[K] }
    interface Org {
      // Per agent: unread messages and requests by id (a Map keeps insertion order), and unread replies by request id.
      readonly unread: Map<string, Map<string, Mutable>>
      readonly replies: Map<string, Map<string, Mutable>>
      log: Array<Mutable>
      readonly agents: Map<string, Agent>
      readonly conversations: Map<string, ConversationState>
      // Applied idempotency keys: the first message's id and when the key lapses (in the order applied).
      readonly applied: Map<string, { readonly id: string; readonly expiresAt: number }>
    }
    const orgs = new Map<string, Org>()
    const of = (organization: string): Org => {
      let org = orgs.get(organization)
      if (org === undefined) {
        orgs.set(
          organization,
          org = {
            unread: new Map(),
            replies: new Map(),
            log: [],
            agents: new Map(),
            conversations: new Map(),
            applied: new Map()
          }
        )
      }
      return org
    }
    const count = (pick: (org: Org) => Map<string, Map<string, Message>>) => {
      let n = 0
      for (const org of orgs.values()) for (const m of pick(org).values()) n += m.size
      return n
    }
    const holds = (org: Org, guard: Guard | undefined) =>
      guard === undefined ||
      (guard.kind === "registered"
        ? org.agents.has(guard.agent)
        : org.conversations.get(guard.conversationId)?.state === "open")
    const put = (org: Org, message: Message) => {
      const m: Mutable = { ...message }
      const byAgent = m.kind === "reply" ? org.replies : org.unread
      let list = byAgent.get(m.to)
      if (list === undefined) byAgent.set(m.to, list = new Map())
      list.set(m.kind === "reply" ? m.correlationId ?? m.id : m.id, m)
      if (m.kind === "reply" && list.size > maxKeptReplies) list.delete(list.keys().next().value!)
      if (historyLimit > 0) {
        org.log.push(m)
        // trimmed in batches (amortized): the oldest beyond the limit are never returned
        if (org.log.length >= historyLimit + Math.max(16, historyLimit >> 3)) org.log = org.log.slice(-historyLimit)
      }
    }
    return {
      insert: (organization, message, guard, idempotencyKey) =>
        Effect.sync((): InsertResult => {
          const org = of(organization)
          if (idempotencyKey !== undefined) {
            // keys lapse in the order they were applied (each lives one window): drop the lapsed head
            for (const [k, r] of org.applied) {
              if (r.expiresAt > message.sentAt) break
              org.applied.delete(k)
            }
            const first = org.applied.get(idempotencyKey)
            if (first !== undefined) return { duplicateOf: first.id }
          }
          if (!holds(org, guard)) return false
          if (idempotencyKey !== undefined) {
            org.applied.set(idempotencyKey, { id: message.id, expiresAt: message.sentAt + idempotencyWindowMillis })
          }
          put(org, message)
          return true
        }),
      unread: (organization, agent) =>
        Effect.sync(() => Array.from(orgs.get(organization)?.unread.get(agent)?.values() ?? [], copyOut)),
      markRead: (organization, agent, ids, at) =>
        Effect.sync(() => {
          const org = orgs.get(organization)
          if (org === undefined) return
          const list = org.unread.get(agent)
          const answered = org.replies.get(agent)
          for (const id of ids) {
            const m = list?.get(id)
            if (m !== undefined) {
              m.readAt = at
              list!.delete(id)
              continue
            }
            if (answered !== undefined) {
              for (const [requestId, r] of answered) {
                if (r.id === id) {
                  r.readAt = at
                  answered.delete(requestId)
                  break
                }
              }
            }
          }
          if (list !== undefined && list.size === 0) org.unread.delete(agent)
          if (answered !== undefined && answered.size === 0) org.replies.delete(agent)
        }),
      reply: (organization, agent, requestId) =>
        Effect.sync(() => {
          const r = orgs.get(organization)?.replies.get(agent)?.get(requestId)
          return r === undefined ? Option.none() : Option.some(copyOut(r))
        }),
      history: (organization, query) =>
        Effect.sync(() => {
          const log = orgs.get(organization)?.log ?? []
          return log.slice(-historyLimit).filter((m) => matches(m, query)).sort(byPosition).slice(0, query.limit).map(
            copyOut
          )
        }),
      register: (organization, agent) =>
        Effect.sync(() => {
          const agents = of(organization).agents
          const current = agents.get(agent.name)
          agents.set(agent.name, current === undefined ? agent : { ...agent, registeredAt: current.registeredAt })
        }),
      unregister: (organization, name) => Effect.sync(() => orgs.get(organization)?.agents.delete(name) ?? false),
      agent: (organization, name) => Effect.sync(() => Option.fromNullable(orgs.get(organization)?.agents.get(name))),
      agents: (organization) =>
        Effect.sync(() =>
          [...(orgs.get(organization)?.agents.values() ?? [])].sort((a, b) =>
            a.name < b.name ? -1 : a.name > b.name ? 1 : 0
          )
        ),
      createConversation: (organization, conversation) =>
        Effect.sync(() => void of(organization).conversations.set(conversation.id, conversation)),
      conversation: (organization, id) =>
        Effect.sync(() => Option.fromNullable(orgs.get(organization)?.conversations.get(id))),
      endConversation: (organization, id, end) =>
        Effect.sync(() => {
          const org = orgs.get(organization)
          const current = org?.conversations.get(id)
          if (org === undefined || current === undefined || current.state !== "open") return false
          org.conversations.set(id, {
            ...current,
            state: "ended",
            endedAt: end.at,
            ...(end.by !== undefined ? { endedBy: end.by } : {})
          })
          if (end.closing !== undefined) put(org, end.closing)
          return true
        }),
      size: Effect.sync(() => {
        let history = 0
        for (const org of orgs.values()) history += Math.min(org.log.length, historyLimit)
        return { unread: count((o) => o.unread), replies: count((o) => o.replies), history }
      })
    }
  })

/**
 * `memoryStoreWith()`: a store in memory with the default limits.
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
export const memoryStore: Effect.Effect<MemoryStore> = memoryStoreWith()

const storeError = (operation: string) => (e: unknown) =>
  e instanceof MessageStoreError
    ? e
    : new MessageStoreError({ operation, reason: e instanceof Error ? e.message : String(e) })

/** A BIGINT column as pg returns it (text) or SQLite (a number). */
const StoredNumber = Schema.Union(Schema.Number, Schema.NumberFromString)

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
      ...(r["conversation_id"] != null ? { conversationId: r["conversation_id"] } : {}),
      body: body.right,
      sentAt: number(r["sent_at"]),
      ...(r["read_at"] != null ? { readAt: number(r["read_at"]) } : {})
    }),
    (e) => new MessageStoreError({ operation: "read", reason: `message ${id} did not decode: ${e.message}` })
  )
}

const AgentRow = Schema.Struct({
  name: Schema.String,
  organization: Schema.String,
  capabilities: Schema.parseJson(Schema.Array(Schema.String)),
  status: AgentStatus,
  registered_at: StoredNumber,
  updated_at: StoredNumber
})
const decodeAgentRow = Schema.decodeUnknown(AgentRow)

const ConversationRow = Schema.Struct({
  id: Schema.String,
  organization: Schema.String,
  topic: Schema.String,
  initiator: Schema.String,
  partner: Schema.String,
  state: Schema.Literal("open", "ended"),
  started_at: StoredNumber,
  ended_at: Schema.NullOr(StoredNumber),
  ended_by: Schema.NullOr(Schema.String)
})
const decodeConversationRow = Schema.decodeUnknown(ConversationRow)

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

const messageColumns = "id, organization, recipient, sender, kind, correlation_id, conversation_id, body, sent_at"

/**
 * A store on the `Sql.SqlDriver` in context (`SqliteDriver.layer` of @braid/sqlite,
 * `PostgresDriver.layer` of @braid/postgres): tables `braid_inbox_messages`, `braid_agents` and
 * `braid_conversations`, each keyed by organization, created if missing (idempotent, run on every
 * start; an inbox table of 0.2 gets its `organization` column, its rows in `"default"`). Every
 * call, the creation included, is bounded by `timeout` (`Sql.bounded`): past it the call is a
 * `MessageStoreError` and its connection is abandoned. A guarded insert (registered recipient,
 * open conversation) and the end of a conversation are each one atomic step.
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
    const postgres = driver.dialect === "postgres"
    yield* call(
      "migrate",
      Effect.gen(function*() {
        yield* driver.execute(`CREATE TABLE IF NOT EXISTS braid_inbox_messages (
          id TEXT PRIMARY KEY,
          organization TEXT NOT NULL DEFAULT 'default',
          recipient TEXT NOT NULL,
          sender TEXT NOT NULL,
          kind TEXT NOT NULL,
          correlation_id TEXT,
          conversation_id TEXT,
          body TEXT NOT NULL,
          sent_at BIGINT NOT NULL,
          read_at BIGINT
        )`)
        // the inbox of 0.2 had none of these columns
        const columns = postgres
          ? undefined
          : new Set((yield* driver.query("PRAGMA table_info(braid_inbox_messages)")).map((r) => r["name"]))
        for (
          const [column, type] of [
            ["organization", "TEXT NOT NULL DEFAULT 'default'"],
            ["conversation_id", "TEXT"],
            // 0.3: the idempotency key of a send (unique per organization when present)
            ["idempotency_key", "TEXT"]
          ]
        ) {
          if (postgres) {
            yield* driver.execute(`ALTER TABLE braid_inbox_messages ADD COLUMN IF NOT EXISTS ${column} ${type}`)
          } else if (!columns!.has(column)) {
            yield* driver.execute(`ALTER TABLE braid_inbox_messages ADD COLUMN ${column} ${type}`).pipe(
              // another process added it first
              Effect.catchIf((e) => /duplicate column/i.test(e.message), () => Effect.succeed(0))
            )
          }
        }
        for (
          const statement of [
            // the index of 0.2, superseded by the one with the organization (one index less to write per message)
            "DROP INDEX IF EXISTS braid_inbox_messages_unread",
            "CREATE INDEX IF NOT EXISTS braid_inbox_messages_org_unread ON braid_inbox_messages (organization, recipient, read_at, sent_at)",
            "CREATE INDEX IF NOT EXISTS braid_inbox_messages_org_sender ON braid_inbox_messages (organization, sender, sent_at)",
            "CREATE INDEX IF NOT EXISTS braid_inbox_messages_org_conversation ON braid_inbox_messages (organization, conversation_id, sent_at)",
            `CREATE UNIQUE INDEX IF NOT EXISTS braid_inbox_messages_org_idempotency
              ON braid_inbox_messages (organization, idempotency_key) WHERE idempotency_key IS NOT NULL`,
            `CREATE TABLE IF NOT EXISTS braid_agents (
              organization TEXT NOT NULL,
              name TEXT NOT NULL,
              capabilities TEXT NOT NULL,
              status TEXT NOT NULL,
              registered_at BIGINT NOT NULL,
              updated_at BIGINT NOT NULL,
              PRIMARY KEY (organization, name)
            )`,
            `CREATE TABLE IF NOT EXISTS braid_conversations (
              organization TEXT NOT NULL,
              id TEXT NOT NULL,
              topic TEXT NOT NULL,
              initiator TEXT NOT NULL,
              partner TEXT NOT NULL,
              state TEXT NOT NULL,
              started_at BIGINT NOT NULL,
              ended_at BIGINT,
              ended_by TEXT,
              PRIMARY KEY (organization, id)
            )`
          ]
        ) yield* driver.execute(statement)
      })
    )
    const rows = (operation: string, text: string, params: ReadonlyArray<Sql.Param>) =>
      call(operation, Effect.flatMap(driver.query(text, params), (rs) => Effect.forEach(rs, fromRow)))
    /** The parameters of a message's columns (`messageColumns`). */
    const messageParams = (organization: string, m: Message) =>
      Effect.map(Json.encode(m.body ?? null), (body): ReadonlyArray<Sql.Param> => [
        m.id,
        organization,
        m.to,
        m.from,
        m.kind,
        m.correlationId ?? null,
        m.conversationId ?? null,
        body,
        m.sentAt
      ])
    const insertPlain = (sql: Sql.Driver, organization: string, m: Message) =>
      Effect.flatMap(
        messageParams(organization, m),
        (params) =>
          sql.execute(
            `INSERT INTO braid_inbox_messages (${messageColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            params
          )
      )
    // Positions in a stable order: PostgreSQL compares ids byte-wise, as SQLite and the memory store do.
    const idOrder = postgres ? "id COLLATE \"C\"" : "id"
    const agentOf = (r: Sql.Row) =>
      Effect.map(
        Effect.mapError(decodeAgentRow(r), (e) => `a stored agent does not decode: ${e.message}`),
        (a): Agent => ({
          name: a.name,
          organization: a.organization,
          capabilities: a.capabilities,
          status: a.status,
          registeredAt: a.registered_at,
          updatedAt: a.updated_at
        })
      )
    return {
      insert: (organization, m, guard, idempotencyKey) =>
        call(
          "insert",
          Effect.gen(function*() {
            if (guard === undefined && idempotencyKey === undefined) {
              return (yield* insertPlain(driver, organization, m)) === 1
            }
            const params = [...yield* messageParams(organization, m), idempotencyKey ?? null]
            const condition = guard === undefined
              ? ["SELECT 1", undefined] as const
              : guard.kind === "registered"
              ? ["SELECT 1 FROM braid_agents WHERE organization = ? AND name = ?", guard.agent] as const
              : [
                "SELECT 1 FROM braid_conversations WHERE organization = ? AND id = ? AND state = 'open'",
                guard.conversationId
              ] as const
            const conditionParams = condition[1] === undefined ? [] : [organization, condition[1]]
            // insert-if-absent: a key applied already (the partial unique index) stores nothing
            const changed = yield* driver.execute(
              `INSERT INTO braid_inbox_messages (${messageColumns}, idempotency_key)
              SELECT ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), ? WHERE EXISTS (${condition[0]})
              ON CONFLICT DO NOTHING`,
              [...params, ...conditionParams]
            )
            if (changed === 1) return true
            if (idempotencyKey === undefined) return false
            const first = yield* driver.query(
              "SELECT id FROM braid_inbox_messages WHERE organization = ? AND idempotency_key = ?",
              [organization, idempotencyKey]
            )
            const id = first[0]?.["id"]
            return typeof id === "string" ? { duplicateOf: id } : false
          })
        ),
      unread: (organization, agent) =>
        rows(
          "unread",
          `SELECT * FROM braid_inbox_messages WHERE organization = ? AND recipient = ? AND read_at IS NULL
          AND kind <> 'reply' ORDER BY sent_at, ${idOrder}`,
          [organization, agent]
        ),
      markRead: (organization, agent, ids, at) =>
        ids.length === 0
          ? Effect.void
          : call(
            "markRead",
            driver.execute(
              `UPDATE braid_inbox_messages SET read_at = ? WHERE organization = ? AND recipient = ? AND read_at IS NULL
              AND id IN (${ids.map(() => "?").join(", ")})`,
              [at, organization, agent, ...ids]
            )
          ).pipe(Effect.asVoid),
      reply: (organization, agent, requestId) =>
        rows(
          "reply",
          `SELECT * FROM braid_inbox_messages WHERE organization = ? AND recipient = ? AND kind = 'reply'
          AND correlation_id = ? AND read_at IS NULL`,
          [organization, agent, requestId]
        ).pipe(Effect.map((list) => Option.fromNullable(list[0]))),
      history: (organization, q) => {
        const where = ["organization = ?"]
        const params: Array<Sql.Param> = [organization]
        for (
          const [column, value] of [["sender", q.from], ["recipient", q.to], ["conversation_id", q.conversationId]]
        ) {
          if (value !== undefined) {
            where.push(`${column} = ?`)
            params.push(value)
          }
        }
        if (q.after !== undefined) {
          where.push(`(sent_at > ? OR (sent_at = ? AND ${idOrder} > ?))`)
          params.push(q.after.sentAt, q.after.sentAt, q.after.id)
        }
        return rows(
          "history",
          `SELECT * FROM braid_inbox_messages WHERE ${where.join(" AND ")} ORDER BY sent_at, ${idOrder} LIMIT ?`,
          [...params, q.limit]
        )
      },
      register: (organization, a) =>
        call(
          "register",
          Effect.flatMap(Json.encode(a.capabilities), (capabilities) =>
            driver.execute(
              `INSERT INTO braid_agents (organization, name, capabilities, status, registered_at, updated_at)
              VALUES (?, ?, ?, ?, ?, ?)
              ON CONFLICT (organization, name) DO UPDATE SET capabilities = excluded.capabilities,
                status = excluded.status, updated_at = excluded.updated_at`,
              [organization, a.name, capabilities, a.status, a.registeredAt, a.updatedAt]
            ))
        ).pipe(Effect.asVoid),
      unregister: (organization, name) =>
        call(
          "unregister",
          driver.execute("DELETE FROM braid_agents WHERE organization = ? AND name = ?", [organization, name])
        ).pipe(Effect.map((n) => n > 0)),
      agent: (organization, name) =>
        call(
          "agent",
          Effect.flatMap(
            driver.query("SELECT * FROM braid_agents WHERE organization = ? AND name = ?", [organization, name]),
            (rs) => rs.length === 0 ? Effect.succeed(Option.none()) : Effect.map(agentOf(rs[0]!), Option.some)
          )
        ),
      agents: (organization) =>
        call(
          "agents",
          Effect.flatMap(
            driver.query(
              `SELECT * FROM braid_agents WHERE organization = ? ORDER BY ${postgres ? "name COLLATE \"C\"" : "name"}`,
              [organization]
            ),
            (rs) => Effect.forEach(rs, agentOf)
          )
        ),
      createConversation: (organization, c) =>
        call(
          "createConversation",
          driver.execute(
            `INSERT INTO braid_conversations (organization, id, topic, initiator, partner, state, started_at)
            VALUES (?, ?, ?, ?, ?, 'open', ?)`,
            [organization, c.id, c.topic, c.participants[0], c.participants[1], c.startedAt]
          )
        ).pipe(Effect.asVoid),
      conversation: (organization, id) =>
        call(
          "conversation",
          Effect.gen(function*() {
            const rs = yield* driver.query("SELECT * FROM braid_conversations WHERE organization = ? AND id = ?", [
              organization,
              id
            ])
            if (rs.length === 0) return Option.none()
            const c = yield* Effect.mapError(
              decodeConversationRow(rs[0]),
              (e) => `a stored conversation does not decode: ${e.message}`
            )
            return Option.some<ConversationState>({
              id: c.id,
              organization: c.organization,
              topic: c.topic,
              participants: [c.initiator, c.partner],
              state: c.state,
              startedAt: c.started_at,
              ...(c.ended_at !== null ? { endedAt: c.ended_at } : {}),
              ...(c.ended_by !== null ? { endedBy: c.ended_by } : {})
            })
          })
        ),
      endConversation: (organization, id, end) =>
        call(
          "endConversation",
          driver.transaction((tx) =>
            Effect.gen(function*() {
              const changed = yield* tx.execute(
                `UPDATE braid_conversations SET state = 'ended', ended_at = ?, ended_by = ?
                WHERE organization = ? AND id = ? AND state = 'open'`,
                [end.at, end.by ?? null, organization, id]
              )
              if (changed !== 1) return false
              if (end.closing !== undefined) yield* insertPlain(tx, organization, end.closing)
              return true
            })
          )
        )
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
 * Messaging in memory, and the `Lock` service its conversations lock agents with (for the
 * meetings of the same process to share).
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
export const layerMemory = (options: Options = {}): Layer.Layer<Messaging | Lock.Lock> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const locks = yield* Lock.memoryLockStore
      const service = yield* make(yield* memoryStore, { ...options, locks })
      return Context.make(Messaging, service).pipe(Context.add(Lock.Lock, Lock.make(locks)))
    })
  )

/**
 * Messaging on the `Sql.SqlDriver` in context (every store call bounded by `options.timeout`),
 * and the `Lock` service on the same database (table `braid_agent_locks`).
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
export const layerSql = (
  options: Options = {}
): Layer.Layer<Messaging | Lock.Lock, MessageStoreError, Sql.SqlDriver> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const storeOptions = options.timeout !== undefined ? { timeout: options.timeout } : {}
      const locks = yield* Lock.sqlLockStoreWith(storeOptions)
      const service = yield* make(yield* sqlStoreWith(storeOptions), { ...options, locks })
      return Context.make(Messaging, service).pipe(Context.add(Lock.Lock, Lock.make(locks)))
    })
  )
