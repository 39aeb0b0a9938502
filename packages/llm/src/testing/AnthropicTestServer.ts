/**
 * A local, scriptable server that speaks the Anthropic Messages API (`POST /v1/messages`), for
 * testing adapters through the real SDK without a network: JSON replies, SSE streams, 429 with
 * `retry-after`, 529 overloaded, 500, malformed JSON, a connection dropped mid-stream, slow
 * replies, and replies that stall (after the headers, in the middle of the body, or while
 * sending keep-alive bytes and pings forever). Each request takes the next queued behaviour (or
 * the default reply) and is recorded (method, path, headers, body) so tests can assert what was
 * sent and how many times; `aborted()` counts the responses whose connection the client closed
 * before the response was complete. A dropped connection never leaves an unhandled `error`
 * event on the request, the response or the socket.
 *
 * Import it from `@braid/llm/testing/AnthropicTestServer`.
 *
 * @since 0.1.0
 */
import * as LocalServer from "@braid/core/testing/LocalServer"
import { Effect } from "effect"
import type * as http from "node:http"

/**
 * Usage as the Messages API reports it.
 *
 * @since 0.1.0
 * @category testing
 */
export interface WireUsage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly cache_read_input_tokens?: number
  readonly cache_creation_input_tokens?: number
}

/**
 * What the server does with one request.
 *
 * @since 0.1.0
 * @category testing
 */
export type Behaviour =
  | {
    readonly _tag: "Json"
    readonly text: string
    readonly model?: string
    readonly stopReason?: string
    /** `null` omits usage from the response. */
    readonly usage?: WireUsage | null
    readonly toolUse?: { readonly id: string; readonly name: string; readonly input: unknown }
    /** More `tool_use` blocks, after `toolUse` (several tool calls in one turn). */
    readonly toolUses?: ReadonlyArray<ToolUse>
  }
  | {
    readonly _tag: "Sse"
    readonly deltas: ReadonlyArray<string>
    readonly model?: string
    readonly stopReason?: string
    readonly usage?: WireUsage
    /** Pause between events, in ms. */
    readonly gapMillis?: number
    /**
     * `tool_use` blocks streamed after the text block, each its input as `input_json_delta`
     * events (the JSON of `input` cut into `chunks` pieces, default 3).
     */
    readonly toolUses?: ReadonlyArray<ToolUse & { readonly chunks?: number }>
  }
  /**
   * Answers (as JSON, or as a stream following the request's `stream`) with a text that
   * describes the content blocks of the request: one line per message, `role: type,type(...)`,
   * with the media type of images and documents, the id of tool results and `+cache` for a
   * block with `cache_control`; the system blocks first (`system: text+cache`).
   */
  | { readonly _tag: "Echo" }
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly errorType: string
    readonly message: string
    readonly headers?: Readonly<Record<string, string>>
  }
  | { readonly _tag: "Malformed" }
  | { readonly _tag: "DropMidStream"; readonly deltas: ReadonlyArray<string> }
  | { readonly _tag: "Slow"; readonly delayMillis: number; readonly then: Behaviour }
  /** Answers 400 with an error message that echoes the request's auth headers (a leaky proxy). */
  | { readonly _tag: "EchoAuth" }
  /**
   * Sends 200 and its headers (JSON or SSE following the request's `stream`), then:
   * `"headers"` nothing more; `"body"` part of the body (half a JSON message, or the start of a
   * stream with one text delta) and nothing more; `"pings"` part of the body and then, every
   * `everyMillis`, bytes that carry nothing (JSON whitespace; an SSE comment and a `ping` event)
   * until the client goes away. The response never completes.
   */
  | { readonly _tag: "Stall"; readonly after: "headers" | "body" | "pings"; readonly everyMillis?: number }
  /** Answers 200 with this body as it is (e.g. JSON of the wrong shape, or SSE events). */
  | { readonly _tag: "Raw"; readonly body: string; readonly contentType: string }

/**
 * A `tool_use` block of a scripted answer.
 *
 * @since 0.2.0
 * @category testing
 */
export interface ToolUse {
  readonly id: string
  readonly name: string
  readonly input: unknown
}

