/**
 * Parallel coordination: run several agents (any primitives) on the same task and combine their
 * answers with a strategy: `all`, `first`, `quorum(k)`, `vote`, `consensus`.
 *
 * Every branch runs through core's instrumentation (its own span under the `coordinate` span);
 * branches that are no longer needed are really interrupted (their finalizers run). Every branch
 * ends with an outcome (`succeeded`, `failed`, `interrupted`, `timed-out`, with a reason): the
 * result carries all of them, and a strategy that cannot be satisfied fails with
 * `CoordinationFailed`, which carries all of them too.
 *
 * @since 0.1.0
 */
import { Instrumentation, Primitive } from "@braid/core"
import type { Errors as LlmErrors } from "@braid/llm"
import { Ai, AiErrors, Metered } from "@braid/llm"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, Queue, Schema } from "effect"
import { decodeStructured } from "./Agent.js"
import type { BranchOutcome } from "./Errors.js"
import { CoordinationFailed } from "./Errors.js"

/**
 * The outcome of one branch, with its typed value.
 *
 * @category models
 * @since 0.1.0
 */
export interface Outcome<A> extends BranchOutcome {
  readonly value?: A
}

/**
 * A strategy: how many successes it needs, whether it stops as soon as it has them, and how it
 * turns the outcomes into its result. Build one with `all`, `first`, `quorum`, `vote` or
 * `consensus`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Strategy<in A, out Out, out E = never, out R = never> {
  readonly name: string
  /** The successful branches needed, given the number of branches. */
  readonly required: (branches: number) => number
  /** Stop (and interrupt the rest) as soon as `required` branches have succeeded. */
  readonly stopEarly: boolean
  readonly decide: (
    outcomes: ReadonlyArray<Outcome<A>>,
    completionOrder: ReadonlyArray<number>
  ) => Effect.Effect<Out, CoordinationFailed | E, R>
}

/**
 * Per-branch limits.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Each branch gets at most this long; after it, the branch's outcome is `timed-out`. */
  readonly timeout?: Duration.DurationInput
  /**
   * A per-branch budget on language-model usage, kept by `Metered` (`Metered.withBudget`, named
   * after the branch): once a branch's model calls have spent it, its next call fails with
   * `BudgetExceeded` and the branch's outcome is `failed` with reason "budget exceeded: ...".
   * It counts the calls of a `Metered` model only (plain primitives do not report usage).
   */
  readonly budget?: Metered.Limit
  /** The name of the coordination primitive (default `coordinate(<strategy>)`). */
  readonly name?: string
}

const fail = (strategy: string, required: number, reason: string, outcomes: ReadonlyArray<BranchOutcome>) =>
  new CoordinationFailed({ strategy, required, reason, outcomes })

const succeededOf = <A>(outcomes: ReadonlyArray<Outcome<A>>) => outcomes.filter((o) => o.status === "succeeded")

// ---------------------------------------------------------------------------------------------
// strategies
// ---------------------------------------------------------------------------------------------

/**
 * The result of `all`.
 *
 * @category models
 * @since 0.1.0
 */
export interface AllResult<A> {
  readonly strategy: "all"
  /** Every branch's value, in the order of the agents. */
  readonly values: ReadonlyArray<A>
  readonly outcomes: ReadonlyArray<Outcome<A>>
}

/**
 * Every branch must succeed; the result holds every value, in agent order. The first failure
 * makes it unsatisfiable: the other branches are interrupted and it fails with `CoordinationFailed`.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const a = Primitive.sync("a", (t: string) => t.length)
 * const b = Primitive.sync("b", (t: string) => t.split(" ").length)
 * const both = Coordination.coordinate([a, b], Coordination.all())
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const all = <A>(): Strategy<A, AllResult<A>> => ({
  name: "all",
  required: (n) => n,
  stopEarly: true,
  decide: (outcomes) => Effect.succeed({ strategy: "all", values: outcomes.map((o) => o.value as A), outcomes })
})

/**
 * The result of `first`.
 *
 * @category models
 * @since 0.1.0
 */
