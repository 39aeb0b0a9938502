/**
 * The HTTP plumbing of Braid's local test servers (the Messages-API test server, the OTLP
 * receiver): a server on 127.0.0.1 and a free port that reads each request's body, never lets a
 * dropped connection surface as an unhandled 'error' event, and closes with every open connection.
 *
 * @since 0.2.0
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type * as net from "node:net"

/**
 * A request and its whole body.
 *
 * @since 0.2.0
 * @category models
 */
export type Handler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void

/**
 * A running local server.
 *
 * @since 0.2.0
 * @category models
 */
export interface LocalServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Closes the server and every open connection. */
  readonly close: () => Promise<void>
}

/**
 * Starts a server on 127.0.0.1 (a free port) that hands each request with its body to `handler`.
 * `onRequest` sees each request and response as they arrive (to watch for aborted responses).
 *
 * @example
 * ```ts
 * import { start } from "@braid/core/testing/LocalServer"
 *
 * const server = await start((_req, body, res) => res.end(body))
 * await fetch(server.url, { method: "POST", body: "echo" })
 * await server.close()
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const start = (
  handler: Handler,
  onRequest?: (req: http.IncomingMessage, res: http.ServerResponse) => void
): Promise<LocalServer> => {
  const sockets = new Set<net.Socket>()
  const server = http.createServer((req, res) => {
    // a connection the client drops must not surface as an unhandled 'error' event
    req.on("error", () => {})
    res.on("error", () => {})
    onRequest?.(req, res)
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => handler(req, Buffer.concat(chunks), res))
  })
  server.on("connection", (s) => {
    s.on("error", () => {})
    sockets.add(s)
    s.on("close", () => sockets.delete(s))
  })
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy()
            server.close(() => r())
          })
      })
    })
  })
}

/**
 * A request a scripted server received, its body parsed as JSON when it is JSON.
 *
 * @since 0.2.0
 * @category models
 */
export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly body: any
}

/**
 * A running scripted server: behaviours queued for the next requests, the requests received, and
 * the responses the client aborted or that stalled.
 *
 * @since 0.2.0
 * @category models
 */
export interface Scripted<B> {
  /** The base URL to give the client. */
  readonly url: string
  /** Queue behaviours for the next requests, in order. */
  readonly enqueue: (...behaviours: ReadonlyArray<B>) => void
  /** Every request received so far. */
  readonly requests: ReadonlyArray<Received>
  /** Requests whose connection the client closed before the reply finished. */
  readonly aborted: () => number
  /** Responses that reached their stall point. */
  readonly stalled: () => number
  readonly close: () => Promise<void>
}

/**
 * What `respond` reports to its server: a response that reached its stall point, a connection
 * the server dropped itself (not counted as aborted by the client).
 *
 * @since 0.2.0
 * @category models
 */
export interface ScriptedTools {
  readonly stalled: () => void
  readonly dropped: (res: http.ServerResponse) => void
}

/**
 * What a scripted server is made of: which requests it answers (others get `notFound`), the
 * reply when the queue is empty, and how a behaviour is written. `respond` reports a stall with
 * `stalled()` and a connection it drops itself with `dropped(res)` (not counted as aborted).
 *
 * @since 0.2.0
 * @category models
 */
export interface ScriptedOptions<B> {
  readonly accepts: (req: http.IncomingMessage) => boolean
  readonly notFound: (req: http.IncomingMessage, res: http.ServerResponse) => void
  readonly fallback: (request: Received) => B
  readonly respond: (
    behaviour: B,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: any,
    tools: ScriptedTools
  ) => Promise<void>
  /** Appended to the server's URL (e.g. `/v1`). */
  readonly path?: string
}

/**
 * The one scripted test server of Braid's model-API test servers (Messages API, Responses API):
 * each request is recorded, then answered with the next queued behaviour (or the fallback); a
 * response closed before it finished, and not by the server, counts as aborted.
 *
 * @example
 * ```ts
 * import { scripted } from "@braid/core/testing/LocalServer"
 *
 * const server = await scripted<string>({
 *   accepts: (req) => req.method === "POST",
 *   notFound: (_req, res) => res.writeHead(404).end(),
 *   fallback: () => "ok",
 *   respond: async (text, _req, res) => void res.end(text)
 * })
 * server.enqueue("hello")
 * await server.close()
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const scripted = <B>(options: ScriptedOptions<B>): Promise<Scripted<B>> => {
  const queue: Array<B> = []
  const requests: Array<Received> = []
  const droppedByServer = new WeakSet<http.ServerResponse>()
  let aborted = 0
  let stalled = 0
  const tools: ScriptedTools = {
    stalled: () => {
      stalled++
    },
    dropped: (res: http.ServerResponse) => {
      droppedByServer.add(res)
    }
  }
  return start((req, raw, res) => {
    let body: any = undefined
    try {
      body = JSON.parse(raw.toString("utf8"))
    } catch {
      body = raw.toString("utf8")
    }
    const received: Received = { method: req.method ?? "", path: req.url ?? "", headers: { ...req.headers }, body }
    requests.push(received)
    if (!options.accepts(req)) return options.notFound(req, res)
    const behaviour = queue.length > 0 ? queue.shift()! : options.fallback(received)
    options.respond(behaviour, req, res, body, tools).catch(() => res.destroy())
  }, (_req, res) => {
    // one rule for every behaviour: a response closed before it was complete, and not by the
    // server itself, was aborted by the client
    res.on("close", () => {
      if (!res.writableFinished && !droppedByServer.has(res)) aborted++
    })
  }).then((server) => ({
    url: `${server.url}${options.path ?? ""}`,
    enqueue: (...bs) => {
      queue.push(...bs)
    },
    requests,
    aborted: () => aborted,
    stalled: () => stalled,
    close: server.close
  }))
}
