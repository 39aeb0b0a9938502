/**
 * The one way the app talks to the server: `fetch` with the bearer token, JSON in and out, and the
 * server's typed errors (`{ _tag, message, field? }`) surfaced as `ApiFailure`.
 */
import { readToken } from "./auth.js"

/** An error the server answered with (or a network failure, `_tag: "Network"`). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly tag: string,
    message: string,
    readonly field?: string,
    readonly retryAfterSeconds?: number
  ) {
    super(message)
  }
}

const failureOf = async (response: Response): Promise<ApiFailure> => {
  let body: any = undefined
  try {
    body = await response.json()
  } catch {
    // not JSON: keep the status text
  }
  const message = typeof body?.message === "string" ? body.message : response.statusText || `HTTP ${response.status}`
  return new ApiFailure(
    response.status,
    typeof body?._tag === "string" ? body._tag : `HTTP${response.status}`,
    message,
    typeof body?.field === "string" ? body.field : undefined,
    typeof body?.retryAfterSeconds === "number" ? body.retryAfterSeconds : undefined
  )
}

/** Headers with the token. */
export const authHeaders = (extra: Record<string, string> = {}): Record<string, string> => {
  const token = readToken()
  return token === null ? extra : { ...extra, authorization: `Bearer ${token}` }
}

/** A request to the API; rejects with `ApiFailure`. */
export const request = async <A>(
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  options: {
    readonly body?: unknown
    readonly query?: Record<string, string | number | undefined>
    readonly signal?: AbortSignal
  } = {}
): Promise<A> => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== "") q.set(k, String(v))
  const url = `${path}${q.size > 0 ? `?${q}` : ""}`
  let response: Response
  try {
    response = await fetch(url, {
      method,
      headers: authHeaders(options.body === undefined ? {} : { "content-type": "application/json" }),
      body: options.body === undefined ? null : JSON.stringify(options.body),
      ...(options.signal ? { signal: options.signal } : {})
    })
  } catch (e) {
    throw new ApiFailure(0, "Network", `the server did not answer (${e instanceof Error ? e.message : String(e)})`)
  }
  if (!response.ok) throw await failureOf(response)
  if (response.status === 204) return undefined as A
  const type = response.headers.get("content-type") ?? ""
  return (type.includes("json") ? await response.json() : await response.text()) as A
}

/** A file from the API (an export), downloaded by the browser under `filename`. */
export const download = async (path: string, filename: string): Promise<void> => {
  const response = await fetch(path, { headers: authHeaders() })
  if (!response.ok) throw await failureOf(response)
  const blob = await response.blob()
  const url = URL.createObjectURL(blob)
  const a = document.createElement("a")
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

/** One server-sent event. */
export interface ServerEvent {
  readonly id?: string
  readonly type: string
  readonly data: string
}

/**
 * The complete events at the start of `buffer` (the `text/event-stream` format: `event:`, `id:`,
 * `data:` lines, comments, CR LF or LF, a blank line ending each event) and what is left over,
 * which the next chunk continues. An event without data is not dispatched (as in `EventSource`).
 */
export const parseEvents = (buffer: string): { readonly events: Array<ServerEvent>; readonly rest: string } => {
  const events: Array<ServerEvent> = []
  const blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/)
  const rest = blocks.pop() ?? ""
  for (const block of blocks) {
    let type = "message"
    let id: string | undefined
    const data: Array<string> = []
    for (const line of block.split(/\r\n|\n|\r/)) {
      if (line === "" || line.startsWith(":")) continue
      const i = line.indexOf(":")
      const field = i < 0 ? line : line.slice(0, i)
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "")
      if (field === "event") type = value
      else if (field === "data") data.push(value)
      else if (field === "id") id = value
    }
    if (data.length > 0) events.push({ ...(id !== undefined ? { id } : {}), type, data: data.join("\n") })
  }
  return { events, rest }
}

/**
 * Server-sent events over `fetch` (so the token travels in a header, not the URL), resuming after a
 * dropped connection from the last event id seen (`Last-Event-ID`). Returns a function that stops.
 */
export const subscribe = (
  path: string,
  onEvent: (event: ServerEvent) => void,
  onState: (state: "open" | "reconnecting" | "closed") => void = () => {}
): () => void => {
  const controller = new AbortController()
  let lastId: string | undefined
  let stopped = false
  const run = async (attempt: number): Promise<void> => {
    if (stopped) return
    try {
      const response = await fetch(path, {
        headers: authHeaders({ accept: "text/event-stream", ...(lastId ? { "last-event-id": lastId } : {}) }),
        signal: controller.signal
      })
      if (!response.ok || response.body === null) {
        if (response.status === 401 || response.status === 403 || response.status === 404) {
          onState("closed")
          return
        }
        throw new Error(`HTTP ${response.status}`)
      }
      onState("open")
      attempt = 0
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        const parsed = parseEvents(buffer + value)
        buffer = parsed.rest
        for (const event of parsed.events) {
          if (event.id !== undefined) lastId = event.id
          onEvent(event)
        }
      }
    } catch {
      if (stopped) return
    }
    if (stopped) return
    onState("reconnecting")
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 8000)))
    return run(attempt + 1)
  }
  void run(0)
  return () => {
    stopped = true
    controller.abort()
    onState("closed")
  }
}