export interface FirstResult<A> {
  readonly strategy: "first"
  readonly winner: string
  readonly value: A
  readonly outcomes: ReadonlyArray<Outcome<A>>
}

/**
 * The first branch to succeed wins; the others are interrupted. Fails with `CoordinationFailed`
 * only when every branch failed or timed out.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const fast = Primitive.sync("fast", (q: string) => `fast: ${q}`)
 * const fastest = Coordination.coordinate([fast], Coordination.first())
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const first = <A>(): Strategy<A, FirstResult<A>> => ({
  name: "first",
  required: () => 1,
  stopEarly: true,
  decide: (outcomes, order) => {
    const i = order.find((j) => outcomes[j]!.status === "succeeded")!
    const o = outcomes[i]!
    return Effect.succeed({ strategy: "first", winner: o.agent, value: o.value as A, outcomes })
  }
})

/**
 * The result of `quorum`.
 *
 * @category models
 * @since 0.1.0
 */
export interface QuorumResult<A> {
  readonly strategy: "quorum"
  readonly required: number
  /** The first `k` values, in the order they arrived. */
  readonly values: ReadonlyArray<{ readonly agent: string; readonly value: A }>
  readonly outcomes: ReadonlyArray<Outcome<A>>
}

/**
 * Done as soon as `k` branches succeed; the rest are interrupted. Unsatisfiable (and failed with
 * `CoordinationFailed`) as soon as more than `n - k` branches failed or timed out.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const reviewers = ["r1", "r2", "r3"].map((n) => Primitive.sync(n, (doc: string) => `${n} approves ${doc}`))
 * const twoOfThree = Coordination.coordinate(reviewers, Coordination.quorum(2))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const quorum = <A>(k: number): Strategy<A, QuorumResult<A>> => {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`quorum: k must be a positive integer, got ${k}`)
  return {
    name: `quorum(${k})`,
    required: () => k,
    stopEarly: true,
    decide: (outcomes, order) =>
      Effect.succeed({
        strategy: "quorum",
        required: k,
        values: order.filter((i) => outcomes[i]!.status === "succeeded").slice(0, k).map((i) => ({
          agent: outcomes[i]!.agent,
          value: outcomes[i]!.value as A
        })),
        outcomes
      })
  }
}

/**
 * One candidate of a vote.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tally<A> {
  readonly key: string
  /** The ballot of the first agent (in agent order) that voted for this candidate. */
  readonly ballot: A
  readonly weight: number
  readonly voters: ReadonlyArray<string>
}

/**
 * How a tie for first place is broken: `"fail"` (a `CoordinationFailed`), `"first"` (the tied
 * candidate whose first voter comes first in agent order), `"heaviest-voter"` (the candidate
 * with the single heaviest voter, then agent order), or a function choosing one tied key.
 *
 * @category models
 * @since 0.1.0
 */
export type TieBreak<A> = "fail" | "first" | "heaviest-voter" | ((tied: ReadonlyArray<Tally<A>>) => string)

/**
 * @category models
 * @since 0.1.0
 */
export interface VoteOptions<A> {
  /** The candidate a ballot is for (default: the ballot itself if it is a string, else its JSON). */
  readonly key?: (ballot: A) => string
  /** Weights by agent name (default 1 each). */
  readonly weights?: Readonly<Record<string, number>>
  /**
   * `"majority"` (default): the winner needs more than half of the weight cast (exactly half when
   * the tie-break chose it); `"plurality"`: the heaviest candidate wins.
   */
  readonly rule?: "majority" | "plurality"
  /** Default `"fail"`. */
  readonly tieBreak?: TieBreak<A>
  /** The fewest ballots for a valid vote (default 1). */
  readonly minBallots?: number
}