const describeBlock = (b: any): string => {
  const cache = b?.cache_control ? "+cache" : ""
  switch (b?.type) {
    case "image":
    case "document":
      return `${b.type}(${b.source?.type}${b.source?.media_type ? ` ${b.source.media_type}` : ""})${cache}`
    case "tool_result":
      return `tool_result(${b.tool_use_id}${b.is_error ? " error" : ""})${cache}`
    case "tool_use":
      return `tool_use(${b.id} ${b.name})${cache}`
    default:
      return `${String(b?.type)}${cache}`
  }
}

/**
 * The text `Reply.echo()` answers with for a request body.
 *
 * @example
 * ```ts
 * import { echoText } from "@braid/llm/testing/AnthropicTestServer"
 *
 * echoText({ messages: [{ role: "user", content: "hi" }] }) // "user: text"
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const echoText = (body: any): string => {
  const lines: Array<string> = []
  if (Array.isArray(body?.system)) lines.push(`system: ${body.system.map(describeBlock).join(",")}`)
  else if (typeof body?.system === "string") lines.push("system: text")
  for (const m of body?.messages ?? []) {
    const blocks = typeof m.content === "string" ? [{ type: "text" }] : m.content
    lines.push(`${m.role}: ${blocks.map(describeBlock).join(",")}`)
  }
  return lines.join("\n")
}

const chunk = (text: string, n: number): Array<string> => {
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, n)))
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const sseEvent = (type: string, data: unknown) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`

/**
 * Behaviour constructors.
 *
 * @example
 * ```ts
 * import { Reply } from "@braid/llm/testing/AnthropicTestServer"
 *
 * const script = [Reply.rateLimited(2), Reply.json("Hello!"), Reply.sse(["Hel", "lo"])]
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const Reply = {
  json: (text: string, options: Omit<Extract<Behaviour, { _tag: "Json" }>, "_tag" | "text"> = {}): Behaviour => ({
    _tag: "Json",
    text,
    ...options
  }),
  sse: (
    deltas: ReadonlyArray<string>,
    options: Omit<Extract<Behaviour, { _tag: "Sse" }>, "_tag" | "deltas"> = {}
  ): Behaviour => ({
    _tag: "Sse",
    deltas,
    ...options
  }),
  status: (
    status: number,
    errorType: string,
    message: string,
    headers?: Readonly<Record<string, string>>
  ): Behaviour => ({
    _tag: "Status",
    status,
    errorType,
    message,
    ...(headers ? { headers } : {})
  }),
  rateLimited: (retryAfterSeconds: number): Behaviour => ({
    _tag: "Status",
    status: 429,
    errorType: "rate_limit_error",
    message: "Number of request tokens has exceeded your per-minute rate limit",
    headers: { "retry-after": String(retryAfterSeconds) }
  }),
  overloaded: (): Behaviour => ({ _tag: "Status", status: 529, errorType: "overloaded_error", message: "Overloaded" }),
  serverError: (): Behaviour => ({
    _tag: "Status",
    status: 500,
    errorType: "api_error",
    message: "Internal server error"
  }),
  unauthorized: (): Behaviour => ({
    _tag: "Status",
    status: 401,
    errorType: "authentication_error",
    message: "invalid x-api-key"
  }),
  badRequest: (message = "messages: field required"): Behaviour => ({
    _tag: "Status",
    status: 400,
    errorType: "invalid_request_error",
    message
  }),
  malformed: (): Behaviour => ({ _tag: "Malformed" }),
  dropMidStream: (deltas: ReadonlyArray<string>): Behaviour => ({ _tag: "DropMidStream", deltas }),
  slow: (delayMillis: number, then: Behaviour): Behaviour => ({ _tag: "Slow", delayMillis, then }),
  echoAuth: (): Behaviour => ({ _tag: "EchoAuth" }),
  stallAfterHeaders: (): Behaviour => ({ _tag: "Stall", after: "headers" }),
  stallMidBody: (): Behaviour => ({ _tag: "Stall", after: "body" }),
  pingsThenStall: (everyMillis = 20): Behaviour => ({ _tag: "Stall", after: "pings", everyMillis }),
  raw: (body: string, contentType = "application/json"): Behaviour => ({ _tag: "Raw", body, contentType }),
  /** Tool calls in one turn (JSON), after an optional text. */
  toolUses: (toolUses: ReadonlyArray<ToolUse>, text = ""): Behaviour => ({ _tag: "Json", text, toolUses }),
  /** Tool calls in one turn, streamed (their inputs as `input_json_delta` events). */
  sseToolUses: (toolUses: ReadonlyArray<ToolUse & { readonly chunks?: number }>, deltas: ReadonlyArray<string> = []) =>
    ({ _tag: "Sse", deltas, toolUses }) satisfies Behaviour as Behaviour,
  /** Describes the request's content blocks (see the `Echo` behaviour). */
  echo: (): Behaviour => ({ _tag: "Echo" }),
  /** SSE events, each `[type, data]`, sent as they are (for streams of a wrong shape or order). */
  rawSse: (events: ReadonlyArray<readonly [string, unknown]>): Behaviour => ({
    _tag: "Raw",
    body: events.map(([type, data]) => sseEvent(type, data)).join(""),
    contentType: "text/event-stream"
  })
} as const

