/**
 * TCP stand-ins for the store tests: a server that accepts connections and never answers, and a
 * proxy to a real server that can go silent (it keeps every connection open and drops every byte
 * from then on), so a test can watch a store call meet a link that accepts bytes and never answers.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as net from "node:net"

const listen = (server: net.Server, sockets: Set<net.Socket>): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as net.AddressInfo).port)))
    }),
    () =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A server on 127.0.0.1 that accepts every connection and never sends a byte. */
export const silentServer: Effect.Effect<{ readonly port: number }, never, Scope.Scope> = Effect.suspend(() => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => sockets.delete(socket))
  })
  return Effect.map(listen(server, sockets), (port) => ({ port }))
})

/**
 * A proxy on 127.0.0.1 to `port`. After `silence()` it forwards nothing more, either way, and
 * closes nothing; `reset()` resets every connection open through it (a TCP RST to the client:
 * an ECONNRESET, as when a link or a server dies), and new connections go through again.
 */
export const silencingProxy = (
  port: number
): Effect.Effect<{ readonly port: number; readonly silence: () => void; readonly reset: () => void }, never, Scope.Scope> =>
  Effect.suspend(() => {
    const sockets = new Set<net.Socket>()
    let silent = false
    const server = net.createServer((client) => {
      const upstream = net.connect({ host: "127.0.0.1", port })
      for (const s of [client, upstream]) {
        sockets.add(s)
        s.on("error", () => {})
        s.on("close", () => sockets.delete(s))
      }
      client.on("data", (d) => {
        if (!silent) upstream.write(d)
      })
      upstream.on("data", (d) => {
        if (!silent) client.write(d)
      })
      client.on("end", () => upstream.end())
      upstream.on("end", () => client.end())
    })
    return Effect.map(listen(server, sockets), (p) => ({
      port: p,
      silence: () => {
        silent = true
      },
      reset: () => {
        for (const s of sockets) s.resetAndDestroy()
      }
    }))
  })
