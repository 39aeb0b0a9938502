/**
 * The one place for money and for the guard, around any `@effect/ai` `LanguageModel` (Braid's
 * adapters or another provider's).
 *
 * Every `generateText`, `generateObject` and `streamText` call through the wrapped service:
 *
 * 1. is checked against the budgets (per run or per session, in tokens or dollars; the running
 *    primitive's `WorkflowContext` gives the keys; and the budgets set for part of a program with
 *    `withBudget`, e.g. one branch of a coordination). Once spent reaches a limit the next call
 *    fails with `BudgetExceeded` (carried by an `AiError`: see `AiErrors`) before anything is
 *    sent, or, with `onExceeded: { switchTo }`, runs on that cheaper model (through
 *    `Ai.Settings.model`, which Braid's adapters honour);
 * 2. runs inside one `chat {model}` span with the GenAI attributes and the `gen_ai.client.*`
 *    token and duration metrics (`@braid/observability`);
 * 3. is guarded, whatever the provider, `generateText` and `generateObject` as well as
 *    `streamText`: a response with no content parts, one that ends without its finish part (with
 *    or without an error part), or whose finish reports a failed response (an OpenAI
 *    `response.failed`: a finish with no usage at all) fails with a typed, transient
 *    `MalformedResponse` (or the Braid error the error part carries), so retry policies retry it;
 *    with `timeout`, a call that has not completed in time (a stream: has not reached its finish)
 *    fails with a typed, transient `ModelTimeout`;
 * 4. is accounted: usage (estimated when the provider reported none, and marked so) priced with
 *    `Pricing`, added to the totals per run, session, agent (`Ai.Settings.agent`) and model of
 *    `Accounting` (its report, alert and `braid.llm.cost` metric), and
 *    attached to the response: the finish part's `metadata.braid.usage` (`usageOf`, `costOf`).
 *
 * @since 0.2.0
 */
import { Io } from "@braid/core"
import { GenAI } from "@braid/observability"
import * as AiError from "@effect/ai/AiError"
import type * as LanguageModelNs from "@effect/ai/LanguageModel"
import {
  GenerateObjectResponse,
  GenerateTextResponse,
  LanguageModel as LanguageModelTag
} from "@effect/ai/LanguageModel"
import * as Prompt from "@effect/ai/Prompt"
import * as Response from "@effect/ai/Response"
import { Context, Duration, Effect, FiberRef, Layer, Option, Stream } from "effect"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Accounting from "./Accounting.js"
import type { BraidFinishMetadata, BraidUsage, Provider, SettingsShape } from "./Ai.js"
import { fromProvider as serviceOf, Settings } from "./Ai.js"
import { fromModelError, isCarrying, toCarrying } from "./AiErrors.js"
import * as Errors from "./Errors.js"
import { redact } from "./internal/redact.js"
import { version } from "./internal/version.js"
import type { Table } from "./Pricing.js"
import { cost as priceCost, lookup, Pricing } from "./Pricing.js"
import { estimate, estimatePrompt } from "./Tokens.js"

/** The instrumentation scope of the spans this module opens. */
const scope = { name: "@braid/llm", version } as const

/**
 * The options of the wrapper: `Accounting`'s budgets and alert, and the names reported on the
 * span when the provider's own are not known.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Accounting.Options {
  /** `gen_ai.provider.name` (default `"unknown"`, or the provider's name with `fromProvider`). */
  readonly provider?: string
  /** The model named on the span when `Ai.Settings.model` is not set. */
  readonly defaultModel?: string
  /**
   * The provider's base URL, for `server.address` and `server.port` on the span and the metrics
   * (with `fromProvider`, the adapter's own base URL when it has one).
   */
  readonly baseUrl?: string
  /**
   * Record `gen_ai.client.token.usage` for usage Braid estimated because the provider reported
   * none (default `false`: the conventions allow offline token counting only as an opt-in). The
   * span carries the estimate either way, marked `braid.usage.estimated`.
   */
  readonly recordEstimatedTokens?: boolean
  /**
   * Record the prompt and the reply on the `chat {model}` span (`gen_ai.input.messages`,
   * `gen_ai.output.messages`, as JSON text in the conventions' message form). Default `false`:
   * prompts and replies often hold personal data, and are never recorded unless asked for.
   */
  readonly captureContent?: boolean
  /**
   * The bound of each call: a `generateText` / `generateObject` that has not answered, or a
   * `streamText` that has not reached its finish part, within it fails with a typed, transient
   * `ModelTimeout` (carried by an `AiError`; the call is interrupted, which aborts the request).
   * Measured with Effect's `Clock`. Default: none (the adapter's own bound applies).
   */
  readonly timeout?: Duration.DurationInput
}

