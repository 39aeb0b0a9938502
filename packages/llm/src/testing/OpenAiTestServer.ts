/**
 * A local, scriptable server that speaks the OpenAI Responses API (`POST /responses`, as
 * `@effect/ai-openai` and other OpenAI-compatible clients call it), for testing providers without a
 * network: JSON replies and SSE streams (`response.created`, `response.output_item.added`,
 * `response.output_text.delta`, `response.function_call_arguments.delta`,
 * `response.output_item.done`, `response.completed` with usage and cached tokens), function tool
 * calls (several in one turn), structured output (the reply text is the JSON the client asked
 * for), and faults: 429 with `retry-after`, 500, 503, a malformed JSON body, a malformed SSE
 * stream, a stream that fails midway (an `error` or a `response.failed` event), a connection
 * dropped before the reply or midway through a stream, slow replies and replies that stall.
 *
 * Each request takes the next queued behaviour (or the default reply) and is recorded (method,
 * path, headers, body) so tests can assert what was sent: the tools, the tool results paired with
 * their calls by `call_id`, the images. `aborted()` counts the responses whose connection the
 * client closed before the response was complete. A dropped connection never leaves an unhandled
 * `error` event behind (the HTTP plumbing is `@braid/core/testing/LocalServer`).
 *
 * Import it from `@braid/llm/testing/OpenAiTestServer`.
 *
 * @since 0.2.0
 */
import * as LocalServer from "@braid/core/testing/LocalServer"
import { Effect } from "effect"
import type * as http from "node:http"

/**
 * Usage as the Responses API reports it.
 *
 * @since 0.2.0
 * @category testing
 */
export interface WireUsage {
  readonly input_tokens: number
  readonly output_tokens: number
  readonly total_tokens: number
  readonly input_tokens_details: { readonly cached_tokens: number }
  readonly output_tokens_details: { readonly reasoning_tokens: number }
}

/**
 * Usage from token counts (`cached` of the input tokens were read from the prompt cache).
 *
 * @example
 * ```ts
 * import { Reply, usage } from "@braid/llm/testing/OpenAiTestServer"
 *
 * const reply = Reply.json("Hi", { usage: usage(1200, 5, { cached: 1024 }) })
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const usage = (
  input: number,
  output: number,
  options: { readonly cached?: number; readonly reasoning?: number } = {}
): WireUsage => ({
  input_tokens: input,
  output_tokens: output,
  total_tokens: input + output,
  input_tokens_details: { cached_tokens: options.cached ?? 0 },
  output_tokens_details: { reasoning_tokens: options.reasoning ?? 0 }
})

/**
 * A function call the model makes. `arguments` is sent as JSON, or as it is when it is a string
 * (to send arguments that are not JSON).
 *
 * @since 0.2.0
 * @category testing
 */
export interface WireToolCall {
  readonly callId: string
  readonly name: string
  readonly arguments: unknown
}

/**
 * What one reply contains (JSON or SSE).
 *
 * @since 0.2.0
 * @category testing
 */
export interface Content {
  /** The model id reported (default: the request's `model`). */
  readonly model?: string
  /** Function calls after the text, in order. */
  readonly toolCalls?: ReadonlyArray<WireToolCall>
  /** `null` omits usage from the response. */
  readonly usage?: WireUsage | null
  /** Reports the response as incomplete, for this reason. */
  readonly incomplete?: "max_output_tokens" | "content_filter"
  /**
   * Reports the response as failed (HTTP 200, `status: "failed"`, this `error`, no output and no
   * usage), as the Responses API does when generation fails after it was accepted.
   */
  readonly failed?: { readonly code: string; readonly message: string }
}

/**
 * What the server does with one request.
 *
 * @since 0.2.0
 * @category testing
 */
