import { Cli, ServeCommand } from "@braid/cli"
import { Auth } from "@braid/server"
import { Scripts } from "@braid/workflows"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Console, Duration, Effect, Either, Fiber, Option, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "braid-serve-"))
const secretOf = (dir: string) => Redacted.make(fs.readFileSync(path.join(dir, "auth-secret"), "utf8").trim())

describe("braid users token", () => {
  it.live("prints a token signed with the data directory's secret, with the role, organization and expiry asked for", () =>
    Effect.gen(function*() {
      const data = tmp()
      const r = yield* runCli([
        "users",
        "token",
        "tess",
        "--role",
        "teacher",
        "--tenant",
        "acme",
        "--ttl",
        "2h",
        "--data",
        data
      ])
      assert.strictEqual(r.code, 0, r.stderr)
      const now = Math.floor(Date.now() / 1000)
      const claims = Auth.verify(secretOf(data), r.stdout.trim(), now)
      assert.isTrue(Either.isRight(claims))
      if (Either.isRight(claims)) {
        assert.deepInclude(claims.right, { sub: "tess", role: "teacher", tenant: "acme" })
        assert.approximately(claims.right.exp - now, 7200, 60)
      }
      assert.strictEqual(fs.statSync(path.join(data, "auth-secret")).mode & 0o777, 0o600)
      // a second token uses the same secret
      const again = yield* runCli(["users", "token", "ada", "--data", data])
      assert.isTrue(Either.isRight(Auth.verify(secretOf(data), again.stdout.trim(), now)))
    }))

  it.effect("refuses a bad role (usage) and a bad ttl (a clear message)", () =>
    Effect.gen(function*() {
      const data = tmp()
      const role = yield* runCli(["users", "token", "ada", "--role", "root", "--data", data])
      assert.strictEqual(role.code, Cli.ExitCode.usage)
      const ttl = yield* runCli(["users", "token", "ada", "--ttl", "forever", "--data", data])
      assert.notStrictEqual(ttl.code, 0)
      assert.include(ttl.stderr, "--ttl")
    }))

  it("parseTtl reads 7d, 12h, 30m and Duration texts; refuses zero and nonsense", () => {
    assert.deepStrictEqual(ServeCommand.parseTtl("7d"), Option.some(Duration.days(7)))
    assert.deepStrictEqual(ServeCommand.parseTtl("30m"), Option.some(Duration.minutes(30)))
    assert.isTrue(Option.isSome(ServeCommand.parseTtl("2 hours")))
    assert.isTrue(Option.isNone(ServeCommand.parseTtl("0d")))
    assert.isTrue(Option.isNone(ServeCommand.parseTtl("soon")))
  })
})

describe("braid serve", () => {
  it.live("serves the API on the data directory: the sample scenario seeded, tokens of `braid users token` accepted", () =>
    Effect.gen(function*() {
      const data = tmp()
      const out: Array<string> = []
      const base = yield* Effect.console
      const console: Console.Console = {
        ...base,
        log: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" "))),
        error: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" ")))
      }
      const server = yield* Cli.run(["node", "braid", "serve", "--port", "0", "--data", data, "--offline"], []).pipe(
        Effect.withConsole(console),
        Effect.provide(NodeContext.layer),
        Effect.fork
      )
      let url: string | undefined
      for (let i = 0; i < 300 && url === undefined; i++) {
        url = /listening on (http:\/\/\S+)/.exec(out.join("\n"))?.[1]
        if (url === undefined) yield* Effect.sleep("50 millis")
      }
      assert.isDefined(url, out.join("\n"))
      assert.include(out.join("\n"), "added the sample scenario")
      const token = (yield* runCli(["users", "token", "ada", "--data", data])).stdout.trim()
      const scenarios = yield* Effect.promise(() =>
        fetch(`${url}/api/scenarios`, { headers: { authorization: `Bearer ${token}` } }).then((r) =>
          r.json() as Promise<any>
        )
      )
      assert.deepStrictEqual(scenarios.items.map((s: any) => s.id), ["first-session"])
      const page = yield* Effect.promise(() => fetch(`${url}/`).then((r) => r.text()))
      assert.include(page, "<html")
      yield* Fiber.interrupt(server)
      assert.isTrue(fs.existsSync(path.join(data, "braid.db")))
    }))
})

