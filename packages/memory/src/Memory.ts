/**
 * `Memory`: scoped, persistent memory for agents and pipelines.
 *
 * Scopes are isolation boundaries whose ids come from the run's `WorkflowContext`: "run" (the
 * run id), "session" (the session id), "user" (the user id), "global". A step can only ever
 * name a scope kind, never a scope id, so a session cannot read another session's entries and a
 * user cannot read another user's, by construction. With a tenant id in the context, every
 * scope is also partitioned by tenant: the tenant is a field of the scope of its own (and a
 * column, or an escaped key segment, in every store), never joined into the id.
 *
 * Retention: a TTL per entry (`ttl`) or per scope kind, and a maximum number of entries per
 * scope with eviction of the oldest. Expired entries are never returned. Every entry records
 * its provenance: the agent that wrote it, the run, the step path and the time.
 *
 * @since 0.1.0
 */
import { Instrumentation, Journal, Json, Primitive, WorkflowContext } from "@braid/core"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  FiberRef,
  GlobalValue,
  Layer,
  Option,
  ParseResult,
  Schema
} from "effect"
import type { Fiber } from "effect"
import { MemoryDecodeError, MemoryInputError, MemoryScopeUnavailable, MemoryStoreError } from "./Errors.js"
import {
  Entry,
  type Filter,
  makeInMemory,
  MemoryStore,
  type PutOptions,
  type Scope,
  type ScopeKind
} from "./MemoryStore.js"

/**
 * The errors of memory operations.
 *
 * @category errors
 * @since 0.1.0
 */
export type MemoryError = MemoryStoreError | MemoryScopeUnavailable | MemoryInputError

/**
 * The most UTF-8 bytes of a key, a tag or an agent name (1 to 1,024).
 *
 * @category constants
 * @since 0.2.0
 */
export const maxKeyBytes = 1024

/**
 * The most UTF-8 bytes of a scope id and a tenant id (1 to 512): with a key, they fit one
 * PostgreSQL index entry.
 *
 * @category constants
 * @since 0.2.0
 */
export const maxIdBytes = 512

/**
 * Retention rules of a scope kind.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/memory"
 *
 * const daily: Memory.Retention = { ttl: "1 day", maxEntries: 100 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Retention {
  /** Entries expire this long after they are written (unless the entry has its own `ttl`). */
  readonly ttl?: Duration.DurationInput
  /** At most this many entries per scope; writing one more evicts the oldest. */
  readonly maxEntries?: number
}

/**
 * Configuration of the `Memory` service.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/memory"
 *
 * const config: Memory.Config = { defaultScope: "user", retention: { session: { ttl: "2 hours" } } }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Config {
  /** The scope used when an operation names none. Default "session". */
  readonly defaultScope?: ScopeKind
  /** Retention per scope kind. */
  readonly retention?: Partial<Record<ScopeKind, Retention>>
}

/**
 * Selects the scope of an operation (default: the configured `defaultScope`).
 *
 * @category models
 * @since 0.1.0
 */
export interface ScopeOption {
  readonly scope?: ScopeKind
}

/**
 * Options of `store`.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/memory"
 *
 * const options: Memory.StoreOptions = { scope: "user", tags: ["goal"], ttl: "30 days" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface StoreOptions extends ScopeOption {
  readonly tags?: ReadonlyArray<string>
  /** Expire this entry after this long (overrides the scope's TTL). */
  readonly ttl?: Duration.DurationInput
  /** The writing agent. Defaults to the agent that is running (see `withAgent`). */
  readonly agent?: string
  /**
   * Makes the write happen once: a second write with the same key in the same scope (within
   * `MemoryStore.idempotencyWindowMillis`) writes nothing and returns the first write's entry.
   * In a durable run a write with no key of its own gets one from its journaled step (the
   * write's own automatic step, or a `Durable.step` around it: `Journal.nextWriteKey`), stable
   * across a crashed attempt and its retry.
   *
   * @since 0.3.0
   */
  readonly idempotencyKey?: string
}

