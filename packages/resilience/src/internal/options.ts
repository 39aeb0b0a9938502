/**
 * Checks of policy options, run where a policy is built. Every refusal is an `InvalidOption`
 * naming the policy and the option (its path, e.g. `trigger.failureRate`), what was expected,
 * and a short description of what was given (never the whole value).
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import { InvalidOption } from "../Errors.js"

/** A short, safe description of a value (strings are cut, objects are not rendered). */
export const describe = (u: unknown): string => {
  switch (typeof u) {
    case "number":
      return Object.is(u, -0) ? "-0" : String(u)
    case "bigint":
      return `${u}n`
    case "string":
      return JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}...` : u)
    case "boolean":
    case "undefined":
      return String(u)
    case "function":
      return "a function"
    case "symbol":
      return "a symbol"
    default:
      if (u === null) return "null"
      if (Array.isArray(u)) return `an array of ${u.length}`
      if (Duration.isDuration(u)) return Duration.format(u)
      return "an object"
  }
}

/** Throws the refusal. */
export const refuse = (policy: string, option: string, reason: string, value: unknown): never => {
  throw new InvalidOption({ policy, option, reason, received: describe(value) })
}

/** The options object itself (undefined means "all defaults"). */
export const options = <O extends object>(policy: string, value: O | undefined): O | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refuse(policy, "options", "must be an object", value)
  }
  return value
}

/** An integer in [min, max]. */
export const integer = (
  policy: string,
  option: string,
  value: unknown,
  min: number,
  max = Number.MAX_SAFE_INTEGER
): number => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    return refuse(
      policy,
      option,
      max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`,
      value
    )
  }
  return value
}

/** A finite number >= min. */
export const finite = (policy: string, option: string, value: unknown, min: number): number => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    return refuse(policy, option, `must be a finite number >= ${min}`, value)
  }
  return value
}

/** A rate in (0, 1]: a failure rate of 0 would open on successes alone, above 1 never. */
export const rate = (policy: string, option: string, value: unknown): number => {
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    return refuse(policy, option, "must be a number greater than 0 and at most 1", value)
  }
  return value
}

/** A function, or undefined. */
export const fn = <F>(policy: string, option: string, value: F | undefined): F | undefined => {
  if (value !== undefined && typeof value !== "function") return refuse(policy, option, "must be a function", value)
  return value
}

/** A boolean, or undefined. */
export const boolean = (policy: string, option: string, value: unknown): boolean | undefined => {
  if (value !== undefined && typeof value !== "boolean") return refuse(policy, option, "must be a boolean", value)
  return value
}

/** A non-empty string. */
export const name = (policy: string, option: string, value: unknown): string => {
  if (typeof value !== "string" || value.length === 0) {
    return refuse(policy, option, "must be a non-empty string", value)
  }
  return value
}

/** One of `choices`. */
export const oneOf = <const C extends string>(
  policy: string,
  option: string,
  value: unknown,
  choices: ReadonlyArray<C>
): C => {
  if (typeof value !== "string" || !(choices as ReadonlyArray<string>).includes(value)) {
    return refuse(policy, option, `must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`, value)
  }
  return value as C
}

const nonNegativeInput = (input: unknown): boolean => {
  switch (typeof input) {
    case "number":
      return input >= 0 // false for NaN
    case "bigint":
      return input >= BigInt(0)
    case "string":
      return !input.trimStart().startsWith("-")
    case "object":
      if (input === null) return false
      if (Duration.isDuration(input)) return true
      return Array.isArray(input) && input.length === 2 && input.every((x) => typeof x === "number" && x >= 0)
    default:
      return false
  }
}

/**
 * A duration (a `Duration`, a number of ms, a bigint of ns, `[seconds, nanos]` or a string such as
 * "100 millis"). Never NaN or negative; `positive` also refuses 0; infinite only when `infinite`.
 */
export const duration = (
  policy: string,
  option: string,
  input: unknown,
  rules: { readonly positive?: boolean; readonly infinite?: boolean } = {}
): { readonly duration: Duration.Duration; readonly millis: number } => {
  const reason = `must be a${rules.infinite ? "" : " finite"} duration ${
    rules.positive ? "> 0" : ">= 0"
  } (a Duration, ms, or e.g. "5 seconds")`
  const decoded = nonNegativeInput(input) ? Duration.decodeUnknown(input) : Option.none()
  if (Option.isNone(decoded)) return refuse(policy, option, reason, input)
  const millis = Duration.toMillis(decoded.value)
  if ((!rules.infinite && !Number.isFinite(millis)) || (rules.positive && !(millis > 0))) {
    return refuse(policy, option, reason, input)
  }
  return { duration: decoded.value, millis }
}

/** Builds with `make` in an Effect: an `InvalidOption` is a typed failure, anything else a defect. */
export const build = <A>(make: () => A): Effect.Effect<A, InvalidOption> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(make())
    } catch (e) {
      return e instanceof InvalidOption ? Effect.fail(e) : Effect.die(e)
    }
  })

/** `value`, or `fallback` when it is undefined (only undefined: a null option is refused, not defaulted). */
export const or = <A, B>(value: A | undefined, fallback: B): A | B => value === undefined ? fallback : value

/** The label of a policy in its errors: its name when it is a usable one, else `fallback`. */
export const label = (name: unknown, fallback: string): string =>
  typeof name === "string" && name.length > 0 ? name : fallback

// The names the stores (Cache, RateLimit) use: the same checks, the same `InvalidOption`.

/** An integer >= 1. */
export const positiveInteger = (policy: string, option: string, value: unknown): number =>
  integer(policy, option, value, 1)

/** A finite number > 0. */
export const positiveNumber = (policy: string, option: string, value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0
    ? value
    : refuse(policy, option, "must be a finite number > 0", value)

/** A finite number >= 0. */
export const nonNegativeNumber = (policy: string, option: string, value: unknown): number =>
  finite(policy, option, value, 0)

/** A non-empty string. */
export const nonEmptyString = (policy: string, option: string, value: unknown): string => name(policy, option, value)

/** A string (possibly empty). */
export const string = (policy: string, option: string, value: unknown): string =>
  typeof value === "string" ? value : refuse(policy, option, "must be a string", value)

/** A duration that is finite and > 0, in milliseconds. */
export const positiveDuration = (policy: string, option: string, value: unknown): number =>
  duration(policy, option, value, { positive: true }).millis
