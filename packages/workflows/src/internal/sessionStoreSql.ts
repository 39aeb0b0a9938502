/**
 * The session store on the SQL port (`Sql.Driver`), for both dialects: the schema and its
 * migrations, the statements, and the decoding of rows.
 *
 * @internal
 */
import { Json, Sql } from "@braid/core"
import type { Duration } from "effect"
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidInput, ScenarioNotFound, SessionNotFound, SessionStoreError } from "../Errors.js"
import * as Scenario from "../Scenario.js"
import type * as SessionStore from "../SessionStore.js"
import * as C from "./sessionStoreCommon.js"

// Schema ----------------------------------------------------------------------------------------

const types = (dialect: Sql.Dialect) =>
  dialect === "postgres"
    ? { int: "BIGINT", real: "DOUBLE PRECISION", key: "TEXT COLLATE \"C\"", seq: "BIGSERIAL PRIMARY KEY" }
    : { int: "INTEGER", real: "REAL", key: "TEXT", seq: "INTEGER PRIMARY KEY AUTOINCREMENT" }

/**
 * The migrations, in order (version = index + 1); each runs in the transaction that records it.
 * A released migration is never edited: a change is a new entry.
 * Sortable text columns use the "C" collation on PostgreSQL (code point order, as SQLite's
 * BINARY and the memory store), so keyset pages are the same on every backend.
 */
export const migrations = (dialect: Sql.Dialect): ReadonlyArray<ReadonlyArray<string>> => {
  const { int, key, real, seq } = types(dialect)
  return [[
    `CREATE TABLE IF NOT EXISTS braid_scenarios (
      tenant TEXT NOT NULL,
      id ${key} NOT NULL,
      title ${key} NOT NULL,
      title_key TEXT NOT NULL,
      difficulty TEXT NOT NULL,
      skills TEXT NOT NULL,
      author TEXT,
      version ${int} NOT NULL,
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (tenant, id)
    )`,
    `CREATE INDEX IF NOT EXISTS braid_scenarios_title ON braid_scenarios (tenant, title, id)`,
    `CREATE TABLE IF NOT EXISTS braid_sessions (
      id ${key} PRIMARY KEY,
      tenant TEXT NOT NULL,
      user_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      scenario_id TEXT,
      title TEXT,
      status TEXT NOT NULL,
      end_reason TEXT,
      end_message TEXT,
      created_at ${int} NOT NULL,
      started_at ${int},
      ended_at ${int},
      duration_ms ${int},
      messages ${int} NOT NULL,
      input_tokens ${int} NOT NULL,
      output_tokens ${int} NOT NULL,
      cost_usd ${real} NOT NULL,
      fallbacks ${int} NOT NULL,
      previous_session_id TEXT,
      model TEXT,
      metadata TEXT NOT NULL
    )`,
    `CREATE INDEX IF NOT EXISTS braid_sessions_user ON braid_sessions (tenant, user_id, created_at, id)`,
    `CREATE INDEX IF NOT EXISTS braid_sessions_tenant ON braid_sessions (tenant, created_at, id)`,
    `CREATE INDEX IF NOT EXISTS braid_sessions_live ON braid_sessions (tenant, user_id, scenario_id, status)`,
    `CREATE INDEX IF NOT EXISTS braid_sessions_live_count ON braid_sessions (tenant, status) WHERE status IN ('queued', 'active')`,
    `CREATE TABLE IF NOT EXISTS braid_session_messages (
      session_id TEXT NOT NULL,
      seq ${int} NOT NULL,
      tenant TEXT NOT NULL,
      role TEXT NOT NULL,
      text TEXT NOT NULL,
      created_at ${int} NOT NULL,
      turn_id TEXT,
      input_tokens ${int} NOT NULL,
      output_tokens ${int} NOT NULL,
      cost_usd ${real} NOT NULL,
      estimated INTEGER NOT NULL,
      model TEXT,
      fallback INTEGER NOT NULL,
      fallback_cause TEXT,
      PRIMARY KEY (session_id, seq)
    )`,
    `CREATE INDEX IF NOT EXISTS braid_session_messages_usage ON braid_session_messages (tenant, created_at)`,
    `CREATE TABLE IF NOT EXISTS braid_session_evaluations (
      session_id ${key} PRIMARY KEY,
      tenant TEXT NOT NULL,
      user_id TEXT NOT NULL,
      status TEXT NOT NULL,
      attempts ${int} NOT NULL,
      created_at ${int} NOT NULL,
      updated_at ${int} NOT NULL,
      next_attempt_at ${int},
      completed_at ${int},
      error TEXT,
      result TEXT
    )`,
    `CREATE INDEX IF NOT EXISTS braid_session_evaluations_due ON braid_session_evaluations (status, next_attempt_at)`,
    `CREATE INDEX IF NOT EXISTS braid_session_evaluations_age ON braid_session_evaluations (status, created_at, session_id)`,
    `CREATE TABLE IF NOT EXISTS braid_session_errors (
      seq ${seq},
      tenant TEXT NOT NULL,
      at ${int} NOT NULL,
      severity TEXT NOT NULL,
      source TEXT NOT NULL,
      message TEXT NOT NULL,
      session_id TEXT
    )`,
    `CREATE INDEX IF NOT EXISTS braid_session_errors_recent ON braid_session_errors (tenant, at, seq)`
  ], [
    // 2: the persisted session events (SessionEvents.Event, encoded), numbered per session from 1.
    `CREATE TABLE IF NOT EXISTS braid_session_events (
      session_id ${key} NOT NULL,
      seq ${int} NOT NULL,
      event_id ${key} NOT NULL,
      tag TEXT NOT NULL,
      at ${int} NOT NULL,
      body TEXT NOT NULL,
      PRIMARY KEY (session_id, seq)
    )`,
    `CREATE UNIQUE INDEX IF NOT EXISTS braid_session_events_id ON braid_session_events (session_id, event_id)`
  ]]
}