/**
 * Options of `query`.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/memory"
 *
 * const recent: Memory.QueryOptions = { scope: "session", agent: "coach", limit: 5 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface QueryOptions extends Filter, ScopeOption {}

/**
 * The operations of the `Memory` service. Every operation works in one scope, resolved from the
 * current `WorkflowContext`.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryShape {
  readonly store: (
    key: string,
    value: unknown,
    options?: StoreOptions
  ) => Effect.Effect<Entry, MemoryError, WorkflowContext.WorkflowContext>
  readonly retrieve: (
    key: string,
    options?: ScopeOption
  ) => Effect.Effect<Option.Option<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly query: (
    options?: QueryOptions
  ) => Effect.Effect<ReadonlyArray<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly list: (
    options?: ScopeOption
  ) => Effect.Effect<ReadonlyArray<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly delete: (
    key: string,
    options?: ScopeOption
  ) => Effect.Effect<boolean, MemoryError, WorkflowContext.WorkflowContext>
}

/**
 * The memory service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Memory } from "@braid/memory"
 *
 * const program = Effect.gen(function*() {
 *   const memory = yield* Memory.Memory
 *   yield* memory.store("goal", "run 5k", { scope: "user", tags: ["goal"] })
 * })
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Memory extends Context.Tag("@braid/memory/Memory")<Memory, MemoryShape>() {}

/**
 * The agent that is running, recorded as the writer of memory entries. `Agent` sets it.
 *
 * @example
 * ```ts
 * import { FiberRef } from "effect"
 * import { Memory } from "@braid/memory"
 *
 * const who = FiberRef.get(Memory.currentAgent) // undefined outside an agent
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const currentAgent: FiberRef.FiberRef<string | undefined> = GlobalValue.globalValue(
  Symbol.for("@braid/agents/Memory/currentAgent"),
  () => FiberRef.unsafeMake<string | undefined>(undefined)
)

/**
 * Runs an effect as `agent`: memory written inside it records that agent.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Memory } from "@braid/memory"
 *
 * const asCoach = Memory.withAgent("coach")(Memory.store("note", "likes mornings"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withAgent = (agent: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentAgent, agent)

// ---------------------------------------------------------------------------------------------
// The rules of input (one set for every store)
// ---------------------------------------------------------------------------------------------

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

const describe = (u: unknown): string => u === null ? "null" : Array.isArray(u) ? "an array" : typeof u

/**
 * What is wrong with a text that is stored, indexed or compared by a store (a key, a tag, an
 * agent, an id), or undefined: it must be a string, non-empty, without NUL, well-formed UTF-16
 * (no lone surrogate, which the SQL drivers and Redis would rewrite, so two keys could become
 * one), and at most `maxBytes` UTF-8 bytes when given.
 */
const textProblem = (text: unknown, maxBytes: number | undefined): string | undefined => {
  if (typeof text !== "string") return `expected a string, got ${describe(text)}`
  if (text.length === 0) return "is empty"
  if (text.includes("\0")) return "contains NUL"
  const surrogate = loneSurrogate.exec(text)
  if (surrogate !== null) return `is not well-formed UTF-16 (a lone surrogate at index ${surrogate.index})`
  if (maxBytes !== undefined && text.length * 3 > maxBytes && Buffer.byteLength(text, "utf8") > maxBytes) {
    return `is longer than ${maxBytes} UTF-8 bytes`
  }
  return undefined
}

/** A key as errors show it: JSON-quoted (NUL and lone surrogates escaped), at most 100 characters. */
const showKey = (key: unknown): string | undefined =>
  typeof key === "string" ? JSON.stringify(key.length > 100 ? `${key.slice(0, 100)}…` : key) : undefined

const inputError = (operation: string, field: string, reason: string, key?: unknown): MemoryInputError => {
  const shown = showKey(key)
  return new MemoryInputError({ operation, field, reason, ...(shown !== undefined ? { key: shown } : {}) })
}

const isKind = (u: unknown): u is ScopeKind => u === "run" || u === "session" || u === "user" || u === "global"

/** A duration option in milliseconds (`Infinity`: never), or why it is not one. */
const millisOf = (ttl: unknown): number | string => {
  if (typeof ttl === "number" && !(ttl >= 0)) return `expected a non-negative duration, got ${ttl}`
  const d = Duration.decodeUnknown(ttl)
  return Option.isSome(d)
    ? Duration.toMillis(d.value)
    : `expected a duration ("30 minutes", millis, a Duration), got ${describe(ttl)}`
}

/** The tags of `store` or a filter, checked (each a text of at most `maxKeyBytes`). */
const tagsProblem = (operation: string, tags: unknown, key?: unknown): MemoryInputError | undefined => {
  if (tags === undefined) return undefined
  if (!Array.isArray(tags)) {
    return inputError(operation, "tags", `expected an array of strings, got ${describe(tags)}`, key)
  }
  for (let i = 0; i < tags.length; i++) {
    const problem = textProblem(tags[i], maxKeyBytes)
    if (problem !== undefined) return inputError(operation, `tags[${i}]`, problem, key)
  }
  return undefined
}