/**
 * The result of `vote`.
 *
 * @category models
 * @since 0.1.0
 */
export interface VoteResult<A> {
  readonly strategy: "vote"
  readonly winner: A
  readonly key: string
  readonly weight: number
  readonly totalWeight: number
  /** Candidates, heaviest first. */
  readonly tally: ReadonlyArray<Tally<A>>
  readonly tieBroken: boolean
  readonly outcomes: ReadonlyArray<Outcome<A>>
}

const defaultKey = (a: unknown): string => typeof a === "string" ? a : JSON.stringify(a)

/**
 * Each agent returns a typed ballot; every branch runs (or times out), then the ballots are
 * counted by candidate key, weighted by agent. Fails with `CoordinationFailed` when there are too
 * few ballots, no majority, or a tie that the tie-break rule does not resolve.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const judges = ["j1", "j2", "j3"].map((n, i) => Primitive.sync(n, (_: string) => (i === 2 ? "no" : "yes")))
 * const decision = Coordination.coordinate(judges, Coordination.vote<string>({ weights: { j3: 1.5 }, tieBreak: "first" }))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const vote = <A>(options: VoteOptions<A> = {}): Strategy<A, VoteResult<A>> => {
  const keyOf = options.key ?? defaultKey
  const rule = options.rule ?? "majority"
  const tieBreak = options.tieBreak ?? "fail"
  const minBallots = options.minBallots ?? 1
  const name = `vote(${rule})`
  return {
    name,
    required: (n) => Math.min(minBallots, n),
    stopEarly: false,
    decide: (outcomes) =>
      Effect.suspend(() => {
        const byKey = new Map<
          string,
          { key: string; ballot: A; weight: number; voters: Array<string>; heaviest: number; firstIndex: number }
        >()
        let total = 0
        for (const o of succeededOf(outcomes)) {
          const ballot = o.value as A
          const key = keyOf(ballot)
          const w = options.weights?.[o.agent] ?? 1
          total += w
          const entry = byKey.get(key)
          if (entry === undefined) {
            byKey.set(key, { key, ballot, weight: w, voters: [o.agent], heaviest: w, firstIndex: o.index })
          } else {
            entry.weight += w
            entry.voters.push(o.agent)
            entry.heaviest = Math.max(entry.heaviest, w)
          }
        }
        const entries = [...byKey.values()].sort((x, y) => y.weight - x.weight || x.firstIndex - y.firstIndex)
        const tally: Array<Tally<A>> = entries.map(({ ballot, key, voters, weight }) => ({
          key,
          ballot,
          weight,
          voters
        }))
        const top = entries.filter((e) => e.weight === entries[0]!.weight)
        let winner = entries[0]!
        let tieBroken = false
        if (top.length > 1) {
          tieBroken = true
          if (tieBreak === "fail") {
            return Effect.fail(fail(
              name,
              minBallots,
              `tie between ${top.map((t) => t.key).join(", ")}`,
              outcomes
            ))
          } else if (tieBreak === "first") {
            winner = top.reduce((a, b) => (b.firstIndex < a.firstIndex ? b : a))
          } else if (tieBreak === "heaviest-voter") {
            winner = top.reduce((
              a,
              b
            ) => (b.heaviest > a.heaviest || (b.heaviest === a.heaviest && b.firstIndex < a.firstIndex) ? b : a))
          } else {
            const chosen = tieBreak(top.map(({ ballot, key, voters, weight }) => ({ key, ballot, weight, voters })))
            const found = top.find((t) => t.key === chosen)
            if (found === undefined) {
              return Effect.fail(
                fail(name, minBallots, `tie-break chose "${chosen}", which is not one of the tied candidates`, outcomes)
              )
            }
            winner = found
          }
        }
        if (rule === "majority") {
          const enough = tieBroken ? winner.weight * 2 >= total : winner.weight * 2 > total
          if (!enough) {
            return Effect.fail(
              fail(name, minBallots, `no majority: "${winner.key}" has ${winner.weight} of ${total}`, outcomes)
            )
          }
        }
        return Effect.succeed<VoteResult<A>>({
          strategy: "vote",
          winner: winner.ballot,
          key: winner.key,
          weight: winner.weight,
          totalWeight: total,
          tally,
          tieBroken,
          outcomes
        })
      })
  }
}

/**
 * What a consensus judge is asked: every successful answer, by agent.
 *
 * @category models
 * @since 0.1.0
 */