/** `braid serve` in this process with `env` as its environment; its URL and its fiber. */
const startServer = (data: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const base = yield* Effect.console
    const console: Console.Console = {
      ...base,
      log: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" "))),
      error: (...xs) => Effect.sync(() => void out.push(xs.map(String).join(" ")))
    }
    const fiber = yield* Cli.run(["node", "braid", "serve", "--port", "0", "--data", data, "--offline"], []).pipe(
      Effect.withConsole(console),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(NodeContext.layer),
      Effect.fork
    )
    let url: string | undefined
    for (let i = 0; i < 600 && url === undefined; i++) {
      url = /listening on (http:\/\/\S+)/.exec(out.join("\n"))?.[1]
      if (url === undefined) yield* Effect.sleep("50 millis")
    }
    assert.isDefined(url, out.join("\n"))
    return { url: url!, fiber, output: () => out.join("\n") }
  })

const call = (url: string, method: string, route: string, token: string, body?: unknown) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    return { status: res.status, json: (await res.json()) as any }
  })

describe("braid serve across a restart", () => {
  it.live(
    "sessions are durable runs: after a restart on the same data directory the cap still counts them and they go on",
    () =>
      Effect.gen(function*() {
        const data = tmp()
        const env = { BRAID_SESSION_CAP_ACTIVE: "1", BRAID_SESSION_CAP_QUEUED: "0" }
        const first = yield* startServer(data, env)
        assert.include(first.output(), `durable sessions: SQLite ${data}/braid-durable.db`)
        const ada = (yield* runCli(["users", "token", "ada", "--data", data])).stdout.trim()
        const bob = (yield* runCli(["users", "token", "bob", "--data", data])).stdout.trim()
        const started = yield* call(first.url, "POST", "/api/sessions", ada, { scenarioId: "first-session" })
        assert.strictEqual(started.status, 201, JSON.stringify(started.json))
        const id: string = started.json.session.id
        const t1 = yield* call(first.url, "POST", `/api/sessions/${id}/messages`, ada, {
          text: Scripts.practiceLearner[0]
        })
        assert.strictEqual(t1.status, 200, JSON.stringify(t1.json))
        yield* Fiber.interrupt(first.fiber)

        const second = yield* startServer(data, env)
        // the cap counts the session that was active before the restart
        const refused = yield* call(second.url, "POST", "/api/sessions", bob, { scenarioId: "first-session" })
        assert.strictEqual(refused.status, 503, JSON.stringify(refused.json))
        assert.strictEqual(refused.json._tag, "AtCapacity")
        // the session goes on: its run resumed from the journal
        const t2 = yield* call(second.url, "POST", `/api/sessions/${id}/messages`, ada, {
          text: Scripts.practiceLearner[1]
        })
        assert.strictEqual(t2.status, 200, JSON.stringify(t2.json))
        assert.notStrictEqual(t2.json.turnId, t1.json.turnId)
        assert.strictEqual(t2.json.reply.role, "assistant")
        const transcript = yield* call(second.url, "GET", `/api/sessions/${id}/messages?limit=100`, ada)
        const learner = transcript.json.items.filter((m: any) => m.role === "user").map((m: any) => m.text)
        assert.deepStrictEqual(learner, Scripts.practiceLearner.slice(0, 2))
        // its end frees the slot
        const ended = yield* call(second.url, "POST", `/api/sessions/${id}/end`, ada)
        assert.strictEqual(ended.status, 200, JSON.stringify(ended.json))
        const admitted = yield* call(second.url, "POST", "/api/sessions", bob, { scenarioId: "first-session" })
        assert.strictEqual(admitted.status, 201, JSON.stringify(admitted.json))
        yield* Fiber.interrupt(second.fiber)
      }),
    240_000
  )

  it.live(
    "a meeting's result is kept in the data directory: served again after a restart",
    () =>
      Effect.gen(function*() {
        const data = tmp()
        const first = yield* startServer(data, {})
        const tess = (yield* runCli(["users", "token", "tess", "--role", "teacher", "--data", data])).stdout.trim()
        const started = yield* call(first.url, "POST", "/api/meetings", tess, { preset: "launch-review" })
        assert.strictEqual(started.status, 201, JSON.stringify(started.json))
        const id: string = started.json.id
        let status = started.json.status
        for (let i = 0; i < 600 && status === "running"; i++) {
          yield* Effect.sleep("100 millis")
          status = (yield* call(first.url, "GET", `/api/meetings/${id}`, tess)).json.status
        }
        assert.strictEqual(status, "completed")
        const before = yield* call(first.url, "GET", `/api/meetings/${id}/result`, tess)
        assert.strictEqual(before.status, 200, JSON.stringify(before.json))
        yield* Fiber.interrupt(first.fiber)

        const second = yield* startServer(data, {})
        const after = yield* call(second.url, "GET", `/api/meetings/${id}/result`, tess)
        assert.strictEqual(after.status, 200, JSON.stringify(after.json))
        assert.deepStrictEqual(after.json.decisions, before.json.decisions)
        yield* Fiber.interrupt(second.fiber)
      }),
    240_000
  )
})