const moduleName = "Metered"

/**
 * A limit on what a part of a program may spend: all tokens (input, output, cache) or dollars.
 *
 * @example
 * ```ts
 * import type { Metered } from "@braid/llm"
 *
 * const perBranch: Metered.Limit = { usd: 0.05 }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Limit = { readonly tokens: number } | { readonly usd: number }

/** A budget of `withBudget`: what its scope spent so far (shared by the fibers it forks). */
interface Scoped {
  readonly name: string
  readonly limit: Limit
  tokens: number
  usd: number
}

const scopedBudgets = globalValue(
  Symbol.for("@braid/llm/Metered/scopedBudgets"),
  () => FiberRef.unsafeMake<ReadonlyArray<Scoped>>([])
)

/**
 * Runs an effect under one more budget, counted for the model calls it makes (through a
 * `Metered` model) and only those: once they have spent `limit`, the next call fails with
 * `BudgetExceeded` (scope `"scope"`, key `name`; carried by an `AiError`, see `AiErrors`) before
 * anything is sent. Budgets nest: every enclosing one counts the call too. Without a `Metered`
 * model in context there is nothing to count.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
 *
 * const capped = Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
 *   Effect.repeatN(10),
 *   Metered.withBudget({ tokens: 200 }, { name: "research" }),
 *   Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider()))
 * ) // fails with BudgetExceeded once the calls have used 200 tokens
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const withBudget: {
  (
    limit: Limit,
    options?: { readonly name?: string }
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, limit: Limit, options?: { readonly name?: string }): Effect.Effect<A, E, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(self: Effect.Effect<A, E, R>, limit: Limit, options: { readonly name?: string } = {}) =>
    Effect.suspend(() => {
      const budget: Scoped = { name: options.name ?? "budget", limit, tokens: 0, usd: 0 }
      return Effect.locallyWith(self, scopedBudgets, (outer) => [...outer, budget])
    })
)

/** The first scoped budget already spent, as the failure refusing the call (undefined: none is). */
const refusal = (method: string, budgets: ReadonlyArray<Scoped>): Effect.Effect<never, AiError.AiError> | undefined => {
  for (const b of budgets) {
    const usd = "usd" in b.limit
    const limit = usd ? (b.limit as { readonly usd: number }).usd : (b.limit as { readonly tokens: number }).tokens
    const spent = usd ? b.usd : b.tokens
    if (spent < limit) continue
    const shown = usd ? `$${spent.toFixed(4)} of $${limit}` : `${spent} of ${limit} tokens`
    return Effect.zipRight(
      Effect.annotateCurrentSpan("braid.budget.exceeded", b.name),
      Effect.fail(fromModelError(
        new Errors.BudgetExceeded({
          message: `budget exceeded: ${b.name} spent ${shown}`,
          scope: "scope",
          key: b.name,
          unit: usd ? "usd" : "tokens",
          limit,
          spent
        }),
        { module: moduleName, method }
      ))
    )
  }
  return undefined
}

/** Counts a response in the scoped budgets (called while the call's effect runs). */
const countScoped = (budgets: ReadonlyArray<Scoped>, usage: BraidUsage): void => {
  for (const b of budgets) {
    b.tokens += usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens
    b.usd += usage.costUsd
  }
}

type AnyPart = Response.AllParts<any>

const braidOf = (part: Response.FinishPart): BraidFinishMetadata | undefined => part.metadata.braid

/**
 * The usage of one response, priced (`costUsd`, `priced`).
 *
 * @internal
 */
