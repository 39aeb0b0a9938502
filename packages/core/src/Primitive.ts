/**
 * `Primitive<In, Out, E, R>`: a named, typed, pipeable step of a workflow. In essence a function
 * `(input: In) => Effect<Out, E, R>` plus a name, a kind and its children, so that a pipeline
 * can describe itself (tree, Mermaid diagram) and every step has a stable path inside it.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import type { Pipeable } from "effect/Pipeable"
import { pipeArguments } from "effect/Pipeable"
import * as Schema from "effect/Schema"
import type * as Types from "effect/Types"
import { DecodeError } from "./Errors.js"
import { execute } from "./internal/instrument.js"
import * as Json from "./Json.js"

/**
 * @category symbols
 * @since 0.1.0
 */
export const TypeId: unique symbol = Symbol.for("@braid/core/Primitive")

/**
 * @category symbols
 * @since 0.1.0
 */
export type TypeId = typeof TypeId

/**
 * Static facts about a primitive shown by `describe` (for example a retry's attempt count).
 *
 * @category models
 * @since 0.1.0
 */
export type Meta = Readonly<Record<string, string | number | boolean>>

/**
 * A child of a composite primitive, under the key that names its path segment.
 *
 * @category models
 * @since 0.1.0
 */
export interface Child {
  readonly key: string
  readonly primitive: Any
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Variance<in In, out Out, out E, out R> {
  readonly _In: Types.Contravariant<In>
  readonly _Out: Types.Covariant<Out>
  readonly _E: Types.Covariant<E>
  readonly _R: Types.Covariant<R>
}

/**
 * A named, typed step. Run it from Effect code with `invoke`, from a whole run with
 * `Runner.run`, chain it with the combinators, wrap it with policies via `pipe`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const double = Primitive.sync("double", (n: number) => n * 2)
 * const program = Effect.gen(function*() {
 *   return yield* double.invoke(21) // 42
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Primitive<in In, out Out, out E = never, out R = never> extends Pipeable {
  readonly [TypeId]: Variance<In, Out, E, R>
  /** The name: the span name and the path segment of this step. */
  readonly name: string
  /** What sort of primitive this is: "step", "sequence", "parallel", "retry", "agent", ... */
  readonly kind: string
  /** The primitives this one is built from, each under its key. */
  readonly children: ReadonlyArray<Child>
  /** Static configuration shown by `describe`. */
  readonly meta: Meta
  /** The uninstrumented behaviour. Combinators call children through the instrumentation point instead. */
  readonly body: (input: In) => Effect.Effect<Out, E, R>
  /** Runs this primitive on `input`: a span named after it, nested under the current span. */
  invoke(input: In): Effect.Effect<Out, E, R>
}

/**
 * Any primitive, whatever its types.
 *
 * @category models
 * @since 0.1.0
 */
export type Any = Primitive<any, any, any, any>

/**
 * @since 0.1.0
 *
 * @category models
 */
export type Input<P> = P extends Primitive<infer In, infer _Out, infer _E, infer _R> ? In : never
/**
 * @since 0.1.0
 *
 * @category models
 */
export type Output<P> = P extends Primitive<infer _In, infer Out, infer _E, infer _R> ? Out : never
/**
 * @since 0.1.0
 *
 * @category errors
 */
export type Error<P> = P extends Primitive<infer _In, infer _Out, infer E, infer _R> ? E : never
/**
 * @since 0.1.0
 *
 * @category models
 */
export type Context<P> = P extends Primitive<infer _In, infer _Out, infer _E, infer R> ? R : never

const variance: Variance<any, any, any, any> = {
  _In: (_: unknown) => _,
  _Out: (_: never) => _,
  _E: (_: never) => _,
  _R: (_: never) => _
}

class PrimitiveImpl<In, Out, E, R> implements Primitive<In, Out, E, R> {
  readonly [TypeId] = variance
  constructor(
    readonly name: string,
    readonly kind: string,
    readonly children: ReadonlyArray<Child>,
    readonly meta: Meta,
    readonly body: (input: In) => Effect.Effect<Out, E, R>
  ) {}
  invoke(input: In): Effect.Effect<Out, E, R> {
    return execute(this, input, this.name)
  }
  pipe() {
    // eslint-disable-next-line prefer-rest-params
    return pipeArguments(this, arguments)
  }
  toString(): string {
    return `Primitive(${this.kind}: ${this.name})`
  }
}