/** A `Json` error's path as a field of the value: `value`, `value.a.b`, `value[2]`. */
const valueField = (path: string): string =>
  path === "(root)" ? "value" : path.startsWith("[") ? `value${path}` : `value.${path}`

/**
 * The JSON text of a value under `Json.encode`'s rules (`undefined` is `null`), also refusing a
 * `"__proto__"` key (no store could read it back, `Json.parse` refuses it).
 */
const encodeValue = (key: string, value: unknown): string | MemoryInputError => {
  const encoded = Json.encode(value)
  if (Either.isLeft(encoded)) return inputError("store", valueField(encoded.left.path), encoded.left.detail, key)
  if (encoded.right.includes("\"__proto__\"")) {
    const parsed = Json.parse(encoded.right)
    if (Either.isLeft(parsed)) return inputError("store", valueField(parsed.left.path), parsed.left.detail, key)
  }
  return encoded.right
}

/** Why a query's filter is refused, if it is. */
const filterProblem = (options: QueryOptions): MemoryInputError | undefined => {
  if (options.agent !== undefined) {
    const problem = textProblem(options.agent, maxKeyBytes)
    if (problem !== undefined) return inputError("query", "agent", problem)
  }
  const tags = tagsProblem("query", options.tags)
  if (tags !== undefined) return tags
  for (const field of ["from", "to"] as const) {
    const v: unknown = options[field]
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v))) {
      return inputError(
        "query",
        field,
        `expected a finite number (epoch ms), got ${typeof v === "number" ? String(v) : describe(v)}`
      )
    }
  }
  const limit: unknown = options.limit
  if (limit !== undefined && !(typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 0)) {
    return inputError(
      "query",
      "limit",
      `expected a non-negative integer, got ${typeof limit === "number" ? String(limit) : describe(limit)}`
    )
  }
  if (options.text !== undefined && typeof options.text !== "string") {
    return inputError("query", "text", `expected a string, got ${describe(options.text)}`)
  }
  return undefined
}

/** The scope of a kind in a context, or why there is none: no id for it, or an id the rules refuse. */
type Resolved = Scope | MemoryScopeUnavailable | { readonly field: string; readonly reason: string }

const resolveIn = (ctx: WorkflowContext.WorkflowContextShape, kind: ScopeKind): Resolved => {
  let field: string
  let id: unknown
  switch (kind) {
    case "run":
      field = "runId"
      id = ctx.runId
      break
    case "session":
      field = "sessionId"
      id = ctx.sessionId
      break
    case "user":
      field = "userId"
      id = ctx.userId
      break
    case "global":
      field = "global"
      id = "global"
      break
  }
  if (id === undefined) return new MemoryScopeUnavailable({ scope: kind })
  const problem = textProblem(id, maxIdBytes)
  if (problem !== undefined) return { field, reason: problem }
  if (ctx.tenantId === undefined) return { kind, id: id as string }
  const tenantProblem = textProblem(ctx.tenantId, maxIdBytes)
  if (tenantProblem !== undefined) return { field: "tenantId", reason: tenantProblem }
  return { kind, tenant: ctx.tenantId, id: id as string }
}

/** Resolved scopes per context (a run asks for the same ones again and again): our own objects, weakly held. */
const resolvedScopes = new WeakMap<WorkflowContext.WorkflowContextShape, Partial<Record<ScopeKind, Resolved>>>()

const resolvedIn = (ctx: WorkflowContext.WorkflowContextShape, kind: ScopeKind): Resolved => {
  let scopes = resolvedScopes.get(ctx)
  if (scopes === undefined) {
    scopes = {}
    resolvedScopes.set(ctx, scopes)
  }
  let resolved = scopes[kind]
  if (resolved === undefined) {
    resolved = resolveIn(ctx, kind)
    scopes[kind] = resolved
  }
  return resolved
}

/** The scope of `kind` in a context, or the error of `operation` that says why there is none. */
const scopeOrError = (
  ctx: WorkflowContext.WorkflowContextShape,
  operation: string,
  kind: unknown
): Scope | MemoryScopeUnavailable | MemoryInputError => {
  if (!isKind(kind)) {
    return inputError(
      operation,
      "scope",
      `expected "run", "session", "user" or "global", got ${
        typeof kind === "string" ? JSON.stringify(kind) : describe(kind)
      }`
    )
  }
  const resolved = resolvedIn(ctx, kind)
  if ("reason" in resolved) return inputError(operation, resolved.field, resolved.reason)
  return resolved
}

const isScope = (u: Scope | MemoryScopeUnavailable | MemoryInputError): u is Scope => !("_tag" in u)