const measure = (
  parts: ReadonlyArray<AnyPart>,
  finish: Response.FinishPart,
  requestedModel: string,
  prompt: Prompt.Prompt,
  table: Table
): BraidUsage => {
  const braid = braidOf(finish)
  let metaModel: string | undefined
  let outputText = ""
  for (const p of parts) {
    if (p.type === "response-metadata" && Option.isSome(p.modelId)) metaModel = p.modelId.value
    else if (p.type === "text") outputText += p.text
    else if (p.type === "text-delta") outputText += p.delta
    else if (p.type === "tool-call") outputText += JSON.stringify(p.params ?? null)
  }
  const model = braid?.model ?? metaModel ?? requestedModel
  const u = finish.usage
  const cacheReadTokens = braid?.cacheReadTokens ?? u.cachedInputTokens ?? 0
  const cacheWriteTokens = braid?.cacheWriteTokens ?? 0
  const reported = u.inputTokens !== undefined && u.outputTokens !== undefined
  const allInput = u.inputTokens ?? estimatePrompt(prompt) + cacheReadTokens + cacheWriteTokens
  const usage = {
    inputTokens: Math.max(0, allInput - cacheReadTokens - cacheWriteTokens),
    outputTokens: u.outputTokens ?? estimate(outputText),
    cacheReadTokens,
    cacheWriteTokens,
    estimated: !reported || braid?.estimated === true
  }
  const price = lookup(table, model)
  return {
    model,
    ...usage,
    costUsd: price === undefined ? 0 : priceCost(price, usage),
    priced: price !== undefined,
    ...(braid?.replayed === true ? { replayed: true } : {})
  }
}

const withUsage = (finish: Response.FinishPart, usage: BraidUsage): Response.FinishPart =>
  Response.makePart("finish", {
    reason: finish.reason,
    usage: finish.usage,
    metadata: { ...finish.metadata, braid: { ...braidOf(finish), usage } }
  })

/**
 * The usage and cost `Metered` attached to a response (or to its finish part, when streaming).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
 *
 * const cost = Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
 *   Effect.map((r) => Metered.usageOf(r)?.costUsd),
 *   Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider()))
 * )
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const usageOf = (
  response: { readonly content: ReadonlyArray<{ readonly type: string }> } | Response.FinishPart
): BraidUsage | undefined => {
  const finish = "content" in response
    ? (response.content.find((p) => p.type === "finish") as Response.FinishPart | undefined)
    : response
  return finish === undefined ? undefined : braidOf(finish)?.usage
}

/**
 * The cost in USD `Metered` attached to a response (0 when it has none).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Ai, Metered } from "@braid/llm"
 *
 * const usd = Effect.map(Ai.LanguageModel.generateText({ prompt: "hi" }), Metered.costOf)
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const costOf = (response: { readonly content: ReadonlyArray<{ readonly type: string }> }): number =>
  usageOf(response)?.costUsd ?? 0

/** What the span needs of a response beyond its usage: its id, which cache counts the provider reported, the reply. */
interface Seen {
  readonly id: string | undefined
  readonly cacheRead: boolean
  readonly cacheWrite: boolean
  readonly output: ReadonlyArray<unknown> | undefined
}

const seenOf = (parts: ReadonlyArray<AnyPart>, finish: Response.FinishPart, capture: boolean): Seen => {
  let id: string | undefined
  for (const p of parts) if (p.type === "response-metadata" && Option.isSome(p.id)) id = p.id.value
  const braid = braidOf(finish)
  return {
    id,
    cacheRead: braid?.cacheReadTokens !== undefined || finish.usage.cachedInputTokens !== undefined,
    cacheWrite: braid?.cacheWriteTokens !== undefined,
    output: capture ? outputMessages(parts, finish.reason) : undefined
  }
}

/**
 * The response as the span reports it: `gen_ai.usage.input_tokens` counts every input token,
 * cache reads and writes included (the conventions' definition; `BraidUsage.inputTokens`, which
 * prices them apart, excludes them), and the cache counts appear only when the provider reported
 * them.
 */
const describe = (usage: BraidUsage, reason: string, seen: Seen): GenAI.ResponseInfo => ({
  model: usage.model,
  ...(seen.id !== undefined ? { id: seen.id } : {}),
  inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens,
  outputTokens: usage.outputTokens,
  ...(seen.cacheRead ? { cacheReadTokens: usage.cacheReadTokens } : {}),
  ...(seen.cacheWrite ? { cacheWriteTokens: usage.cacheWriteTokens } : {}),
  finishReasons: [reason],
  estimated: usage.estimated,
  ...(seen.output !== undefined ? { outputMessages: seen.output } : {})
})