export type JudgeInput<A> = ReadonlyArray<{ readonly agent: string; readonly value: A }>

/**
 * A judge's verdict: which agents agree with each other (the majority position).
 *
 * @category models
 * @since 0.1.0
 */
export interface JudgeVerdict {
  readonly agreeing: ReadonlyArray<string>
}

/**
 * @category models
 * @since 0.1.0
 */
export type ConsensusOptions<A, EJ, RJ> =
  & {
    /**
     * The least agreement accepted, as a fraction of all branches (failed and timed-out ones count
     * as not agreeing). Default: more than half.
     */
    readonly minAgreement?: number
  }
  & (
    | {
      /** Two answers agree when this holds (an equivalence: reflexive, symmetric, transitive). */
      readonly equivalent: (a: A, b: A) => boolean
    }
    | {
      /** A judge (a model-backed agent, see `modelJudge`) that says which agents agree. */
      readonly judge: Primitive.Primitive<JudgeInput<A>, JudgeVerdict, EJ, RJ>
    }
  )

/**
 * The result of `consensus`.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConsensusResult<A> {
  readonly strategy: "consensus"
  /** The agreed value (the answer of the first agreeing agent). */
  readonly value: A
  /** Agreeing branches / all branches, in [0, 1]. */
  readonly agreement: number
  readonly agreeing: ReadonlyArray<string>
  /** Agents that answered but disagreed. (Failed or timed-out agents are in `outcomes`.) */
  readonly dissenters: ReadonlyArray<string>
  readonly outcomes: ReadonlyArray<Outcome<A>>
}