/**
 * Resolves a scope kind to the scope of the current run: its kind, the context's tenant (when it
 * has one) and the id of that kind. Fails with `MemoryScopeUnavailable` when the context has no
 * id for it, and with `MemoryInputError` when an id breaks the rules (empty, NUL, a lone
 * surrogate, more than `maxIdBytes`).
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const scope = Memory.resolveScope("session") // { kind: "session", tenant?: <tenantId>, id: <sessionId> }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const resolveScope = (
  kind: ScopeKind
): Effect.Effect<Scope, MemoryScopeUnavailable | MemoryInputError, WorkflowContext.WorkflowContext> =>
  Effect.flatMap(WorkflowContext.WorkflowContext, (ctx) => {
    const scope = scopeOrError(ctx, "resolveScope", kind)
    return isScope(scope) ? Effect.succeed(scope) : Effect.fail(scope)
  })

/** Entries written without tags share this (frozen) list. */
const noTags: ReadonlyArray<string> = Object.freeze([])

type MutableEntry = { -readonly [K in keyof Entry]: Entry[K] }
type MutablePutOptions = { -readonly [K in keyof PutOptions]: PutOptions[K] }

/** Why a configuration is refused, if it is. */
const configProblem = (config: Config): MemoryInputError | undefined => {
  if (config.defaultScope !== undefined && !isKind(config.defaultScope)) {
    return inputError(
      "config",
      "defaultScope",
      `expected "run", "session", "user" or "global", got ${describe(config.defaultScope)}`
    )
  }
  for (const [kind, rules] of Object.entries(config.retention ?? {})) {
    if (!isKind(kind)) return inputError("config", `retention.${kind}`, "not a scope kind")
    if (rules === undefined) continue
    const max: unknown = rules.maxEntries
    if (max !== undefined && !(typeof max === "number" && Number.isSafeInteger(max) && max >= 0)) {
      return inputError(
        "config",
        `retention.${kind}.maxEntries`,
        `expected a non-negative integer, got ${typeof max === "number" ? String(max) : describe(max)}`
      )
    }
    if (rules.ttl !== undefined) {
      const ttl = millisOf(rules.ttl)
      if (typeof ttl === "string") return inputError("config", `retention.${kind}.ttl`, ttl)
    }
  }
  return undefined
}

