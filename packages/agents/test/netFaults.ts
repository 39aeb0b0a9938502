/**
 * Network faults for store tests: a TCP server that accepts and never answers, and a proxy to a
 * real service that can be switched to the same behaviour (bytes accepted, none answered).
 */
import { Effect } from "effect"
import * as net from "node:net"

export interface Silent {
  readonly port: number
}

/** A server on 127.0.0.1 that accepts connections, reads everything and never answers (closed with the scope). */
export const silentServer: Effect.Effect<Silent, never, import("effect").Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ server: net.Server; sockets: Set<net.Socket>; port: number }>((resume) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      socket.resume() // read and drop
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed({ server, sockets, port: (server.address() as net.AddressInfo).port })))
  }),
  ({ server, sockets }) =>
    Effect.async<void>((resume) => {
      for (const s of sockets) s.destroy()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(({ port }) => ({ port })))

export interface Proxy {
  readonly port: number
  /** From now on, every byte in either direction is dropped (connections stay open). */
  readonly blackhole: Effect.Effect<void>
}

/** A TCP proxy on 127.0.0.1 to `target` (host:port) that `blackhole` turns silent (closed with the scope). */
export const proxy = (targetHost: string, targetPort: number): Effect.Effect<Proxy, never, import("effect").Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: net.Server; sockets: Set<net.Socket>; port: number; state: { silent: boolean } }>((resume) => {
      const sockets = new Set<net.Socket>()
      const state = { silent: false }
      const server = net.createServer((client) => {
        const upstream = net.connect({ host: targetHost, port: targetPort })
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on("error", () => {})
          s.on("close", () => {
            sockets.delete(s)
            if (!state.silent) {
              client.destroy()
              upstream.destroy()
            }
          })
        }
        client.on("data", (chunk) => {
          if (!state.silent) upstream.write(chunk)
        })
        upstream.on("data", (chunk) => {
          if (!state.silent) client.write(chunk)
        })
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed({ server, sockets, state, port: (server.address() as net.AddressInfo).port })))
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ port, state }) => ({
    port,
    blackhole: Effect.sync(() => {
      state.silent = true
    })
  })))

/** `url` with its host and port replaced by 127.0.0.1:`port`. */
export const withPort = (url: string, port: number): string => {
  const u = new URL(url)
  u.hostname = "127.0.0.1"
  u.port = String(port)
  return u.toString()
}