/**
 * Every branch runs; the answers are grouped by a user-supplied equivalence (the largest group
 * wins, ties to the group whose first member comes first), or a judge says which agents agree.
 * Fails with `CoordinationFailed` when the agreement is below `minAgreement`.
 *
 * @example
 * ```ts
 * import { Primitive } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const estimators = [10, 11, 30].map((n, i) => Primitive.sync(`e${i}`, (_: string) => n))
 * const agreed = Coordination.coordinate(
 *   estimators,
 *   Coordination.consensus<number>({ equivalent: (a, b) => Math.abs(a - b) <= 2 })
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const consensus = <A, EJ = never, RJ = never>(
  options: ConsensusOptions<A, EJ, RJ>
): Strategy<A, ConsensusResult<A>, EJ, RJ> => {
  const name = "judge" in options ? "consensus(judge)" : "consensus"
  const accept = (agreeing: number, n: number) =>
    options.minAgreement === undefined ? agreeing * 2 > n : agreeing / n >= options.minAgreement
  return {
    name,
    required: () => 1,
    stopEarly: false,
    decide: (outcomes) =>
      Effect.gen(function*() {
        const ok = succeededOf(outcomes)
        let agreeing: Array<Outcome<A>>
        if ("judge" in options) {
          const verdict = yield* options.judge.invoke(ok.map((o) => ({ agent: o.agent, value: o.value as A })))
          const names = new Set(verdict.agreeing)
          agreeing = ok.filter((o) => names.has(o.agent))
        } else {
          const groups: Array<Array<Outcome<A>>> = []
          for (const o of ok) {
            const g = groups.find((group) => options.equivalent(group[0]!.value as A, o.value as A))
            if (g === undefined) groups.push([o])
            else g.push(o)
          }
          agreeing = groups.reduce((best, g) => (g.length > best.length ? g : best), [] as Array<Outcome<A>>)
        }
        const n = outcomes.length
        if (agreeing.length === 0 || !accept(agreeing.length, n)) {
          return yield* Effect.fail(
            fail(name, 1, `no consensus: ${agreeing.length} of ${n} branches agree`, outcomes)
          )
        }
        const agreeingNames = agreeing.map((o) => o.agent)
        const result: ConsensusResult<A> = {
          strategy: "consensus",
          value: agreeing[0]!.value as A,
          agreement: agreeing.length / n,
          agreeing: agreeingNames,
          dissenters: ok.filter((o) => !agreeing.includes(o)).map((o) => o.agent),
          outcomes
        }
        return result
      })
  }
}

const Agreeing = Schema.Struct({ agreeing: Schema.Array(Schema.Unknown) })

/**
 * A consensus judge backed by the `LanguageModel` in context: the model is shown every answer
 * and asked which agents agree with the majority position; it must answer with JSON
 * `{"agreeing": ["agent", ...]}` (unknown names are ignored; an answer that is not such JSON
 * counts as no agreement).
 *
 * @example
 * ```ts
 * import { Coordination } from "@braid/agents"
 *
 * const judge = Coordination.modelJudge<string>({ question: "Do these answers give the same capital?" })
 * const strategy = Coordination.consensus<string, Coordination.ModelJudgeError, Coordination.ModelJudgeContext>({ judge })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const modelJudge = <A>(options: {
  readonly question?: string
  readonly render?: (value: A) => string
  readonly model?: string
} = {}): Primitive.Primitive<JudgeInput<A>, JudgeVerdict, ModelJudgeError, ModelJudgeContext> =>
  Primitive.make(
    "consensusJudge",
    (answers: JudgeInput<A>) =>
      Effect.gen(function*() {
        const render = options.render ?? defaultKey
        const prompt = [
          options.question ?? "Which of these answers agree with each other (the majority position)?",
          ...answers.map((a) => `- ${a.agent}: ${render(a.value)}`),
          `Reply with JSON only: {"agreeing": [names of the agents that agree]}`
        ].join("\n")
        const response = yield* Ai.LanguageModel.generateText({ prompt }).pipe(
          Ai.withSettings({
            agent: "consensusJudge",
            ...(options.model !== undefined ? { model: options.model } : {})
          }),
          AiErrors.mapToModelError
        )
        // Lenient on purpose: a reply without a usable list means nobody is known to agree.
        const agreeing = yield* decodeStructured("consensusJudge", Agreeing, response.text).pipe(
          Effect.map((parsed) => parsed.agreeing.filter((x): x is string => typeof x === "string")),
          Effect.orElseSucceed((): ReadonlyArray<string> => [])
        )
        yield* Instrumentation.annotate({ "braid.consensus.agreeing": agreeing.length })
        return { agreeing }
      }),
    { kind: "judge" }
  )

/**
 * @since 0.1.0
 * @category errors
 */
export type ModelJudgeError = LlmErrors.ModelError
/**
 * @since 0.1.0
 * @category models
 */
export type ModelJudgeContext = Ai.LanguageModel.LanguageModel

// ---------------------------------------------------------------------------------------------
// the engine
// ---------------------------------------------------------------------------------------------

const describeCause = (cause: Cause.Cause<unknown>): { error: unknown; reason: string } => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    // A Braid error carried by an AiError (e.g. a budget refusing a model call) is shown as itself.
    const e = AiErrors.isCarrying(failure.value) ? failure.value.modelError : failure.value
    const tag = typeof e === "object" && e !== null && "_tag" in e ? String((e as { _tag: unknown })._tag) : undefined
    const msg = e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e)
    return { error: e, reason: `failed${tag ? ` with ${tag}` : ""}: ${msg}` }
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    const d = defect.value
    return { error: d, reason: `defect: ${d instanceof Error ? d.message : String(d)}` }
  }
  return { error: undefined, reason: "interrupted from within the branch" }
}

