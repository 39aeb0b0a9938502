/**
 * The single instrumentation point of Braid. Every primitive runs through `execute`, which
 * computes the step's stable path, opens the span named after the primitive (nested under the
 * current span), attaches run and primitive attributes and records failures. Nothing else in
 * Braid opens spans for primitives.
 *
 * @internal
 */
import { Cause, Context, Effect, FiberRef, GlobalValue, Option } from "effect"
import type { Primitive } from "../Primitive.js"
import { WorkflowContext } from "../WorkflowContext.js"

/** Whether primitives open spans (and track their path). `false` runs bare bodies. */
export const enabledRef: FiberRef.FiberRef<boolean> = GlobalValue.globalValue(
  Symbol.for("@braid/core/Instrumentation/enabled"),
  () => FiberRef.unsafeMake(true)
)

/** The path of the primitive that is running, e.g. `onboarding/goals/[2]/score`. */
export const pathRef: FiberRef.FiberRef<string> = GlobalValue.globalValue(
  Symbol.for("@braid/core/Instrumentation/path"),
  () => FiberRef.unsafeMake("")
)

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

const recordFailure = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.onExit(self, (exit) =>
    exit._tag === "Failure" && !Cause.isInterruptedOnly(exit.cause)
      ? Effect.annotateCurrentSpan("error.type", errorType(exit.cause))
      : Effect.void)

/**
 * Runs `primitive` on `input` as a child of the running primitive, under the path segment
 * `segment`. With instrumentation off this is a direct call of the body.
 */
export const execute = <In, Out, E, R>(
  primitive: Primitive<In, Out, E, R>,
  input: In,
  segment: string
): Effect.Effect<Out, E, R> =>
  Effect.withFiberRuntime<Out, E, R>((fiber) => {
    if (!fiber.getFiberRef(enabledRef)) return primitive.body(input)
    const parent = fiber.getFiberRef(pathRef)
    const path = parent === "" ? segment : `${parent}/${segment}`
    const attributes: Record<string, unknown> = {
      "braid.primitive.name": primitive.name,
      "braid.primitive.kind": primitive.kind,
      "braid.path": path
    }
    const ctx = Context.getOption(fiber.getFiberRef(FiberRef.currentContext), WorkflowContext)
    if (ctx._tag === "Some") {
      const c = ctx.value
      attributes["braid.run.id"] = c.runId
      if (c.sessionId !== undefined) attributes["braid.session.id"] = c.sessionId
      if (c.tenantId !== undefined) attributes["braid.tenant.id"] = c.tenantId
      if (c.userId !== undefined) attributes["braid.user.id"] = c.userId
    }
    return Effect.withSpan(
      Effect.locally(recordFailure(primitive.body(input)), pathRef, path),
      primitive.name,
      { attributes }
    )
  })
