/**
 * Handoff: one agent transfers control and context to another.
 *
 * `handoff(from, to, options)` is itself an agent-like primitive (kind "handoff", from a
 * `Conversation` to a `Reply`), so handoffs nest and take policies like any step. It runs `from`,
 * then, unless `when` says otherwise, transfers to the target with
 * - a typed payload (Schema), validated on transfer (`HandoffPayloadError` names the bad field;
 *   a payload that decodes but has no lossless JSON form, such as a BigInt or a cycle, is a
 *   `HandoffPayloadError` too, naming the path),
 * - the history, filtered by a `History` transform, plus a note saying who handed off and why,
 * - one of three strategies: `"immediate"` (the target runs now), `"queued"` (the task waits in
 *   the target's inbox until the target is free: one task at a time, first come first served),
 *   or `conditional(...)` (a typed predicate or a model decision picks the target among
 *   candidates, with a default).
 * The target may hand back (`returnToCaller`): the caller then runs again with the target's
 * answer. Every transfer is recorded in the run's state (`Handoff.chain`: who, to whom, why,
 * when) and on the handoff's span (`braid.handoff.from/.to/.reason/.payload_bytes/.strategy`).
 *
 * @since 0.1.0
 */
import { Instrumentation, Json, Primitive, State, WorkflowContext } from "@braid/core"
import type { Errors as LlmErrors } from "@braid/llm"
import { Ai, AiErrors } from "@braid/llm"
import { Clock, Context, Deferred, Effect, Either, Exit, FiberId, Option, ParseResult, Ref, Schema } from "effect"
import type { Any as AnyAgent, Conversation, HandoffTool, Message, Reply } from "./Agent.js"
import { nameOf } from "./Agent.js"
import { HandoffPayloadError, UnknownHandoffTarget } from "./Errors.js"
import type { Transform } from "./History.js"

/**
 * One transfer of control, as kept in the run's handoff chain.
 *
 * @example
 * ```ts
 * import type { Handoff } from "@braid/agents"
 *
 * const line = (r: Handoff.Record) => `${r.from} -> ${r.to} (${r.strategy}): ${r.reason}`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Record {
  readonly from: string
  readonly to: string
  readonly reason: string
  /** Epoch ms (Effect's Clock). */
  readonly at: number
  /** `"tool"`: the model called the handoff offered to it as a tool (`Handoff.tool`). */
  readonly strategy: "immediate" | "queued" | "conditional" | "return" | "tool"
  readonly payloadBytes: number
}

/**
 * The state key of the handoff chain of a run.
 *
 * @example
 * ```ts
 * import { State } from "@braid/core"
 * import { Handoff } from "@braid/agents"
 *
 * const records = State.get(Handoff.Chain)
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const Chain: State.Key<ReadonlyArray<Record>> = State.key<ReadonlyArray<Record>>("braid.handoff.chain", [])

/**
 * The handoffs of the current run so far, oldest first.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Handoff } from "@braid/agents"
 *
 * const who = Effect.map(Handoff.chain, (records) => records.map((r) => `${r.from}->${r.to}`))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const chain: Effect.Effect<ReadonlyArray<Record>, never, WorkflowContext.WorkflowContext> = State.get(Chain)

/**
 * What a target agent receives in `conversation.context.handoff`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Received {
  readonly from: string
  readonly reason: string
  readonly payload: unknown
}

/**
 * The handoff a conversation arrived with, if any.
 *
 * @example
 * ```ts
 * import { Agent, Handoff } from "@braid/agents"
 *
 * const billing = Agent.make({
 *   name: "billing",
 *   instructions: (c) => `You handle invoices. Ticket: ${JSON.stringify(Handoff.received(c)?.payload)}`
 * })
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const received = (conversation: Conversation): Received | undefined =>
  conversation.context?.["handoff"] as Received | undefined

// ---------------------------------------------------------------------------------------------
// Inboxes (the queued strategy)
// ---------------------------------------------------------------------------------------------

interface Inbox {
  /** The completion signal of the last task that entered: each task waits for its predecessor. */
  readonly tail: Ref.Ref<Deferred.Deferred<void>>
  /** Tasks waiting or running. */
  readonly size: Ref.Ref<number>
}

/**
 * The inboxes of agents, by agent name: each is a first-in-first-out queue of handoff tasks of
 * which one runs at a time.
 *
 * @category models
 * @since 0.1.0
 */
