/**
 * What every session store shares (memory and SQL): input validation, cursors, ownership, pages
 * and hourly buckets, so the stores differ only in where the rows live.
 *
 * @internal
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { Forbidden, InvalidInput, SessionStoreError } from "../Errors.js"
import * as Scenario from "../Scenario.js"
import * as SessionEvents from "../SessionEvents.js"
import type * as SessionStore from "../SessionStore.js"

/** One hour in milliseconds. */
export const HOUR = 3_600_000

/** The most hourly buckets one `hourlyUsage` call returns (a little over a year). */
export const MAX_HOURS = 24 * 400

/** `a.b[2].c` from a parse path. */
const renderPath = (path: ReadonlyArray<PropertyKey>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

/** The first issue of a parse error, prefixed with `prefix`. */
const firstIssue = (error: ParseResult.ParseError, prefix = "") => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  const path = first === undefined ? "" : renderPath(first.path)
  return {
    field: prefix === "" ? path : path === "" ? prefix : `${prefix}.${path}`,
    reason: first?.message ?? error.message
  }
}

/** A decoder whose failure is `InvalidInput` naming the field at fault (under `prefix`). */
export const inputDecoder = <A, I>(schema: Schema.Schema<A, I, never>, prefix = "") => {
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })
  return (input: unknown): Effect.Effect<A, InvalidInput> => {
    const decoded = decode(input)
    return Either.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(new InvalidInput(firstIssue(decoded.left, prefix)))
  }
}

/** A decoder of records the workflows write, whose failure is a `SessionStoreError` of `operation`. */
export const recordDecoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })
  return (operation: string, input: unknown): Effect.Effect<A, SessionStoreError> => {
    const decoded = decode(input)
    if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
    const { field, reason } = firstIssue(decoded.left)
    return Effect.fail(
      new SessionStoreError({ operation, reason: `invalid ${field === "" ? "input" : field}: ${reason}` })
    )
  }
}

/** An epoch-millis time: a non-negative safe integer (a BIGINT column holds it exactly). */
export const Time = Schema.Number.pipe(
  Schema.int({ message: () => "a time is a whole number of epoch milliseconds" }),
  Schema.between(0, Number.MAX_SAFE_INTEGER, { message: () => "a time is between 0 and 2^53 - 1 epoch milliseconds" })
)

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Why a text cannot be stored as it is (a NUL, a lone surrogate), or `undefined`. */
export const textProblem = (s: string): string | undefined =>
  s.includes("\u0000")
    ? "a text cannot contain a NUL character"
    : loneSurrogate.test(s)
    ? "a text cannot contain a lone surrogate (it is not valid Unicode)"
    : undefined

/**
 * Text the stores keep as it was given: no NUL character (PostgreSQL text cannot hold one) and
 * no lone surrogate (the drivers would store U+FFFD instead).
 */
const Text = Schema.String.pipe(Schema.filter((s) => textProblem(s) ?? true))

/** An id chosen by a workflow: 1 to 256 characters of any kind but NUL (ids are data, never SQL). */
export const Id = Text.pipe(Schema.minLength(1, { message: () => "an id is not empty" }), Schema.maxLength(256))

const Finite = Schema.Number.pipe(Schema.finite({ message: () => "a finite number" }))

/** A new session, as `createSession` accepts it. */
export const NewSessionInput = Schema.Struct({
  id: Id,
  tenant: Schema.optional(Id),
  userId: Id,
  kind: Schema.Literal("practice", "coaching"),
  scenarioId: Schema.optional(Id),
  title: Schema.optional(Text),
  status: Schema.optional(Schema.Literal("queued", "active")),
  createdAt: Time,
  previousSessionId: Schema.optional(Id),
  model: Schema.optional(Text),
  metadata: Schema.optional(Schema.Record({ key: Text, value: Text }))
})

