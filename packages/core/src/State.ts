/**
 * The shared state of a run: typed keys that any step reads and writes.
 *
 * Merge rule: there is one state per run, shared by every step, including steps running in
 * parallel branches and `forEach` items. A write is visible at once to every step that reads
 * after it; concurrent `set`s of the same key keep the last one; `update` and `modify` are atomic
 * read-modify-writes, so concurrent branches that `update` a counter or append to a list never
 * lose a write. Each run starts with fresh state.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import { WorkflowContext } from "./WorkflowContext.js"

/**
 * A typed state key with its initial value (returned by `get` until the key is first set).
 *
 * @category models
 * @since 0.1.0
 */
export interface Key<A> {
  readonly name: string
  readonly initial: () => A
}

/**
 * Declares a state key.
 *
 * @example
 * ```ts
 * import { State } from "@braid/core"
 *
 * const Goals = State.key<ReadonlyArray<string>>("goals", [])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const key = <A>(name: string, initial: A | (() => A)): Key<A> => ({
  name,
  initial: typeof initial === "function" ? (initial as () => A) : () => initial
})

const read = <A>(map: ReadonlyMap<string, unknown>, key: Key<A>): A =>
  map.has(key.name) ? (map.get(key.name) as A) : key.initial()

/**
 * Reads a key of the current run's state.
 *
 * @category accessors
 * @since 0.1.0
 */
export const get = <A>(key: Key<A>): Effect.Effect<A, never, WorkflowContext> =>
  Effect.flatMap(WorkflowContext, (ctx) => Effect.map(Ref.get(ctx.state), (map) => read(map, key)))

/**
 * Writes a key of the current run's state.
 *
 * @category accessors
 * @since 0.1.0
 */
export const set = <A>(key: Key<A>, value: A): Effect.Effect<void, never, WorkflowContext> =>
  Effect.flatMap(WorkflowContext, (ctx) => Ref.update(ctx.state, (map) => new Map(map).set(key.name, value)))

/**
 * Atomically updates a key and returns a result computed from its old value.
 *
 * @category accessors
 * @since 0.1.0
 */
export const modify = <A, B>(key: Key<A>, f: (a: A) => readonly [B, A]): Effect.Effect<B, never, WorkflowContext> =>
  Effect.flatMap(WorkflowContext, (ctx) =>
    Ref.modify(ctx.state, (map) => {
      const [b, next] = f(read(map, key))
      return [b, new Map(map).set(key.name, next)]
    }))

/**
 * Atomically updates a key.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, State } from "@braid/core"
 *
 * const Seen = State.key("seen", 0)
 * const count = Primitive.make("count", (x: string) =>
 *   Effect.as(State.update(Seen, (n) => n + 1), x))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const update = <A>(key: Key<A>, f: (a: A) => A): Effect.Effect<void, never, WorkflowContext> =>
  modify(key, (a) => [undefined, f(a)] as const)

/**
 * A copy of the whole state, by key name.
 *
 * @category accessors
 * @since 0.1.0
 */
export const snapshot: Effect.Effect<Readonly<Record<string, unknown>>, never, WorkflowContext> = Effect.flatMap(
  WorkflowContext,
  (ctx) => Effect.map(Ref.get(ctx.state), (map) => Object.fromEntries(map))
)