export interface InboxesShape {
  readonly inbox: (agent: string) => Effect.Effect<Inbox>
}

/**
 * Makes a registry of inboxes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Handoff } from "@braid/agents"
 *
 * const isolated = <A, E, R>(self: Effect.Effect<A, E, R>) =>
 *   Effect.provideService(self, Handoff.Inboxes, Handoff.makeInboxes())
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeInboxes = (): InboxesShape => {
  const inboxes = new Map<string, Inbox>()
  return {
    inbox: (agent) =>
      Effect.suspend(() => {
        const found = inboxes.get(agent)
        if (found !== undefined) return Effect.succeed(found)
        const done = Deferred.unsafeMake<void>(FiberId.none)
        Deferred.unsafeDone(done, Exit.void)
        const inbox: Inbox = { tail: Ref.unsafeMake(done), size: Ref.unsafeMake(0) }
        inboxes.set(agent, inbox)
        return Effect.succeed(inbox)
      })
  }
}

/**
 * The inbox registry. By default one per process (an agent name is one agent); provide your own
 * with `makeInboxes` to isolate, e.g. in tests.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Handoff } from "@braid/agents"
 *
 * const backlog = Effect.flatMap(Handoff.Inboxes, (registry) => registry.inbox("billing"))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Inboxes extends Context.Reference<Inboxes>()("@braid/agents/Handoff/Inboxes", {
  defaultValue: makeInboxes
}) {}

/**
 * How many tasks are waiting in, or running from, an agent's inbox.
 *
 * @example
 * ```ts
 * import { Handoff } from "@braid/agents"
 *
 * const backlog = Handoff.pending("billing")
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const pending = (agent: string): Effect.Effect<number> =>
  Effect.flatMap(Inboxes, (i) => Effect.flatMap(i.inbox(agent), (box) => Ref.get(box.size)))

/**
 * Runs `task` through an agent's inbox: it starts when every task that entered before it is done.
 */
const throughInbox = <A, E, R>(agent: string, task: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Inboxes,
    (registry) =>
      Effect.flatMap(registry.inbox(agent), (box) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            const mine = yield* Deferred.make<void>()
            const previous = yield* Ref.getAndSet(box.tail, mine)
            yield* Ref.update(box.size, (n) => n + 1)
            // When this task ends (done, failed, or interrupted while still waiting), the next one
            // may start once this task's predecessor is done too: `mine` completes with "wait for
            // the previous one", which is immediate unless this task never got its turn.
            return yield* restore(Effect.zipRight(Deferred.await(previous), task)).pipe(
              Effect.ensuring(Effect.zipRight(
                Ref.update(box.size, (n) => n - 1),
                Deferred.completeWith(mine, Deferred.await(previous))
              ))
            )
          })
        ))
  )

// ---------------------------------------------------------------------------------------------
// Conditional strategy
// ---------------------------------------------------------------------------------------------

/**
 * Chooses the target of a conditional handoff from the caller's reply and the conversation:
 * a candidate key, or `undefined` for the default.
 *
 * @category models
 * @since 0.1.0
 */
export type Selector<K extends string, E = never, R = never> = (
  reply: Reply,
  conversation: Conversation
) => K | undefined | Effect.Effect<K | undefined, E, R>

/**
 * The conditional strategy: `select` picks the target among the candidates; `default` is used
 * when it picks none.
 *
 * @category models
 * @since 0.1.0
 */
export interface Conditional<K extends string, E = never, R = never> {
  readonly _tag: "conditional"
  readonly select: Selector<K, E, R>
  readonly default?: K
  /** Shown on the span and in the chain. */
  readonly by: "predicate" | "model"
}

