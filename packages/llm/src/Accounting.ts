/**
 * Token and cost accounting, and budgets, for every model call: the books `Metered` keeps
 * (`Metered.layer` / `Metered.fromProvider` provide the `Accounting` service of its calls).
 *
 * - usage and cost as `Metered` measured and priced them (`braid.cost.usd` on the `chat {model}`
 *   span, the `braid.llm.cost` metric);
 * - running totals per run and per session (from `WorkflowContext`), per agent
 *   (`Ai.Settings.agent`) and per model;
 * - budgets per run or per session, in tokens or dollars. A budget is checked before each call:
 *   once spent reaches the limit, the next call fails with `BudgetExceeded` (nothing is sent), or
 *   with `onExceeded: { switchTo }` goes to the cheaper model instead. The call that crosses the
 *   limit completes and is accounted. Crossing `warnAt` (a fraction of the limit) once per run or
 *   session fires `onAlert` and adds the span event `braid.cost.alert`.
 *
 * @since 0.1.0
 */
import { WorkflowContext } from "@braid/core"
import { GenAI, Metrics } from "@braid/observability"
import { Clock, Context, Effect, Option } from "effect"
import { BudgetExceeded } from "./Errors.js"

/**
 * A call, as the budgets see it: the model it is for and the agent making it.
 *
 * @example
 * ```ts
 * import type { Accounting } from "@braid/llm"
 *
 * const call: Accounting.Call = { model: "claude-sonnet-5-5", agent: "coach" }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Call {
  readonly model: string
  readonly agent?: string | undefined
}

/**
 * One response, measured and priced (by `Metered`).
 *
 * @example
 * ```ts
 * import type { Accounting } from "@braid/llm"
 *
 * const m: Accounting.Measured = {
 *   model: "braid-scripted", inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0,
 *   estimated: true, costUsd: 0.00007, priced: true
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Measured {
  /** The model that answered. */
  readonly model: string
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
  readonly estimated: boolean
  readonly costUsd: number
  /** `false` for a model missing from the price table (counted at $0). */
  readonly priced: boolean
  /** Replayed from a durable journal: counted in `replays`, not in `calls` (no model was called). */
  readonly replayed?: boolean
}

/**
 * Running totals.
 *
 * @since 0.1.0
 * @category models
 */
export interface Totals {
  /** Model calls made (a response replayed from a durable journal is not a call: see `replays`). */
  readonly calls: number
  /** Responses replayed from a durable journal after a resume (no model called, no spend). */
  readonly replays: number
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
  /** All tokens: input + output + cache read + cache write. */
  readonly tokens: number
  readonly costUsd: number
  /** Calls whose usage was estimated. */
  readonly estimatedCalls: number
  /** Calls of models missing from the price table (counted at $0). */
  readonly unpricedCalls: number
}

/**
 * Totals overall and by run, session, agent and model.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly total: Totals
  readonly byRun: Readonly<Record<string, Totals>>
  readonly bySession: Readonly<Record<string, Totals>>
  readonly byAgent: Readonly<Record<string, Totals>>
  readonly byModel: Readonly<Record<string, Totals>>
}

/**
 * A spending limit.
 *
 * @since 0.1.0
 * @category models
 */
export interface Budget {
  readonly scope: "run" | "session"
  /** `{ tokens }` counts all tokens (input, output, cache); `{ usd }` counts dollars. */
  readonly limit: { readonly tokens: number } | { readonly usd: number }
  /** Fraction of the limit at which the cost alert fires (e.g. `0.8`). */
  readonly warnAt?: number
  /** Default `"fail"` (`BudgetExceeded`); `{ switchTo: "claude-haiku-5-5" }` continues on that model. */
  readonly onExceeded?: "fail" | { readonly switchTo: string }
}

/**
 * A cost alert: `spent` crossed `threshold` (= `warnAt` × `limit`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Alert {
  readonly scope: "run" | "session"
  readonly key: string
  readonly unit: "tokens" | "usd"
  readonly limit: number
  readonly threshold: number
  readonly spent: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly budgets?: ReadonlyArray<Budget>
  /** Called once per run/session and budget when the warning threshold is crossed. */
  readonly onAlert?: (alert: Alert) => Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Applies the budgets before a call: the call to make (maybe on a cheaper model), or `BudgetExceeded`. */
  readonly prepare: (call: Call) => Effect.Effect<Call, BudgetExceeded>
  /** Accounts a response (inside the call's span: annotates cost, may fire the alert). */
  readonly record: (call: Call, measured: Measured) => Effect.Effect<void>
  readonly report: Effect.Effect<Report>
  readonly reset: Effect.Effect<void>
}

