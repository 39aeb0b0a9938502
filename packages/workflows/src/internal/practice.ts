/**
 * What the practice workflow and its evaluation share: one guarded model call (the resilience
 * policies, in one place), the optional event bus, the failure summaries and the transcript
 * text the judge and the evaluator read.
 *
 * @internal
 */
import type { Primitive as P } from "@braid/core"
import { Primitive } from "@braid/core"
import * as Models from "@braid/eval/Models"
import type { Errors as LlmErrors } from "@braid/llm"
import { AiErrors } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import type { Errors as ResilienceErrors, Retry } from "@braid/resilience"
import { CircuitBreaker, Errors as ResilienceErrorValues } from "@braid/resilience"
import type { Duration } from "effect"
import { Effect, Option } from "effect"
import * as SessionEvents from "../SessionEvents.js"
import type { MessageRecord } from "../SessionStore.js"

/** The policies of every model call of the practice workflow. */
export interface CallPolicy {
  /** The bound of one attempt. */
  readonly timeout?: Duration.DurationInput | undefined
  readonly retry?: Retry.Options<unknown> | undefined
  /** Shared by the calls of one workflow (optional). */
  readonly breaker?: CircuitBreaker.CircuitBreaker | undefined
}

/** The errors a guarded call may end with (besides the model's own). */
export type GuardError = ResilienceErrors.TimeoutError | ResilienceErrors.RetryExhausted | ResilienceErrors.CircuitOpen

/**
 * A model call as a primitive of kind `agent` (an `invoke_agent {name}` span carrying the
 * session as `gen_ai.conversation.id`), each attempt bounded by the timeout, retried, behind the
 * breaker: `breaker(retry(timeout(call)))`.
 */
export const guarded = <In, Out, E, R>(
  name: string,
  call: (input: In) => Effect.Effect<Out, E, R>,
  policy: CallPolicy
): P.Primitive<In, Out, E | GuardError, R> => {
  const step = Primitive.make(name, call, { kind: "agent" }).pipe(Models.policy({
    ...(policy.timeout !== undefined ? { timeout: policy.timeout } : {}),
    retry: { maxAttempts: 3, backoff: "exponential", baseDelay: "500 millis", maxDelay: "5 seconds", ...policy.retry }
  }))
  return policy.breaker === undefined ? step : step.pipe(CircuitBreaker.guard(policy.breaker))
}

/** The `BudgetExceeded` behind an error (itself, or an error of a `RetryExhausted`). */
export const budgetExceeded = (error: unknown): LlmErrors.BudgetExceeded | undefined => {
  if (typeof error !== "object" || error === null) return undefined
  if ("_tag" in error && error._tag === "BudgetExceeded") return error as LlmErrors.BudgetExceeded
  if (error instanceof ResilienceErrorValues.RetryExhausted) {
    for (const e of error.errors) {
      const found = budgetExceeded(e)
      if (found !== undefined) return found
    }
  }
  return undefined
}

/** A one-line summary of a failure, without secrets (the model errors are redacted by `@braid/llm`). */
export const summarize = (error: unknown): string => {
  const tag = ResilienceErrorValues.errorType(error)
  const message = typeof error === "object" && error !== null && "message" in error ? String(error.message) : ""
  const line = message === "" || message === tag ? tag : `${tag}: ${message}`
  return line.length > 500 ? line.slice(0, 497) + "..." : line
}

/** The model's errors as Braid's typed `ModelError`s. */
export const typed = AiErrors.mapToModelError

/**
 * Publishes an event when an `EventBus` was provided: events are best effort, so a failing bus
 * never fails a turn (it is logged).
 */
export const publisher = (bus: Option.Option<EventBus.Service>) =>
<E extends SessionEvents.Event>(
  Event: SessionEvents.EventClass<E>,
  fields: Omit<E, "_tag" | "eventId" | "at">
): Effect.Effect<void> =>
  Option.match(bus, {
    onNone: () => Effect.void,
    onSome: (service) =>
      SessionEvents.emit(Event, fields).pipe(
        Effect.provideService(EventBus.EventBus, service),
        Effect.catchAll((e) => Effect.logWarning(`practice: could not publish ${Event._tag}: ${summarize(e)}`)),
        Effect.asVoid
      )
  })

/** The conversation as the judge and the evaluator read it. */
export const transcriptText = (messages: ReadonlyArray<MessageRecord>, client: string): string =>
  messages
    .filter((m) => m.role !== "system")
    .map((m) => `${m.role === "user" ? "Learner" : client}${m.fallback ? " (fallback)" : ""}: ${m.text}`)
    .join("\n")