/**
 * A conditional handoff decided by a typed predicate.
 *
 * @example
 * ```ts
 * import { Handoff } from "@braid/agents"
 *
 * const route = Handoff.conditional<"billing" | "tech">(
 *   (reply) => reply.text.includes("invoice") ? "billing" : reply.text.includes("error") ? "tech" : undefined,
 *   { default: "tech" }
 * )
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const conditional = <K extends string, E = never, R = never>(
  select: Selector<K, E, R>,
  options: { readonly default?: K } = {}
): Conditional<K, E, R> => ({
  _tag: "conditional",
  select,
  by: "predicate",
  ...(options.default !== undefined ? { default: options.default } : {})
})

/**
 * A conditional handoff decided by a model: it is shown the conversation and the candidates
 * (with their descriptions) and answers with one name. An answer that names no candidate takes
 * the default.
 *
 * @example
 * ```ts
 * import { Handoff } from "@braid/agents"
 *
 * const route = Handoff.byModel<"billing" | "tech">({
 *   candidates: { billing: "invoices, refunds, charges", tech: "errors, outages, bugs" },
 *   default: "tech"
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const byModel = <K extends string>(options: {
  readonly candidates: { readonly [P in K]: string }
  readonly default?: NoInfer<K>
  readonly model?: string
}): Conditional<K, LlmErrors.ModelError, Ai.LanguageModel.LanguageModel> => {
  const names = Object.keys(options.candidates) as Array<K>
  return {
    _tag: "conditional",
    by: "model",
    ...(options.default !== undefined ? { default: options.default } : {}),
    select: (reply, conversation) => {
      const transcript = [
        ...conversation.messages.map((m) => `${m.name ?? m.role}: ${m.content}`),
        `${reply.agent}: ${reply.text}`
      ]
        .join("\n")
      const list = names.map((n) => `- ${n}: ${options.candidates[n]}`).join("\n")
      return Ai.LanguageModel.generateText({
        prompt: [
          {
            role: "system",
            content: `You route conversations. Answer with exactly one name from this list, nothing else:\n${list}`
          },
          {
            role: "user",
            content: `Conversation:\n${transcript}\n\nWho should take over? Candidates: ${names.join(", ")}`
          }
        ]
      }).pipe(
        Ai.withSettings({
          agent: `${reply.agent}.router`,
          maxTokens: 16,
          ...(options.model !== undefined ? { model: options.model } : {})
        }),
        AiErrors.mapToModelError,
        Effect.map((r) => {
          const answer = r.text.trim().toLowerCase()
          return names.find((n) => answer === n.toLowerCase()) ?? names.find((n) => answer.includes(n.toLowerCase()))
        })
      )
    }
  }
}

// ---------------------------------------------------------------------------------------------
// handoff
// ---------------------------------------------------------------------------------------------

/**
 * A typed payload: its Schema, and how to build it from the caller's reply. `from` returns the
 * Schema's type (a payload of another shape does not compile); the value is still validated
 * on transfer (refinements, and a lossless JSON form).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Handoff } from "@braid/agents"
 *
 * const Ticket = Schema.Struct({ invoiceId: Schema.String })
 * const payload: Handoff.Payload<typeof Ticket.Type, typeof Ticket.Encoded> = {
 *   schema: Ticket,
 *   from: (reply) => ({ invoiceId: reply.text })
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Payload<A, I> {
  readonly schema: Schema.Schema<A, I, never>
  readonly from: (reply: Reply, conversation: Conversation) => NoInfer<A>
}

/**
 * Options shared by every strategy.
 *
 * @category models
 * @since 0.1.0
 */
export interface BaseOptions<A, I, HE, HR> {
  /** Why control moves: recorded in the chain, on the span and in the note to the target. */
  readonly reason?: string | ((reply: Reply, conversation: Conversation) => string)
  readonly payload?: Payload<A, I>
  /** What part of the history the target sees (default: all of it). */
  readonly history?: Transform<HE, HR>
  /** Hand off only when this holds (default: always); otherwise the caller's reply is the answer. */
  readonly when?: (reply: Reply, conversation: Conversation) => boolean
  /** The target hands back to the caller (always, or when its reply satisfies the predicate). */
  readonly returnToCaller?: boolean | ((reply: Reply) => boolean)
  /** The primitive's name. Default `handoff(from,to)`. */
  readonly name?: string
}

/**
 * Options of a handoff to one agent.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options<A, I, HE, HR> extends BaseOptions<A, I, HE, HR> {
  readonly strategy?: "immediate" | "queued"
}

/**
 * Options of a conditional handoff among candidates.
 *
 * @category models
 * @since 0.1.0
 */
export interface ConditionalOptions<K extends string, A, I, HE, HR, SE, SR> extends BaseOptions<A, I, HE, HR> {
  readonly strategy: Conditional<K, SE, SR>
}

const payloadError = (from: string, to: string, e: ParseResult.ParseError): HandoffPayloadError => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
  return new HandoffPayloadError({
    from,
    to,
    path: issue === undefined || issue.path.length === 0 ? "(root)" : issue.path.map(String).join("."),
    message: issue?.message ?? String(e)
  })
}

