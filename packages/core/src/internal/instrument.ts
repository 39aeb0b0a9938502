/**
 * The single instrumentation point of Braid. Every primitive runs through `execute`, which
 * computes the step's stable path, opens the span named after the primitive (nested under the
 * current span), attaches run and primitive attributes and records failures. Nothing else in
 * Braid opens spans for primitives.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as GlobalValue from "effect/GlobalValue"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { Braid, GenAI, GenAIOperation, General } from "../Attributes.js"
import type { Primitive } from "../Primitive.js"
import { WorkflowContext } from "../WorkflowContext.js"
import { version } from "./version.js"

const scopeName = General.otelScopeName
const scopeVersion = General.otelScopeVersion

/**
 * When primitives open spans (and track their paths):
 * - `"auto"` (default): when a tracer other than Effect's built-in one is installed (an
 *   OpenTelemetry, in-memory or console layer). Effect's built-in tracer exports nowhere, so
 *   without a tracer layer Braid runs bare bodies and costs nothing;
 * - `"on"`: always (spans go to whatever tracer is installed);
 * - `"off"`: never.
 */
export type Mode = "auto" | "on" | "off"

export const modeRef: FiberRef.FiberRef<Mode> = GlobalValue.globalValue(
  Symbol.for("@braid/core/Instrumentation/mode"),
  () => FiberRef.unsafeMake<Mode>("auto")
)

/** Effect's default tracer: spans made with it are exported nowhere. */
const builtinTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

interface FiberLike {
  getFiberRef<A>(ref: FiberRef.FiberRef<A>): A
  readonly currentTracer: Tracer.Tracer
}

/** Whether primitives running on this fiber are instrumented. */
export const isOn = (fiber: FiberLike): boolean => {
  const mode = fiber.getFiberRef(modeRef)
  return mode === "on" || (mode === "auto" && fiber.currentTracer !== builtinTracer)
}

/** Whether the current fiber's primitives are instrumented. */
export const enabled: Effect.Effect<boolean> = Effect.withFiberRuntime((fiber) => Effect.succeed(isOn(fiber)))

/**
 * The path of the running primitive, e.g. `onboarding/goals/score[2]`, read from the nearest
 * enclosing span that carries `braid.path` (the path rides on the spans instead of a FiberRef:
 * `withSpan` installs the parent span anyway, and a FiberRef local would cost a second
 * acquire/release per primitive). Spans opened by user code in between are skipped.
 */
export const pathOf = (context: Context.Context<never>): string => {
  let span = Context.getOption(context, Tracer.ParentSpan)
  while (span._tag === "Some") {
    const s = span.value
    if (s._tag !== "Span") return ""
    const path = s.attributes.get(Braid.path)
    if (typeof path === "string") return path
    span = s.parent
  }
  return ""
}

/** Adds the run's ids (`braid.run.id`, `.session.id`, `.tenant.id`, `.user.id`) found in `context`. */
export const addRunAttributes = (context: Context.Context<never>, attributes: Record<string, unknown>): void => {
  const ctx = Context.getOption(context, WorkflowContext)
  if (ctx._tag === "Some") {
    const c = ctx.value
    attributes[Braid.runId] = c.runId
    if (c.sessionId !== undefined) attributes[Braid.sessionId] = c.sessionId
    if (c.tenantId !== undefined) attributes[Braid.tenantId] = c.tenantId
    if (c.userId !== undefined) attributes[Braid.userId] = c.userId
  }
}

/** The current primitive's path (empty when primitives are not instrumented). */
/** The path of the primitive running on `fiber` ("" when not instrumented). */
export const fiberPath = (fiber: FiberLike): string =>
  isOn(fiber) ? pathOf(fiber.getFiberRef(FiberRef.currentContext)) : ""

export const currentPath: Effect.Effect<string> = Effect.withFiberRuntime((fiber) => Effect.succeed(fiberPath(fiber)))

/** The tag of a typed failure, or the kind of the cause ("Defect", "Interrupt"). */
export const errorType = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string") return e._tag
    return e instanceof Error ? e.name : typeof e
  }
  return Cause.isInterruptedOnly(cause) ? "Interrupt" : "Defect"
}