/** A new message, as `appendMessage` accepts it. */
export const NewMessageInput = Schema.Struct({
  role: Schema.Literal("user", "assistant", "system"),
  text: Text,
  createdAt: Time,
  turnId: Schema.optional(Text),
  inputTokens: Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER)),
  outputTokens: Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER)),
  costUsd: Finite.pipe(Schema.nonNegative()),
  estimated: Schema.Boolean,
  model: Schema.optional(Text),
  fallback: Schema.Boolean,
  fallbackCause: Schema.optional(Text)
})

/** How a session ends. */
export const EndInput = Schema.Struct({
  reason: Schema.Literal("objective-met", "user", "idle-timeout", "turn-limit", "budget-exhausted", "model-outage"),
  at: Time,
  message: Schema.optional(Text)
})

/** An evaluation's result. */
export const EvaluationResultInput = Schema.Struct({
  skills: Schema.Array(Schema.Struct({
    skillId: Text,
    score: Finite.pipe(Schema.between(1, 5)),
    notes: Text
  })),
  overall: Finite,
  summary: Text,
  model: Schema.optional(Text),
  costUsd: Schema.optionalWith(Finite, { default: () => 0 })
})

/** An evaluation job, as the workflows write it. */
export const EvaluationInput = Schema.Struct({
  sessionId: Id,
  tenant: Id,
  userId: Id,
  status: Schema.Literal("pending", "running", "completed", "failed"),
  attempts: Schema.Int.pipe(Schema.between(0, 1_000_000)),
  createdAt: Time,
  updatedAt: Time,
  nextAttemptAt: Schema.optional(Time),
  completedAt: Schema.optional(Time),
  error: Schema.optional(Text),
  result: Schema.optional(EvaluationResultInput)
})

/** An error log entry, as the workflows write it. */
export const ErrorEntryInput = Schema.Struct({
  tenant: Id,
  at: Time,
  severity: Schema.Literal("warning", "error", "critical"),
  source: Text,
  message: Text,
  sessionId: Schema.optional(Text)
})

/** Decoders of the inputs. */
const decodeNewSessionFields = inputDecoder(NewSessionInput)
/** A new session; a metadata key `__proto__` is refused (a decoded record would lose it). */
export const decodeNewSession = (input: unknown): Effect.Effect<typeof NewSessionInput.Type, InvalidInput> => {
  const metadata = typeof input === "object" && input !== null ? (input as { metadata?: unknown }).metadata : undefined
  return typeof metadata === "object" && metadata !== null && Object.hasOwn(metadata, "__proto__")
    ? Effect.fail(new InvalidInput({ field: "metadata", reason: "a metadata key cannot be __proto__" }))
    : decodeNewSessionFields(input)
}
const decodeNewMessageSchema = inputDecoder(NewMessageInput)

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0
const isText = (t: unknown): t is string => typeof t === "string" && textProblem(t) === undefined
const isOptionalText = (t: unknown) => t === undefined || isText(t)

/**
 * A message exactly as `NewMessageInput` accepts it, checked by hand (appendMessage is on every
 * turn's path; the Schema costs several microseconds): `undefined` when any field is not
 * plainly valid, and the Schema then decodes it (and names the field at fault). A property test
 * checks that whatever this accepts, the Schema accepts too, with the same result.
 */
export const acceptNewMessage = (input: unknown): typeof NewMessageInput.Type | undefined => {
  if (typeof input !== "object" || input === null) return undefined
  const proto = Object.getPrototypeOf(input)
  if (proto !== Object.prototype && proto !== null) return undefined
  const m = input as Record<string, unknown>
  const { createdAt, costUsd, role } = m
  if (
    !(role === "user" || role === "assistant" || role === "system") || !isText(m["text"]) ||
    !(isCount(createdAt) && createdAt <= Number.MAX_SAFE_INTEGER) || !isOptionalText(m["turnId"]) ||
    !isCount(m["inputTokens"]) || !isCount(m["outputTokens"]) ||
    !(typeof costUsd === "number" && Number.isFinite(costUsd) && costUsd >= 0) ||
    typeof m["estimated"] !== "boolean" || !isOptionalText(m["model"]) || typeof m["fallback"] !== "boolean" ||
    !isOptionalText(m["fallbackCause"])
  ) return undefined
  const out: Record<string, unknown> = {
    role,
    text: m["text"],
    createdAt,
    inputTokens: m["inputTokens"],
    outputTokens: m["outputTokens"],
    costUsd,
    estimated: m["estimated"],
    fallback: m["fallback"]
  }
  if (m["turnId"] !== undefined) out["turnId"] = m["turnId"]
  if (m["model"] !== undefined) out["model"] = m["model"]
  if (m["fallbackCause"] !== undefined) out["fallbackCause"] = m["fallbackCause"]
  return out as typeof NewMessageInput.Type
}