/**
 * Runs the migrations that have not run yet, in one transaction (on PostgreSQL under an advisory
 * lock, so processes that start at once apply each migration once; SQLite's `BEGIN IMMEDIATE`
 * serializes them); how many ran.
 */
export const migrate = (sql: Sql.Driver, now: number): Effect.Effect<number, Sql.SqlFailure> =>
  sql.transaction((tx) =>
    Effect.gen(function*() {
      if (tx.dialect === "postgres") {
        yield* tx.query("SELECT pg_advisory_xact_lock(hashtext('braid_session_migrations'))")
      }
      yield* tx.execute(
        `CREATE TABLE IF NOT EXISTS braid_session_migrations (version INTEGER PRIMARY KEY, applied_at ${
          types(tx.dialect).int
        } NOT NULL)`
      )
      const done = new Set(
        (yield* tx.query("SELECT version FROM braid_session_migrations")).map((r) => Number(r["version"]))
      )
      const pending = migrations(tx.dialect)
        .map((statements, i) => ({ version: i + 1, statements }))
        .filter((m) => !done.has(m.version))
      for (const { statements, version } of pending) {
        for (const statement of statements) yield* tx.execute(statement)
        yield* tx.execute("INSERT INTO braid_session_migrations (version, applied_at) VALUES (?, ?)", [version, now])
      }
      return pending.length
    })
  )

// Rows ------------------------------------------------------------------------------------------

/** A number column (PostgreSQL gives BIGINT, SUM and COUNT as text). */
const Num = Schema.Union(Schema.Number, Schema.NumberFromString)
const OptNum = Schema.NullOr(Num)
const OptText = Schema.NullOr(Schema.String)
const Flag = Schema.Union(Schema.Boolean, Schema.Literal(0, 1), Schema.Literal("0", "1"))

const rowDecoder = <A, I>(schema: Schema.Schema<A, I, never>) => {
  const decode = Schema.decodeUnknownEither(schema, { onExcessProperty: "ignore" })
  return (row: unknown): Effect.Effect<A, string> => {
    const decoded = decode(row)
    return Either.isRight(decoded)
      ? Effect.succeed(decoded.right)
      : Effect.fail(`a stored row does not decode: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`)
  }
}

/** The fields of `o` whose value is not `undefined` or `null` (optional fields of a record). */
const present = <A extends Record<string, unknown>>(o: A): { [K in keyof A]?: Exclude<A[K], null | undefined> } => {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(o)) if (o[k] !== null && o[k] !== undefined) out[k] = o[k]
  return out as never
}

const SessionRow = Schema.Struct({
  id: Schema.String,
  tenant: Schema.String,
  user_id: Schema.String,
  kind: Schema.Literal("practice", "coaching"),
  scenario_id: OptText,
  title: OptText,
  status: Schema.Literal("queued", "active", "completed"),
  end_reason: Schema.NullOr(C.EndInput.fields.reason),
  end_message: OptText,
  created_at: Num,
  started_at: OptNum,
  ended_at: OptNum,
  duration_ms: OptNum,
  messages: Num,
  input_tokens: Num,
  output_tokens: Num,
  cost_usd: Num,
  fallbacks: Num,
  previous_session_id: OptText,
  model: OptText,
  metadata: Schema.String
})
const decodeSessionRow = rowDecoder(SessionRow)
const decodeMetadata = Sql.decoder(Schema.Record({ key: Schema.String, value: Schema.String }))

const toSession = (row: unknown): Effect.Effect<SessionStore.SessionRecord, string> =>
  Effect.gen(function*() {
    const r = yield* decodeSessionRow(row)
    return {
      id: r.id,
      tenant: r.tenant,
      userId: r.user_id,
      kind: r.kind,
      ...present({
        scenarioId: r.scenario_id,
        title: r.title
      }),
      status: r.status,
      ...present({
        endReason: r.end_reason,
        endMessage: r.end_message
      }),
      createdAt: r.created_at,
      ...present({
        startedAt: r.started_at,
        endedAt: r.ended_at,
        durationMs: r.duration_ms
      }),
      totals: {
        messages: r.messages,
        inputTokens: r.input_tokens,
        outputTokens: r.output_tokens,
        costUsd: r.cost_usd,
        fallbacks: r.fallbacks
      },
      ...present({
        previousSessionId: r.previous_session_id,
        model: r.model
      }),
      metadata: yield* decodeMetadata(r.metadata)
    }
  })

