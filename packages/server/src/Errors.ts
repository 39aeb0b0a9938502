/**
 * The typed errors of the HTTP API. Every error reaches the client as JSON
 * `{ _tag, message, field? }` with its HTTP status, and never carries internals or secrets.
 *
 * @since 0.3.0
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema } from "effect"

const fields = {
  message: Schema.String,
  /** The field at fault (`persona.name`, `text`, `limit`), when one is. */
  field: Schema.optional(Schema.String)
}

/**
 * 400: the request is malformed; `field` names what was wrong.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.InvalidInput({ message: "invalid text: must not be empty", field: "text" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()(
  "InvalidInput",
  fields,
  HttpApiSchema.annotations({ status: 400, description: "The request is malformed; `field` names what was wrong." })
) {}

/**
 * 401: no token, or a token that is malformed, forged or expired.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.Unauthorized({ message: "the token has expired" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  fields,
  HttpApiSchema.annotations({ status: 401, description: "Missing, malformed, forged or expired token." })
) {}

/**
 * 403: the caller's role may not do this.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.Forbidden({ message: "admins only" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  fields,
  HttpApiSchema.annotations({ status: 403, description: "The caller's role may not do this." })
) {}

/**
 * 404: no such resource (or not one the caller may see: another learner's session is 404, not
 * 403, so that its existence is not revealed).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.NotFound({ message: "session s-1 not found" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class NotFound extends Schema.TaggedError<NotFound>()(
  "NotFound",
  fields,
  HttpApiSchema.annotations({ status: 404, description: "No such resource visible to the caller." })
) {}

/**
 * 409: the request conflicts with the state (a scenario id that exists, a completed session).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.Conflict({ message: "session s-1 is completed" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Conflict extends Schema.TaggedError<Conflict>()(
  "Conflict",
  fields,
  HttpApiSchema.annotations({ status: 409, description: "The request conflicts with the current state." })
) {}

/**
 * 413: the body is larger than the limit.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.PayloadTooLarge({ message: "the body exceeds 65536 bytes" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  fields,
  HttpApiSchema.annotations({ status: 413, description: "The body is larger than the limit." })
) {}

/**
 * 429: too many messages; `retryAfterSeconds` says when to try again.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.RateLimited({ message: "too many messages", retryAfterSeconds: 3 })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { ...fields, retryAfterSeconds: Schema.Number },
  HttpApiSchema.annotations({ status: 429, description: "Too many requests; retry after `retryAfterSeconds`." })
) {}

/**
 * 503: the session cap is full (active and queued sessions).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.AtCapacity({ message: "the service is at capacity" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class AtCapacity extends Schema.TaggedError<AtCapacity>()(
  "AtCapacity",
  fields,
  HttpApiSchema.annotations({ status: 503, description: "The session cap is full; try again when a session ends." })
) {}

/**
 * 503: a dependency (the database, the model) does not answer.
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.Unavailable({ message: "the store does not answer" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()(
  "Unavailable",
  fields,
  HttpApiSchema.annotations({ status: 503, description: "A dependency does not answer; try again later." })
) {}

/**
 * 500: an unexpected failure (logged on the server; the client sees no internals).
 *
 * @example
 * ```ts
 * import { Errors } from "@braid/server"
 *
 * const e = new Errors.Internal({ message: "unexpected error" })
 * ```
 *
 * @category errors
 * @since 0.3.0
 */
export class Internal extends Schema.TaggedError<Internal>()(
  "Internal",
  fields,
  HttpApiSchema.annotations({ status: 500, description: "Unexpected failure; details are in the server log." })
) {}

/**
 * Any error of the API.
 *
 * @category errors
 * @since 0.3.0
 */
export type ApiError =
  | InvalidInput
  | Unauthorized
  | Forbidden
  | NotFound
  | Conflict
  | PayloadTooLarge
  | RateLimited
  | AtCapacity
  | Unavailable
  | Internal
