/**
 * Decoding at the edge of the practice workflow: a Schema failure becomes the `InvalidInput`
 * naming the field at fault (`persona.name`, `skills[0].id`, `principal.role`).
 *
 * @internal
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidInput } from "../Errors.js"

/** `a.b[2].c` from a parse path (under `prefix`). */
export const fieldOf = (path: ReadonlyArray<PropertyKey>, prefix: ReadonlyArray<PropertyKey> = []): string => {
  let out = ""
  for (const key of [...prefix, ...path]) {
    if (typeof key === "number") out += `[${key}]`
    else out += out === "" ? String(key) : `.${String(key)}`
  }
  return out
}

/** The `InvalidInput` of a parse error: its first issue. */
export const invalidInput = (error: ParseResult.ParseError, prefix: ReadonlyArray<PropertyKey> = []): InvalidInput => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  return new InvalidInput({ field: fieldOf(first?.path ?? [], prefix), reason: first?.message ?? error.message })
}

/** A decoder of user input whose failure is `InvalidInput` (never a defect, whatever the input). */
export const decoder = <A, I>(schema: Schema.Schema<A, I, never>, prefix: ReadonlyArray<PropertyKey> = []) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "first" })
  return (input: unknown): Effect.Effect<A, InvalidInput> =>
    Effect.suspend(() => {
      const decoded = decode(input)
      return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(invalidInput(decoded.left, prefix))
    })
}