const MessageRow = Schema.Struct({
  session_id: Schema.String,
  seq: Num,
  role: C.NewMessageInput.fields.role,
  text: Schema.String,
  created_at: Num,
  turn_id: OptText,
  input_tokens: Num,
  output_tokens: Num,
  cost_usd: Num,
  estimated: Flag,
  model: OptText,
  fallback: Flag,
  fallback_cause: OptText
})
const decodeMessageRow = rowDecoder(MessageRow)
const flag = (v: typeof Flag.Type): boolean => v === true || v === 1 || v === "1"

const toMessage = (row: unknown): Effect.Effect<SessionStore.MessageRecord, string> =>
  Effect.map(decodeMessageRow(row), (r) => ({
    sessionId: r.session_id,
    seq: r.seq,
    role: r.role,
    text: r.text,
    createdAt: r.created_at,
    ...present({ turnId: r.turn_id }),
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    estimated: flag(r.estimated),
    ...present({ model: r.model }),
    fallback: flag(r.fallback),
    ...present({ fallbackCause: r.fallback_cause })
  }))

const EvaluationRow = Schema.Struct({
  session_id: Schema.String,
  tenant: Schema.String,
  user_id: Schema.String,
  status: C.EvaluationInput.fields.status,
  attempts: Num,
  created_at: Num,
  updated_at: Num,
  next_attempt_at: OptNum,
  completed_at: OptNum,
  error: OptText,
  result: OptText
})
const decodeEvaluationRow = rowDecoder(EvaluationRow)
const decodeResult = Sql.decoder(C.EvaluationResultInput)
const encodeResult = Sql.encoder(C.EvaluationResultInput)

const toEvaluation = (row: unknown): Effect.Effect<SessionStore.EvaluationRecord, string> =>
  Effect.gen(function*() {
    const r = yield* decodeEvaluationRow(row)
    return {
      sessionId: r.session_id,
      tenant: r.tenant,
      userId: r.user_id,
      status: r.status,
      attempts: r.attempts,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      ...present({
        nextAttemptAt: r.next_attempt_at,
        completedAt: r.completed_at,
        error: r.error
      }),
      ...(r.result === null ? {} : { result: yield* decodeResult(r.result) })
    }
  })

const ErrorRow = Schema.Struct({
  tenant: Schema.String,
  at: Num,
  severity: C.ErrorEntryInput.fields.severity,
  source: Schema.String,
  message: Schema.String,
  session_id: OptText
})
const decodeErrorRow = rowDecoder(ErrorRow)

const ScenarioRow = Schema.Struct({
  tenant: Schema.String,
  author: OptText,
  version: Num,
  created_at: Num,
  updated_at: Num,
  body: Schema.String
})
const decodeScenarioRow = rowDecoder(ScenarioRow)
const decodeScenarioBody = Sql.decoder(Scenario.Scenario)
const encodeScenarioBody = Sql.encoder(Scenario.Scenario)

const toScenario = (row: unknown): Effect.Effect<Scenario.Scenario, string> =>
  Effect.gen(function*() {
    const r = yield* decodeScenarioRow(row)
    const body = yield* decodeScenarioBody(r.body)
    const { author: _author, ...rest } = body
    return {
      ...rest,
      tenant: r.tenant,
      ...present({ author: r.author }),
      version: r.version,
      createdAt: r.created_at,
      updatedAt: r.updated_at
    }
  })

const CountRow = Schema.Struct({ status: Schema.String, n: Num })
const decodeCountRow = rowDecoder(CountRow)
const UsageRow = Schema.Struct({ h: Num, n: Num, i: Num, o: Num, c: Num })
const decodeUsageRow = rowDecoder(UsageRow)
const SeqRow = Schema.Struct({ messages: Num, tenant: Schema.String })
const decodeSeqRowSchema = rowDecoder(SeqRow)
/** The `RETURNING` row of an append (on every turn's path): a plain row as it is, anything else through the Schema. */
const decodeSeqRow = (row: unknown): Effect.Effect<typeof SeqRow.Type, string> => {
  const r = row as { readonly messages?: unknown; readonly tenant?: unknown } | undefined
  return typeof r?.messages === "number" && Number.isSafeInteger(r.messages) && typeof r.tenant === "string"
    ? Effect.succeed({ messages: r.messages, tenant: r.tenant })
    : decodeSeqRowSchema(row)
}
const EventSeqRow = Schema.Struct({ seq: Num })
const decodeEventSeqRow = rowDecoder(EventSeqRow)
const EventRow = Schema.Struct({ seq: Num, body: Schema.String })
const decodeEventRow = rowDecoder(EventRow)
const toStoredEvent = (row: unknown): Effect.Effect<SessionStore.StoredEvent, string> =>
  Effect.gen(function*() {
    const r = yield* decodeEventRow(row)
    return { seq: r.seq, event: yield* C.decodeEvent(r.body) }
  })
