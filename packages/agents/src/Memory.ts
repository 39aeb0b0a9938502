/**
 * `Memory`: scoped, persistent memory for agents and pipelines.
 *
 * Scopes are isolation boundaries whose ids come from the run's `WorkflowContext`: "run" (the
 * run id), "session" (the session id), "user" (the user id), "global". A step can only ever
 * name a scope kind, never a scope id, so a session cannot read another session's entries and a
 * user cannot read another user's, by construction. With a tenant id in the context, session
 * and user scopes are also partitioned by tenant.
 *
 * Retention: a TTL per entry (`ttl`) or per scope kind, and a maximum number of entries per
 * scope with eviction of the oldest. Expired entries are never returned. Every entry records
 * its provenance: the agent that wrote it, the run, the step path and the time.
 *
 * @since 0.1.0
 */
import { Instrumentation, Primitive, WorkflowContext } from "@braid/core"
import { Clock, Context, Duration, Effect, FiberRef, GlobalValue, Layer, Option, ParseResult, Schema } from "effect"
import type { Fiber } from "effect"
import { MemoryDecodeError, MemoryScopeUnavailable, MemoryStoreError } from "./Errors.js"
import * as SyncStore from "./internal/syncStore.js"
import { type Entry, type Filter, makeInMemory, MemoryStore, type Scope, type ScopeKind } from "./MemoryStore.js"

/**
 * The errors of memory operations.
 *
 * @since 0.1.0
 */
export type MemoryError = MemoryStoreError | MemoryScopeUnavailable

/**
 * Retention rules of a scope kind.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/agents"
 *
 * const daily: Memory.Retention = { ttl: "1 day", maxEntries: 100 }
 * ```
 *
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
 * import type { Memory } from "@braid/agents"
 *
 * const config: Memory.Config = { defaultScope: "user", retention: { session: { ttl: "2 hours" } } }
 * ```
 *
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
 * import type { Memory } from "@braid/agents"
 *
 * const options: Memory.StoreOptions = { scope: "user", tags: ["goal"], ttl: "30 days" }
 * ```
 *
 * @since 0.1.0
 */
export interface StoreOptions extends ScopeOption {
  readonly tags?: ReadonlyArray<string>
  /** Expire this entry after this long (overrides the scope's TTL). */
  readonly ttl?: Duration.DurationInput
  /** The writing agent. Defaults to the agent that is running (see `withAgent`). */
  readonly agent?: string
}

/**
 * Options of `query`.
 *
 * @example
 * ```ts
 * import type { Memory } from "@braid/agents"
 *
 * const recent: Memory.QueryOptions = { scope: "session", agent: "coach", limit: 5 }
 * ```
 *
 * @since 0.1.0
 */
export interface QueryOptions extends Filter, ScopeOption {}

/**
 * The operations of the `Memory` service. Every operation works in one scope, resolved from the
 * current `WorkflowContext`.
 *
 * @since 0.1.0
 */
export interface MemoryShape {
  readonly store: (key: string, value: unknown, options?: StoreOptions) => Effect.Effect<Entry, MemoryError, WorkflowContext.WorkflowContext>
  readonly retrieve: (key: string, options?: ScopeOption) => Effect.Effect<Option.Option<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly query: (options?: QueryOptions) => Effect.Effect<ReadonlyArray<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly list: (options?: ScopeOption) => Effect.Effect<ReadonlyArray<Entry>, MemoryError, WorkflowContext.WorkflowContext>
  readonly delete: (key: string, options?: ScopeOption) => Effect.Effect<boolean, MemoryError, WorkflowContext.WorkflowContext>
}

/**
 * The memory service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Memory } from "@braid/agents"
 *
 * const program = Effect.gen(function*() {
 *   const memory = yield* Memory.Memory
 *   yield* memory.store("goal", "run 5k", { scope: "user", tags: ["goal"] })
 * })
 * ```
 *
 * @since 0.1.0
 */