/**
 * Options shared by the constructors.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly kind?: string
  readonly meta?: Meta
  readonly children?: ReadonlyArray<Child>
}

const checkName = (name: string): string => {
  if (typeof name !== "string" || name.trim() === "" || name.includes("/")) {
    throw new TypeError(`A primitive name must be a non-empty string without "/", got ${JSON.stringify(name)}`)
  }
  return name
}

/**
 * Is this value a primitive?
 *
 * @category guards
 * @since 0.1.0
 */
export const isPrimitive = (u: unknown): u is Any => typeof u === "object" && u !== null && TypeId in u

/**
 * A primitive from an Effect-returning function. The most general constructor: combinators and
 * policies are built with it too.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const fetchProfile = Primitive.make("fetchProfile", (userId: string) =>
 *   Effect.succeed({ userId, goals: ["run 5k"] }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <In, Out, E = never, R = never>(
  name: string,
  f: (input: In) => Effect.Effect<Out, E, R>,
  options?: Options
): Primitive<In, Out, E, R> =>
  new PrimitiveImpl(checkName(name), options?.kind ?? "step", options?.children ?? [], options?.meta ?? {}, f)

/**
 * A primitive from a plain function. A thrown exception is a defect, not a typed error: use
 * `make` with `Effect.try` when the function can fail.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 *
 * const wordCount = Primitive.sync("wordCount", (text: string) => text.split(/\s+/).length)
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sync = <In, Out>(name: string, f: (input: In) => Out, options?: Options): Primitive<In, Out> =>
  make(name, (input: In) => Effect.sync(() => f(input)), options)

/**
 * A primitive that ignores its input and runs an Effect.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const now = Primitive.fromEffect("now", Effect.sync(() => new Date().toISOString()))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromEffect = <Out, E, R>(
  name: string,
  effect: Effect.Effect<Out, E, R>,
  options?: Options
): Primitive<unknown, Out, E, R> => make(name, () => effect, options)

const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`
    else out += out === "" ? String(segment) : `.${String(segment)}`
  }
  return out === "" ? "(root)" : out
}

/**
 * Turns a Schema `ParseError` into a `DecodeError` naming the primitive and the bad field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const decodeError = (
  primitive: string,
  direction: "input" | "output",
  error: ParseResult.ParseError
): DecodeError => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message
  }))
  return new DecodeError({ primitive, direction, path: issues[0]?.path ?? "(root)", issues })
}

/**
 * A primitive whose input and output are decoded with Schema. Input that does not decode fails
 * with a `DecodeError` (direction "input") naming the path of the bad field, before `f` runs;
 * output that does not decode fails with a `DecodeError` (direction "output").
 *
 * The primitive accepts the encoded form of the input schema and `f` returns the encoded form of
 * the output schema (for plain structs the two forms are the same).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const Goal = Schema.Struct({ title: Schema.NonEmptyString, weeks: Schema.Int })
 * const plan = Primitive.fromSchema(
 *   "plan",
 *   { input: Goal, output: Schema.Struct({ steps: Schema.Array(Schema.String) }) },
 *   (goal) => Effect.succeed({ steps: [`Week 1 of ${goal.weeks}: start ${goal.title}`] })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromSchema = <I extends Schema.Schema.Any, O extends Schema.Schema.Any, E = never, R = never>(
  name: string,
  schemas: { readonly input: I; readonly output: O },
  f: (input: Schema.Schema.Type<I>) => Effect.Effect<Schema.Schema.Encoded<O>, E, R>,
  options?: Options
): Primitive<
  Schema.Schema.Encoded<I>,
  Schema.Schema.Type<O>,
  E | DecodeError,
  R | Schema.Schema.Context<I> | Schema.Schema.Context<O>
> => {
  const decodeInput = Schema.decodeUnknown(
    schemas.input as Schema.Schema<Schema.Schema.Type<I>, unknown, Schema.Schema.Context<I>>,
    { errors: "all" }
  )
  const decodeOutput = Schema.decodeUnknown(
    schemas.output as Schema.Schema<Schema.Schema.Type<O>, unknown, Schema.Schema.Context<O>>,
    { errors: "all" }
  )
  return make(
    name,
    (input: Schema.Schema.Encoded<I>) => {
      // Nesting beyond Json.defaultMaxDepth (or a "__proto__" own key) is refused before
      // decoding: a deep value would otherwise overflow the stack inside Schema.
      const tooDeep = Json.check(input)
      if (tooDeep !== undefined) {
        return Effect.fail(
          new DecodeError({
            primitive: name,
            direction: "input",
            path: tooDeep.path,
            issues: [{ path: tooDeep.path, message: tooDeep.detail }]
          })
        )
      }
      return decodeInput(input).pipe(
        Effect.mapError((e) => decodeError(name, "input", e)),
        Effect.flatMap(f),
        Effect.flatMap((out) => Effect.mapError(decodeOutput(out), (e) => decodeError(name, "output", e)))
      )
    },
    { kind: "schema", ...options }
  )
}

/**
 * Runs `self` as a child of the running primitive under the path segment `segment` (instead of
 * its name, as `invoke` does): for composites built outside core that run several children
 * with the same name and need distinct paths.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const ask = Primitive.sync("ask", (q: string) => q.length)
 * const twice = Primitive.make("twice", (q: string) =>
 *   Effect.all([Primitive.invokeAt(ask, q, "ask(1)"), Primitive.invokeAt(ask, q, "ask(2)")]))
 * ```
 *
 * @category execution
 * @since 0.1.0
 */
