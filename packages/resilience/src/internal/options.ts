/**
 * Checks of the options of stores and policies, made where they are built: each failure is a
 * `RangeError` naming the owner, the option and the value given (as `consecutive(n)` does).
 *
 * @internal
 */
import { Duration } from "effect"

/** A short, safe description of a value given to an option. */
export const describe = (value: unknown): string => {
  switch (typeof value) {
    case "number":
      return String(value)
    case "bigint":
      return `${value}n`
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
    default:
      return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value
  }
}

const fail = (owner: string, option: string, rule: string, value: unknown): never => {
  throw new RangeError(`${owner}: ${option} must be ${rule}, got ${describe(value)}`)
}

/** An integer >= 1. */
export const positiveInteger = (owner: string, option: string, value: unknown): number =>
  typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : fail(owner, option, "an integer >= 1", value)

/** A finite number > 0. */
export const positiveNumber = (owner: string, option: string, value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value > 0 ? value : fail(owner, option, "a finite number > 0", value)

/** A finite number >= 0. */
export const nonNegativeNumber = (owner: string, option: string, value: unknown): number =>
  typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : fail(owner, option, "a finite number >= 0", value)

/** A non-empty string. */
export const nonEmptyString = (owner: string, option: string, value: unknown): string =>
  typeof value === "string" && value.length > 0 ? value : fail(owner, option, "a non-empty string", value)

/** A string (possibly empty). */
export const string = (owner: string, option: string, value: unknown): string =>
  typeof value === "string" ? value : fail(owner, option, "a string", value)

/** A duration that is finite and > 0, in milliseconds. */
export const positiveDuration = (owner: string, option: string, value: unknown): number => {
  let millis: number
  try {
    millis = Duration.toMillis(Duration.decode(value as Duration.DurationInput))
  } catch {
    return fail(owner, option, "a duration (such as \"5 seconds\" or a number of milliseconds)", value)
  }
  return Number.isFinite(millis) && millis > 0 ? millis : fail(owner, option, "a finite duration > 0", value)
}