/** Options of `spanned`. */
export interface SpanOptions<A, E> {
  readonly attributes?: Readonly<Record<string, unknown>>
  readonly kind?: Tracer.SpanKind
  /**
   * Called once the work is done, before the span ends (and while it is still the current span):
   * for attributes that depend on the result.
   */
  readonly onEnd?: (exit: Exit.Exit<A, E>, span: Tracer.Span, fiber: Fiber.RuntimeFiber<unknown, unknown>) => void
}

const noContext = Context.empty()
const noLinks: ReadonlyArray<Tracer.SpanLink> = []

/** Whether `Effect.withSpan` must do the work: cases `spanned` leaves to it. */
const needsEffectSpan = (fiber: Fiber.RuntimeFiber<unknown, unknown>, parent: Option.Option<Tracer.AnySpan>): boolean =>
  !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
  HashMap.size(fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)) > 0 ||
  Chunk.isNonEmpty(fiber.getFiberRef(FiberRef.currentTracerSpanLinks)) ||
  (parent._tag === "Some" && Context.get(parent.value.context, Tracer.DisablePropagation))

/**
 * Runs `self` with the context `enter` returns as the fiber's context, then puts `outer` back,
 * whatever the exit: `enter`, the set and the restore happen inside one uninterruptible region
 * (`self` keeps the caller's interruptibility). Public API only (`FiberRef.set`), and cheaper
 * than `Effect.provide`'s acquire/release. `onExit` runs before the context is restored.
 */
export const withContext = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  outer: Context.Context<never>,
  enter: () => Context.Context<never>,
  onExit?: (exit: Exit.Exit<A, E>) => void
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(
      Effect.suspend(() => FiberRef.set(FiberRef.currentContext, enter())),
      Effect.flatMap(Effect.exit(restore(self)), (exit) => {
        if (onExit !== undefined) onExit(exit)
        return Effect.zipRight(FiberRef.set(FiberRef.currentContext, outer), exit)
      })
    )
  )

/**
 * Runs `self` in a new span, child of the current span: what `Effect.withSpan` does (the span is
 * the parent of every span opened inside, is timed with the fiber's Clock and ends with the
 * exit), with less work: the span comes straight from the tracer and the context is set and
 * restored once (`withContext`). The span is made inside the uninterruptible region, so a span
 * that exists always ends. Spans made with annotations or links from `Effect.annotateSpans` /
 * `Effect.linkSpans` in scope, with tracing disabled, or under a parent that disables
 * propagation go through `Effect.withSpan` itself. No stack trace is captured.
 */
export const spanned = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: SpanOptions<A, E> = {}
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const context = fiber.currentContext
    const parent = Context.getOption(context, Tracer.ParentSpan)
    if (needsEffectSpan(fiber, parent)) return withEffectSpan(self, name, options)
    const onEnd = options.onEnd
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    let span: Tracer.Span
    return withContext(self, context, () => {
      span = fiber.currentTracer.span(
        name,
        parent,
        noContext,
        noLinks,
        timed ? clock.unsafeCurrentTimeNanos() : BigInt(0),
        options.kind ?? "internal"
      )
      const attributes = options.attributes
      if (attributes !== undefined) { for (const key in attributes) span.attribute(key, attributes[key]) }
      return Context.add(context, Tracer.ParentSpan, span)
    }, (exit) => {
      if (onEnd !== undefined) onEnd(exit, span, fiber)
      if (span.status._tag !== "Ended") span.end(timed ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
    })
  })

/** `spanned` through `Effect.withSpan` (for the cases listed there). */
const withEffectSpan = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  name: string,
  options: SpanOptions<A, E>
): Effect.Effect<A, E, R> => {
  const onEnd = options.onEnd
  const body = onEnd === undefined ?
    self :
    Effect.onExit(
      self,
      (exit) =>
        Effect.withFiberRuntime((fiber) =>
          Effect.map(Effect.currentSpan, (span) => onEnd(exit, span, fiber)).pipe(Effect.ignore)
        )
    )
  return Effect.withSpan(body, name, {
    ...(options.attributes !== undefined ? { attributes: options.attributes } : {}),
    ...(options.kind !== undefined ? { kind: options.kind } : {}),
    captureStackTrace: false
  })
}

