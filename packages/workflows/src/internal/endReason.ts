/**
 * Why a session ended: shared by `SessionStore` and `SessionEvents` without an import cycle (the
 * store decodes stored events, the events name the end reason).
 *
 * @internal
 */
import { Schema } from "effect"

/** The end reasons of a session. */
export const EndReason = Schema.Literal(
  "objective-met",
  "user",
  "idle-timeout",
  "turn-limit",
  "budget-exhausted",
  "model-outage"
)
