/**
 * What the practice workflow and its evaluation share: one guarded model call (the resilience
 * policies, in one place), the optional event bus, the failure summaries and the transcript
 * text the judge and the evaluator read.
 *
 * @internal
 */
import type { Primitive as P } from "@braid/core"
import { Io, Primitive } from "@braid/core"
import * as Models from "@braid/eval/Models"
import type { Errors as LlmErrors } from "@braid/llm"
import { AiErrors } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import type { Errors as ResilienceErrors, Retry } from "@braid/resilience"
import { CircuitBreaker, Errors as ResilienceErrorValues } from "@braid/resilience"
import type { Duration } from "effect"
import type { Scope } from "effect"
import { Cause, Effect, Exit, Fiber, Option, Queue } from "effect"
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

/** The bound of one publication on the bus (or of one batch of the queued publisher). */
const publishTimeout = "5 seconds"

/** Publishes an event (see `publisher`). */
export type Publish = <E extends SessionEvents.Event>(
  Event: SessionEvents.EventClass<E>,
  fields: Omit<E, "_tag" | "eventId" | "at">
) => Effect.Effect<void>

/**
 * Runs publications in a fiber of their own, bounded by `publishTimeout`, and awaits it: a bus
 * that fails, hangs or was shut down (which interrupts a publisher) is logged, never the caller's
 * failure or interruption.
 */
const bounded = (work: Effect.Effect<void, unknown>, what: string): Effect.Effect<void> =>
  Effect.fork(Io.within(
    work,
    publishTimeout,
    (millis) => Effect.fail(`no answer from the bus in ${millis} ms`),
    { interruptible: true } // also from the end of a session, which is uninterruptible
  )).pipe(
    Effect.flatMap(Fiber.await),
    Effect.flatMap((exit) =>
      Exit.isSuccess(exit)
        ? Effect.void
        : Effect.logWarning(
          `practice: could not publish ${what}: ${
            Cause.isInterruptedOnly(exit.cause) ? "interrupted" : summarize(Cause.squash(exit.cause))
          }`
        )
    )
  )

const emitOn = (service: EventBus.Service) =>
<E extends SessionEvents.Event>(
  Event: SessionEvents.EventClass<E>,
  fields: Omit<E, "_tag" | "eventId" | "at">
): Effect.Effect<void, unknown> =>
  SessionEvents.emit(Event, fields).pipe(Effect.provideService(EventBus.EventBus, service), Effect.asVoid)

/**
 * Publishes an event when an `EventBus` was provided, bounded and best effort (see `bounded`): a
 * failing bus never fails or holds its caller past `publishTimeout`.
 */
export const publisher = (bus: Option.Option<EventBus.Service>): Publish => (Event, fields) =>
  Option.isNone(bus) ? Effect.void : bounded(emitOn(bus.value)(Event, fields), Event._tag)

/**
 * A publisher that never holds its caller: events go, in order, through a bounded queue that one
 * fiber of the current scope publishes, in batches each bounded by `publishTimeout`. A bus that is
 * slow or silent makes the queue grow up to `capacity`, then new events are dropped (logged).
 * When the scope closes, what is still queued is published for at most `publishTimeout`.
 */
export const queuedPublisher = (
  bus: Option.Option<EventBus.Service>,
  capacity = 10_000
): Effect.Effect<Publish, never, Scope.Scope> =>
  Effect.gen(function*() {
    if (Option.isNone(bus)) return publisher(bus)
    const emit = emitOn(bus.value)
    const queue = yield* Queue.dropping<Effect.Effect<void, unknown>>(capacity)
    const run = (batch: Iterable<Effect.Effect<void, unknown>>) =>
      bounded(Effect.forEach(batch, (e) => e, { discard: true }), "session events")
    yield* Effect.addFinalizer(() => Effect.flatMap(Queue.takeAll(queue), run))
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.takeBetween(queue, 1, 500), run)))
    return (Event, fields) =>
      Effect.flatMap(
        Queue.offer(queue, emit(Event, fields)),
        (queued) => queued ? Effect.void : Effect.logWarning(`practice: event queue full, ${Event._tag} dropped`)
      )
  })

/** The conversation as the judge and the evaluator read it. */
export const transcriptText = (messages: ReadonlyArray<MessageRecord>, client: string): string =>
  messages
    .filter((m) => m.role !== "system")
    .map((m) => `${m.role === "user" ? "Learner" : client}${m.fallback ? " (fallback)" : ""}: ${m.text}`)
    .join("\n")