/** A new message: the hand check when it accepts, else the Schema (which names the field at fault). */
export const decodeNewMessage = (input: unknown): Effect.Effect<typeof NewMessageInput.Type, InvalidInput> => {
  const accepted = acceptNewMessage(input)
  return accepted === undefined ? decodeNewMessageSchema(input) : Effect.succeed(accepted)
}
export const decodeScenario = inputDecoder(Scenario.Scenario)
export const decodeDifficulty = inputDecoder(Scenario.Difficulty, "difficulty")
export const decodeEnd = recordDecoder(EndInput)
export const decodeTime = recordDecoder(Time)
export const decodeEvaluation = recordDecoder(EvaluationInput)
export const decodeErrorEntry = recordDecoder(ErrorEntryInput)
const decodeTimeInput = (field: string) => inputDecoder(Time, field)
const decodeFrom = decodeTimeInput("from")
const decodeTo = decodeTimeInput("to")
const decodeSince = decodeTimeInput("since")
const decodeUntil = decodeTimeInput("until")

/** A limit: an integer in `[1, max]`, `fallback` when absent. */
export const limitOf = (value: unknown, fallback: number, max: number): Either.Either<number, string> =>
  value === undefined
    ? Either.right(fallback)
    : typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= max
    ? Either.right(value)
    : Either.left(`the limit is an integer from 1 to ${max}, got ${describe(value)}`)

const describe = (value: unknown): string => {
  if (typeof value === "bigint") return `${value}n`
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40))
  if (typeof value === "number") return String(value)
  return typeof value
}

/** `limitOf` failing with `InvalidInput("limit")`. */
export const limitInput = (value: unknown, fallback: number, max: number): Effect.Effect<number, InvalidInput> =>
  Either.match(limitOf(value, fallback, max), {
    onLeft: (reason) => Effect.fail(new InvalidInput({ field: "limit", reason })),
    onRight: Effect.succeed
  })

/** `limitOf` failing with a `SessionStoreError` of `operation` (operations whose errors have no `InvalidInput`). */
export const limitRecord = (
  operation: string,
  value: unknown,
  fallback: number,
  max: number
): Effect.Effect<number, SessionStoreError> =>
  Either.match(limitOf(value, fallback, max), {
    onLeft: (reason) => Effect.fail(new SessionStoreError({ operation, reason: `invalid limit: ${reason}` })),
    onRight: Effect.succeed
  })

/** The options of `evaluationsByStatus`, checked. */
export const evaluationQuery = (
  options: { readonly now?: number; readonly limit?: number } | undefined
): Effect.Effect<{ readonly limit: number; readonly now: number | undefined }, SessionStoreError> =>
  Effect.gen(function*() {
    const limit = yield* limitRecord("evaluationsByStatus", options?.limit, 100, 1000)
    const now = options?.now === undefined ? undefined : yield* decodeTime("evaluationsByStatus", options.now)
    return { limit, now }
  })

/** The options of `recentErrors`, checked. */
export const errorQuery = (
  options: { readonly limit?: number; readonly since?: number } | undefined
): Effect.Effect<{ readonly limit: number; readonly since: number | undefined }, SessionStoreError> =>
  Effect.gen(function*() {
    const limit = yield* limitRecord("recentErrors", options?.limit, 50, 500)
    const since = options?.since === undefined ? undefined : yield* decodeTime("recentErrors", options.since)
    return { limit, since }
  })