/**
 * Validates a payload on transfer (typed `HandoffPayloadError` naming the first bad field) and
 * measures its JSON form: the payload crosses to another agent (and may be journaled), so it must
 * have a lossless JSON form. A schema that accepts a BigInt or a cycle is refused here, typed,
 * naming the path.
 */
const checkPayload = <A, I>(
  schema: Schema.Schema<A, I, never>,
  value: unknown,
  fromName: string,
  toName: string
): Effect.Effect<{ readonly payload: A; readonly bytes: number }, HandoffPayloadError> =>
  Effect.gen(function*() {
    const payload = yield* Schema.validate(schema, { errors: "all" })(value).pipe(
      Effect.mapError((e) => payloadError(fromName, toName, e))
    )
    const encoded = yield* Schema.encode(schema)(payload).pipe(
      Effect.mapError((e) => payloadError(fromName, toName, e))
    )
    const json = yield* Json.encode(encoded).pipe(
      Either.mapLeft((e) =>
        new HandoffPayloadError({
          from: fromName,
          to: toName,
          path: e.path,
          message: `the payload has no JSON form: ${e.detail}`
        })
      )
    )
    return { payload, bytes: Buffer.byteLength(json, "utf8") }
  })

type AE<P> = P extends Primitive.Primitive<any, any, infer E, any> ? E : never
type AR<P> = P extends Primitive.Primitive<any, any, any, infer R> ? R : never