export class Memory extends Context.Tag("@braid/agents/Memory")<Memory, MemoryShape>() {}

/**
 * The agent that is running, recorded as the writer of memory entries. `Agent` sets it.
 *
 * @example
 * ```ts
 * import { FiberRef } from "effect"
 * import { Memory } from "@braid/agents"
 *
 * const who = FiberRef.get(Memory.currentAgent) // undefined outside an agent
 * ```
 *
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
 * import { Memory } from "@braid/agents"
 *
 * const asCoach = Memory.withAgent("coach")(Memory.store("note", "likes mornings"))
 * ```
 *
 * @since 0.1.0
 */
export const withAgent = (agent: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(self, currentAgent, agent)

/**
 * Resolves a scope kind to the scope of the current run. Fails with `MemoryScopeUnavailable`
 * when the context has no id for it.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const scope = Memory.resolveScope("session") // { kind: "session", id: <sessionId> }
 * ```
 *
 * @since 0.1.0
 */
export const resolveScope = (
  kind: ScopeKind
): Effect.Effect<Scope, MemoryScopeUnavailable, WorkflowContext.WorkflowContext> =>
  Effect.flatMap(WorkflowContext.WorkflowContext, (ctx) => {
    const scope = scopeIn(ctx, kind)
    return scope === undefined ? Effect.fail(new MemoryScopeUnavailable({ scope: kind })) : Effect.succeed(scope)
  })

/** The scope of a kind in a context; undefined when the context has no id for it. */
const scopeIn = (ctx: WorkflowContext.WorkflowContextShape, kind: ScopeKind): Scope | undefined => {
  switch (kind) {
    case "run":
      return { kind, id: ctx.runId }
    case "session":
      if (ctx.sessionId === undefined) return undefined
      return { kind, id: ctx.tenantId === undefined ? ctx.sessionId : `${ctx.tenantId}/${ctx.sessionId}` }
    case "user":
      if (ctx.userId === undefined) return undefined
      return { kind, id: ctx.tenantId === undefined ? ctx.userId : `${ctx.tenantId}/${ctx.userId}` }
    case "global":
      return { kind, id: ctx.tenantId === undefined ? "global" : `${ctx.tenantId}/global` }
  }
}

/** Entries written without tags share this (frozen) list. */
const noTags: ReadonlyArray<string> = Object.freeze([])

/** The JSON text of a value (`undefined` is stored as null); undefined when it has none. */
const toJson = (value: unknown): string | undefined => {
  if (value === undefined) return "null"
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

type MutableEntry = { -readonly [K in keyof Entry]: Entry[K] }

/**
 * Builds the service over a store.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Memory, MemoryStore } from "@braid/agents"
 *
 * const memory = Effect.map(MemoryStore.makeInMemory, (store) => Memory.make(store, { defaultScope: "user" }))
 * ```
 *
 * @since 0.1.0
 */
export const make = (store: MemoryStore["Type"], config: Config = {}): MemoryShape => {
  const sync = SyncStore.of(store)
  const defaultScope = config.defaultScope ?? "session"
  const retention = config.retention ?? {}
  const ttls: Partial<Record<ScopeKind, number>> = {}
  for (const [kind, rules] of Object.entries(retention) as Array<[ScopeKind, Retention | undefined]>) {
    if (rules?.ttl !== undefined) ttls[kind] = Duration.toMillis(Duration.decode(rules.ttl))
  }
  // Each operation is one Effect step before the store's own (none with the in-memory store):
  // the context, the writing agent, the step path and the clock are read synchronously from the
  // fiber, and the scopes of the last context seen are kept, since a run asks for the same ones
  // again and again (see bench/memory.bench.ts).
  let lastContext: Context.Context<never> | undefined = undefined
  let lastCtx: WorkflowContext.WorkflowContextShape | undefined = undefined
  let lastScopes: Partial<Record<ScopeKind, Scope | null>> = {}
  const workflowContext = (context: Context.Context<never>): WorkflowContext.WorkflowContextShape => {
    if (context !== lastContext || lastCtx === undefined) {
      lastCtx = Context.unsafeGet(context, WorkflowContext.WorkflowContext)
      lastContext = context
      lastScopes = {}
    }
    return lastCtx
  }
  const scopeFor = (context: Context.Context<never>, kind: ScopeKind): Scope | undefined => {
    const ctx = workflowContext(context)
    let scope = lastScopes[kind]
    if (scope === undefined) {
      scope = scopeIn(ctx, kind) ?? null
      lastScopes[kind] = scope
    }
    return scope ?? undefined
  }
  const nowOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): number =>
    Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
  /** Resolves the operation's scope from the fiber's context (failing when it has no id for it), then runs `f`. */
  const withScope = <A, E, R>(
    options: ScopeOption | undefined,
    f: (scope: Scope, now: number, fiber: Fiber.RuntimeFiber<unknown, unknown>, ctx: WorkflowContext.WorkflowContextShape) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | MemoryScopeUnavailable, R | WorkflowContext.WorkflowContext> =>
    Effect.withFiberRuntime((fiber) => {
      const context = fiber.getFiberRef(FiberRef.currentContext)
      const kind = options?.scope ?? defaultScope
      const scope = scopeFor(context, kind)
      if (scope === undefined) return Effect.fail(new MemoryScopeUnavailable({ scope: kind }))
      return f(scope, nowOf(fiber), fiber, workflowContext(context))
    })
  return {
    store: (key, value, options) =>
      withScope(options, (scope, now, fiber, ctx) => {
        // What is stored is the value's JSON: every store returns the same thing. The entry
        // returned here holds the value as passed.
        const valueJson = toJson(value)
        if (valueJson === undefined) {
          return Effect.fail(new MemoryStoreError({ store: store.name, operation: "store", message: `the value of "${key}" is not JSON-encodable` }))
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
        const agent = options?.agent ?? fiber.getFiberRef(currentAgent)
        if (agent !== undefined) entry.agent = agent
        const stepPath = Instrumentation.pathOfFiber(fiber)
        if (stepPath !== "") entry.stepPath = stepPath
        const ttl = options?.ttl !== undefined ? Duration.toMillis(Duration.decode(options.ttl)) : ttls[scope.kind]
        if (ttl !== undefined) entry.expiresAt = now + ttl
        const maxEntries = retention[scope.kind]?.maxEntries
        if (sync !== undefined) {
          sync.put(entry, now, maxEntries, valueJson)
          return Effect.succeed(entry as Entry)
        }
        return Effect.as(store.put(entry, maxEntries !== undefined ? { now, maxEntries, valueJson } : { now, valueJson }), entry as Entry)
      }),
    retrieve: (key, options) =>
      withScope(options, (scope, now) => sync !== undefined ? Effect.succeed(sync.get(scope, key, now)) : store.get(scope, key, now)),
    query: (options) => withScope(options, (scope, now) => store.query(scope, options ?? {}, now)),
    list: (options) => withScope(options, (scope, now) => store.query(scope, {}, now)),
    delete: (key, options) => withScope(options, (scope) => store.delete(scope, key))
  }
}

/**
 * The `Memory` service over the `MemoryStore` in context.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { Memory, MemoryStore } from "@braid/agents"
 *
 * const MemoryLive = Memory.layer({ retention: { session: { ttl: "1 day", maxEntries: 100 } } }).pipe(
 *   Layer.provide(MemoryStore.layerInMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layer = (config: Config = {}): Layer.Layer<Memory, never, MemoryStore> =>
  Layer.effect(Memory, Effect.map(MemoryStore, (store) => make(store, config)))

/**
 * The `Memory` service over a fresh in-memory store.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const MemoryLive = Memory.layerInMemory({ defaultScope: "user" })
 * ```
 *
 * @since 0.1.0
 */
export const layerInMemory = (config: Config = {}): Layer.Layer<Memory> =>
  Layer.effect(Memory, Effect.map(makeInMemory, (store) => make(store, config)))

/**
 * Stores a value under `key` in a scope (default: the configured scope).
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const save = Memory.store("goal", { title: "run 5k" }, { scope: "user", tags: ["goal"], ttl: "30 days" })
 * ```
 *
 * @since 0.1.0
 */
export const store = (key: string, value: unknown, options?: StoreOptions): Effect.Effect<Entry, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.store(key, value, options))

/**
 * The live entry under `key`, if any.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const goal = Memory.retrieve("goal", { scope: "user" })
 * ```
 *
 * @since 0.1.0
 */
export const retrieve = (key: string, options?: ScopeOption): Effect.Effect<Option.Option<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.retrieve(key, options))

/**
 * The live entries of a scope that match: by agent, tags, time range, text; oldest first.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const goals = Memory.query({ scope: "user", tags: ["goal"], text: "run", limit: 5 })
 * ```
 *
 * @since 0.1.0
 */
export const query = (options?: QueryOptions): Effect.Effect<ReadonlyArray<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.query(options))

