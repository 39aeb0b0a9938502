import { Auth } from "@braid/server"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, FastCheck as fc, Redacted } from "effect"
import * as crypto from "node:crypto"
import { call, readEvents, secret, serve, tokenOf } from "./helpers.js"

const now = 1_800_000_000
const claims = { sub: "ada", role: "learner", tenant: "default", exp: now + 60 } as const

describe("Auth", () => {
  it("a signed token verifies; its claims come back", () => {
    const token = Auth.sign(secret, claims)
    assert.deepStrictEqual(Auth.verify(secret, token, now), Either.right(claims))
  })

  it("expired, forged, tampered, malformed and missing tokens are refused, each with its reason", () => {
    const token = Auth.sign(secret, claims)
    const [prefix, payload, signature] = token.split(".") as [string, string, string]
    assert.deepStrictEqual(Auth.verify(secret, token, now + 60), Either.left("expired"))
    const other = Redacted.make("another secret that is long enough to be used")
    assert.deepStrictEqual(Auth.verify(other, token, now), Either.left("bad-signature"))
    const admin = Buffer.from(JSON.stringify({ ...claims, role: "admin" })).toString("base64url")
    assert.deepStrictEqual(Auth.verify(secret, `${prefix}.${admin}.${signature}`, now), Either.left("bad-signature"))
    assert.deepStrictEqual(
      Auth.verify(secret, `${prefix}.${payload}.${signature.slice(1)}`, now),
      Either.left("bad-signature")
    )
    assert.deepStrictEqual(Auth.verify(secret, `${payload}.${signature}`, now), Either.left("malformed"))
    assert.deepStrictEqual(Auth.verify(secret, "", now), Either.left("missing"))
    // a correctly signed payload that is not claims
    const signedJunk = (text: string) => {
      const p = Buffer.from(text).toString("base64url")
      const sig = crypto.createHmac("sha256", Redacted.value(secret)).update(`braid1.${p}`).digest("base64url")
      return `braid1.${p}.${sig}`
    }
    assert.deepStrictEqual(Auth.verify(secret, signedJunk("{not json"), now), Either.left("malformed"))
    assert.deepStrictEqual(
      Auth.verify(secret, signedJunk(JSON.stringify({ ...claims, role: "root" })), now),
      Either.left("malformed")
    )
  })

  it("verify never throws, whatever the token (fuzz)", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => {
      const r = Auth.verify(secret, s, now)
      assert.isTrue(Either.isLeft(r))
    }))
    fc.assert(fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
      assert.isTrue(Either.isLeft(Auth.verify(secret, `${a}.${b}.${c}`, now)))
    }))
  })

  it.live("over HTTP: bad, expired, forged or missing tokens are 401 with a typed error; ?token= works for EventSource", () =>
    Effect.gen(function*() {
      const expired = Auth.sign(secret, { ...claims, exp: Math.floor(Date.now() / 1000) - 1 })
      const forged = Auth.sign(Redacted.make("not the server's secret, but long enough"), { ...claims, role: "admin" })
      for (
        const [token, message] of [
          [undefined, "a token is required"],
          ["garbage", "malformed"],
          [expired, "expired"],
          [forged, "signature"]
        ] as const
      ) {
        const r = yield* call("GET", "/api/me", token === undefined ? {} : { token })
        assert.strictEqual(r.status, 401, r.text)
        assert.strictEqual(r.json._tag, "Unauthorized")
        assert.include(r.json.message, message)
        assert.notInclude(r.text, Redacted.value(secret))
      }
      const me = yield* call("GET", "/api/me", { token: tokenOf("ada", "learner") })
      assert.strictEqual(me.status, 200)
      assert.deepInclude(me.json, { userId: "ada", role: "learner", tenant: "default" })
      const viaQuery = yield* call("GET", `/api/me?token=${tokenOf("tess", "teacher")}`)
      assert.strictEqual(viaQuery.json.userId, "tess")
      const sseWithout = yield* readEvents("/api/sessions/x/events", () => true)
      assert.strictEqual(sseWithout.status, 401)
      // health needs no token
      assert.strictEqual((yield* call("GET", "/api/health")).status, 200)
    }).pipe(Effect.provide(serve())))
})