/**
 * Hands off from one agent to another (or, with a conditional strategy, to one of several).
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent, Handoff, History } from "@braid/agents"
 *
 * const triage = Agent.make({ name: "triage", instructions: "Classify the request." })
 * const billing = Agent.make({ name: "billing", instructions: "Resolve billing issues." })
 * const Ticket = Schema.Struct({ topic: Schema.Literal("billing", "tech"), summary: Schema.String })
 *
 * const desk = Handoff.handoff(triage, billing, {
 *   reason: "billing question",
 *   payload: { schema: Ticket, from: (reply) => ({ topic: "billing" as const, summary: reply.text }) },
 *   history: History.compose(History.removeToolCalls, History.lastN(6)),
 *   strategy: "queued",
 *   returnToCaller: true
 * })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export function handoff<F extends AnyAgent, T extends AnyAgent, A = unknown, I = unknown, HE = never, HR = never>(
  from: F,
  to: T,
  options?: Options<A, I, HE, HR>
): Primitive.Primitive<
  Conversation,
  Reply,
  AE<F> | AE<T> | HE | HandoffPayloadError,
  AR<F> | AR<T> | HR | WorkflowContext.WorkflowContext
>
export function handoff<
  F extends AnyAgent,
  C extends { readonly [k: string]: AnyAgent },
  A = unknown,
  I = unknown,
  HE = never,
  HR = never,
  SE = never,
  SR = never
>(
  from: F,
  candidates: C,
  options: ConditionalOptions<Extract<keyof C, string>, A, I, HE, HR, SE, SR>
): Primitive.Primitive<
  Conversation,
  Reply,
  AE<F> | AE<C[keyof C]> | HE | SE | HandoffPayloadError | UnknownHandoffTarget,
  AR<F> | AR<C[keyof C]> | HR | SR | WorkflowContext.WorkflowContext
>
export function handoff(
  from: AnyAgent,
  to: AnyAgent | { readonly [k: string]: AnyAgent },
  options: BaseOptions<any, any, any, any> & {
    readonly strategy?: "immediate" | "queued" | Conditional<string, any, any>
  } = {}
): Primitive.Primitive<Conversation, Reply, any, any> {
  const fromName = nameOf(from)
  const single = Primitive.isPrimitive(to)
  const candidates: { readonly [k: string]: AnyAgent } = single
    ? { [nameOf(to)]: to }
    : (to as { readonly [k: string]: AnyAgent })
  const strategy = options.strategy ?? "immediate"
  const strategyName: Record["strategy"] = typeof strategy === "string" ? strategy : "conditional"
  const targetsLabel = single ? nameOf(to) : Object.keys(candidates).join("|")
  const name = options.name ?? `handoff(${fromName},${targetsLabel})`

  const body = (conversation: Conversation) =>
    Effect.gen(function*() {
      const first = yield* from.invoke(conversation)
      if (options.when !== undefined && !options.when(first, conversation)) {
        yield* Instrumentation.annotate({ "braid.handoff.from": fromName, "braid.handoff.transferred": false })
        return first
      }

      // Pick the target.
      let key: string
      if (typeof strategy === "string") key = Object.keys(candidates)[0]!
      else {
        const picked = strategy.select(first, conversation)
        const choice = Effect.isEffect(picked) ? yield* picked : picked
        const chosen = choice ?? strategy.default
        if (chosen === undefined || !(chosen in candidates)) {
          return yield* Effect.fail(
            new UnknownHandoffTarget({ from: fromName, target: String(chosen), candidates: Object.keys(candidates) })
          )
        }
        key = chosen
        yield* Instrumentation.event("braid.handoff.selected", {
          "braid.handoff.by": strategy.by,
          "braid.handoff.default": choice === undefined
        })
      }
      const target = candidates[key]!
      const toName = nameOf(target)
      const reason = options.reason === undefined
        ? `${fromName} handed off to ${toName}`
        : typeof options.reason === "string"
        ? options.reason
        : options.reason(first, conversation)

      // The payload, validated on transfer.
      let payload: unknown = undefined
      let payloadBytes = 0
      if (options.payload !== undefined) {
        const checked = yield* checkPayload(
          options.payload.schema,
          options.payload.from(first, conversation),
          fromName,
          toName
        )
        payload = checked.payload
        payloadBytes = checked.bytes
      }

      const history: ReadonlyArray<Message> = [...conversation.messages, ...first.messages]
      const filtered = options.history === undefined ? history : yield* options.history(history)
      const handed: Conversation = {
        messages: [...filtered, { role: "system", content: `[handoff from ${fromName}] ${reason}` }],
        context: { ...conversation.context, handoff: { from: fromName, reason, payload } satisfies Received }
      }

      yield* Instrumentation.annotate({
        "braid.handoff.from": fromName,
        "braid.handoff.to": toName,
        "braid.handoff.reason": reason,
        "braid.handoff.payload_bytes": payloadBytes,
        "braid.handoff.strategy": strategyName,
        "braid.handoff.transferred": true
      })
      const at = yield* Clock.currentTimeMillis
      yield* State.update(Chain, (records) => [
        ...records,
        { from: fromName, to: toName, reason, at, strategy: strategyName, payloadBytes }
      ])

      const runTarget = target.invoke(handed)
      const answer = strategy === "queued" ? yield* throughInbox(toName, runTarget) : yield* runTarget

      const handBack = options.returnToCaller === undefined
        ? false
        : typeof options.returnToCaller === "boolean"
        ? options.returnToCaller
        : options.returnToCaller(answer)
      if (!handBack) return answer

      const backReason = `${toName} handed back to ${fromName}`
      const backAt = yield* Clock.currentTimeMillis
      yield* State.update(Chain, (records) => [
        ...records,
        { from: toName, to: fromName, reason: backReason, at: backAt, strategy: "return" as const, payloadBytes: 0 }
      ])
      yield* Instrumentation.event("braid.handoff.return", {
        "braid.handoff.from": toName,
        "braid.handoff.to": fromName
      })
      return yield* from.invoke({
        messages: [...history, ...answer.messages, {
          role: "system",
          content: `[handoff from ${toName}] ${backReason}`
        }],
        context: {
          ...conversation.context,
          handoff: { from: toName, reason: backReason, payload: answer.text } satisfies Received
        }
      })
    })

  return Primitive.make(name, body, {
    kind: "handoff",
    meta: { from: fromName, to: targetsLabel, strategy: strategyName },
    children: [
      { key: fromName, primitive: from },
      ...Object.entries(candidates).map(([k, p]) => ({ key: k, primitive: p }))
    ]
  })
}

/**
 * Reads the typed payload a conversation arrived with.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Handoff } from "@braid/agents"
 *
 * const Ticket = Schema.Struct({ invoiceId: Schema.String })
 * const ticketOf = Handoff.payloadOf(Ticket) // (conversation) => Option<{ invoiceId: string }>
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const payloadOf =
  <A, I>(schema: Schema.Schema<A, I, never>) => (conversation: Conversation): Option.Option<A> => {
    const r = received(conversation)
    return r === undefined ? Option.none() : Schema.validateOption(schema)(r.payload)
  }

/**
 * Options of `tool`.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import type { Handoff } from "@braid/agents"
 *
 * const options: Handoff.ToolOptions<{ readonly invoiceId: typeof Schema.String }, never, never> = {
 *   description: "Invoices, refunds, charges",
 *   payload: { invoiceId: Schema.String },
 *   reason: (p) => `invoice ${p.invoiceId}`
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface ToolOptions<Fields extends Schema.Struct.Fields, HE, HR> {
  /** The tool's name (default `transfer_to_{target}`). */
  readonly name?: string
  /** When the model should call it: what the target handles. */
  readonly description: string
  /**
   * The payload the model fills in, as the tool's parameters (Schema fields): the target reads
   * it typed with `payloadOf(Schema.Struct(fields))`. Default: none.
   */
  readonly payload?: Fields
  /** Why control moves (default `{caller} handed off to {target}`, or the payload's `reason` string field). */
  readonly reason?: string | ((payload: Schema.Struct.Type<Fields>) => string)
  /** What part of the history the target sees (default: all of it). */
  readonly history?: Transform<HE, HR>
  /** `"immediate"` (default) or `"queued"` (through the target's inbox). */
  readonly strategy?: "immediate" | "queued"
}