export type Behaviour =
  | ({ readonly _tag: "Json"; readonly text: string } & Content)
  | ({
    readonly _tag: "Sse"
    readonly deltas: ReadonlyArray<string>
    /** Pause between events, in ms. */
    readonly gapMillis?: number
    /** Sends an event the client does not know (`keepalive`) between the others. */
    readonly keepalives?: boolean
  } & Content)
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly errorType: string
    readonly code: string | null
    readonly message: string
    readonly headers?: Readonly<Record<string, string>>
  }
  /** 200 with a JSON body cut off midway. */
  | { readonly _tag: "Malformed" }
  /** 200 `text/event-stream` whose events carry data that is not JSON. */
  | { readonly _tag: "MalformedSse"; readonly deltas: ReadonlyArray<string> }
  /**
   * Streams the start of a reply and these text deltas, then fails it: `"error"` sends an `error`
   * event, `"failed"` a `response.failed` event with the response's `error` set; then the server
   * ends the response (as OpenAI does), or with `hold` keeps the connection open and sends nothing
   * more (counted by `stalled()`).
   */
  | {
    readonly _tag: "StreamFails"
    readonly deltas: ReadonlyArray<string>
    readonly via: "error" | "failed"
    readonly code: string
    readonly message: string
    readonly hold?: boolean
  }
  /** Streams these text deltas, then destroys the connection. */
  | { readonly _tag: "DropMidStream"; readonly deltas: ReadonlyArray<string> }
  /** Destroys the connection before sending anything. */
  | { readonly _tag: "DropBeforeReply" }
  | { readonly _tag: "Slow"; readonly delayMillis: number; readonly then: Behaviour }
  /** Answers 400 with an error message that echoes the request's auth headers (a leaky proxy). */
  | { readonly _tag: "EchoAuth" }
  /**
   * Sends 200 and its headers (JSON or SSE following the request's `stream`), then:
   * `"headers"` nothing more; `"body"` part of the body (half a JSON response, or the start of a
   * stream with one text delta) and nothing more; `"pings"` part of the body and then, every
   * `everyMillis`, bytes that carry nothing (JSON whitespace; an SSE comment) until the client
   * goes away. The response never completes.
   */
  | { readonly _tag: "Stall"; readonly after: "headers" | "body" | "pings"; readonly everyMillis?: number }
  /** Answers 200 with this body as it is (e.g. JSON of the wrong shape, or SSE events). */
  | { readonly _tag: "Raw"; readonly body: string; readonly contentType: string }

type JsonOptions = Omit<Extract<Behaviour, { _tag: "Json" }>, "_tag" | "text">
type SseOptions = Omit<Extract<Behaviour, { _tag: "Sse" }>, "_tag" | "deltas">

