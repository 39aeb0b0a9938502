/**
 * Signed tokens: `braid1.<payload>.<signature>`, where the payload is the base64url JSON
 * `{ sub, role, tenant, exp }` (`exp` in epoch seconds) and the signature is HMAC-SHA256 of
 * `braid1.<payload>` with the server's secret, compared in constant time. No external identity
 * provider: an operator issues tokens with `braid users token <user> --role <role>`.
 *
 * The secret comes from `BRAID_AUTH_SECRET` (`Config.redacted`, at least 32 characters); for
 * development `secretIn(dataDir)` generates one and keeps it in `<dataDir>/auth-secret` (mode 0600).
 *
 * @since 0.3.0
 */
import { Json } from "@braid/core"
import { SessionStore } from "@braid/workflows"
import { FileSystem, Path } from "@effect/platform"
import type { PlatformError } from "@effect/platform/Error"
import type { ConfigError } from "effect"
import { Config, Duration, Effect, Either, Option, Redacted, Schema } from "effect"
import * as crypto from "node:crypto"

/**
 * What a token says: the user (`sub`), the role, the organization, and the expiry (epoch seconds).
 *
 * @example
 * ```ts
 * import { Auth } from "@braid/server"
 *
 * const claims: Auth.Claims = { sub: "ada", role: "learner", tenant: "default", exp: 1_900_000_000 }
 * ```
 *
 * @category models
 * @since 0.3.0
 */
export const Claims = Schema.Struct({
  sub: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  role: SessionStore.Role,
  tenant: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)),
  exp: Schema.Int.pipe(Schema.positive())
})

/**
 * @category models
 * @since 0.3.0
 */
export type Claims = typeof Claims.Type

const prefix = "braid1"
const maxTokenLength = 4096
const minSecretLength = 32

const hmac = (secret: Redacted.Redacted<string>, data: string): Buffer =>
  crypto.createHmac("sha256", Redacted.value(secret)).update(data).digest()

/**
 * Signs claims into a token.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Auth } from "@braid/server"
 *
 * const secret = Redacted.make("a development secret of at least 32 characters")
 * const token = Auth.sign(secret, { sub: "ada", role: "learner", tenant: "default", exp: 1_900_000_000 })
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const sign = (secret: Redacted.Redacted<string>, claims: Claims): string => {
  const payload = Buffer.from(JSON.stringify(Schema.encodeSync(Claims)(claims))).toString("base64url")
  const signed = `${prefix}.${payload}`
  return `${signed}.${hmac(secret, signed).toString("base64url")}`
}

/**
 * Why a token was refused (never with the token or the secret in it).
 *
 * @category models
 * @since 0.3.0
 */
export type Refusal = "missing" | "malformed" | "bad-signature" | "expired"

/**
 * A human sentence for a refusal.
 *
 * @example
 * ```ts
 * import { Auth } from "@braid/server"
 *
 * Auth.describe("expired") // "the token has expired"
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const describe = (refusal: Refusal): string =>
  ({
    "missing": "a token is required (Authorization: Bearer <token>)",
    "malformed": "the token is malformed",
    "bad-signature": "the token's signature is not valid",
    "expired": "the token has expired"
  })[refusal]

/**
 * Verifies a token at `nowSeconds`: its claims, or why it is refused. The signature is checked
 * (in constant time) before the payload is read.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Auth } from "@braid/server"
 *
 * const secret = Redacted.make("a development secret of at least 32 characters")
 * const token = Auth.sign(secret, { sub: "ada", role: "learner", tenant: "default", exp: 2_000 })
 * Auth.verify(secret, token, 1_000) // Either.right(claims)
 * ```
 *
 * @category utils
 * @since 0.3.0
 */
export const verify = (
  secret: Redacted.Redacted<string>,
  token: string,
  nowSeconds: number
): Either.Either<Claims, Refusal> => {
  if (token === "") return Either.left("missing")
  if (token.length > maxTokenLength) return Either.left("malformed")
  const parts = token.split(".")
  if (parts.length !== 3 || parts[0] !== prefix) return Either.left("malformed")
  const [, payload, signature] = parts as [string, string, string]
  if (!/^[A-Za-z0-9_-]+$/.test(payload) || !/^[A-Za-z0-9_-]+$/.test(signature)) return Either.left("malformed")
  const expected = hmac(secret, `${prefix}.${payload}`)
  const given = Buffer.from(signature, "base64url")
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
    return Either.left("bad-signature")
  }
  const parsed = Json.parse(Buffer.from(payload, "base64url").toString("utf8"), { maxDepth: 4 })
  if (Either.isLeft(parsed)) return Either.left("malformed")
  const claims = Schema.decodeUnknownEither(Claims)(parsed.right)
  if (Either.isLeft(claims)) return Either.left("malformed")
  if (claims.right.exp <= nowSeconds) return Either.left("expired")
  return Either.right(claims.right)
}

/**
 * Issues a token for a user, valid for `ttl` from `nowMillis`.
 *
 * @example
 * ```ts
 * import { Redacted } from "effect"
 * import { Auth } from "@braid/server"
 *
 * const secret = Redacted.make("a development secret of at least 32 characters")
 * const token = Auth.issue(secret, { userId: "tess", role: "teacher" }, Date.now())
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const issue = (
  secret: Redacted.Redacted<string>,
  user: {
    readonly userId: string
    readonly role: SessionStore.Role
    readonly tenant?: string
    readonly ttl?: Duration.DurationInput
  },
  nowMillis: number
): string =>
  sign(secret, {
    sub: user.userId,
    role: user.role,
    tenant: user.tenant ?? "default",
    exp: Math.floor((nowMillis + Duration.toMillis(Duration.decode(user.ttl ?? "7 days"))) / 1000)
  })

/**
 * `BRAID_AUTH_SECRET` (redacted; at least 32 characters), if set.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Auth } from "@braid/server"
 *
 * const secret = Effect.map(Auth.secretConfig, (o) => o._tag)
 * ```
 *
 * @category constants
 * @since 0.3.0
 */
export const secretConfig: Config.Config<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted("BRAID_AUTH_SECRET").pipe(
    Config.validate({
      message: `must be at least ${minSecretLength} characters (value not shown)`,
      validation: (s) => Redacted.value(s).length >= minSecretLength
    })
  )
)

/**
 * The secret: `BRAID_AUTH_SECRET` when set, otherwise the development secret of `dataDir`
 * (`<dataDir>/auth-secret`, generated with 32 random bytes on first use, mode 0600).
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect } from "effect"
 * import { Auth } from "@braid/server"
 *
 * const secret = Auth.secretIn(".braid").pipe(Effect.provide(NodeContext.layer))
 * ```
 *
 * @category constructors
 * @since 0.3.0
 */
export const secretIn = (
  dataDir: string
): Effect.Effect<
  { readonly secret: Redacted.Redacted<string>; readonly source: "env" | "file" },
  ConfigError.ConfigError | PlatformError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function*() {
    const configured = yield* secretConfig
    if (Option.isSome(configured)) return { secret: configured.value, source: "env" as const }
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dataDir, "auth-secret")
    if (yield* fs.exists(file)) {
      const text = (yield* fs.readFileString(file)).trim()
      if (text.length >= minSecretLength) return { secret: Redacted.make(text), source: "file" as const }
    }
    yield* fs.makeDirectory(dataDir, { recursive: true })
    const text = crypto.randomBytes(32).toString("base64url")
    yield* fs.writeFileString(file, `${text}\n`, { mode: 0o600 })
    return { secret: Redacted.make(text), source: "file" as const }
  })