/**
 * A handoff offered to the model as a tool, swarm-style: give it to an agent's `handoffs` and
 * the model decides when to transfer. When it calls the tool, the caller's turn ends and the
 * target runs with the conversation so far (filtered by `history`, with a note saying who handed
 * off and why) and the typed payload (the tool's parameters, validated like a `handoff`'s
 * payload) in `context.handoff`; the caller's reply is the target's, with the caller's messages,
 * usage, cost and calls added. The transfer is recorded in the handoff chain (strategy `"tool"`)
 * and on the caller's span.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Agent, Handoff } from "@braid/agents"
 *
 * const billing = Agent.make({ name: "billing", instructions: "Resolve billing issues." })
 * const triage = Agent.make({
 *   name: "triage",
 *   instructions: "Answer, or transfer billing questions.",
 *   handoffs: [Handoff.tool(billing, {
 *     description: "Invoices, refunds and charges",
 *     payload: { invoiceId: Schema.String, reason: Schema.String }
 *   })]
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const tool = <
  T extends AnyAgent,
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no payload: no fields
  Fields extends Schema.Struct.Fields = {},
  HE = never,
  HR = never
>(
  target: T,
  options: ToolOptions<Fields, HE, HR>
): HandoffTool<AE<T> | HE | HandoffPayloadError, AR<T> | HR | WorkflowContext.WorkflowContext> => {
  const toName = nameOf(target)
  const fields = (options.payload ?? {}) as Fields
  const schema = Schema.Struct(fields) as unknown as Schema.Schema<
    Schema.Struct.Type<Fields>,
    Schema.Struct.Encoded<Fields>,
    never
  >
  const strategy = options.strategy ?? "immediate"
  const aiTool = Ai.Tool.make(options.name ?? `transfer_to_${toName}`, {
    description: options.description,
    parameters: fields,
    success: Schema.String
  }) as unknown as Ai.Tool.Any
  return {
    _tag: "HandoffTool",
    target: toName,
    tool: aiTool,
    transfer: ({ added, conversation, from, params }) =>
      Effect.gen(function*() {
        const decoded = yield* Schema.decodeUnknown(schema, { errors: "all" })(params).pipe(
          Effect.mapError((e) => payloadError(from, toName, e))
        )
        const { bytes, payload } = yield* checkPayload(schema, decoded, from, toName)
        const ownReason = (payload as { readonly reason?: unknown }).reason
        const reason = options.reason === undefined
          ? typeof ownReason === "string" && ownReason !== "" ? ownReason : `${from} handed off to ${toName}`
          : typeof options.reason === "string"
          ? options.reason
          : options.reason(payload)
        const history: ReadonlyArray<Message> = [...conversation.messages, ...added]
        const filtered = options.history === undefined ? history : yield* options.history(history)
        const handed: Conversation = {
          messages: [...filtered, { role: "system", content: `[handoff from ${from}] ${reason}` }],
          context: { ...conversation.context, handoff: { from, reason, payload } satisfies Received }
        }
        yield* Instrumentation.annotate({
          "braid.handoff.from": from,
          "braid.handoff.to": toName,
          "braid.handoff.reason": reason,
          "braid.handoff.payload_bytes": bytes,
          "braid.handoff.strategy": "tool",
          "braid.handoff.transferred": true
        })
        const at = yield* Clock.currentTimeMillis
        yield* State.update(Chain, (records) => [
          ...records,
          { from, to: toName, reason, at, strategy: "tool" as const, payloadBytes: bytes }
        ])
        const run = target.invoke(handed)
        return yield* (strategy === "queued" ? throughInbox(toName, run) : run)
      })
  }
}
