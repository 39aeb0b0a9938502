/**
 * The public face of Braid's single instrumentation point. Running a primitive opens its span
 * (see `Primitive.invoke`); policies and agents add what they decide to that span through
 * `annotate` and `event` here, never through spans or logs of their own.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { Braid, General } from "./Attributes.js"
import type { Mode } from "./internal/instrument.js"
import {
  addRunAttributes,
  currentPath as pathNow,
  enabled as isEnabled,
  errorType as typeOfError,
  fiberPath,
  modeRef,
  pathOf,
  spanned,
  type SpanOptions
} from "./internal/instrument.js"

export type {
  /**
   * When primitives open spans: `"auto"` (the default) when a tracer layer other than Effect's
   * built-in one is installed, `"on"` always, `"off"` never.
   *
   * @category models
   * @since 0.1.0
   */
  Mode
}

/**
 * Whether primitives running here open spans and track paths. In the default `"auto"` mode that
 * is whenever a tracer layer is installed (OpenTelemetry, in-memory, console: see
 * `@braid/observability`); without one, Effect's built-in tracer would export nowhere, so
 * primitives run bare and cost nothing.
 *
 * @category accessors
 * @since 0.1.0
 */
export const enabled: Effect.Effect<boolean> = isEnabled

/**
 * Runs an effect in an instrumentation mode: `"auto"` (the default), `"on"` (spans even with
 * Effect's built-in tracer) or `"off"` (bare bodies: no spans, no paths).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation, Primitive } from "@braid/core"
 *
 * const hot = Primitive.sync("hot", (n: number) => n + 1)
 * const program = Instrumentation.withMode(hot.invoke(1), "off")
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withMode = <A, E, R>(self: Effect.Effect<A, E, R>, mode: Mode): Effect.Effect<A, E, R> =>
  Effect.locally(self, modeRef, mode)

/**
 * Runs an effect with primitive instrumentation off.
 *
 * @category combinators
 * @since 0.1.0
 */
export const disabled = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => withMode(self, "off")

/**
 * The stable path of the running primitive, e.g. `onboarding/goals/score[2]` (empty outside a
 * primitive or when primitives are not instrumented). Usable as a durable activity name.
 *
 * @category accessors
 * @since 0.1.0
 */
export const currentPath: Effect.Effect<string> = pathNow

/**
 * `currentPath` read synchronously from a running fiber, for code that is already inside
 * `Effect.withFiberRuntime` (a hot path that would otherwise spend an extra Effect step on it).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation } from "@braid/core"
 *
 * const where = Effect.withFiberRuntime((fiber) => Effect.succeed(Instrumentation.pathOfFiber(fiber)))
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const pathOfFiber = (fiber: Fiber.RuntimeFiber<unknown, unknown>): string => fiberPath(fiber)

export type {
  /**
   * The options of `withSpan`: the span's kind and attributes, and `onEnd`, called before the span ends.
   *
   * @category models
   * @since 0.1.0
   */
  SpanOptions
}

/**
 * Runs an effect in a new span, child of the current span: `Effect.withSpan` (the span is the
 * parent of every span opened inside, timed with the Clock, ended with the exit, its status and
 * exception set from a failure) with less work, plus `onEnd`, which sees the exit and
 * the span just before the span ends. Braid's primitive spans and model-call spans use it. With
 * span annotations or links in scope (`Effect.annotateSpans`, `Effect.linkSpans`) or tracing
 * disabled it is `Effect.withSpan` itself. No stack trace is captured.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation } from "@braid/core"
 *
 * const lookup = Instrumentation.withSpan(Effect.succeed([1, 2, 3]), "lookup", {
 *   kind: "client",
 *   attributes: { "db.system.name": "memory" },
 *   onEnd: (exit, span) => {
 *     if (exit._tag === "Success") span.attribute("rows", exit.value.length)
 *   }
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const withSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options?: SpanOptions<A, E>
): Effect.Effect<A, E, R> => spanned(self, name, options)

/**
 * Attribute values accepted on spans.
 *
 * @category models
 * @since 0.1.0
 */
export type AttributeValue = string | number | boolean | ReadonlyArray<string> | ReadonlyArray<number>

/**
 * Sets attributes on the span of the running primitive.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation, Primitive } from "@braid/core"
 *
 * const lookup = Primitive.make("lookup", (key: string) =>
 *   Effect.as(Instrumentation.annotate({ "app.lookup.hit": false }), key.length))
 * ```
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const annotate = (attributes: Readonly<Record<string, AttributeValue>>): Effect.Effect<void> =>
  Effect.flatMap(isEnabled, (on) =>
    on
      ? Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
        if (span._tag === "Some") { for (const [k, v] of Object.entries(attributes)) span.value.attribute(k, v) }
        return Effect.void
      })
      : Effect.void)

/**
 * Adds an event (a decision: a retry, a breaker opening, a cache hit) to the span of the running
 * primitive.
 *
 * @category instrumentation
 * @since 0.1.0
 */
export const event = (name: string, attributes: Readonly<Record<string, AttributeValue>> = {}): Effect.Effect<void> =>
  Effect.flatMap(isEnabled, (on) =>
    on
      ? Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
        span._tag === "Some"
          ? Effect.map(Clock.currentTimeNanos, (now) => span.value.event(name, now, attributes))
          : Effect.void)
      : Effect.void)

/**
 * The attributes every span of a run carries, read from an Effect context: `braid.path` (the
 * enclosing primitive's path, when there is one) and `braid.run.id`, `braid.session.id`,
 * `braid.tenant.id`, `braid.user.id`. For telemetry that is not a primitive's span (a model
 * call's `chat {model}` span, say), so that it carries the same run attributes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation } from "@braid/core"
 *
 * const attributes = Effect.contextWith(Instrumentation.contextAttributes)
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const contextAttributes = (context: Context.Context<never>): Record<string, string> => {
  const attributes: Record<string, string> = {}
  const path = pathOf(context)
  if (path !== "") attributes[Braid.path] = path
  addRunAttributes(context, attributes)
  return attributes
}

/**
 * The `error.type` Braid records for a failure: the tag of a typed error (`"RateLimited"`), the
 * name of an `Error`, or `"Interrupt"` / `"Defect"`.
 *
 * @example
 * ```ts
 * import { Cause } from "effect"
 * import { Instrumentation } from "@braid/core"
 *
 * Instrumentation.errorType(Cause.fail({ _tag: "NotFound" })) // "NotFound"
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const errorType = (cause: Cause.Cause<unknown>): string => typeOfError(cause)

/**
 * The attributes that name the instrumentation scope of a span: the package that made it and its
 * version (`otel.scope.name`, `otel.scope.version`). Braid's tracers (`@braid/observability`)
 * turn them into the span's instrumentation scope; `@braid/core` sets them on primitive spans,
 * `@braid/llm` on model-call spans.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Instrumentation } from "@braid/core"
 *
 * const traced = Instrumentation.withSpan(Effect.void, "sync", {
 *   attributes: Instrumentation.scopeAttributes("@acme/sync", "1.2.0")
 * })
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const scopeAttributes = (name: string, version: string): Record<string, string> => ({
  [General.otelScopeName]: name,
  [General.otelScopeVersion]: version
})
