/**
 * Where a live session writes through: the `SessionStore` (when one is in context) and the
 * `EventBus` (when one is in context). Store writes of messages fail typed (a message that could
 * not be saved must not be answered as if it were); the end of a session, the error log and the
 * events never fail the session: the end is retried, then logged; events are best effort (a bus
 * is at most once anyway).
 *
 * @internal
 */
import { EventBus } from "@braid/messaging"
import { Effect, Option, Schedule } from "effect"
import type { InvalidInput, SessionNotFound, SessionStoreError } from "../Errors.js"
import type * as Session from "../Session.js"
import * as SessionEvents from "../SessionEvents.js"
import * as SessionStore from "../SessionStore.js"

/** What a write-through of a message can fail with. */
export type PersistError = SessionStoreError | SessionNotFound | InvalidInput

export interface Identity {
  readonly tenant: string
  readonly sessionId: string
  readonly userId: string
}

export interface Recorder {
  readonly identity: Identity
  /** Whether a store is in context. */
  readonly persisting: boolean
  /** Creates the session in the store (active) and publishes `SessionStarted`. */
  readonly start: (
    session: { readonly kind: SessionStore.Kind; readonly title?: string; readonly model?: string }
  ) => Effect.Effect<void, PersistError>
  /** Appends a message to the stored session. */
  readonly message: (message: Session.SessionMessage) => Effect.Effect<void, PersistError>
  /** Ends the stored session (retried) and publishes `SessionEnded`; never fails. */
  readonly end: (ended: Session.Ended, options?: SessionEvents.EmitOptions) => Effect.Effect<void>
  /** Records an entry of the error log; never fails. */
  readonly error: (
    entry: { readonly severity: "warning" | "error" | "critical"; readonly source: string; readonly message: string }
  ) => Effect.Effect<void>
  /** Publishes an event of this session (identity fields filled in); never fails. */
  readonly emit: <E extends SessionEvents.Event>(
    Event: SessionEvents.EventClass<E>,
    fields: Omit<E, "_tag" | "eventId" | "at" | "tenant" | "sessionId" | "userId">,
    options?: SessionEvents.EmitOptions
  ) => Effect.Effect<void>
}

/** A session's message as the store appends it. */
export const toStored = (m: Session.SessionMessage): SessionStore.NewMessage => ({
  role: m.role,
  text: m.content,
  createdAt: m.at,
  inputTokens: m.usage.inputTokens,
  outputTokens: m.usage.outputTokens,
  costUsd: m.costUsd,
  estimated: m.estimated ?? false,
  fallback: m.fallback,
  ...(m.turnId !== undefined ? { turnId: m.turnId } : {}),
  ...(m.model !== undefined ? { model: m.model } : {}),
  ...(m.fallbackCause !== undefined ? { fallbackCause: m.fallbackCause } : {})
})

const endRetry = Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(3)))

export const make = (identity: Identity): Effect.Effect<Recorder> =>
  Effect.gen(function*() {
    const store = yield* Effect.serviceOption(SessionStore.SessionStore)
    const bus = yield* Effect.serviceOption(EventBus.EventBus)
    const { sessionId, tenant, userId } = identity

    const emit: Recorder["emit"] = <E extends SessionEvents.Event>(
      Event: SessionEvents.EventClass<E>,
      fields: Omit<E, "_tag" | "eventId" | "at" | "tenant" | "sessionId" | "userId">,
      options?: SessionEvents.EmitOptions
    ) =>
      Option.match(bus, {
        onNone: () => Effect.void,
        onSome: (b) =>
          SessionEvents.emit(
            Event,
            { ...fields, tenant, sessionId, userId } as Omit<E, "_tag" | "eventId" | "at">,
            options
          )
            .pipe(
              Effect.provideService(EventBus.EventBus, b),
              Effect.catchAll((e) =>
                Effect.logWarning(`session ${sessionId}: ${Event._tag} not published: ${e.message}`)
              ),
              Effect.asVoid
            )
      })

    const error: Recorder["error"] = (entry) =>
      Option.match(store, {
        onNone: () => Effect.void,
        onSome: (s) =>
          Effect.flatMap(
            Effect.clockWith((c) => c.currentTimeMillis),
            (at) => s.recordError({ ...entry, tenant, at, sessionId })
          ).pipe(
            Effect.catchAll((e) => Effect.logWarning(`session ${sessionId}: error log not written: ${e.message}`))
          )
      })

    const start: Recorder["start"] = (session) =>
      Effect.gen(function*() {
        if (Option.isSome(store)) {
          const createdAt = yield* Effect.clockWith((c) => c.currentTimeMillis)
          yield* store.value.createSession({
            id: sessionId,
            tenant,
            userId,
            kind: session.kind,
            status: "active",
            createdAt,
            ...(session.title !== undefined ? { title: session.title } : {}),
            ...(session.model !== undefined ? { model: session.model } : {})
          })
        }
        yield* emit(SessionEvents.SessionStarted, { kind: session.kind })
      })

    const message: Recorder["message"] = (m) =>
      Option.match(store, {
        onNone: () => Effect.void,
        onSome: (s) => Effect.asVoid(s.appendMessage(sessionId, toStored(m)))
      })

    const end: Recorder["end"] = (ended, options) =>
      Effect.gen(function*() {
        let durationMs: number | undefined
        if (Option.isSome(store)) {
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const written = yield* store.value.endSession(sessionId, {
            reason: ended.reason,
            at,
            ...(ended.message !== undefined ? { message: ended.message } : {})
          }).pipe(Effect.retry(endRetry), Effect.either)
          if (written._tag === "Left") {
            yield* Effect.logWarning(`session ${sessionId}: end not saved: ${written.left.message}`)
            yield* error({ severity: "error", source: "store", message: `end not saved: ${written.left.message}` })
          } else {
            durationMs = written.right.session.durationMs
          }
        }
        yield* emit(SessionEvents.SessionEnded, {
          reason: ended.reason,
          requestedAt: ended.at,
          ...(ended.message !== undefined ? { message: ended.message } : {}),
          ...(durationMs !== undefined ? { durationMs } : {})
        }, options)
      })

    return { identity, persisting: Option.isSome(store), start, message, end, error, emit }
  })