/** A part of a message in the conventions' JSON form (`gen_ai.input.messages` / `output.messages`). */
const messagePart = (p: { readonly type: string } & Record<string, any>): unknown => {
  switch (p.type) {
    case "text":
      return { type: "text", content: p.text }
    case "text-delta":
      return { type: "text", content: p.delta }
    case "reasoning":
      return { type: "reasoning", content: p.text }
    case "tool-call":
      return { type: "tool_call", id: p.id, name: p.name, arguments: p.params ?? null }
    case "tool-result":
      return { type: "tool_call_response", id: p.id, result: p.result ?? null }
    default:
      return undefined
  }
}

/** The prompt in the conventions' input-messages form. */
const inputMessages = (prompt: Prompt.Prompt): ReadonlyArray<unknown> =>
  prompt.content.map((m) => ({
    role: m.role,
    parts: m.role === "system"
      ? [{ type: "text", content: m.content }]
      : (m.content as ReadonlyArray<any>).map(messagePart).filter((x) => x !== undefined)
  }))

/** The reply in the conventions' output-messages form (one choice). */
const outputMessages = (parts: ReadonlyArray<AnyPart>, reason: string): ReadonlyArray<unknown> => {
  const out: Array<unknown> = []
  let text: { type: string; content: string } | undefined
  for (const p of parts) {
    const part = messagePart(p as any) as { type: string; content: string } | undefined
    if (part === undefined) continue
    // stream deltas make one text part
    if (part.type === "text" && p.type === "text-delta") {
      if (text === undefined) out.push(text = { type: "text", content: "" })
      text.content += part.content
    } else out.push(part)
  }
  return [{ role: "assistant", parts: out, finish_reason: reason }]
}

const malformed = (method: string, message: string): AiError.AiError =>
  fromModelError(new Errors.MalformedResponse({ message }), { module: moduleName, method })

/**
 * The error a stream's error part stands for: the Braid error it carries, the `AiError` it is
 * (classified), a provider's error event with a rate-limit code as `RateLimited`, else a
 * transient malformed response. Always scrubbed.
 */
const fromErrorPart = (method: string, what: string, error: unknown): AiError.AiError => {
  if (isCarrying(error)) return error
  if (Errors.isModelError(error) || AiError.isAiError(error)) return toCarrying(error)
  const detail = redact(
    error instanceof Error ? error.message : typeof error === "string" ? error : String(JSON.stringify(error))
  )
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : ""
  if (/rate_limit/i.test(code)) {
    return fromModelError(
      new Errors.RateLimited({ message: `the model's ${what} ended with a rate-limit error: ${detail}` }),
      { module: moduleName, method }
    )
  }
  return malformed(method, `the model's ${what} ended with an error part and no finish part: ${detail}`)
}

/**
 * A finish part of an OpenAI response with no usage at all: how `@effect/ai-openai` reports a
 * `response.failed` event or a failed response (a finish with reason "stop"; a completed
 * response always has usage).
 */
const failedOpenAiFinish = (part: Response.FinishPart): boolean =>
  part.metadata["openai"] !== undefined && part.usage.inputTokens === undefined &&
  part.usage.outputTokens === undefined

/**
 * The guard, one rule for every method and provider: why a response that ended is a failure
 * (no finish part, after an error part or not; a finish reporting a failed response), or
 * `undefined` when it is a reply.
 */
const failedResponse = (
  method: string,
  finish: Response.FinishPart | undefined,
  errorPart: Response.ErrorPart | undefined
): AiError.AiError | undefined => {
  const what = method === "streamText" ? "stream" : "response"
  if (finish === undefined) {
    return errorPart !== undefined
      ? fromErrorPart(method, what, errorPart.error)
      : malformed(method, `the model's ${what} ended without a finish part`)
  }
  return failedOpenAiFinish(finish)
    ? malformed(method, "the provider reported a failed response (a finish with no usage)")
    : undefined
}