/**
 * The accounting service.
 *
 * @example
 * ```ts
 * import assert from "node:assert"
 * import { Effect } from "effect"
 * import { Accounting, Ai, Metered, ScriptedLanguageModel } from "@braid/llm"
 *
 * const report = await Effect.runPromise(
 *   Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(
 *     Ai.withSettings({ agent: "coach" }),
 *     Effect.zipRight(Accounting.report),
 *     Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider()))
 *   )
 * )
 * assert.strictEqual(report.byAgent["coach"]?.calls, 1)
 * assert.ok(report.total.costUsd > 0)
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Accounting extends Context.Tag("@braid/llm/Accounting")<Accounting, Service>() {}

/**
 * Totals with nothing spent.
 *
 * @since 0.1.0
 * @category constants
 */
export const empty: Totals = {
  calls: 0,
  replays: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  tokens: 0,
  costUsd: 0,
  estimatedCalls: 0,
  unpricedCalls: 0
}

const add = (t: Totals, u: Measured, usd: number, priced: boolean): Totals => {
  return {
    calls: t.calls + (u.replayed === true ? 0 : 1),
    replays: t.replays + (u.replayed === true ? 1 : 0),
    inputTokens: t.inputTokens + u.inputTokens,
    outputTokens: t.outputTokens + u.outputTokens,
    cacheReadTokens: t.cacheReadTokens + u.cacheReadTokens,
    cacheWriteTokens: t.cacheWriteTokens + u.cacheWriteTokens,
    tokens: t.tokens + u.inputTokens + u.outputTokens + u.cacheReadTokens + u.cacheWriteTokens,
    costUsd: t.costUsd + usd,
    estimatedCalls: t.estimatedCalls + (u.estimated ? 1 : 0),
    unpricedCalls: t.unpricedCalls + (priced ? 0 : 1)
  }
}

/** Mutable totals, only touched inside `Effect.sync` blocks (atomic on the JS thread). */
interface State {
  total: Totals
  readonly byRun: Map<string, Totals>
  readonly bySession: Map<string, Totals>
  readonly byAgent: Map<string, Totals>
  readonly byModel: Map<string, Totals>
  /** `${budgetIndex}:${key}` of alerts already fired. */
  readonly alerted: Set<string>
}

const initial = (): State => ({
  total: empty,
  byRun: new Map(),
  bySession: new Map(),
  byAgent: new Map(),
  byModel: new Map(),
  alerted: new Set()
})

const bump = (
  m: Map<string, Totals>,
  key: string | undefined,
  response: Measured,
  usd: number,
  priced: boolean
): void => {
  if (key !== undefined) m.set(key, add(m.get(key) ?? empty, response, usd, priced))
}

/** Key of the scope for budgets when a call runs outside any run (no `WorkflowContext`). */
const noRun = "(no run)"

const scopeKey = (
  scope: "run" | "session",
  ctx: Option.Option<WorkflowContext.WorkflowContextShape>
): string | undefined => {
  if (Option.isNone(ctx)) return scope === "run" ? noRun : undefined
  return scope === "run" ? ctx.value.runId : ctx.value.sessionId
}

const spentOf = (budget: Budget, t: Totals | undefined): { spent: number; limit: number; unit: "tokens" | "usd" } =>
  "tokens" in budget.limit
    ? { spent: t?.tokens ?? 0, limit: budget.limit.tokens, unit: "tokens" }
    : { spent: t?.costUsd ?? 0, limit: budget.limit.usd, unit: "usd" }

const toRecord = (m: ReadonlyMap<string, Totals>): Record<string, Totals> => Object.fromEntries(m)