const sseEvent = (type: string, data: unknown) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`

/**
 * Behaviour constructors.
 *
 * @example
 * ```ts
 * import { Reply } from "@braid/llm/testing/OpenAiTestServer"
 *
 * const script = [
 *   Reply.rateLimited(2),
 *   Reply.json("Hello!"),
 *   Reply.sse(["Hel", "lo"]),
 *   Reply.toolCalls([{ callId: "call_1", name: "GetWeather", arguments: { city: "Paris" } }]),
 *   Reply.object({ title: "Braid", stars: 5 })
 * ]
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const Reply = {
  json: (text: string, options: JsonOptions = {}): Behaviour => ({ _tag: "Json", text, ...options }),
  sse: (deltas: ReadonlyArray<string>, options: SseOptions = {}): Behaviour => ({ _tag: "Sse", deltas, ...options }),
  /** A JSON reply with these function calls and no text. */
  toolCalls: (calls: ReadonlyArray<WireToolCall>, options: Omit<JsonOptions, "toolCalls"> = {}): Behaviour => ({
    _tag: "Json",
    text: "",
    toolCalls: calls,
    ...options
  }),
  /** A streamed reply with these function calls (their arguments in several deltas) and no text. */
  sseToolCalls: (calls: ReadonlyArray<WireToolCall>, options: Omit<SseOptions, "toolCalls"> = {}): Behaviour => ({
    _tag: "Sse",
    deltas: [],
    toolCalls: calls,
    ...options
  }),
  /** A JSON reply whose text is this value as JSON (the answer to a `json_schema` text format). */
  object: (value: unknown, options: JsonOptions = {}): Behaviour => ({
    _tag: "Json",
    text: JSON.stringify(value),
    ...options
  }),
  status: (
    status: number,
    errorType: string,
    message: string,
    options: { readonly code?: string | null; readonly headers?: Readonly<Record<string, string>> } = {}
  ): Behaviour => ({
    _tag: "Status",
    status,
    errorType,
    code: options.code ?? null,
    message,
    ...(options.headers ? { headers: options.headers } : {})
  }),
  rateLimited: (retryAfterSeconds: number): Behaviour => ({
    _tag: "Status",
    status: 429,
    errorType: "requests",
    code: "rate_limit_exceeded",
    message: "Rate limit reached for requests",
    headers: { "retry-after": String(retryAfterSeconds) }
  }),
  serverError: (): Behaviour => ({
    _tag: "Status",
    status: 500,
    errorType: "server_error",
    code: null,
    message: "The server had an error while processing your request."
  }),
  unavailable: (): Behaviour => ({
    _tag: "Status",
    status: 503,
    errorType: "server_error",
    code: null,
    message: "The engine is currently overloaded, please try again later."
  }),
  unauthorized: (): Behaviour => ({
    _tag: "Status",
    status: 401,
    errorType: "invalid_request_error",
    code: "invalid_api_key",
    message: "Incorrect API key provided."
  }),
  badRequest: (message = "Missing required parameter: 'input'."): Behaviour => ({
    _tag: "Status",
    status: 400,
    errorType: "invalid_request_error",
    code: null,
    message
  }),
  malformed: (): Behaviour => ({ _tag: "Malformed" }),
  malformedSse: (deltas: ReadonlyArray<string> = ["Hel", "lo"]): Behaviour => ({ _tag: "MalformedSse", deltas }),
  /** A stream that ends with an `error` event after these deltas. */
  streamError: (
    deltas: ReadonlyArray<string>,
    options: { readonly code?: string; readonly message?: string; readonly hold?: boolean } = {}
  ): Behaviour => ({
    _tag: "StreamFails",
    deltas,
    via: "error",
    code: options.code ?? "server_error",
    message: options.message ?? "The server had an error while processing your request.",
    ...(options.hold === true ? { hold: true } : {})
  }),
  /** A stream that ends with a `response.failed` event after these deltas. */
  streamFailed: (
    deltas: ReadonlyArray<string>,
    options: { readonly code?: string; readonly message?: string; readonly hold?: boolean } = {}
  ): Behaviour => ({
    _tag: "StreamFails",
    deltas,
    via: "failed",
    code: options.code ?? "server_error",
    message: options.message ?? "The server had an error while processing your request.",
    ...(options.hold === true ? { hold: true } : {})
  }),
  /** A JSON response that reports a failed generation (`status: "failed"`, no output, no usage). */
  failed: (options: { readonly code?: string; readonly message?: string } = {}): Behaviour => ({
    _tag: "Json",
    text: "",
    failed: {
      code: options.code ?? "server_error",
      message: options.message ?? "The server had an error while processing your request."
    }
  }),
  dropMidStream: (deltas: ReadonlyArray<string>): Behaviour => ({ _tag: "DropMidStream", deltas }),
  dropBeforeReply: (): Behaviour => ({ _tag: "DropBeforeReply" }),
  slow: (delayMillis: number, then: Behaviour): Behaviour => ({ _tag: "Slow", delayMillis, then }),
  echoAuth: (): Behaviour => ({ _tag: "EchoAuth" }),
  stallAfterHeaders: (): Behaviour => ({ _tag: "Stall", after: "headers" }),
  stallMidBody: (): Behaviour => ({ _tag: "Stall", after: "body" }),
  pingsThenStall: (everyMillis = 20): Behaviour => ({ _tag: "Stall", after: "pings", everyMillis }),
  raw: (body: string, contentType = "application/json"): Behaviour => ({ _tag: "Raw", body, contentType }),
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
 * @since 0.2.0
 * @category testing
 */
export type Received = LocalServer.Received

/**
 * A running server.
 *
 * @since 0.2.0
 * @category testing
 */
export type TestServer = LocalServer.Scripted<Behaviour>

/**
 * @since 0.2.0
 * @category testing
 */
export interface Options {
  /** The reply when the queue is empty (default: "ok", as JSON or SSE following the request). */
  readonly fallback?: (request: Received) => Behaviour
}

const defaultUsage = (body: any, text: string): WireUsage =>
  usage(
    Math.max(1, Math.ceil(JSON.stringify(body?.input ?? []).length / 4)),
    Math.max(1, Math.ceil(text.length / 4))
  )

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const argumentsOf = (call: WireToolCall): string =>
  typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)