/**
 * Every live entry of a scope, oldest first.
 *
 * @example
 * ```ts
 * import { Memory } from "@braid/agents"
 *
 * const everything = Memory.list({ scope: "session" })
 * ```
 *
 * @since 0.1.0
 */
export const list = (options?: ScopeOption): Effect.Effect<ReadonlyArray<Entry>, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.list(options))

const delete_ = (key: string, options?: ScopeOption): Effect.Effect<boolean, MemoryError, Memory | WorkflowContext.WorkflowContext> =>
  Effect.flatMap(Memory, (m) => m.delete(key, options))

export {
  /**
   * Deletes the entry under `key`; whether it existed.
   *
   * @example
   * ```ts
   * import { Memory } from "@braid/agents"
   *
   * const forget = Memory.delete("goal", { scope: "user" })
   * ```
   *
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
 * @since 0.1.0
 */
export type TypedEntry<A> = Omit<Entry, "value"> & { readonly value: A }

/**
 * Memory operations for values of one Schema.
 *
 * @since 0.1.0
 */
export interface Typed<A> {
  readonly store: (key: string, value: A, options?: StoreOptions) => Effect.Effect<TypedEntry<A>, MemoryError | MemoryDecodeError, Memory | WorkflowContext.WorkflowContext>
  readonly retrieve: (key: string, options?: ScopeOption) => Effect.Effect<Option.Option<TypedEntry<A>>, MemoryError | MemoryDecodeError, Memory | WorkflowContext.WorkflowContext>
  readonly query: (options?: QueryOptions) => Effect.Effect<ReadonlyArray<TypedEntry<A>>, MemoryError | MemoryDecodeError, Memory | WorkflowContext.WorkflowContext>
  readonly list: (options?: ScopeOption) => Effect.Effect<ReadonlyArray<TypedEntry<A>>, MemoryError | MemoryDecodeError, Memory | WorkflowContext.WorkflowContext>
}

/**
 * Typed memory: values are encoded with `schema` when stored and decoded when read. A value that
 * does not decode fails with `MemoryDecodeError` naming its key.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Memory } from "@braid/agents"
 *
 * const Goal = Schema.Struct({ title: Schema.String, due: Schema.DateFromString })
 * const goals = Memory.forSchema(Goal)
 * const save = goals.store("goal", { title: "run 5k", due: new Date("2026-06-01") }, { scope: "user" })
 * ```
 *
 * @since 0.1.0
 */
export const forSchema = <A, I>(schema: Schema.Schema<A, I>): Typed<A> => {
  const encode = Schema.encode(schema)
  const decode = Schema.decodeUnknown(schema)
  const decodeEntry = (entry: Entry): Effect.Effect<TypedEntry<A>, MemoryDecodeError> =>
    decode(entry.value).pipe(
      Effect.map((value) => ({ ...entry, value })),
      Effect.mapError((e) => new MemoryDecodeError({ key: entry.key, issue: ParseResult.TreeFormatter.formatErrorSync(e) }))
    )
  return {
    store: (key, value, options) =>
      encode(value).pipe(
        Effect.mapError((e) => new MemoryDecodeError({ key, issue: ParseResult.TreeFormatter.formatErrorSync(e) })),
        Effect.flatMap((encoded) => store(key, encoded, options)),
        Effect.map((entry): TypedEntry<A> => ({ ...entry, value }))
      ),
    retrieve: (key, options) =>
      Effect.flatMap(retrieve(key, options), (o) => Option.isSome(o) ? Effect.map(decodeEntry(o.value), Option.some) : Effect.succeed(Option.none())),
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
 * @since 0.1.0
 */
export interface RememberOptions<In, Out> extends Omit<StoreOptions, "agent"> {
  /** The key, fixed or computed from the step's input and output. */
  readonly key: string | ((output: Out, input: In) => string)
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
 * import { Memory } from "@braid/agents"
 *
 * const setGoals = Primitive.sync("setGoals", (text: string) => text.split(","))
 * const remembered = setGoals.pipe(Memory.remember({ key: "goals", scope: "user", tags: ["goal"] }))
 * ```
 *
 * @since 0.1.0
 */
export const remember = <In, Out>(options: RememberOptions<In, Out>) =>
<E, R>(
  self: Primitive.Primitive<In, Out, E, R>
): Primitive.Primitive<In, Out, E | MemoryError, R | Memory | WorkflowContext.WorkflowContext> =>
  Primitive.wrap(self, { kind: "remember", meta: { scope: options.scope ?? "default" } }, (run) => (input: In) =>
    Effect.gen(function*() {
      const output = yield* run(input)
      const key = typeof options.key === "string" ? options.key : options.key(output, input)
      const value = options.value === undefined ? output : options.value(output, input)
      const entry = yield* store(key, value, options)
      yield* Instrumentation.annotate({ "braid.memory.key": key, "braid.memory.scope": entry.scope.kind })
      return output
    }))

/**
 * The entries recalled for the step that is running (empty outside `recall`).
 *
 * @example
 * ```ts
 * import { FiberRef } from "effect"
 * import { Memory } from "@braid/agents"
 *
 * const entries = FiberRef.get(Memory.recalledRef)
 * ```
 *
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
 * import { Memory } from "@braid/agents"
 *
 * const plan = Primitive.make("plan", (_: string) => Effect.map(Memory.recalled, (es) => es.map((e) => e.value)))
 * ```
 *
 * @since 0.1.0
 */
export const recalled: Effect.Effect<ReadonlyArray<Entry>> = FiberRef.get(recalledRef)

/**
 * Options of `recall`.
 *
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
 * import { Memory } from "@braid/agents"
 *
 * const review = Primitive.make("review", (day: string) =>
 *   Effect.map(Memory.recalled, (goals) => `${day}: ${goals.length} goals to review`))
 * const eveningReview = review.pipe(Memory.recall({ scope: "user", tags: ["goal"] }))
 * ```
 *
 * @since 0.1.0
 */
export const recall = <In>(options: RecallOptions<In> = {}) =>
<Out, E, R>(
  self: Primitive.Primitive<In, Out, E, R>
): Primitive.Primitive<In, Out, E | MemoryError, R | Memory | WorkflowContext.WorkflowContext> =>
  Primitive.wrap(self, { kind: "recall", meta: { scope: options.scope ?? "default" } }, (run) => (input: In) =>
    Effect.gen(function*() {
      const entries = yield* query(options)
      yield* Instrumentation.annotate({ "braid.memory.recalled": entries.length })
      const next = options.inject === undefined ? input : options.inject(input, entries)
      return yield* Effect.locally(run(next), recalledRef, entries)
    }))