/** The `timeout` option as a positive duration, or a clear `InvalidRequest` naming it. */
const checkTimeout = (input: unknown): Duration.Duration => {
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.decodeUnknown(input)
  } catch {
    decoded = Option.none()
  }
  if (Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0) return decoded.value
  let shown: string
  try {
    shown = typeof input === "bigint" ? `${input}n` : String(JSON.stringify(input) ?? String(input))
  } catch {
    shown = typeof input
  }
  throw new Errors.InvalidRequest({
    message: `Metered: option timeout must be a positive duration (e.g. "30 seconds" or a number of ms), got ${
      shown.slice(0, 80)
    }`,
    field: "timeout"
  })
}

/** The timeout of a call, carried like every Braid error. */
const timedOut = (method: string) => (millis: number): AiError.AiError =>
  fromModelError(
    new Errors.ModelTimeout({ message: `the model call did not complete within ${millis} ms`, timeoutMillis: millis }),
    { module: moduleName, method }
  )

/**
 * The carrying `AiError` of a Braid error seen on the span, kept on the error itself (a
 * non-enumerable symbol key: never printed or compared) because Effect may hand back a proxy of a
 * failure rather than the same object.
 */
const carrierKey = Symbol.for("@braid/llm/Metered/carrier")

/**
 * An error about to leave the `chat` span: an `AiError` becomes the Braid error it carries
 * (classified and scrubbed; the span's `error.type` is its tag), other errors pass.
 */
const intoSpan = (e: unknown): unknown => {
  if (!AiError.isAiError(e)) return e
  const carried = toCarrying(e)
  if (!Object.prototype.hasOwnProperty.call(carried.modelError, carrierKey)) {
    Object.defineProperty(carried.modelError, carrierKey, { value: carried, enumerable: false })
  }
  return carried.modelError
}

/** Back from the span: the carrying `AiError` (the port's error channel). */
const outOfSpan = (e: unknown): unknown => {
  if (typeof e !== "object" || e === null || !(carrierKey in e)) return e
  const carried = (e as { readonly [carrierKey]: unknown })[carrierKey]
  return isCarrying(carried) ? carried : e
}

