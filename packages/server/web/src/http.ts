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

/**
 * Server-sent events over `fetch` (so the token travels in a header, not the URL), resuming after a
 * dropped connection from the last event id seen (`Last-Event-ID`). Returns a function that stops.
 */
export const subscribe = (
  path: string,
  onEvent: (event: { readonly id?: string; readonly type: string; readonly data: string }) => void,
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
        buffer += value
        let cut: number
        while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, cut)
          buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "")
          let type = "message"
          let id: string | undefined
          const data: Array<string> = []
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith(":")) continue
            const i = line.indexOf(":")
            const field = i < 0 ? line : line.slice(0, i)
            const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "")
            if (field === "event") type = val
            else if (field === "data") data.push(val)
            else if (field === "id") id = val
          }
          if (id !== undefined) lastId = id
          if (data.length > 0) onEvent({ ...(id !== undefined ? { id } : {}), type, data: data.join("\n") })
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