/**
 * Builds the service over a store. Every operation checks its input first, by one set of rules
 * for every store, and fails with `MemoryInputError` (nothing stored, nothing read) when:
 * a key, a tag or an agent is not a non-empty, NUL-free, well-formed UTF-16 string of at most
 * `maxKeyBytes` UTF-8 bytes; a scope id or tenant id (from the `WorkflowContext`) is not one of
 * at most `maxIdBytes`; a value has no lossless JSON form under `Json.encode` (a BigInt, a cycle,
 * NaN or ±Infinity, a `"__proto__"` key, nesting deeper than 1,000) — the error names the path;
 * a query's `from`/`to` is not a finite number or its `limit` not a non-negative integer; a `ttl`
 * is not a duration. A stored `undefined` reads back as `null`. A configuration that breaks the
 * rules (a `maxEntries` of 1.5) fails every operation with a `MemoryInputError` naming it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Memory, MemoryStore } from "@braid/memory"
 *
 * const memory = Effect.map(MemoryStore.makeInMemory, (store) => Memory.make(store, { defaultScope: "user" }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (store: MemoryStore["Type"], config: Config = {}): MemoryShape => {
  const badConfig = configProblem(config)
  const defaultScope = config.defaultScope ?? "session"
  const retention = config.retention ?? {}
  const ttls: Partial<Record<ScopeKind, number>> = {}
  if (badConfig === undefined) {
    for (const [kind, rules] of Object.entries(retention) as Array<[ScopeKind, Retention | undefined]>) {
      if (rules?.ttl !== undefined) ttls[kind] = millisOf(rules.ttl) as number
    }
  }
  /**
   * Runs `f` with the operation's scope, resolved from the run's `WorkflowContext`, after the
   * configuration and the scope option are checked. The context, the time, the running agent
   * and the step path are read in one step from the fiber's public accessors
   * (`Effect.withFiberRuntime`), so an operation costs one Effect step plus the store's.
   *
   * In a durable run (the `Journal` hook journals) the operation is a journaled step instead:
   * `journaled.again` runs it inside the step (where the hook passes through), and a replay
   * returns the journaled result without touching the store. (`journaled` is one constant per
   * operation and the arguments are passed as they are: nothing is allocated outside a durable run.)
   */
  interface JournaledOperation<A> {
    readonly schemas: Journal.StepSchemas<A, MemoryError>
    readonly request: (key: string | undefined, value: unknown, options: unknown) => unknown
    readonly again: (
      key: string | undefined,
      value: unknown,
      options: any
    ) => Effect.Effect<A, MemoryError, WorkflowContext.WorkflowContext>
  }
  const withScope = <A>(
    operation: string,
    options: ScopeOption | undefined,
    f: (
      scope: Scope,
      ctx: WorkflowContext.WorkflowContextShape,
      now: number,
      fiber: Fiber.RuntimeFiber<unknown, unknown>,
      journal: Journal.JournalShape
    ) => Effect.Effect<A, MemoryError>,
    journaled?: JournaledOperation<A>,
    key?: string,
    value?: unknown
  ): Effect.Effect<A, MemoryError, WorkflowContext.WorkflowContext> => {
    if (badConfig !== undefined) return Effect.fail(badConfig)
    if (options !== undefined && (typeof options !== "object" || options === null)) {
      return Effect.fail(inputError(operation, "options", `expected an object, got ${describe(options)}`))
    }
    const kind = options?.scope ?? defaultScope
    return Effect.withFiberRuntime<A, MemoryError, WorkflowContext.WorkflowContext>((fiber) => {
      const journal = Context.get(fiber.currentContext, Journal.Journal)
      if (journaled !== undefined) {
        if (journal.journaling) {
          return journal.step(
            `memory.${operation}`,
            journaled.again(key, value, options),
            journaled.schemas,
            { request: journaled.request(key, value, options) }
          )
        }
      }
      // A missing WorkflowContext is the same defect as `yield* WorkflowContext` would be.
      const ctx = Context.unsafeGet(
        fiber.currentContext as Context.Context<WorkflowContext.WorkflowContext>,
        WorkflowContext.WorkflowContext
      )
      const scope = scopeOrError(ctx, operation, kind)
      if (!isScope(scope)) return Effect.fail(scope)
      return f(
        scope,
        ctx,
        Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis(),
        fiber,
        journal
      )
    })
  }
  const keyProblem = (operation: string, key: unknown): MemoryInputError | undefined => {
    const problem = textProblem(key, maxKeyBytes)
    return problem === undefined ? undefined : inputError(operation, "key", problem, key)
  }
  const self: MemoryShape = {
    store: (key, value, options) =>
      withScope(
        "store",
        options,
        (scope, ctx, now, fiber, journal): Effect.Effect<Entry, MemoryError> => {
          const invalid = keyProblem("store", key) ?? tagsProblem("store", options?.tags, key)
          if (invalid !== undefined) return Effect.fail(invalid)
          if (scope.kind !== "run") {
            const runProblem = textProblem(ctx.runId, maxIdBytes)
            if (runProblem !== undefined) return Effect.fail(inputError("store", "runId", runProblem, key))
          }
          let ttl = ttls[scope.kind]
          if (options?.ttl !== undefined) {
            const millis = millisOf(options.ttl)
            if (typeof millis === "string") return Effect.fail(inputError("store", "ttl", millis, key))
            ttl = millis
          }
          if (options?.agent !== undefined) {
            const problem = textProblem(options.agent, maxKeyBytes)
            if (problem !== undefined) return Effect.fail(inputError("store", "agent", problem, key))
          }
          // What is stored is the value's JSON: every store returns the same thing. The entry
          // returned here holds the value as passed.
          const valueJson = encodeValue(key, value)
          if (typeof valueJson !== "string") return Effect.fail(valueJson)
          const agent = options?.agent !== undefined ? options.agent : fiber.getFiberRef(currentAgent)
          if (agent !== undefined && options?.agent === undefined) {
            const problem = textProblem(agent, maxKeyBytes)
            if (problem !== undefined) return Effect.fail(inputError("store", "agent", problem, key))
          }
          const stepPath = Instrumentation.pathOfFiber(fiber)
          if (stepPath !== "") {
            const problem = textProblem(stepPath, undefined)
            if (problem !== undefined) return Effect.fail(inputError("store", "stepPath", problem, key))
          }
          const entry: MutableEntry = {
            id: crypto.randomUUID(),
            scope,
            key,
            value,
            runId: ctx.runId,
            tags: options?.tags === undefined || options.tags.length === 0 ? noTags : [...options.tags],
            createdAt: now
          }
          if (agent !== undefined) entry.agent = agent
          if (stepPath !== "") entry.stepPath = stepPath
          // A ttl that ends past the safe integers (an integer column's range) never ends.
          if (ttl !== undefined && now + ttl <= Number.MAX_SAFE_INTEGER) entry.expiresAt = Math.ceil(now + ttl)
          const maxEntries = retention[scope.kind]?.maxEntries
          // Inside a journaled step (the hook's or a `Durable.step`), a key of the step by default.
          const idempotencyKey = options?.idempotencyKey ??
            Option.getOrUndefined(journal.nextWriteKey())
          if (idempotencyKey !== undefined) {
            const problem = textProblem(idempotencyKey, maxKeyBytes)
            if (problem !== undefined) return Effect.fail(inputError("store", "idempotencyKey", problem, key))
          }
          const putOptions: MutablePutOptions = { now, valueJson }
          if (maxEntries !== undefined) putOptions.maxEntries = maxEntries
          if (idempotencyKey !== undefined) putOptions.idempotencyKey = idempotencyKey
          return Effect.map(store.put(entry, putOptions), (first) =>
            // a store that knows no idempotency keys may return anything but an entry: the write applied
            typeof first === "object" && first !== null ? first : entry as Entry)
        },
        journaledStore,
        key,
        value
      ),
    retrieve: (key, options) =>
      withScope(
        "retrieve",
        options,
        (scope, _ctx, now): Effect.Effect<Option.Option<Entry>, MemoryError> => {
          const invalid = keyProblem("retrieve", key)
          return invalid !== undefined ? Effect.fail(invalid) : store.get(scope, key, now)
        },
        journaledRetrieve,
        key
      ),
    query: (options) =>
      withScope("query", options, (scope, _ctx, now): Effect.Effect<ReadonlyArray<Entry>, MemoryError> => {
        const invalid = filterProblem(options ?? {})
        return invalid !== undefined ? Effect.fail(invalid) : store.query(scope, options ?? {}, now)
      }, journaledQuery),
    list: (options) => withScope("list", options, (scope, _ctx, now) => store.query(scope, {}, now), journaledList),
    delete: (key, options) =>
      withScope(
        "delete",
        options,
        (scope): Effect.Effect<boolean, MemoryError> => {
          const invalid = keyProblem("delete", key)
          return invalid !== undefined ? Effect.fail(invalid) : store.delete(scope, key)
        },
        journaledDelete,
        key
      )
  }
  const schemas = <A>(success: Schema.Schema<A, any>) => ({ success, error: MemoryErrorSchema })
  const journaledStore: JournaledOperation<Entry> = {
    schemas: schemas(Entry),
    request: (key, value, options) => ({ key, value, options }),
    again: (key, value, options) => self.store(key!, value, options)
  }
  const journaledRetrieve: JournaledOperation<Option.Option<Entry>> = {
    schemas: schemas(OptionalEntry),
    request: (key, _value, options) => ({ key, options }),
    again: (key, _value, options) => self.retrieve(key!, options)
  }
  const journaledQuery: JournaledOperation<ReadonlyArray<Entry>> = {
    schemas: schemas(Entries),
    request: (_key, _value, options) => ({ options }),
    again: (_key, _value, options) => self.query(options)
  }
  const journaledList: JournaledOperation<ReadonlyArray<Entry>> = {
    schemas: schemas(Entries),
    request: (_key, _value, options) => ({ options }),
    again: (_key, _value, options) => self.list(options)
  }
  const journaledDelete: JournaledOperation<boolean> = {
    schemas: schemas(Schema.Boolean),
    request: (key, _value, options) => ({ key, options }),
    again: (key, _value, options) => self.delete(key!, options)
  }
  return self
}