// Cursors ---------------------------------------------------------------------------------------

/** Where a page of sessions ends: its last row's `createdAt` and id. */
export const SessionCursor = Schema.Struct({ c: Time, i: Schema.String })
/** Where a page of scenarios ends: its last row's title and id. */
export const ScenarioCursor = Schema.Struct({ t: Schema.String, i: Schema.String })
/** Where a page of messages ends: its last row's `seq`. */
export const MessageCursor = Schema.Struct({ s: Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER)) })

/** Cursors are base64url of JSON: opaque to users, decoded with Schema (a forged one is `InvalidInput("cursor")`). */
export const cursorCodec = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const codec = Schema.compose(Schema.StringFromBase64Url, Schema.parseJson(schema))
  const decode = Schema.decodeUnknownEither(codec)
  const encode = Schema.encodeSync(codec)
  return {
    encode: (value: A): string => encode(value),
    decode: (cursor: unknown): Effect.Effect<A | undefined, InvalidInput> => {
      if (cursor === undefined) return Effect.succeed(undefined)
      const decoded = decode(cursor)
      return Either.isRight(decoded)
        ? Effect.succeed(decoded.right)
        : Effect.fail(
          new InvalidInput({
            field: "cursor",
            reason: "not a cursor this store gave (forged, garbled or of another list)"
          })
        )
    }
  }
}

export const sessionCursor = cursorCodec(SessionCursor)
export const scenarioCursor = cursorCodec(ScenarioCursor)
export const messageCursor = cursorCodec(MessageCursor)

/** A page from `limit + 1` rows: the first `limit`, and a cursor after the last of them when there are more. */
export const pageOf = <A>(
  rows: ReadonlyArray<A>,
  limit: number,
  cursorOf: (last: A) => string
): SessionStore.Page<A> =>
  rows.length > limit ? { items: rows.slice(0, limit), nextCursor: cursorOf(rows[limit - 1]!) } : { items: rows }

// Ownership -------------------------------------------------------------------------------------

/** The organization of a caller (`"default"` when a caller built without the schema has none). */
export const tenantOf = (principal: SessionStore.Principal): string =>
  typeof principal?.tenant === "string" && principal.tenant !== "" ? principal.tenant : "default"

/** The user of a caller (`""`, nobody's, when a caller built without the schema has none). */
export const userOf = (principal: SessionStore.Principal): string =>
  typeof principal?.userId === "string" ? principal.userId : ""

/** An id as an error names it (whatever the caller passed). */
export const show = (id: unknown): string => typeof id === "string" ? id : `(not an id: ${typeof id})`

/** Whether `status` is an evaluation status. */
export const isEvaluationStatus = (status: unknown): status is SessionStore.EvaluationStatus =>
  status === "pending" || status === "running" || status === "completed" || status === "failed"

const roleOf = (principal: SessionStore.Principal): string | undefined =>
  typeof principal?.role === "string" ? principal.role : undefined

/** Whether a caller is an admin (anything else, a malformed role included, is treated as a learner). */
export const isAdmin = (principal: SessionStore.Principal): boolean => roleOf(principal) === "admin"

/** Whether the caller sees a session of `tenant` owned by `userId`. */
export const canRead = (principal: SessionStore.Principal, tenant: string, userId: string): boolean =>
  tenant === tenantOf(principal) && (isAdmin(principal) || userId === userOf(principal))

/** Admins only. */
export const requireAdmin = (principal: SessionStore.Principal, operation: string): Effect.Effect<void, Forbidden> =>
  isAdmin(principal)
    ? Effect.void
    : Effect.fail(new Forbidden({ operation, reason: "only an admin of the organization may do this" }))

