/**
 * How a participant's failure is told in a `failed` entry.
 *
 * @internal
 */
import { Json } from "@braid/core"
import { Cause, Either, Option } from "effect"

/** The failure's tag and message, a defect's message, or "interrupted". */
export const causeText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    const tag = typeof e === "object" && e !== null && "_tag" in e ? `${String((e as { _tag: unknown })._tag)}: ` : ""
    return `${tag}${
      e instanceof Error
        ? e.message
        : typeof e === "string"
        ? e
        : Either.getOrElse(Json.encode(e), () => String(typeof e))
    }`
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    return `defect: ${defect.value instanceof Error ? defect.value.message : String(defect.value)}`
  }
  return "interrupted"
}