/** The schemas of what a durable run journals for a memory operation. */
const MemoryErrorSchema: Schema.Schema<MemoryError, any> = Schema.Union(
  MemoryStoreError,
  MemoryScopeUnavailable,
  MemoryInputError
)
const OptionalEntry = Schema.Option(Entry)
const Entries = Schema.Array(Entry)

/**
 * The `Memory` service over the `MemoryStore` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, MemoryStore } from "@braid/memory"
 *
 * const MemoryLive = Memory.layer({ retention: { session: { ttl: "1 day", maxEntries: 100 } } }).pipe(
 *   Layer.provide(MemoryStore.layerInMemory)
 * )
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: Config = {}): Layer.Layer<Memory, never, MemoryStore> =>
  Layer.effect(Memory, Effect.map(MemoryStore, (store) => make(store, config)))

/**
 * The `Memory` service over a fresh in-memory store.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const MemoryLive = Memory.layerInMemory({ defaultScope: "user" })
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerInMemory = (config: Config = {}): Layer.Layer<Memory> =>
  Layer.effect(Memory, Effect.map(makeInMemory, (store) => make(store, config)))

/**
 * Stores a value under `key` in a scope (default: the configured scope).
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const save = Memory.store("goal", { title: "run 5k" }, { scope: "user", tags: ["goal"], ttl: "30 days" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const store = (
  key: string,
  value: unknown,
  options?: StoreOptions
): Effect.Effect<Entry, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.store(key, value, options))

/**
 * The live entry under `key`, if any.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const goal = Memory.retrieve("goal", { scope: "user" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const retrieve = (
  key: string,
  options?: ScopeOption
): Effect.Effect<Option.Option<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.retrieve(key, options))

/**
 * The live entries of a scope that match: by agent, tags, time range, text; oldest first.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const goals = Memory.query({ scope: "user", tags: ["goal"], text: "run", limit: 5 })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const query = (
  options?: QueryOptions
): Effect.Effect<ReadonlyArray<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.query(options))

/**
 * Every live entry of a scope, oldest first.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/memory"
 *
 * const everything = Memory.list({ scope: "session" })
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const list = (
  options?: ScopeOption
): Effect.Effect<ReadonlyArray<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.list(options))

const delete_ = (
  key: string,
  options?: ScopeOption
): Effect.Effect<boolean, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.delete(key, options))

export {
  /**
   * Deletes the entry under `key`; whether it existed.
   *
   * @example
   * ```ts
   * import { Memory } from "@braid/memory"
   *
   * const forget = Memory.delete("goal", { scope: "user" })
   * ```
   *
   * @category accessors
   * @since 0.1.0
   */
  delete_ as delete
}