/** Teachers and admins only. */
export const requireAuthor = (principal: SessionStore.Principal, operation: string): Effect.Effect<void, Forbidden> =>
  isAdmin(principal) || roleOf(principal) === "teacher"
    ? Effect.void
    : Effect.fail(new Forbidden({ operation, reason: "only a teacher or an admin may write scenarios" }))

/** A session filter, checked: who may ask for whose sessions, limits, times and the cursor. */
export interface SessionFilter {
  readonly tenant: string
  readonly userId: string | undefined
  readonly status: SessionStore.Status | undefined
  readonly kind: SessionStore.Kind | undefined
  readonly scenarioId: string | undefined
  readonly from: number | undefined
  readonly to: number | undefined
  readonly newest: boolean
  readonly limit: number
  readonly after: typeof SessionCursor.Type | undefined
}

const QueryFilters = Schema.Struct({
  userId: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Literal("queued", "active", "completed")),
  kind: Schema.optional(Schema.Literal("practice", "coaching")),
  scenarioId: Schema.optional(Schema.String),
  order: Schema.optional(Schema.Literal("newest", "oldest"))
})
const decodeQueryFilters = inputDecoder(QueryFilters)

/** Checks a session query of `principal`. */
export const sessionFilter = (
  principal: SessionStore.Principal,
  query: SessionStore.SessionQuery | undefined
): Effect.Effect<SessionFilter, InvalidInput | Forbidden> =>
  Effect.gen(function*() {
    const q = query ?? {}
    const filters = yield* decodeQueryFilters(q)
    if (!isAdmin(principal) && filters.userId !== undefined && filters.userId !== userOf(principal)) {
      return yield* new Forbidden({ operation: "listSessions", reason: "only an admin can list other users' sessions" })
    }
    return {
      tenant: tenantOf(principal),
      userId: isAdmin(principal) ? filters.userId : userOf(principal),
      status: filters.status,
      kind: filters.kind,
      scenarioId: filters.scenarioId,
      from: q.from === undefined ? undefined : yield* decodeFrom(q.from),
      to: q.to === undefined ? undefined : yield* decodeTo(q.to),
      newest: filters.order !== "oldest",
      limit: yield* limitInput(q.limit, 20, 100),
      after: yield* sessionCursor.decode(q.cursor)
    }
  })

/** A scenario filter, checked. */
export interface ScenarioFilter {
  readonly tenant: string
  readonly search: string | undefined
  readonly skill: string | undefined
  readonly difficulty: Scenario.Difficulty | undefined
  readonly limit: number
  readonly after: typeof ScenarioCursor.Type | undefined
}

const ScenarioFilters = Schema.Struct({
  search: Schema.optional(Schema.String),
  skill: Schema.optional(Schema.String)
})
const decodeScenarioFilters = inputDecoder(ScenarioFilters)

/** Checks a scenario query of `principal`. */
export const scenarioFilter = (
  principal: SessionStore.Principal,
  query: SessionStore.ScenarioQuery | undefined
): Effect.Effect<ScenarioFilter, InvalidInput> =>
  Effect.gen(function*() {
    const q = query ?? {}
    const filters = yield* decodeScenarioFilters(q)
    return {
      tenant: tenantOf(principal),
      search: filters.search === undefined || filters.search === "" ? undefined : filters.search.toLowerCase(),
      skill: filters.skill,
      difficulty: q.difficulty === undefined ? undefined : yield* decodeDifficulty(q.difficulty),
      limit: yield* limitInput(q.limit, 20, 100),
      after: yield* scenarioCursor.decode(q.cursor)
    }
  })

/** The hour-aligned start of the first bucket and the number of buckets of `[since, until)`. */
export const hourRange = (
  range: { readonly since: number; readonly until: number } | undefined
): Effect.Effect<
  { readonly since: number; readonly until: number; readonly first: number; readonly hours: number },
  InvalidInput
