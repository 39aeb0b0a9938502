import { Cli, ServeCommand } from "@braid/cli"
import { Auth } from "@braid/server"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Duration, Effect, Either, Fiber, Option, Redacted } from "effect"
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
        fetch(`${url}/api/scenarios`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json())
      )
      assert.deepStrictEqual(scenarios.items.map((s: any) => s.id), ["first-session"])
      const page = yield* Effect.promise(() => fetch(`${url}/`).then((r) => r.text()))
      assert.include(page, "<html")
      yield* Fiber.interrupt(server)
      assert.isTrue(fs.existsSync(path.join(data, "braid.db")))
    }))
})