// ---------------------------------------------------------------------------------------------
// Typed entries
// ---------------------------------------------------------------------------------------------

/**
 * An entry whose value was decoded with a Schema.
 *
 * @category models
 * @since 0.1.0
 */
export type TypedEntry<A> = Omit<Entry, "value"> & { readonly value: A }

/**
 * Memory operations for values of one Schema.
 *
 * @category models
 * @since 0.1.0
 */
export interface Typed<A> {
  readonly store: (
    key: string,
    value: A,
    options?: StoreOptions
  ) => Effect.Effect<TypedEntry<A>, MemoryError | MemoryDecodeError, Memory | WorkflowContext.WorkflowContext>
  readonly retrieve: (
    key: string,
    options?: ScopeOption
  ) => Effect.Effect<
    Option.Option<TypedEntry<A>>,
    MemoryError | MemoryDecodeError,
    Memory | WorkflowContext.WorkflowContext
  >
  readonly query: (
    options?: QueryOptions
  ) => Effect.Effect<
    ReadonlyArray<TypedEntry<A>>,
    MemoryError | MemoryDecodeError,
    Memory | WorkflowContext.WorkflowContext
  >
  readonly list: (
    options?: ScopeOption
  ) => Effect.Effect<
    ReadonlyArray<TypedEntry<A>>,
    MemoryError | MemoryDecodeError,
    Memory | WorkflowContext.WorkflowContext
  >
}

/**
 * Typed memory: values are encoded with `schema` when stored and decoded when read. A value that
 * does not decode fails with `MemoryDecodeError` naming its key.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Memory } from "@braid/memory"
 *
 * const Goal = Schema.Struct({ title: Schema.String, due: Schema.DateFromString })
 * const goals = Memory.forSchema(Goal)
 * const save = goals.store("goal", { title: "run 5k", due: new Date("2026-06-01") }, { scope: "user" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const forSchema = <A, I>(schema: Schema.Schema<A, I>): Typed<A> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const decodeEntry = (entry: Entry): Effect.Effect<TypedEntry<A>, MemoryDecodeError> =>
    decode(entry.value).pipe(
      Effect.map((value) => ({ ...entry, value })),
      Effect.mapError((e) =>
        new MemoryDecodeError({ key: entry.key, issue: ParseResult.TreeFormatter.formatErrorSync(e) })
      )
    )
  return {
    store: (key, value, options) =>
      encode(value).pipe(
        Effect.mapError((e) => new MemoryDecodeError({ key, issue: ParseResult.TreeFormatter.formatErrorSync(e) })),
        Effect.flatMap((encoded) => store(key, encoded, options)),
        Effect.map((entry): TypedEntry<A> => ({ ...entry, value }))
      ),
    retrieve: (key, options) =>
      Effect.flatMap(
        retrieve(key, options),
        (o) => Option.isSome(o) ? Effect.map(decodeEntry(o.value), Option.some) : Effect.succeed(Option.none())
      ),
    query: (options) => Effect.flatMap(query(options), (es) => Effect.forEach(es, decodeEntry)),
    list: (options) => Effect.flatMap(list(options), (es) => Effect.forEach(es, decodeEntry))
  }
}

// ---------------------------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------------------------

/**
 * Options of `remember`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RememberOptions<In, Out> extends Omit<StoreOptions, "agent" | "idempotencyKey"> {
  /** The key, fixed or computed from the step's input and output. */
  readonly key: string | ((output: Out, input: In) => string)
  /**
   * The write's idempotency key (see `StoreOptions.idempotencyKey`), fixed or computed.
   *
   * @since 0.3.0
   */
  readonly idempotencyKey?: string | ((output: Out, input: In) => string)
  /** What to store (default: the output). */
  readonly value?: (output: Out, input: In) => unknown
}