> =>
  Effect.gen(function*() {
    const since = yield* decodeSince(range?.since)
    const until = yield* decodeUntil(range?.until)
    if (until < since) return yield* new InvalidInput({ field: "until", reason: "until is before since" })
    const first = Math.floor(since / HOUR) * HOUR
    const hours = until === since ? 0 : Math.ceil((until - first) / HOUR)
    if (hours > MAX_HOURS) {
      return yield* new InvalidInput({ field: "until", reason: `at most ${MAX_HOURS} hours per call` })
    }
    return { since, until, first, hours }
  })

/** One bucket per hour of the range, zeros where `sums` (by hour start) has none. */
export const fillHours = (
  range: { readonly first: number; readonly hours: number },
  sums: ReadonlyMap<number, Omit<SessionStore.UsageBucket, "start">>
): ReadonlyArray<SessionStore.UsageBucket> =>
  Array.from({ length: range.hours }, (_, i) => {
    const start = range.first + i * HOUR
    return { start, ...(sums.get(start) ?? { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 }) }
  })

/** Orders strings by code point (as SQLite's BINARY and PostgreSQL's "C" collation do). */
export const compareText = (a: string, b: string): number => {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0
}

/** Lowercased, as titles are searched. */
export const titleKey = (title: string): string => title.toLowerCase()

/** The skill ids of a scenario as one searchable text: `|a|b|`. */
export const skillKey = (scenario: Scenario.Scenario): string => `|${scenario.skills.map((s) => s.id).join("|")}|`

/** A scenario's title is a column of its own: it must store as it is. */
export const checkTitle = (scenario: Scenario.Scenario): Effect.Effect<Scenario.Scenario, InvalidInput> => {
  const problem = textProblem(scenario.title)
  return problem === undefined
    ? Effect.succeed(scenario)
    : Effect.fail(new InvalidInput({ field: "title", reason: problem }))
}

/** `putScenario`'s checks: the caller may write scenarios, the input decodes, `at` is a time. */
export const scenarioWrite = (
  principal: SessionStore.Principal,
  input: unknown,
  at: unknown
): Effect.Effect<
  { readonly scenario: Scenario.Scenario; readonly at: number },
  InvalidInput | Forbidden | SessionStoreError
> =>
  Effect.gen(function*() {
    yield* requireAuthor(principal, "putScenario")
    const scenario = yield* Effect.flatMap(decodeScenario(input), checkTitle)
    return { scenario, at: yield* decodeTime("putScenario", at) }
  })

/** An id a lookup can match: ids that cannot be created (not text, empty, too long, NUL) match nothing. */
export const lookupId = (id: unknown): id is string =>
  typeof id === "string" && id.length > 0 && id.length <= 256 && textProblem(id) === undefined

/** A new version of `input` (decoded) in the caller's organization, over the stored `previous`. */
export const nextScenario = (
  principal: SessionStore.Principal,
  input: Scenario.Scenario,
  previous: Scenario.Scenario | undefined,
  at: number
): Scenario.Scenario => ({
  ...input,
  tenant: tenantOf(principal),
  author: input.author ?? previous?.author ?? userOf(principal),
  version: previous === undefined ? 1 : previous.version + 1,
  createdAt: previous?.createdAt ?? at,
  updatedAt: at
})

/** A new session record. */
export const newSession = (s: typeof NewSessionInput.Type): SessionStore.SessionRecord => {
  const status = s.status ?? "active"
  return {
    id: s.id,
    tenant: s.tenant ?? "default",
    userId: s.userId,
    kind: s.kind,
    ...(s.scenarioId === undefined ? {} : { scenarioId: s.scenarioId }),
    ...(s.title === undefined ? {} : { title: s.title }),
    status,
    createdAt: s.createdAt,
    ...(status === "active" ? { startedAt: s.createdAt } : {}),
    totals: { messages: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, fallbacks: 0 },
    ...(s.previousSessionId === undefined ? {} : { previousSessionId: s.previousSessionId }),
    ...(s.model === undefined ? {} : { model: s.model }),
    metadata: { ...(s.metadata ?? {}) }
  }
}