/**
 * Wraps a `LanguageModel` service: budgets, telemetry, the guard, accounting (see the module's
 * documentation). `accounting` keeps the totals (its `report` is `Accounting.report`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Accounting, Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
 *
 * const program = Effect.gen(function*() {
 *   const inner = yield* Ai.fromProvider(yield* ScriptedLanguageModel.provider())
 *   const accounting = yield* Accounting.make()
 *   const model = Metered.wrap(inner, accounting, { provider: "braid.scripted" })
 *   yield* model.generateText({ prompt: "hi" })
 *   return yield* accounting.report
 * })
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const wrap = (
  inner: LanguageModelNs.Service,
  accounting: Accounting.Service,
  options: Options = {}
): LanguageModelNs.Service => {
  const provider = options.provider ?? "unknown"
  const server = options.baseUrl === undefined ? undefined : GenAI.serverOf(options.baseUrl)
  const timeout = options.timeout === undefined ? undefined : checkTimeout(options.timeout)
  const timedOutStream = timeout === undefined
    ? Effect.void
    : Effect.fail(timedOut("streamText")(Duration.toMillis(timeout)))
  const capture = options.captureContent === true
  /** The request info of a call, with its prompt when content is recorded. */
  const withPrompt = (info: GenAI.RequestInfo, prompt: Prompt.RawInput): GenAI.RequestInfo =>
    capture ? { ...info, inputMessages: inputMessages(Prompt.make(prompt)) } : info

  /**
   * Budgets first: the settings to run with (maybe on a cheaper model), or `BudgetExceeded`;
   * with what the call needs of its fiber (the scoped budgets, the price table), read once.
   */
  const admit = (method: string) =>
    Effect.withFiberRuntime<ReturnType<typeof admitted>, AiError.AiError>((fiber) => {
      const budgets = fiber.getFiberRef(scopedBudgets)
      const refused = budgets.length === 0 ? undefined : refusal(method, budgets)
      if (refused !== undefined) return refused
      const context = fiber.currentContext
      const settings = Context.get(context, Settings)
      const { table } = Context.get(context, Pricing)
      const model = settings.model ?? options.defaultModel ?? "unknown"
      const call: Accounting.Call = { model, agent: settings.agent }
      return Effect.mapBoth(accounting.prepare(call), {
        onFailure: (e) => fromModelError(e, { module: moduleName, method }),
        onSuccess: (prepared) => admitted(settings, model, call, prepared, budgets, table)
      })
    })

  const admitted = (
    settings: SettingsShape,
    model: string,
    call: Accounting.Call,
    prepared: Accounting.Call,
    budgets: ReadonlyArray<Scoped>,
    table: Table
  ) => {
    const run: SettingsShape = prepared.model !== undefined && prepared.model !== model
      ? { ...settings, model: prepared.model }
      : settings
    const info: GenAI.RequestInfo = {
      provider,
      scope,
      ...server,
      ...(options.recordEstimatedTokens === true ? { recordEstimatedTokens: true } : {}),
      model: run.model ?? model,
      ...(run.maxTokens !== undefined ? { maxTokens: run.maxTokens } : {}),
      ...(run.temperature !== undefined ? { temperature: run.temperature } : {}),
      ...(run.stopSequences !== undefined ? { stopSequences: run.stopSequences } : {}),
      ...(run.agent !== undefined ? { agent: run.agent } : {})
    }
    return { run, switched: run !== settings, info, call: { ...call, model: run.model ?? model }, budgets, table }
  }

  /** Accounts a response: the scoped budgets, then `Accounting` (run while the call's effect runs). */
  const account = (budgets: ReadonlyArray<Scoped>, call: Accounting.Call, usage: BraidUsage) => {
    countScoped(budgets, usage)
    return accounting.record(call, usage)
  }

  const generate = (method: "generateText" | "generateObject", options: any): Effect.Effect<any, any, any> =>
    Effect.flatMap(admit(method), ({ budgets, call: admitted, info, run, switched, table }) => {
      const unbounded = (inner[method] as (o: any) => Effect.Effect<GenerateTextResponse<any>, any, any>)(options)
      const call = timeout === undefined ? unbounded : Io.bounded(unbounded, timeout, timedOut(method))
      const measured = Effect.flatMap(switched ? Effect.provideService(call, Settings, run) : call, (response) => {
        const content = response.content as Array<AnyPart>
        let finishIndex = -1
        let errorPart: Response.ErrorPart | undefined
        let parts = false
        for (let i = 0; i < content.length; i++) {
          const type = content[i]!.type
          if (type === "finish") finishIndex = i
          else if (type === "error") errorPart = content[i] as Response.ErrorPart
          else if (type !== "response-metadata") parts = true
        }
        if (!parts && finishIndex < 0) return Effect.fail(malformed(method, "the model answered with no content parts"))
        const finish = finishIndex >= 0 ? (content[finishIndex] as Response.FinishPart) : undefined
        const failed = failedResponse(method, finish, errorPart)
        if (failed !== undefined || finish === undefined) return Effect.fail(failed!)
        const usage = measure(content, finish, info.model, promptOf(options.prompt), table)
        const next = [...content]
        next[finishIndex] = withUsage(finish, usage)
        return Effect.as(account(budgets, admitted, usage), {
          response: response instanceof GenerateObjectResponse
            ? new GenerateObjectResponse(response.value, next as any)
            : new GenerateTextResponse(next as any),
          usage,
          reason: finish.reason,
          seen: seenOf(content, finish, capture)
        })
      })
      return GenAI.chat(
        withPrompt(info, options.prompt),
        Effect.mapError(measured, intoSpan),
        (r) => describe(r.usage, r.reason, r.seen)
      ).pipe(Effect.mapBoth({ onFailure: outOfSpan, onSuccess: (out) => out.response }))
    })

  const streamText = (options: any): Stream.Stream<any, any, any> =>
    Stream.unwrap(
      Effect.map(admit("streamText"), ({ budgets, call: admitted, info, run, switched, table }) =>
        Stream.suspend(() => {
          const seen: Array<AnyPart> = []
          let finished = false
          let errorPart: Response.ErrorPart | undefined
          const raw = inner.streamText(options) as Stream.Stream<Response.StreamPart<any>, any, any>
          const parts = (switched ? Stream.provideService(raw, Settings, run) : raw).pipe(
            Stream.mapEffect((part): Effect.Effect<Response.StreamPart<any>, AiError.AiError> => {
              if (part.type === "error") errorPart = part
              if (part.type !== "finish") {
                if (
                  part.type === "response-metadata" || part.type === "text-delta" || part.type === "tool-call" ||
                  (capture && part.type === "reasoning-delta")
                ) {
                  seen.push(part)
                }
                return Effect.succeed(part)
              }
              finished = true
              const failed = failedResponse("streamText", part, errorPart)
              if (failed !== undefined) return Effect.fail(failed)
              return Effect.suspend(() => {
                const usage = measure(seen, part, info.model, promptOf(options.prompt), table)
                return Effect.as(account(budgets, admitted, usage), withUsage(part, usage))
              })
            }),
            // the guard, when the stream ends on its own
            Stream.concat(Stream.suspend(() => {
              const failed = finished ? undefined : failedResponse("streamText", undefined, errorPart)
              return failed === undefined ? Stream.empty : Stream.fail(failed)
            }))
          )
          // the bound of the call: its finish part within `timeout`
          const bounded = timeout === undefined
            ? parts
            : Stream.interruptWhen(parts, Effect.flatMap(Effect.sleep(timeout), () => timedOutStream))
          return GenAI.chatStream(
            withPrompt(info, options.prompt),
            Stream.mapError(bounded, intoSpan),
            (part: Response.StreamPart<any>) => {
              if (part.type !== "finish") return undefined
              const usage = braidOf(part)?.usage
              return usage === undefined ? undefined : describe(usage, part.reason, seenOf(seen, part, capture))
            }
          ).pipe(Stream.mapError(outOfSpan))
        }))
    )

  return {
    generateText: ((options: any) => generate("generateText", options)) as LanguageModelNs.Service["generateText"],
    generateObject:
      ((options: any) => generate("generateObject", options)) as LanguageModelNs.Service["generateObject"],
    streamText: streamText as LanguageModelNs.Service["streamText"]
  }
}

