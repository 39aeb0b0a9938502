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