/** The session once ended. */
export const endedSession = (
  s: SessionStore.SessionRecord,
  end: typeof EndInput.Type
): SessionStore.SessionRecord => ({
  ...s,
  status: "completed",
  endReason: end.reason,
  ...(end.message === undefined ? {} : { endMessage: end.message }),
  endedAt: end.at,
  ...(s.startedAt === undefined ? {} : { durationMs: Math.max(0, end.at - s.startedAt) })
})

/** The session's totals with one more message. */
export const addToTotals = (t: SessionStore.Totals, m: typeof NewMessageInput.Type): SessionStore.Totals => ({
  messages: t.messages + 1,
  inputTokens: t.inputTokens + m.inputTokens,
  outputTokens: t.outputTokens + m.outputTokens,
  costUsd: t.costUsd + m.costUsd,
  fallbacks: t.fallbacks + (m.fallback ? 1 : 0)
})

/** Whether the CAS of `updateEvaluation` matches the stored job. */
export const sameVersion = (a: SessionStore.EvaluationRecord, b: SessionStore.EvaluationRecord): boolean =>
  a.status === b.status && a.attempts === b.attempts && a.updatedAt === b.updatedAt

// Session events --------------------------------------------------------------------------------

// Made on first use: `SessionEvents` and the store import each other (emit persists through the
// store), so neither may read the other at module evaluation.
let eventCodec:
  | {
    readonly encode: (u: unknown) => Either.Either<string, ParseResult.ParseError>
    readonly decode: (u: unknown) => Either.Either<SessionEvents.Event, ParseResult.ParseError>
  }
  | undefined
const codec = () => {
  if (eventCodec === undefined) {
    const json = Schema.parseJson(SessionEvents.Event)
    eventCodec = { encode: Schema.encodeUnknownEither(json), decode: Schema.decodeUnknownEither(json) }
  }
  return eventCodec
}
const encodeEventEither = (u: unknown) => codec().encode(u)
const decodeEventEither = (u: unknown) => codec().decode(u)

/** An event to append, checked and encoded (JSON text): its session id, id, time and body. */
export const encodeEvent = (event: unknown): Effect.Effect<
  {
    readonly event: SessionEvents.Event
    readonly sessionId: string
    readonly eventId: string
    readonly at: number
    readonly body: string
  },
  InvalidInput
> => {
  const encoded = encodeEventEither(event)
  if (Either.isLeft(encoded)) return Effect.fail(new InvalidInput(firstIssue(encoded.left, "event")))
  const e = event as SessionEvents.Event
  if (!lookupId(e.sessionId)) {
    return Effect.fail(new InvalidInput({ field: "event.sessionId", reason: "not a session id" }))
  }
  if (!lookupId(e.eventId)) {
    return Effect.fail(new InvalidInput({ field: "event.eventId", reason: "an event id is 1 to 256 characters" }))
  }
  const problem = textProblem(encoded.right)
  if (problem !== undefined) return Effect.fail(new InvalidInput({ field: "event", reason: problem }))
  return Effect.succeed({ event: e, sessionId: e.sessionId, eventId: e.eventId, at: e.at, body: encoded.right })
}

/** A stored event body (JSON text) decoded; a body that does not decode is a message (the store's error). */
export const decodeEvent = (body: unknown): Effect.Effect<SessionEvents.Event, string> => {
  const decoded = decodeEventEither(body)
  return Either.isRight(decoded)
    ? Effect.succeed(decoded.right)
    : Effect.fail(`a stored event does not decode: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
}

/** The options of `events`, checked. */
export const eventQuery = (
  options: { readonly after?: number; readonly limit?: number } | undefined
): Effect.Effect<{ readonly after: number; readonly limit: number }, InvalidInput> =>
  Effect.gen(function*() {
    const limit = yield* limitInput(options?.limit, 100, 1000)
    const after = options?.after ?? 0
    if (typeof after !== "number" || !Number.isSafeInteger(after) || after < 0) {
      return yield* new InvalidInput({ field: "after", reason: "a sequence number: an integer from 0" })
    }
    return { after, limit }
  })