/**
 * Builds the accounting service.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Accounting } from "@braid/llm"
 *
 * const service = Accounting.make({ budgets: [{ scope: "run", limit: { usd: 0.5 }, warnAt: 0.8 }] })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.gen(function*() {
    let state = initial()
    const budgets = options.budgets ?? []

    const prepare = (request: Call): Effect.Effect<Call, BudgetExceeded> =>
      budgets.length === 0 ? Effect.succeed(request) : Effect.gen(function*() {
        const ctx = yield* Effect.serviceOption(WorkflowContext.WorkflowContext)
        const s = state
        let req = request
        for (const budget of budgets) {
          const key = scopeKey(budget.scope, ctx)
          if (key === undefined) continue
          const totals = (budget.scope === "run" ? s.byRun : s.bySession).get(key)
          const { limit, spent, unit } = spentOf(budget, totals)
          if (spent < limit) continue
          if (budget.onExceeded !== undefined && budget.onExceeded !== "fail") {
            if (req.model !== budget.onExceeded.switchTo) {
              yield* Effect.annotateCurrentSpan("braid.budget.switched_to", budget.onExceeded.switchTo)
              req = { ...req, model: budget.onExceeded.switchTo }
            }
            continue
          }
          const shown = unit === "usd" ? `$${spent.toFixed(4)} of $${limit}` : `${spent} of ${limit} tokens`
          return yield* Effect.fail(
            new BudgetExceeded({
              message: `${budget.scope} ${key} spent ${shown}`,
              scope: budget.scope,
              key,
              unit,
              limit,
              spent
            })
          )
        }
        return req
      })

    /** The alert's span event and metric, and the user's callback. */
    const alerted = (alert: Alert): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan("braid.cost.alert", true)
        yield* Effect.flatMap(Effect.option(Effect.currentSpan), (span) =>
          Option.isSome(span)
            ? Effect.map(Clock.currentTimeNanos, (now) =>
              span.value.event("braid.cost.alert", now, {
                "braid.budget.scope": alert.scope,
                "braid.budget.key": alert.key,
                "braid.budget.unit": alert.unit,
                "braid.budget.limit": alert.limit,
                "braid.budget.threshold": alert.threshold,
                "braid.budget.spent": alert.spent
              }))
            : Effect.void)
        yield* Metrics.recordBudgetAlert({ "braid.budget.scope": alert.scope })
        if (options.onAlert) yield* options.onAlert(alert)
      })

    // one step on the hot path: the totals are updated synchronously, then the cost annotated
    const record = (request: Call, response: Measured): Effect.Effect<void> =>
      Effect.withFiberRuntime((fiber) => {
        const usd = response.costUsd
        const ctx = Context.getOption(fiber.currentContext, WorkflowContext.WorkflowContext)
        const runId = Option.isSome(ctx) ? ctx.value.runId : undefined
        const sessionId = Option.isSome(ctx) ? ctx.value.sessionId : undefined
        const agent = request.agent
        const alerts: Array<Alert> = []
        const s = state
        const priced = response.priced
        s.total = add(s.total, response, usd, priced)
        bump(s.byRun, runId ?? (budgets.length > 0 ? noRun : undefined), response, usd, priced)
        bump(s.bySession, sessionId, response, usd, priced)
        bump(s.byAgent, agent, response, usd, priced)
        bump(s.byModel, response.model, response, usd, priced)
        budgets.forEach((budget, i) => {
          if (budget.warnAt === undefined) return
          const key = scopeKey(budget.scope, ctx)
          if (key === undefined || s.alerted.has(`${i}:${key}`)) return
          const { limit, spent, unit } = spentOf(budget, (budget.scope === "run" ? s.byRun : s.bySession).get(key))
          const threshold = budget.warnAt * limit
          if (spent >= threshold) {
            s.alerted.add(`${i}:${key}`)
            alerts.push({ scope: budget.scope, key, unit, limit, threshold, spent })
          }
        })
        const cost = GenAI.annotateCost(usd, { model: response.model, agent })
        return alerts.length === 0 ? cost : Effect.zipRight(cost, Effect.forEach(alerts, alerted, { discard: true }))
      })

    return {
      prepare,
      record,
      report: Effect.sync(() => ({
        total: state.total,
        byRun: toRecord(state.byRun),
        bySession: toRecord(state.bySession),
        byAgent: toRecord(state.byAgent),
        byModel: toRecord(state.byModel)
      })),
      reset: Effect.sync(() => {
        state = initial()
      })
    }
  })

/**
 * The totals so far.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Accounting } from "@braid/llm"
 *
 * const total = Effect.map(Accounting.report, (r) => r.total.costUsd)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const report: Effect.Effect<Report, never, Accounting> = Effect.flatMap(Accounting, (a) => a.report)

/**
 * A short text report (totals, then per agent and per model).
 *
 * @example
 * ```ts
 * import { Accounting } from "@braid/llm"
 *
 * const text = Accounting.format({ total: Accounting.empty, byRun: {}, bySession: {}, byAgent: {}, byModel: {} })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (r: Report): string => {
  const row = (name: string, t: Totals) =>
    `${name.padEnd(24)} ${String(t.calls).padStart(5)} calls ${
      String(t.inputTokens + t.cacheReadTokens + t.cacheWriteTokens).padStart(8)
    } in ${String(t.outputTokens).padStart(7)} out  $${t.costUsd.toFixed(6)}${
      t.estimatedCalls > 0 ? "  (estimated)" : ""
    }${t.replays > 0 ? `  (+${t.replays} replayed)` : ""}`
  const lines = [row("total", r.total)]
  for (const [k, t] of Object.entries(r.byAgent)) lines.push(row(`agent ${k}`, t))
  for (const [k, t] of Object.entries(r.byModel)) lines.push(row(`model ${k}`, t))
  return lines.join("\n")
}