/**
 * Wraps a step so that its output is stored in memory (kind "remember"). The output passes
 * through unchanged.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Memory } from "@braid/memory"
 *
 * const setGoals = Primitive.sync("setGoals", (text: string) => text.split(","))
 * const remembered = setGoals.pipe(Memory.remember({ key: "goals", scope: "user", tags: ["goal"] }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const remember = <In, Out>(options: RememberOptions<In, Out>) =>
<E, R>(
  self: Primitive.Primitive<In, Out, E, R>
): Primitive.Primitive<In, Out, E | MemoryError, R | Memory | WorkflowContext.WorkflowContext> =>
  Primitive.wrap(
    self,
    { kind: "remember", meta: { scope: options.scope ?? "default" } },
    (run) => (input: In) =>
      Effect.gen(function*() {
        const output = yield* run(input)
        const key = typeof options.key === "string" ? options.key : options.key(output, input)
        const value = options.value === undefined ? output : options.value(output, input)
        const { idempotencyKey: keyOf, ...storeOptions } = options
        const idempotencyKey = typeof keyOf === "function" ? keyOf(output, input) : keyOf
        const entry = yield* store(
          key,
          value,
          idempotencyKey === undefined ? storeOptions : { ...storeOptions, idempotencyKey }
        )
        yield* Instrumentation.annotate({ "braid.memory.key": key, "braid.memory.scope": entry.scope.kind })
        return output
      })
  )

/**
 * The entries recalled for the step that is running (empty outside `recall`).
 *
 * @example
 * ```ts
 * import { FiberRef } from "effect"
 * import { Memory } from "@braid/memory"
 *
 * const entries = FiberRef.get(Memory.recalledRef)
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const recalledRef: FiberRef.FiberRef<ReadonlyArray<Entry>> = GlobalValue.globalValue(
  Symbol.for("@braid/agents/Memory/recalled"),
  () => FiberRef.unsafeMake<ReadonlyArray<Entry>>([])
)

/**
 * The entries `recall` injected into the running step. An `Agent` adds them to its system prompt.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Memory } from "@braid/memory"
 *
 * const plan = Primitive.make("plan", (_: string) => Effect.map(Memory.recalled, (es) => es.map((e) => e.value)))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const recalled: Effect.Effect<ReadonlyArray<Entry>> = FiberRef.get(recalledRef)

/**
 * Options of `recall`.
 *
 * @category models
 * @since 0.1.0
 */
export interface RecallOptions<In> extends QueryOptions {
  /** Also rewrite the step's input with the entries (e.g. append them to a prompt). */
  readonly inject?: (input: In, entries: ReadonlyArray<Entry>) => In
}

/**
 * Wraps a step so that matching memory entries are recalled before it runs (kind "recall") and
 * injected into its context: the step reads them with `Memory.recalled` (an `Agent` puts them in
 * its system prompt), and `inject` can also fold them into the input.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 * import { Memory } from "@braid/memory"
 *
 * const review = Primitive.make("review", (day: string) =>
 *   Effect.map(Memory.recalled, (goals) => `${day}: ${goals.length} goals to review`))
 * const eveningReview = review.pipe(Memory.recall({ scope: "user", tags: ["goal"] }))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const recall = <In>(options: RecallOptions<In> = {}) =>
<Out, E, R>(
  self: Primitive.Primitive<In, Out, E, R>
): Primitive.Primitive<In, Out, E | MemoryError, R | Memory | WorkflowContext.WorkflowContext> =>
  Primitive.wrap(
    self,
    { kind: "recall", meta: { scope: options.scope ?? "default" } },
    (run) => (input: In) =>
      Effect.gen(function*() {
        const entries = yield* query(options)
        yield* Instrumentation.annotate({ "braid.memory.recalled": entries.length })
        const next = options.inject === undefined ? input : options.inject(input, entries)
        return yield* Effect.locally(run(next), recalledRef, entries)
      })
  )
