/**
 * Decoding at the edge of the practice workflow: a Schema failure becomes the `InvalidInput`
 * naming the field at fault (`persona.name`, `skills[0].id`, `principal.role`).
 *
 * @internal
 */
import { Duration, Effect, Either, Option, ParseResult, Schema } from "effect"
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

/** A duration option of a workflow's config: its default when absent, `InvalidInput` naming it when invalid. */
export const durationOption = (
  field: string,
  input: unknown,
  fallback: Duration.DurationInput
): Effect.Effect<Duration.Duration, InvalidInput> => {
  const decoded = Duration.decodeUnknown(input ?? fallback)
  return Option.isSome(decoded) && Duration.toMillis(decoded.value) > 0
    ? Effect.succeed(decoded.value)
    : Effect.fail(
      new InvalidInput({ field, reason: `must be a positive duration (e.g. "10 minutes"), got ${String(input)}` })
    )
}

/**
 * Builds policies from a config: an option the resilience policies refuse (`InvalidOption`, thrown
 * where a policy is built) is `InvalidInput` naming it: `retry.<option>` for the retry,
 * `timeoutField` for the timeout.
 */
export const buildPolicies = <A>(build: () => A, timeoutField: string): Effect.Effect<A, InvalidInput> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(build())
    } catch (e) {
      if (typeof e === "object" && e !== null && "_tag" in e && e._tag === "InvalidOption") {
        const o = e as unknown as { readonly policy: string; readonly option: string; readonly message: string }
        const policy = o.policy.toLowerCase()
        const field = policy.startsWith("retry")
          ? `retry.${o.option}`
          : policy.startsWith("timeout")
          ? timeoutField
          : o.option
        return Effect.fail(new InvalidInput({ field, reason: o.message }))
      }
      return Effect.die(e)
    }
  })