export const invokeAt = <In, Out, E, R>(
  self: Primitive<In, Out, E, R>,
  input: In,
  segment: string
): Effect.Effect<Out, E, R> => execute(self, input, segment)

/**
 * The same primitive under another name (its span name and path segment).
 *
 * @example
 * ```ts
 * import { Primitive, sequence } from "@braid/core"
 *
 * const trim = Primitive.sync("trim", (s: string) => s.trim())
 * const upper = Primitive.sync("upper", (s: string) => s.toUpperCase())
 * const normalise = sequence(trim, upper).pipe(Primitive.named("normalise"))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const named = (name: string) => <In, Out, E, R>(self: Primitive<In, Out, E, R>): Primitive<In, Out, E, R> =>
  new PrimitiveImpl(checkName(name), self.kind, self.children, self.meta, self.body)

/**
 * Options of `wrap`.
 *
 * @category models
 * @since 0.1.0
 */
export interface WrapOptions {
  /** The kind of the wrapper, e.g. "retry". */
  readonly kind: string
  /** Defaults to `kind(inner name)`, e.g. `retry(callModel)`. */
  readonly name?: string
  readonly meta?: Meta
}

/**
 * Builds a primitive around another one: the building block of every policy (retry, timeout,
 * circuit breaker, ...) and of agents and meeting turns. `f` receives `run`, which runs the inner
 * primitive through the instrumentation point (so each attempt is its own child span), and
 * returns the wrapper's behaviour.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive } from "@braid/core"
 *
 * const logged = <In, Out, E, R>(self: Primitive.Primitive<In, Out, E, R>) =>
 *   Primitive.wrap(self, { kind: "logged" }, (run) => (input: In) =>
 *     run(input).pipe(Effect.tap((out) => Effect.logDebug(`${self.name} -> ${String(out)}`))))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const wrap = <In, Out, E, R, Out2, E2, R2>(
  self: Primitive<In, Out, E, R>,
  options: WrapOptions,
  f: (run: (input: In) => Effect.Effect<Out, E, R>) => (input: In) => Effect.Effect<Out2, E2, R2>
): Primitive<In, Out2, E2, R2> =>
  make(
    options.name ?? `${options.kind}(${self.name})`,
    f((input) => execute(self, input, self.name)),
    { kind: options.kind, meta: options.meta ?? {}, children: [{ key: self.name, primitive: self }] }
  )