type Settled = { readonly index: number; readonly outcome: Outcome<unknown> }

/**
 * Runs `agents` in parallel on the same input and combines them with `strategy`. The result is
 * a primitive (kind `coordinate`) whose children are the agents, so each branch is its own span.
 *
 * Losing branches are interrupted (their finalizers run) and recorded as `interrupted` with the
 * reason; per-branch `timeout` and `budget` limit each branch. When the strategy cannot be
 * satisfied it fails with `CoordinationFailed` carrying every branch's outcome.
 *
 * Telemetry: attributes `braid.coordination.strategy`, `.branches`, `.required`, `.succeeded`,
 * `.failed`, `.interrupted`, `.timed_out` and one `coordination.branch` event per branch.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Primitive, Runner } from "@braid/core"
 * import { Coordination } from "@braid/agents"
 *
 * const slow = Primitive.make("slow", (q: string) => Effect.as(Effect.sleep("1 second"), `slow: ${q}`))
 * const fast = Primitive.sync("fast", (q: string) => `fast: ${q}`)
 * const race = Coordination.coordinate([slow, fast], Coordination.first(), { timeout: "5 seconds" })
 * const result = await Effect.runPromise(Runner.run(race, "hi"))
 * // result.winner === "fast"; result.outcomes[0].status === "interrupted"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const coordinate = <const Agents extends ReadonlyArray<Primitive.Any>, Out, E2 = never, R2 = never>(
  agents: Agents,
  strategy: Strategy<Primitive.Output<Agents[number]>, Out, E2, R2>,
  options: Options = {}
): Primitive.Primitive<InputOf<Agents[number]>, Out, CoordinationFailed | E2, Primitive.Context<Agents[number]> | R2> =>
  coordinateImpl(agents as ReadonlyArray<Primitive.Primitive<any, any, any, any>>, strategy, options)

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never

/**
 * The input every agent of a union accepts (the intersection of their inputs).
 *
 * @category models
 * @since 0.1.0
 */
export type InputOf<P> =
  UnionToIntersection<P extends Primitive.Primitive<infer I, any, any, any> ? { readonly _: I } : never> extends
    { readonly _: infer I } ? I : never