/**
 * A request the server received.
 *
 * @since 0.1.0
 * @category testing
 */
export type Received = LocalServer.Received

/**
 * A running server.
 *
 * @since 0.1.0
 * @category testing
 */
export type TestServer = LocalServer.Scripted<Behaviour>

/**
 * @since 0.1.0
 * @category testing
 */
export interface Options {
  /** The reply when the queue is empty (default: "ok", as JSON or SSE following the request). */
  readonly fallback?: (request: Received) => Behaviour
}

const defaultUsage = (body: any, text: string): WireUsage => ({
  input_tokens: Math.max(1, Math.ceil(JSON.stringify(body?.messages ?? []).length / 4)),
  output_tokens: Math.max(1, Math.ceil(text.length / 4)),
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0
})

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** What a behaviour reports to the server (a stall, a connection it drops itself). */
type Tools = LocalServer.ScriptedTools

/**
 * Starts a server on 127.0.0.1 on a free port.
 *
 * @example
 * ```ts
 * import { start, Reply } from "@braid/llm/testing/AnthropicTestServer"
 *
 * const server = await start()
 * server.enqueue(Reply.json("Hello from the test server"))
 * // ... point the adapter at server.url ...
 * await server.close()
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const start = (options: Options = {}): Promise<TestServer> => {
  let ids = 0

  const respond = async (
    behaviour: Behaviour,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: any,
    tools: Tools
  ): Promise<void> => {
    const model: string = body?.model ?? "claude-test"
    switch (behaviour._tag) {
      case "Slow": {
        await sleep(behaviour.delayMillis)
        if (res.destroyed) return
        return respond(behaviour.then, req, res, body, tools)
      }
      case "Stall": {
        const streaming = body?.stream === true
        res.writeHead(
          200,
          streaming
            ? { "content-type": "text/event-stream", "cache-control": "no-cache" }
            : { "content-type": "application/json" }
        )
        res.flushHeaders()
        if (behaviour.after !== "headers") {
          res.write(
            streaming
              ? sseEvent("message_start", {
                message: {
                  id: `msg_test_${++ids}`,
                  type: "message",
                  role: "assistant",
                  model,
                  content: [],
                  stop_reason: null,
                  stop_sequence: null,
                  usage: { input_tokens: 1, output_tokens: 1 }
                }
              }) +
                sseEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
                sseEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: "par" } })
              : `{"id": "msg_stalled", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "par`
          )
        }
        tools.stalled()
        if (behaviour.after === "pings") {
          const timer = setInterval(() => {
            if (res.destroyed) return
            // bytes that carry nothing: they keep Node's body timeout from ever firing
            res.write(streaming ? `: keep-alive\n\n${sseEvent("ping", {})}` : " ")
          }, behaviour.everyMillis ?? 20)
          res.on("close", () => clearInterval(timer))
        }
        return
      }
      case "Json": {
        const content: Array<unknown> = []
        if (behaviour.text !== "") content.push({ type: "text", text: behaviour.text })
        if (behaviour.toolUse) content.push({ type: "tool_use", ...behaviour.toolUse })
        for (const t of behaviour.toolUses ?? []) content.push({ type: "tool_use", ...t })
        const message: Record<string, unknown> = {
          id: `msg_test_${++ids}`,
          type: "message",
          role: "assistant",
          model: behaviour.model ?? model,
          content,
          stop_reason: behaviour.stopReason ??
            (behaviour.toolUse || (behaviour.toolUses?.length ?? 0) > 0 ? "tool_use" : "end_turn"),
          stop_sequence: null
        }
        if (behaviour.usage !== null) message["usage"] = behaviour.usage ?? defaultUsage(body, behaviour.text)
        res.writeHead(200, { "content-type": "application/json", "request-id": `req_${ids}` })
        res.end(JSON.stringify(message))
        return
      }
      case "Sse":
      case "DropMidStream": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        const text = behaviour.deltas.join("")
        const usage = (behaviour._tag === "Sse" ? behaviour.usage : undefined) ?? defaultUsage(body, text)
        const gap = behaviour._tag === "Sse" ? behaviour.gapMillis ?? 0 : 0
        const write = async (chunk: string) => {
          res.write(chunk)
          if (gap > 0) await sleep(gap)
        }
        await write(sseEvent("message_start", {
          message: {
            id: `msg_test_${++ids}`,
            type: "message",
            role: "assistant",
            model: (behaviour._tag === "Sse" ? behaviour.model : undefined) ?? model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { ...usage, output_tokens: 1 }
          }
        }))
        const toolUses = behaviour._tag === "Sse" ? behaviour.toolUses ?? [] : []
        const withText = behaviour.deltas.length > 0 || toolUses.length === 0
        if (withText) {
          await write(sseEvent("content_block_start", { index: 0, content_block: { type: "text", text: "" } }))
        }
        await write(sseEvent("ping", {}))
        for (const d of behaviour.deltas) {
          if (res.destroyed) return
          await write(sseEvent("content_block_delta", { index: 0, delta: { type: "text_delta", text: d } }))
        }
        if (behaviour._tag === "DropMidStream") {
          await sleep(20)
          tools.dropped(res)
          req.socket.destroy()
          return
        }
        if (withText) await write(sseEvent("content_block_stop", { index: 0 }))
        let index = withText ? 1 : 0
        for (const t of toolUses) {
          if (res.destroyed) return
          await write(sseEvent("content_block_start", {
            index,
            content_block: { type: "tool_use", id: t.id, name: t.name, input: {} }
          }))
          for (const piece of chunk(JSON.stringify(t.input), t.chunks ?? 3)) {
            await write(
              sseEvent("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } })
            )
          }
          await write(sseEvent("content_block_stop", { index }))
          index++
        }
        await write(sseEvent("message_delta", {
          delta: {
            stop_reason: behaviour.stopReason ?? (toolUses.length > 0 ? "tool_use" : "end_turn"),
            stop_sequence: null
          },
          usage: { output_tokens: usage.output_tokens }
        }))
        await write(sseEvent("message_stop", {}))
        res.end()
        return
      }
      case "Status": {
        res.writeHead(behaviour.status, { "content-type": "application/json", ...(behaviour.headers ?? {}) })
        res.end(JSON.stringify({ type: "error", error: { type: behaviour.errorType, message: behaviour.message } }))
        return
      }
      case "EchoAuth": {
        const leaked = `bad request from x-api-key=${String(req.headers["x-api-key"])} authorization=${
          String(req.headers["authorization"])
        }`
        res.writeHead(400, { "content-type": "application/json" })
        res.end(JSON.stringify({ type: "error", error: { type: "invalid_request_error", message: leaked } }))
        return
      }
      case "Echo": {
        const text = echoText(body)
        return respond(body?.stream === true ? Reply.sse([text]) : Reply.json(text), req, res, body, tools)
      }
      case "Raw": {
        res.writeHead(200, { "content-type": behaviour.contentType })
        res.end(behaviour.body)
        return
      }
      case "Malformed": {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(`{"id": "msg_broken", "type": "message", "content": [{"type": "te`)
        return
      }
    }
  }

  return LocalServer.scripted<Behaviour>({
    accepts: (req) => req.method === "POST" && (req.url ?? "").startsWith("/v1/messages"),
    notFound: (_req, res) => {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({ type: "error", error: { type: "not_found_error", message: "Not found" } }))
    },
    fallback: (received) =>
      options.fallback?.(received) ??
        (received.body?.stream === true ? Reply.sse(["o", "k"]) : Reply.json("ok")),
    respond
  })
}

/**
 * The server as a scoped Effect resource (closed when the scope closes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { scoped } from "@braid/llm/testing/AnthropicTestServer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* scoped()
 *   return server.url
 * }))
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const scoped = (options: Options = {}) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (s) => Effect.promise(() => s.close()))