const OwnerRow = Schema.Struct({ tenant: Schema.String, user_id: Schema.String })
const decodeOwnerRow = rowDecoder(OwnerRow)
const ScenarioVersionRow = Schema.Struct({ author: OptText, version: Num, created_at: Num, updated_at: Num })
const decodeScenarioVersionRow = rowDecoder(ScenarioVersionRow)

// Statements ------------------------------------------------------------------------------------

const SESSION_COLUMNS =
  "id, tenant, user_id, kind, scenario_id, title, status, end_reason, end_message, created_at, started_at, ended_at, duration_ms, messages, input_tokens, output_tokens, cost_usd, fallbacks, previous_session_id, model, metadata"
const MESSAGE_COLUMNS =
  "session_id, seq, role, text, created_at, turn_id, input_tokens, output_tokens, cost_usd, estimated, model, fallback, fallback_cause"
const EVALUATION_COLUMNS =
  "session_id, tenant, user_id, status, attempts, created_at, updated_at, next_attempt_at, completed_at, error, result"

/** `%text%` for LIKE with `\` as the escape character. */
const likeEscape = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`)

const selectSession = `SELECT ${SESSION_COLUMNS} FROM braid_sessions WHERE id = ?`

/** The rows of a query, each decoded with `decode`. */
const queryAll = <A>(
  db: Sql.Driver,
  text: string,
  params: ReadonlyArray<Sql.Param>,
  decode: (row: unknown) => Effect.Effect<A, string>
): Effect.Effect<ReadonlyArray<A>, Sql.SqlFailure | string> =>
  Effect.flatMap(db.query(text, params), (rows) => Effect.forEach(rows, decode))

/** The first row of a query decoded with `decode`, or `undefined`. */
const queryFirst = <A>(
  db: Sql.Driver,
  text: string,
  params: ReadonlyArray<Sql.Param>,
  decode: (row: unknown) => Effect.Effect<A, string>
): Effect.Effect<A | undefined, Sql.SqlFailure | string> =>
  Effect.flatMap(db.query(text, params), (rows) => rows.length === 0 ? Effect.succeed(undefined) : decode(rows[0]))

/** The store on `sql`, whose migrations have run. */
export const make = (sql: Sql.Driver, timeout: Duration.DurationInput | undefined): SessionStore.Service => {
  const forUpdate = sql.dialect === "postgres" ? " FOR UPDATE" : ""
  // One bound per operation, made once (a bound decodes its duration when it is made).
  const calls = new Map<string, ReturnType<typeof Sql.call<SessionStoreError>>>()
  const call = (operation: string) => {
    let c = calls.get(operation)
    if (c === undefined) {
      c = Sql.call(timeout, (reason) => new SessionStoreError({ operation, reason }))
      calls.set(operation, c)
    }
    return c
  }

  const sessionById = (db: Sql.Driver, sessionId: string) => queryFirst(db, selectSession, [sessionId], toSession)

  /** The session, if `principal` sees it. */
  const visibleSession = (principal: SessionStore.Principal, sessionId: string, operation: string) =>
    Effect.flatMap(
      C.lookupId(sessionId) ? sessionById(sql, sessionId).pipe(call(operation)) : Effect.succeed(undefined),
      (s) =>
        s !== undefined && C.canRead(principal, s.tenant, s.userId)
          ? Effect.succeed(s)
          : Effect.fail(new SessionNotFound({ sessionId: C.show(sessionId) }))
    )

  /** Whether `principal` sees the session (its owner row only). */
  const owns = (db: Sql.Driver, principal: SessionStore.Principal, sessionId: string, lock = "") =>
    Effect.flatMap(
      db.query(`SELECT tenant, user_id FROM braid_sessions WHERE id = ?${lock}`, [sessionId]),
      (rows) =>
        rows.length === 0
          ? Effect.succeed(false)
          : Effect.map(decodeOwnerRow(rows[0]), (o) => C.canRead(principal, o.tenant, o.user_id))
    )

  const notFound = (sessionId: unknown) => new SessionNotFound({ sessionId: C.show(sessionId) })

  return {
    putScenario: (principal, input, at) =>
      Effect.gen(function*() {
        const { at: when, scenario } = yield* C.scenarioWrite(principal, input, at)
        const tenant = C.tenantOf(principal)
        const stored = yield* Effect.gen(function*() {
          const body = yield* encodeScenarioBody(scenario)
          const rows = yield* sql.query(
            `INSERT INTO braid_scenarios
              (tenant, id, title, title_key, difficulty, skills, author, version, created_at, updated_at, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)
            ON CONFLICT (tenant, id) DO UPDATE SET
              title = excluded.title, title_key = excluded.title_key, difficulty = excluded.difficulty,
              skills = excluded.skills, body = excluded.body, updated_at = excluded.updated_at,
              author = COALESCE(?, braid_scenarios.author), version = braid_scenarios.version + 1
            RETURNING author, version, created_at, updated_at`,
            [
              tenant,
              scenario.id,
              scenario.title,
              C.titleKey(scenario.title),
              scenario.persona.difficulty,
              C.skillKey(scenario),
              scenario.author ?? C.userOf(principal),
              when,
              when,
              body,
              scenario.author ?? null
            ]
          )
          return yield* decodeScenarioVersionRow(rows[0])
        }).pipe(call("putScenario"))
        return {
          ...scenario,
          tenant,
          ...present({ author: stored.author }),
          version: stored.version,
          createdAt: stored.created_at,
          updatedAt: stored.updated_at
        }
      }),

    getScenario: (principal, id) =>
      Effect.flatMap(
        C.lookupId(id)
          ? queryFirst(
            sql,
            "SELECT tenant, author, version, created_at, updated_at, body FROM braid_scenarios WHERE tenant = ? AND id = ?",
            [C.tenantOf(principal), id],
            toScenario
          ).pipe(call("getScenario"))
          : Effect.succeed(undefined),
        (s) => s === undefined ? Effect.fail(new ScenarioNotFound({ scenarioId: C.show(id) })) : Effect.succeed(s)
      ),

    listScenarios: (principal, query) =>
      Effect.flatMap(C.scenarioFilter(principal, query), (f) => {
        const where = ["tenant = ?"]
        const params: Array<Sql.Param> = [f.tenant]
        if (f.search !== undefined) {
          where.push("title_key LIKE ? ESCAPE '\\'")
          params.push(`%${likeEscape(f.search)}%`)
        }
        if (f.skill !== undefined) {
          where.push("skills LIKE ? ESCAPE '\\'")
          params.push(`%${likeEscape(`|${f.skill}|`)}%`)
        }
        if (f.difficulty !== undefined) {
          where.push("difficulty = ?")
          params.push(f.difficulty)
        }
        if (f.after !== undefined) {
          where.push("(title, id) > (?, ?)")
          params.push(f.after.t, f.after.i)
        }
        params.push(f.limit + 1)
        return queryAll(
          sql,
          `SELECT tenant, author, version, created_at, updated_at, body FROM braid_scenarios
            WHERE ${where.join(" AND ")} ORDER BY title, id LIMIT ?`,
          params,
          toScenario
        ).pipe(
          call("listScenarios"),
          Effect.map((rows) =>
            C.pageOf(rows, f.limit, (last) => C.scenarioCursor.encode({ t: last.title, i: last.id }))
          )
        )
      }),

    deleteScenario: (principal, id) =>
      Effect.gen(function*() {
        yield* C.requireAuthor(principal, "deleteScenario")
        const n = C.lookupId(id)
          ? yield* sql.execute("DELETE FROM braid_scenarios WHERE tenant = ? AND id = ?", [C.tenantOf(principal), id])
            .pipe(call("deleteScenario"))
          : 0
        if (n === 0) return yield* new ScenarioNotFound({ scenarioId: C.show(id) })
      }),

    createSession: (input) =>
      Effect.gen(function*() {
        const s = yield* C.decodeNewSession(input)
        const record = C.newSession(s)
        const inserted = yield* Effect.gen(function*() {
          const metadata = Json.encode(record.metadata)
          if (Either.isLeft(metadata)) return yield* Effect.fail(metadata.left.message)
          return yield* sql.execute(
            `INSERT INTO braid_sessions (${SESSION_COLUMNS})
            VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL, NULL, 0, 0, 0, 0, 0, ?, ?, ?)
            ON CONFLICT (id) DO NOTHING`,
            [
              record.id,
              record.tenant,
              record.userId,
              record.kind,
              record.scenarioId ?? null,
              record.title ?? null,
              record.status,
              record.createdAt,
              record.startedAt ?? null,
              record.previousSessionId ?? null,
              record.model ?? null,
              metadata.right
            ]
          )
        }).pipe(call("createSession"))
        if (inserted === 0) return yield* new InvalidInput({ field: "id", reason: "a session with this id exists" })
        return record
      }),

    activateSession: (sessionId, at) =>
      Effect.gen(function*() {
        const when = yield* C.decodeTime("activateSession", at)
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const s = yield* Effect.zipRight(
          sql.execute(
            "UPDATE braid_sessions SET status = 'active', started_at = ? WHERE id = ? AND status = 'queued'",
            [
              when,
              sessionId
            ]
          ),
          sessionById(sql, sessionId)
        ).pipe(call("activateSession"))
        return s === undefined ? yield* notFound(sessionId) : s
      }),

    endSession: (sessionId, end) =>
      Effect.gen(function*() {
        const e = yield* C.decodeEnd("endSession", end)
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const [changed, s] = yield* Effect.all([
          sql.execute(
            `UPDATE braid_sessions SET status = 'completed', end_reason = ?, end_message = ?, ended_at = ?,
              duration_ms = CASE WHEN started_at IS NULL THEN NULL WHEN started_at > ? THEN 0 ELSE ? - started_at END
            WHERE id = ? AND status <> 'completed'`,
            [e.reason, e.message ?? null, e.at, e.at, e.at, sessionId]
          ),
          sessionById(sql, sessionId)
        ]).pipe(call("endSession"))
        return s === undefined ? yield* notFound(sessionId) : { session: s, ended: changed === 1 }
      }),

    appendMessage: (sessionId, message) =>
      Effect.gen(function*() {
        const m = yield* C.decodeNewMessage(message)
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const record = yield* sql.transaction((tx) =>
          Effect.gen(function*() {
            const rows = yield* tx.query(
              `UPDATE braid_sessions SET messages = messages + 1, input_tokens = input_tokens + ?,
                output_tokens = output_tokens + ?, cost_usd = cost_usd + ?, fallbacks = fallbacks + ?
              WHERE id = ? RETURNING messages, tenant`,
              [m.inputTokens, m.outputTokens, m.costUsd, m.fallback ? 1 : 0, sessionId]
            )
            if (rows.length === 0) return undefined
            const { messages, tenant } = yield* decodeSeqRow(rows[0])
            const record: SessionStore.MessageRecord = { ...m, sessionId, seq: messages - 1 }
            yield* tx.execute(
              `INSERT INTO braid_session_messages (${MESSAGE_COLUMNS}, tenant)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
              [
                sessionId,
                record.seq,
                m.role,
                m.text,
                m.createdAt,
                m.turnId ?? null,
                m.inputTokens,
                m.outputTokens,
                m.costUsd,
                m.estimated ? 1 : 0,
                m.model ?? null,
                m.fallback ? 1 : 0,
                m.fallbackCause ?? null,
                tenant
              ]
            )
            return record
          })
        ).pipe(call("appendMessage"))
        return record === undefined ? yield* notFound(sessionId) : record
      }),

    getSession: (principal, sessionId) => visibleSession(principal, sessionId, "getSession"),

    listSessions: (principal, query) =>
      Effect.flatMap(C.sessionFilter(principal, query), (f) => {
        const where = ["tenant = ?"]
        const params: Array<Sql.Param> = [f.tenant]
        const add = (clause: string, ...values: Array<Sql.Param>) => {
          where.push(clause)
          params.push(...values)
        }
        if (f.userId !== undefined) add("user_id = ?", f.userId)
        if (f.status !== undefined) add("status = ?", f.status)
        if (f.kind !== undefined) add("kind = ?", f.kind)
        if (f.scenarioId !== undefined) add("scenario_id = ?", f.scenarioId)
        if (f.from !== undefined) add("created_at >= ?", f.from)
        if (f.to !== undefined) add("created_at < ?", f.to)
        if (f.after !== undefined) add(`(created_at, id) ${f.newest ? "<" : ">"} (?, ?)`, f.after.c, f.after.i)
        const dir = f.newest ? "DESC" : "ASC"
        params.push(f.limit + 1)
        return queryAll(
          sql,
          `SELECT ${SESSION_COLUMNS} FROM braid_sessions WHERE ${
            where.join(" AND ")
          } ORDER BY created_at ${dir}, id ${dir} LIMIT ?`,
          params,
          toSession
        ).pipe(
          call("listSessions"),
          Effect.map((rows) =>
            C.pageOf(rows, f.limit, (last) => C.sessionCursor.encode({ c: last.createdAt, i: last.id }))
          )
        )
      }),

    activeSession: (principal, scenarioId) =>
      !C.lookupId(scenarioId)
        ? Effect.succeed(undefined)
        : queryFirst(
          sql,
          `SELECT ${SESSION_COLUMNS} FROM braid_sessions
            WHERE tenant = ? AND user_id = ? AND scenario_id = ? AND status IN ('queued', 'active')
            ORDER BY created_at DESC, id DESC LIMIT 1`,
          [C.tenantOf(principal), C.userOf(principal), scenarioId],
          toSession
        ).pipe(call("activeSession")),

    messages: (principal, sessionId, page) =>
      Effect.gen(function*() {
        const limit = yield* C.limitInput(page?.limit, 100, 500)
        const after = yield* C.messageCursor.decode(page?.cursor)
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const rows = yield* Effect.gen(function*() {
          if (!(yield* owns(sql, principal, sessionId))) return undefined
          const rows = yield* sql.query(
            `SELECT ${MESSAGE_COLUMNS} FROM braid_session_messages WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
            [sessionId, after === undefined ? -1 : after.s, limit + 1]
          )
          return yield* Effect.forEach(rows, toMessage)
        }).pipe(call("messages"))
        if (rows === undefined) return yield* notFound(sessionId)
        return C.pageOf(rows, limit, (last) => C.messageCursor.encode({ s: last.seq }))
      }),

    deleteSession: (principal, sessionId) =>
      Effect.gen(function*() {
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const deleted = yield* sql.transaction((tx) =>
          Effect.gen(function*() {
            if (!(yield* owns(tx, principal, sessionId, forUpdate))) return false
            yield* tx.execute("DELETE FROM braid_session_messages WHERE session_id = ?", [sessionId])
            yield* tx.execute("DELETE FROM braid_session_events WHERE session_id = ?", [sessionId])
            yield* tx.execute("DELETE FROM braid_session_evaluations WHERE session_id = ?", [sessionId])
            yield* tx.execute("DELETE FROM braid_sessions WHERE id = ?", [sessionId])
            return true
          })
        ).pipe(call("deleteSession"))
        if (!deleted) return yield* notFound(sessionId)
      }),

    appendEvent: (event) =>
      Effect.gen(function*() {
        const e = yield* C.encodeEvent(event)
        if (sql.dialect === "sqlite") {
          // One statement (SQLite runs it under its write lock; a file serves one process): the
          // next number, unless the session is missing or the event is already there.
          const appended = yield* Effect.gen(function*() {
            const inserted = yield* queryFirst(
              sql,
              `INSERT INTO braid_session_events (session_id, seq, event_id, tag, at, body)
              SELECT s.id, COALESCE((SELECT MAX(seq) FROM braid_session_events WHERE session_id = s.id), 0) + 1,
                ?, ?, ?, ?
              FROM braid_sessions s WHERE s.id = ?
              ON CONFLICT (session_id, event_id) DO NOTHING
              RETURNING seq`,
              [e.eventId, e.event._tag, e.at, e.body, e.sessionId],
              decodeEventSeqRow
            )
            if (inserted !== undefined) return { seq: inserted.seq, inserted: true }
            const same = yield* queryFirst(
              sql,
              "SELECT seq FROM braid_session_events WHERE session_id = ? AND event_id = ?",
              [e.sessionId, e.eventId],
              decodeEventSeqRow
            )
            return same === undefined ? undefined : { seq: same.seq, inserted: false }
          }).pipe(call("appendEvent"))
          return appended === undefined ? yield* notFound(e.sessionId) : appended
        }
        const appended = yield* sql.transaction((tx) =>
          Effect.gen(function*() {
            // The session's row lock (PostgreSQL) or the write transaction (SQLite) serializes the
            // appends of one session: the next seq is read and written by one of them at a time.
            const owner = yield* tx.query(`SELECT tenant FROM braid_sessions WHERE id = ?${forUpdate}`, [e.sessionId])
            if (owner.length === 0) return undefined
            const same = yield* queryFirst(
              tx,
              "SELECT seq FROM braid_session_events WHERE session_id = ? AND event_id = ?",
              [e.sessionId, e.eventId],
              decodeEventSeqRow
            )
            if (same !== undefined) return { seq: same.seq, inserted: false }
            const last = yield* queryFirst(
              tx,
              "SELECT COALESCE(MAX(seq), 0) AS seq FROM braid_session_events WHERE session_id = ?",
              [e.sessionId],
              decodeEventSeqRow
            )
            const seq = (last?.seq ?? 0) + 1
            yield* tx.execute(
              "INSERT INTO braid_session_events (session_id, seq, event_id, tag, at, body) VALUES (?, ?, ?, ?, ?, ?)",
              [e.sessionId, seq, e.eventId, e.event._tag, e.at, e.body]
            )
            return { seq, inserted: true }
          })
        ).pipe(call("appendEvent"))
        return appended === undefined ? yield* notFound(e.sessionId) : appended
      }),

    events: (principal, sessionId, options) =>
      Effect.gen(function*() {
        const { after, limit } = yield* C.eventQuery(options)
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const rows = yield* Effect.gen(function*() {
          if (!(yield* owns(sql, principal, sessionId))) return undefined
          return yield* queryAll(
            sql,
            "SELECT seq, body FROM braid_session_events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            [sessionId, after, limit],
            toStoredEvent
          )
        }).pipe(call("events"))
        return rows === undefined ? yield* notFound(sessionId) : rows
      }),

    enqueueEvaluation: (record) =>
      Effect.gen(function*() {
        const r = yield* C.decodeEvaluation("enqueueEvaluation", record)
        return yield* Effect.gen(function*() {
          const result = r.result === undefined ? null : yield* encodeResult(r.result)
          yield* sql.execute(
            `INSERT INTO braid_session_evaluations (${EVALUATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (session_id) DO NOTHING`,
            evaluationParams(r, result)
          )
          const rows = yield* sql.query(
            `SELECT ${EVALUATION_COLUMNS} FROM braid_session_evaluations WHERE session_id = ?`,
            [r.sessionId]
          )
          if (rows.length === 0) return yield* Effect.fail("the job was deleted while it was enqueued")
          return yield* toEvaluation(rows[0])
        }).pipe(call("enqueueEvaluation"))
      }),

    updateEvaluation: (expected, next) =>
      Effect.gen(function*() {
        const n = yield* C.decodeEvaluation("updateEvaluation", next)
        const e = yield* C.decodeEvaluation("updateEvaluation", expected)
        if (n.sessionId !== e.sessionId) return false
        const changed = yield* Effect.gen(function*() {
          const result = n.result === undefined ? null : yield* encodeResult(n.result)
          const [, ...rest] = evaluationParams(n, result)
          return yield* sql.execute(
            `UPDATE braid_session_evaluations SET tenant = ?, user_id = ?, status = ?, attempts = ?, created_at = ?,
              updated_at = ?, next_attempt_at = ?, completed_at = ?, error = ?, result = ?
            WHERE session_id = ? AND status = ? AND attempts = ? AND updated_at = ?`,
            [...rest, e.sessionId, e.status, e.attempts, e.updatedAt]
          )
        }).pipe(call("updateEvaluation"))
        return changed === 1
      }),

    getEvaluation: (principal, sessionId) =>
      Effect.gen(function*() {
        if (!C.lookupId(sessionId)) return yield* notFound(sessionId)
        const found = yield* Effect.gen(function*() {
          if (!(yield* owns(sql, principal, sessionId))) return undefined
          const rows = yield* sql.query(
            `SELECT ${EVALUATION_COLUMNS} FROM braid_session_evaluations WHERE session_id = ?`,
            [sessionId]
          )
          return { evaluation: rows.length === 0 ? undefined : yield* toEvaluation(rows[0]) }
        }).pipe(call("getEvaluation"))
        return found === undefined ? yield* notFound(sessionId) : found.evaluation
      }),

    evaluationsByStatus: (status, options) =>
      Effect.gen(function*() {
        const { limit, now } = yield* C.evaluationQuery(options)
        if (!C.isEvaluationStatus(status)) return []
        const due = status === "pending" && now !== undefined
        return yield* queryAll(
          sql,
          `SELECT ${EVALUATION_COLUMNS} FROM braid_session_evaluations WHERE status = ?${
            due ? " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)" : ""
          } ORDER BY created_at, session_id LIMIT ?`,
          due ? [status, now, limit] : [status, limit],
          toEvaluation
        ).pipe(call("evaluationsByStatus"))
      }),

    recordError: (entry) =>
      Effect.gen(function*() {
        const e = yield* C.decodeErrorEntry("recordError", entry)
        yield* sql.execute(
          "INSERT INTO braid_session_errors (tenant, at, severity, source, message, session_id) VALUES (?, ?, ?, ?, ?, ?)",
          [e.tenant, e.at, e.severity, e.source, e.message, e.sessionId ?? null]
        ).pipe(call("recordError"))
      }),

    recentErrors: (principal, options) =>
      Effect.gen(function*() {
        yield* C.requireAdmin(principal, "recentErrors")
        const { limit, since } = yield* C.errorQuery(options)
        return yield* Effect.flatMap(
          sql.query(
            `SELECT tenant, at, severity, source, message, session_id FROM braid_session_errors
            WHERE tenant = ?${since === undefined ? "" : " AND at >= ?"} ORDER BY at DESC, seq DESC LIMIT ?`,
            since === undefined ? [C.tenantOf(principal), limit] : [C.tenantOf(principal), since, limit]
          ),
          (rows) =>
            Effect.forEach(rows, (row) =>
              Effect.map(decodeErrorRow(row), (r): SessionStore.ErrorEntry => ({
                tenant: r.tenant,
                at: r.at,
                severity: r.severity,
                source: r.source,
                message: r.message,
                ...present({ sessionId: r.session_id })
              })))
        ).pipe(call("recentErrors"))
      }),

    countLive: (principal) =>
      Effect.gen(function*() {
        yield* C.requireAdmin(principal, "countLive")
        const rows = yield* queryAll(
          sql,
          "SELECT status, COUNT(*) AS n FROM braid_sessions WHERE tenant = ? AND status IN ('queued', 'active') GROUP BY status",
          [C.tenantOf(principal)],
          decodeCountRow
        ).pipe(call("countLive"))
        const count = (status: string) => rows.find((r) => r.status === status)?.n ?? 0
        return { active: count("active"), queued: count("queued") }
      }),

    hourlyUsage: (principal, range) =>
      Effect.gen(function*() {
        yield* C.requireAdmin(principal, "hourlyUsage")
        const r = yield* C.hourRange(range)
        if (r.hours === 0) return []
        const rows = yield* queryAll(
          sql,
          `SELECT created_at / ${C.HOUR} AS h, COUNT(*) AS n, SUM(input_tokens) AS i, SUM(output_tokens) AS o,
              SUM(cost_usd) AS c
            FROM braid_session_messages WHERE tenant = ? AND created_at >= ? AND created_at < ?
            GROUP BY created_at / ${C.HOUR}`,
          [C.tenantOf(principal), r.since, r.until],
          decodeUsageRow
        ).pipe(call("hourlyUsage"))
        return C.fillHours(
          r,
          new Map(rows.map((b) => [b.h * C.HOUR, { messages: b.n, inputTokens: b.i, outputTokens: b.o, costUsd: b.c }]))
        )
      })
  }
}

const evaluationParams = (r: SessionStore.EvaluationRecord, result: string | null): Array<Sql.Param> => [
  r.sessionId,
  r.tenant,
  r.userId,
  r.status,
  r.attempts,
  r.createdAt,
  r.updatedAt,
  r.nextAttemptAt ?? null,
  r.completedAt ?? null,
  r.error ?? null,
  result
]
