/**
 * The coaching workflow on the SQL session stores (SQLite, and PostgreSQL in a fresh schema): a
 * day is stored as two coaching sessions with every message; on PostgreSQL, a link that stops
 * answering fails the day typed at the store's bound (no hang, no defect), and the next day on
 * the same store succeeds once the link is back.
 */
import { Runner, Sql } from "@braid/core"
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { Memory } from "@braid/memory"
import { PostgresDriver, PostgresSessionStore } from "@braid/postgres"
import { SqliteSessionStore } from "@braid/sqlite"
import { DATABASE_URL, describeWith, faultyProxy, withPort } from "@braid/testing"
import { Coaching, Samples, Scripts, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Option, Schedule } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"

const admin = SessionStore.system("default")
const model = Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.coaching))
const coaching = Coaching.make()

/** Runs a day with `id` and returns the stored sessions of that day and their messages. */
const storedDay = (id: string) =>
  Effect.gen(function*() {
    const report = yield* Runner.run(coaching.day, Samples.coachingDay, { sessionId: id })
    const store = yield* SessionStore.SessionStore
    const morning = yield* store.getSession(admin, `${id}:morning`)
    const evening = yield* store.getSession(admin, `${id}:evening`)
    const messages = (yield* store.messages(admin, `${id}:morning`)).items
    return { report, morning, evening, messages }
  })

const checkDay = (day: Effect.Effect.Success<ReturnType<typeof storedDay>>) => {
  assert.strictEqual(day.morning.kind, "coaching")
  assert.strictEqual(day.morning.endReason, "objective-met")
  assert.strictEqual(day.evening.endReason, "objective-met")
  assert.strictEqual(day.morning.totals.messages, day.report.morning.totals.messages)
  assert.closeTo(day.morning.totals.costUsd, day.report.morning.totals.costUsd, 1e-9)
  assert.deepStrictEqual(day.messages.map((m) => m.seq), [0, 1, 2, 3, 4, 5])
  assert.deepStrictEqual(day.messages.map((m) => m.text), day.report.morning.messages.map((m) => m.content))
  assert.isTrue(day.messages[0]!.estimated && day.messages[0]!.inputTokens > 0)
}

describe("Coaching on the SQLite session store", () => {
  const dir = mkdtempSync(join(tmpdir(), "braid-coaching-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it.live("a day is stored as two coaching sessions with every message, and survives the process (a new store on the file)", () =>
    Effect.gen(function*() {
      const file = join(dir, "sessions.db")
      const day = yield* storedDay("sqlite-day").pipe(
        Effect.provide(Layer.mergeAll(model, Memory.layerInMemory(), SqliteSessionStore.layer(file)))
      )
      checkDay(day)
      const reopened = yield* Effect.flatMap(
        SessionStore.SessionStore,
        (s) => s.getSession(admin, "sqlite-day:morning")
      )
        .pipe(Effect.provide(SqliteSessionStore.layer(file)))
      assert.deepStrictEqual(reopened.totals, day.morning.totals)
    }))
})

const describePg = await describeWith("postgres")

describePg("Coaching on the PostgreSQL session store", () => {
  const schema = `braid_cs_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`
  const run = (text: string) =>
    Effect.runPromise(
      Effect.flatMap(Sql.SqlDriver, (sql) => sql.execute(text)).pipe(
        Effect.provide(PostgresDriver.layer({ url: DATABASE_URL, max: 1 }))
      )
    )
  beforeAll(() => run(`CREATE SCHEMA IF NOT EXISTS ${schema}`))
  afterAll(() => run(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  const inSchema = (url: string) => {
    const u = new URL(url)
    u.searchParams.set("options", `-c search_path=${schema}`)
    return u.toString()
  }

  it.live(
    "a day is stored; a link that stops answering fails the next day typed at the bound; the store recovers",
    () =>
      Effect.gen(function*() {
        const target = new URL(DATABASE_URL)
        const proxy = yield* faultyProxy(Number(target.port || 5432), target.hostname || "127.0.0.1")
        const store = PostgresSessionStore.layer({
          url: inSchema(withPort(DATABASE_URL, proxy.port)),
          timeout: "2 seconds"
        })
        yield* Effect.gen(function*() {
          checkDay(yield* storedDay("pg-day-1"))

          proxy.silence()
          const stalled = yield* Effect.exit(storedDay("pg-day-2"))
          assert.isTrue(Exit.isFailure(stalled))
          if (Exit.isFailure(stalled)) {
            const failure = Cause.failureOption(stalled.cause)
            assert.isTrue(Option.isSome(failure), `a typed failure, not a defect: ${Cause.pretty(stalled.cause)}`)
            assert.strictEqual(Option.getOrThrow(failure)._tag, "SessionStoreError")
            assert.include(Option.getOrThrow(failure).message, "no answer within 2000 ms")
          }

          proxy.resume()
          proxy.drop() // the connections that saw the silence are gone; new ones go through
          const recovered = yield* storedDay("pg-day-3").pipe(
            Effect.retry({ times: 10, schedule: Schedule.spaced("300 millis") })
          )
          checkDay(recovered)
        }).pipe(Effect.provide(Layer.mergeAll(model, Memory.layerInMemory(), store)))
      }).pipe(Effect.scoped),
    60_000
  )
})
