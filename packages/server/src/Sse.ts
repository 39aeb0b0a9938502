/**
 * The server-sent events wire format (the `text/event-stream` of
 * `GET /api/sessions/:id/events`): how the server writes a message and how a client (a test, a
 * Node script, a benchmark) reads them back. Browsers read them with `EventSource`.
 *
 * @since 0.3.0
 */
import { SessionEvents } from "@braid/workflows"
import { Schema } from "effect"
import type * as EventLog from "./EventLog.js"

/**
 * One server-sent event: its name, its id, its data (one JSON text here).
 *
 * @category models
 * @since 0.3.0
 */
export interface Message {
  readonly event: string
  readonly id: string | undefined
  readonly data: string
}

/**
 * Writes one message (`event:`, `id:`, `data:` lines and a blank line). The data must hold no
 * newline (JSON text does not).
 *
 * @example
 * ```ts
 * import { Sse } from "@braid/server"
 *
 * Sse.format({ event: "AiTurn", id: "3", data: "{}" }) // "event: AiTurn\nid: 3\ndata: {}\n\n"
 * ```
 *
 * @category encoding
 * @since 0.3.0
 */
export const format = (message: Message): string =>
  `event: ${message.event}\n${message.id !== undefined ? `id: ${message.id}\n` : ""}data: ${message.data}\n\n`

/**
 * Reads the complete messages at the start of `buffer` (text received so far): the messages, and
 * the incomplete rest to keep for the next chunk. Comment lines (`: keep-alive`) and blocks
 * without data are skipped.
 *
 * @example
 * ```ts
 * import { Sse } from "@braid/server"
 *
 * const { messages, rest } = Sse.parse("event: AiTurn\nid: 3\ndata: {}\n\nevent: Ai")
 * // messages: [{ event: "AiTurn", id: "3", data: "{}" }], rest: "event: Ai"
 * ```
 *
 * @category parsing
 * @since 0.3.0
 */
export const parse = (buffer: string): { readonly messages: ReadonlyArray<Message>; readonly rest: string } => {
  const messages: Array<Message> = []
  let rest = buffer
  let end = rest.indexOf("\n\n")
  while (end >= 0) {
    const block = rest.slice(0, end)
    rest = rest.slice(end + 2)
    end = rest.indexOf("\n\n")
    let event = "message"
    let id: string | undefined
    const data: Array<string> = []
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7)
      else if (line.startsWith("id: ")) id = line.slice(4)
      else if (line.startsWith("data: ")) data.push(line.slice(6))
    }
    if (data.length > 0) messages.push({ event, id, data: data.join("\n") })
  }
  return { messages, rest }
}

const encodeEvent = Schema.encodeSync(SessionEvents.Event)

/**
 * The message of a followed item: a persisted event has its sequence number as its `id` (so a
 * client's `Last-Event-ID` is always the last persisted event it got), a live-only one
 * (`AiTurnDelta`) has none.
 *
 * @example
 * ```ts
 * import { EventLog, Sse } from "@braid/server"
 *
 * declare const item: EventLog.Item
 * const text = Sse.format(Sse.ofItem(item))
 * ```
 *
 * @category encoding
 * @since 0.3.0
 */
export const ofItem = (item: EventLog.Item): Message =>
  item._tag === "Event"
    ? { event: item.entry.event._tag, id: String(item.entry.seq), data: JSON.stringify(encodeEvent(item.entry.event)) }
    : { event: item.event._tag, id: undefined, data: JSON.stringify(encodeEvent(item.event)) }

/**
 * Where a client resumes: the `Last-Event-ID` header, else the `lastEventId` query parameter, as
 * a sequence number (0, from the start, when absent or not a whole number).
 *
 * @example
 * ```ts
 * import { Sse } from "@braid/server"
 *
 * Sse.lastEventId("12", undefined) // 12
 * Sse.lastEventId(undefined, "x") // 0
 * ```
 *
 * @category parsing
 * @since 0.3.0
 */
export const lastEventId = (header: unknown, param: unknown): number => {
  const raw = typeof header === "string" ? header : typeof param === "string" ? param : ""
  const n = Number(raw)
  return /^\d{1,15}$/.test(raw.trim()) && Number.isSafeInteger(n) ? n : 0
}