/** Splits a string into (at most) three pieces, to stream function-call arguments in deltas. */
const pieces = (s: string): Array<string> => {
  if (s.length < 3) return [s]
  const third = Math.ceil(s.length / 3)
  return [s.slice(0, third), s.slice(third, 2 * third), s.slice(2 * third)]
}

/** What a behaviour reports to the server (a stall, a connection it drops itself). */
type Tools = LocalServer.ScriptedTools

/**
 * Starts a server on 127.0.0.1 on a free port.
 *
 * @example
 * ```ts
 * import { start, Reply } from "@braid/llm/testing/OpenAiTestServer"
 *
 * const server = await start()
 * server.enqueue(Reply.json("Hello from the test server"))
 * // ... point the client at server.url (OpenAiClient.layer({ apiUrl: server.url })) ...
 * await server.close()
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const start = (options: Options = {}): Promise<TestServer> => {
  let ids = 0

  /** The response object, as every event and JSON reply carries it. */
  const responseObject = (
    id: string,
    body: any,
    fields: {
      readonly model: string
      readonly status: "in_progress" | "completed" | "incomplete" | "failed"
      readonly output: ReadonlyArray<unknown>
      readonly usage: WireUsage | null
      readonly incomplete?: string | undefined
      readonly error?: { readonly code: string; readonly message: string } | undefined
    }
  ) => ({
    id,
    object: "response",
    created_at: 1_767_225_600,
    status: fields.status,
    error: fields.error ?? null,
    incomplete_details: fields.incomplete ? { reason: fields.incomplete } : null,
    instructions: null,
    max_output_tokens: body?.max_output_tokens ?? null,
    model: fields.model,
    output: fields.output,
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: null,
    store: false,
    temperature: body?.temperature ?? null,
    text: body?.text ?? { format: { type: "text" } },
    tool_choice: body?.tool_choice ?? "auto",
    tools: Array.isArray(body?.tools) ? body.tools : [],
    top_p: body?.top_p ?? null,
    truncation: "disabled",
    usage: fields.usage,
    metadata: {}
  })

  const messageItem = (id: string, text: string, status: "in_progress" | "completed") => ({
    id,
    type: "message",
    status,
    role: "assistant",
    content: status === "completed" ? [{ type: "output_text", text, annotations: [] }] : []
  })

  const functionItem = (call: WireToolCall, index: number, status: "in_progress" | "completed") => ({
    id: `fc_test_${index}`,
    type: "function_call",
    status,
    call_id: call.callId,
    name: call.name,
    arguments: status === "completed" ? argumentsOf(call) : ""
  })

  /** The events of a streamed reply, up to (not including) its last event. */
  const streamEvents = (
    id: string,
    model: string,
    body: any,
    deltas: ReadonlyArray<string>,
    calls: ReadonlyArray<WireToolCall>,
    complete: boolean
  ): Array<readonly [string, Record<string, unknown>]> => {
    const events: Array<readonly [string, Record<string, unknown>]> = []
    const inProgress = responseObject(id, body, { model, status: "in_progress", output: [], usage: null })
    events.push(["response.created", { response: inProgress }])
    events.push(["response.in_progress", { response: inProgress }])
    let outputIndex = 0
    const text = deltas.join("")
    if (deltas.length > 0 || calls.length === 0) {
      const itemId = `msg_test_${id}`
      events.push(["response.output_item.added", {
        output_index: outputIndex,
        item: messageItem(itemId, "", "in_progress")
      }])
      events.push(["response.content_part.added", {
        item_id: itemId,
        output_index: outputIndex,
        content_index: 0,
        part: { type: "output_text", text: "", annotations: [] }
      }])
      for (const delta of deltas) {
        events.push(["response.output_text.delta", {
          item_id: itemId,
          output_index: outputIndex,
          content_index: 0,
          delta,
          logprobs: []
        }])
      }
      if (!complete) return events
      events.push(["response.output_text.done", {
        item_id: itemId,
        output_index: outputIndex,
        content_index: 0,
        text,
        logprobs: []
      }])
      events.push(["response.content_part.done", {
        item_id: itemId,
        output_index: outputIndex,
        content_index: 0,
        part: { type: "output_text", text, annotations: [] }
      }])
      events.push(["response.output_item.done", {
        output_index: outputIndex,
        item: messageItem(itemId, text, "completed")
      }])
      outputIndex++
    }
    for (const call of calls) {
      const item = functionItem(call, outputIndex, "in_progress")
      events.push(["response.output_item.added", { output_index: outputIndex, item }])
      for (const delta of pieces(argumentsOf(call))) {
        events.push(["response.function_call_arguments.delta", { item_id: item.id, output_index: outputIndex, delta }])
      }
      events.push(["response.function_call_arguments.done", {
        item_id: item.id,
        output_index: outputIndex,
        arguments: argumentsOf(call)
      }])
      events.push(["response.output_item.done", {
        output_index: outputIndex,
        item: functionItem(call, outputIndex, "completed")
      }])
      outputIndex++
    }
    return events
  }

  /** The output items of a complete reply. */
  const outputOf = (id: string, text: string, calls: ReadonlyArray<WireToolCall>) => {
    const output: Array<unknown> = []
    if (text !== "" || calls.length === 0) output.push(messageItem(`msg_test_${id}`, text, "completed"))
    for (const call of calls) output.push(functionItem(call, output.length, "completed"))
    return output
  }

  const respond = async (
    behaviour: Behaviour,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: any,
    tools: Tools
  ): Promise<void> => {
    const model: string = body?.model ?? "gpt-test"
    const streaming = body?.stream === true
    let sequence = 0
    const event = (type: string, data: Record<string, unknown>) =>
      sseEvent(type, { sequence_number: sequence++, ...data })
    switch (behaviour._tag) {
      case "Slow": {
        await sleep(behaviour.delayMillis)
        if (res.destroyed) return
        return respond(behaviour.then, req, res, body, tools)
      }
      case "Stall": {
        res.writeHead(
          200,
          streaming
            ? { "content-type": "text/event-stream", "cache-control": "no-cache" }
            : { "content-type": "application/json" }
        )
        res.flushHeaders()
        if (behaviour.after !== "headers") {
          const id = `resp_test_${++ids}`
          res.write(
            streaming
              ? streamEvents(id, model, body, ["par"], [], false).map(([t, d]) => event(t, d)).join("")
              : `{"id": "${id}", "object": "response", "output": [{"type": "message", "content": [{"type": "output_text", "text": "par`
          )
        }
        tools.stalled()
        if (behaviour.after === "pings") {
          const timer = setInterval(() => {
            if (res.destroyed) return
            // bytes that carry nothing: they keep Node's body timeout from ever firing
            res.write(streaming ? `: keep-alive\n\n` : " ")
          }, behaviour.everyMillis ?? 20)
          res.on("close", () => clearInterval(timer))
        }
        return
      }
      case "Json": {
        const id = `resp_test_${++ids}`
        const calls = behaviour.toolCalls ?? []
        // a failed generation has no output and no usage
        const failed = behaviour.failed
        const reply = responseObject(id, body, {
          model: behaviour.model ?? model,
          status: failed !== undefined ? "failed" : behaviour.incomplete ? "incomplete" : "completed",
          output: failed !== undefined ? [] : outputOf(id, behaviour.text, calls),
          usage: failed !== undefined || behaviour.usage === null
            ? null
            : behaviour.usage ?? defaultUsage(body, behaviour.text),
          incomplete: behaviour.incomplete,
          error: failed
        })
        res.writeHead(200, { "content-type": "application/json", "x-request-id": `req_${ids}` })
        res.end(JSON.stringify(reply))
        return
      }
      case "Sse":
      case "StreamFails":
      case "DropMidStream":
      case "MalformedSse": {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
        const id = `resp_test_${++ids}`
        const sse = behaviour._tag === "Sse" ? behaviour : undefined
        const gap = sse?.gapMillis ?? 0
        const text = behaviour.deltas.join("")
        const calls = sse?.toolCalls ?? []
        const replyModel = sse?.model ?? model
        const write = async (chunk: string) => {
          res.write(chunk)
          if (gap > 0) await sleep(gap)
        }
        const events = streamEvents(id, replyModel, body, behaviour.deltas, calls, behaviour._tag === "Sse")
        for (const [type, data] of events) {
          if (res.destroyed) return
          if (behaviour._tag === "MalformedSse") {
            // the event's name is right; its data is cut off midway
            await write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data }).slice(0, 40)}\n\n`)
          } else {
            await write(event(type, data))
          }
          if (sse?.keepalives === true) await write(event("keepalive", {}))
        }
        switch (behaviour._tag) {
          case "MalformedSse": {
            res.end()
            return
          }
          case "DropMidStream": {
            await sleep(20)
            tools.dropped(res)
            req.socket.destroy()
            return
          }
          case "StreamFails": {
            await write(
              behaviour.via === "error"
                ? event("error", { code: behaviour.code, message: behaviour.message, param: null })
                : event("response.failed", {
                  response: responseObject(id, body, {
                    model: replyModel,
                    status: "failed",
                    output: [],
                    usage: null,
                    error: { code: behaviour.code, message: behaviour.message }
                  })
                })
            )
            if (behaviour.hold === true) {
              tools.stalled()
              return
            }
            res.end()
            return
          }
          case "Sse": {
            const final = responseObject(id, body, {
              model: replyModel,
              status: behaviour.incomplete ? "incomplete" : "completed",
              output: outputOf(id, text, calls),
              usage: behaviour.usage === null ? null : behaviour.usage ?? defaultUsage(body, text),
              incomplete: behaviour.incomplete
            })
            await write(event(behaviour.incomplete ? "response.incomplete" : "response.completed", { response: final }))
            res.end()
            return
          }
        }
        return
      }
      case "Status": {
        res.writeHead(behaviour.status, { "content-type": "application/json", ...(behaviour.headers ?? {}) })
        res.end(JSON.stringify({
          error: { message: behaviour.message, type: behaviour.errorType, param: null, code: behaviour.code }
        }))
        return
      }
      case "EchoAuth": {
        const leaked = `bad request from authorization=${String(req.headers["authorization"])}`
        res.writeHead(400, { "content-type": "application/json" })
        res.end(JSON.stringify({
          error: { message: leaked, type: "invalid_request_error", param: null, code: null }
        }))
        return
      }
      case "Raw": {
        res.writeHead(200, { "content-type": behaviour.contentType })
        res.end(behaviour.body)
        return
      }
      case "Malformed": {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(`{"id": "resp_broken", "object": "response", "output": [{"type": "mess`)
        return
      }
      case "DropBeforeReply": {
        tools.dropped(res)
        req.socket.destroy()
        return
      }
    }
  }

  return LocalServer.scripted<Behaviour>({
    accepts: (req) => req.method === "POST" && (req.url ?? "").split("?")[0]!.endsWith("/responses"),
    notFound: (req, res) => {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(JSON.stringify({
        error: { message: `Unknown path ${req.url}`, type: "invalid_request_error", param: null, code: "unknown_url" }
      }))
    },
    fallback: (received) =>
      options.fallback?.(received) ??
        (received.body?.stream === true ? Reply.sse(["o", "k"]) : Reply.json("ok")),
    respond,
    path: "/v1"
  })
}

/**
 * The server as a scoped Effect resource (closed when the scope closes).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { scoped } from "@braid/llm/testing/OpenAiTestServer"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const server = yield* scoped()
 *   return server.url
 * }))
 * ```
 *
 * @since 0.2.0
 * @category testing
 */
export const scoped = (options: Options = {}) =>
  Effect.acquireRelease(Effect.promise(() => start(options)), (s) => Effect.promise(() => s.close()))