/** A failure's `error.type` on the primitive's span (interruptions are not errors). */
const recordFailure = (exit: Exit.Exit<unknown, unknown>, span: Tracer.Span): void => {
  if (exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)) {
    span.attribute(General.errorType, errorType(exit.cause))
  }
}
/**
 * Runs `primitive` on `input` as a child of the running primitive, under the path segment
 * `segment`. When it is not instrumented (see `Mode`) this is a direct call of the body.
 */
export const execute = <In, Out, E, R>(
  primitive: Primitive<In, Out, E, R>,
  input: In,
  segment: string
): Effect.Effect<Out, E, R> =>
  Effect.withFiberRuntime<Out, E, R>((fiber) =>
    isOn(fiber) ? instrumented(fiber, primitive, input, segment) : bare(primitive, input)
  )

/**
 * A composite's behaviour given the instrumentation mode it runs in. Composites are built with
 * `modal`, so that with instrumentation off the mode is read once per run of the outermost
 * primitive, not once per step.
 */
export type ModalBody<In, Out, E, R> = (on: boolean, input: In) => Effect.Effect<Out, E, R>

const modalKey = Symbol.for("@braid/core/Primitive/modal")

/** Marks a body function as a modal body's entry point. */
export const modal = <In, Out, E, R>(f: ModalBody<In, Out, E, R>): (input: In) => Effect.Effect<Out, E, R> => {
  const body = (input: In) => Effect.withFiberRuntime<Out, E, R>((fiber) => f(isOn(fiber), input))
  ;(body as unknown as Record<symbol, unknown>)[modalKey] = f
  return body
}

const bare = <In, Out, E, R>(primitive: Primitive<In, Out, E, R>, input: In): Effect.Effect<Out, E, R> => {
  const f = (primitive.body as unknown as Record<symbol, ModalBody<In, Out, E, R> | undefined>)[modalKey]
  return f === undefined ? primitive.body(input) : f(false, input)
}

/** Runs a child of a composite in the mode the composite was given (see `modal`). */
export const child = <In, Out, E, R>(
  on: boolean,
  primitive: Primitive<In, Out, E, R>,
  input: In,
  segment: string
): Effect.Effect<Out, E, R> => on ? execute(primitive, input, segment) : bare(primitive, input)

const instrumented = <In, Out, E, R>(
  fiber: FiberLike,
  primitive: Primitive<In, Out, E, R>,
  input: In,
  segment: string
): Effect.Effect<Out, E, R> => {
  const context = fiber.getFiberRef(FiberRef.currentContext)
  const parent = pathOf(context)
  const path = parent === "" ? segment : `${parent}/${segment}`
  const attributes: Record<string, unknown> = {
    [Braid.primitiveName]: primitive.name,
    [Braid.primitiveKind]: primitive.kind,
    [Braid.path]: path,
    [scopeName]: "@braid/core",
    [scopeVersion]: version
  }
  addRunAttributes(context, attributes)
  const f = (primitive.body as unknown as Record<symbol, ModalBody<In, Out, E, R> | undefined>)[modalKey]
  const body = f === undefined ? primitive.body(input) : f(true, input)
  if (primitive.kind === "agent") {
    // GenAI semantic conventions: an agent's run is an `invoke_agent {name}` span, INTERNAL for an
    // agent that runs in this process, CLIENT for a remote one (`meta.remote: true`)
    attributes[GenAI.operationName] = GenAIOperation.invokeAgent
    attributes[GenAI.agentName] = primitive.name
    const conversation = attributes[Braid.sessionId]
    if (conversation !== undefined) attributes[GenAI.conversationId] = conversation
    return spanned(body, `${GenAIOperation.invokeAgent} ${primitive.name}`, {
      attributes,
      kind: primitive.meta["remote"] === true ? "client" : "internal",
      onEnd: recordFailure
    })
  }
  return spanned(body, primitive.name, { attributes, onEnd: recordFailure })
}