const promptOf = (input: Prompt.RawInput): Prompt.Prompt => {
  if (typeof input === "string") {
    return { content: [{ role: "user", content: [{ type: "text", text: input }] }] } as unknown as Prompt.Prompt
  }
  if ("content" in input && Array.isArray((input as Prompt.Prompt).content)) return input as Prompt.Prompt
  return { content: Array.from(input as Iterable<unknown>) } as unknown as Prompt.Prompt
}

/**
 * Wraps the `LanguageModel` of a layer; the result provides the wrapped `LanguageModel` and the
 * `Accounting` service (its report, `reset`).
 *
 * @example
 * ```ts
 * import { Accounting, AnthropicLanguageModel, Metered } from "@braid/llm"
 *
 * const Model = Metered.layer(AnthropicLanguageModel.layer(), {
 *   provider: "anthropic",
 *   defaultModel: "claude-sonnet-5-5",
 *   budgets: [{ scope: "run", limit: { usd: 0.5 }, warnAt: 0.8, onExceeded: { switchTo: "claude-haiku-5-5" } }]
 * })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = <E, R>(
  model: Layer.Layer<LanguageModelTag, E, R>,
  options: Options = {}
): Layer.Layer<LanguageModelTag | Accounting.Accounting, E, R> =>
  Layer.effectContext(Effect.gen(function*() {
    const inner = yield* LanguageModelTag
    const accounting = yield* Accounting.make(options)
    return Context.make(LanguageModelTag, wrap(inner, accounting, options)).pipe(
      Context.add(Accounting.Accounting, accounting)
    )
  })).pipe(Layer.provide(model))

/**
 * A metered `LanguageModel` of a Braid provider (its name and default model on the span).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Accounting, Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
 *
 * const report = Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
 *   Effect.zipRight(Accounting.report),
 *   Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider(), { budgets: [] }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromProvider = <E, R>(
  provider: Effect.Effect<Provider, E, R>,
  options: Options = {}
): Layer.Layer<LanguageModelTag | Accounting.Accounting, E, R> =>
  Layer.unwrapEffect(Effect.map(provider, (p) =>
    layer(Layer.effect(LanguageModelTag, serviceOf(p)), {
      provider: p.name,
      defaultModel: p.defaultModel,
      ...(p.baseUrl !== undefined ? { baseUrl: p.baseUrl } : {}),
      ...options
    })))