const coordinateImpl = <In, A, E, R, Out, E2, R2>(
  agents: ReadonlyArray<Primitive.Primitive<In, A, E, R>>,
  strategy: Strategy<A, Out, E2, R2>,
  options: Options
): Primitive.Primitive<In, Out, CoordinationFailed | E2, R | R2> => {
  if (agents.length === 0) throw new RangeError("coordinate needs at least one agent")
  const n = agents.length
  const required = strategy.required(n)
  if (required > n) {
    throw new RangeError(`coordinate(${strategy.name}): needs ${required} successes but has only ${n} agents`)
  }
  const timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
  const budget = options.budget
  const children = agents.map((primitive, i) => ({
    key: agents.findIndex((p) => p.name === primitive.name) === i ? primitive.name : `${primitive.name}(${i})`,
    primitive
  }))

  const runBranch = (index: number, input: In): Effect.Effect<Outcome<A>, never, R> =>
    Effect.gen(function*() {
      const agent = agents[index]!
      const start = yield* Clock.currentTimeMillis
      const elapsed = Effect.map(Clock.currentTimeMillis, (now) => now - start)
      const invoked: Effect.Effect<A, E, R> = Primitive.invokeAt(agent, input, children[index]!.key)
      const body = budget === undefined ? invoked : Metered.withBudget(invoked, budget, { name: children[index]!.key })
      const timed = timeout === undefined
        ? Effect.map(Effect.exit(body), Option.some)
        : Effect.timeoutOption(Effect.exit(body), timeout)
      const result = yield* timed
      const durationMillis = yield* elapsed
      const base = { agent: agent.name, index, durationMillis }
      if (Option.isNone(result)) {
        return { ...base, status: "timed-out", reason: `no answer within ${Duration.format(timeout!)}` } as Outcome<A>
      }
      const exit = result.value
      if (Exit.isSuccess(exit)) {
        return { ...base, status: "succeeded", value: exit.value, reason: "answered" } as Outcome<A>
      }
      const { error, reason } = describeCause(exit.cause)
      if (Cause.isInterruptedOnly(exit.cause)) {
        return { ...base, status: "interrupted", reason } as Outcome<A>
      }
      return { ...base, status: "failed", error, reason } as Outcome<A>
    })

  return Primitive.make(
    options.name ?? `coordinate(${strategy.name})`,
    (input: In) =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const queue = yield* Queue.unbounded<Settled>()
        const fibers = yield* Effect.forEach(agents, (_, index) =>
          Effect.fork(Effect.flatMap(runBranch(index, input), (outcome) =>
            Queue.offer(queue, { index, outcome }))))
        const outcomes: Array<Outcome<A> | undefined> = new Array(n).fill(undefined)
        const order: Array<number> = []
        let successes = 0
        let failures = 0
        let stopReason: string | undefined
        while (order.length < n) {
          const { index, outcome } = yield* Queue.take(queue)
          outcomes[index] = outcome as Outcome<A>
          order.push(index)
          if (outcome.status === "succeeded") {
            successes++
          } else failures++
          if (strategy.stopEarly && successes >= required) {
            stopReason = `${strategy.name} satisfied: ${successes} of ${n} succeeded`
            break
          }
          if (failures > n - required) {
            stopReason = `${strategy.name} unsatisfiable: ${failures} of ${n} did not succeed, ${required} needed`
            break
          }
        }
        // Interrupt what is still running; a branch that finished meanwhile keeps its real outcome.
        const now = yield* Clock.currentTimeMillis
        for (let i = 0; i < n; i++) {
          if (outcomes[i] !== undefined) {
            continue
          }
          yield* Fiber.interrupt(fibers[i]!)
          const late = yield* Queue.poll(queue)
          if (Option.isSome(late)) {
            outcomes[late.value.index] = late.value.outcome as Outcome<A>
            order.push(late.value.index)
          }
          if (outcomes[i] === undefined) {
            outcomes[i] = {
              agent: agents[i]!.name,
              index: i,
              status: "interrupted",
              reason: `stopped: ${stopReason ?? "coordination ended"}`,
              durationMillis: now - start
            }
            order.push(i)
          }
        }
        const final = outcomes as Array<Outcome<A>>
        const count = (s: BranchOutcome["status"]) =>
          final.filter((o) => o.status === s).length
        yield* Instrumentation.annotate({
          "braid.coordination.strategy": strategy.name,
          "braid.coordination.branches": n,
          "braid.coordination.required": required,
          "braid.coordination.succeeded": count("succeeded"),
          "braid.coordination.failed": count("failed"),
          "braid.coordination.interrupted": count("interrupted"),
          "braid.coordination.timed_out": count("timed-out")
        })
        for (const o of final) {
          yield* Instrumentation.event("coordination.branch", { agent: o.agent, status: o.status, reason: o.reason })
        }
        if (final.filter((o) => o.status === "succeeded").length < required) {
          return yield* Effect.fail(
            fail(
              strategy.name,
              required,
              stopReason ?? `only ${successes} of ${n} succeeded, ${required} needed`,
              final
            )
          )
        }
        return yield* strategy.decide(final, order)
      }),
    {
      kind: "coordinate",
      children,
      meta: {
        strategy: strategy.name,
        required,
        ...(timeout !== undefined ? { timeout: Duration.format(timeout) } : {}),
        ...(budget !== undefined && "tokens" in budget ? { maxTokens: budget.tokens } : {}),
        ...(budget !== undefined && "usd" in budget ? { maxCostUsd: budget.usd } : {})
      }
    }
  )
}
