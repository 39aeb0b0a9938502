/**
 * Network faults for store and client tests, on 127.0.0.1 only: a server that accepts every
 * connection and never answers, and a proxy to a real service that can go silent (it keeps every
 * connection open and drops every byte from then on), reset every connection (a TCP RST: an
 * ECONNRESET, as when a link or a server dies) or drop them (closed). Both close with the scope.
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

const track = (sockets: Set<net.Socket>, s: net.Socket) => {
  sockets.add(s)
  s.on("error", () => {})
  s.on("close", () => sockets.delete(s))
}

/** A server on 127.0.0.1 that accepts every connection, reads everything and never sends a byte. */
export const silentServer: Effect.Effect<{ readonly port: number }, never, Scope.Scope> = Effect.suspend(() => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    track(sockets, socket)
    socket.resume() // read and drop
  })
  return Effect.map(listen(server, sockets), (port) => ({ port }))
})

/** A proxy made by `faultyProxy`. */
export interface FaultyProxy {
  readonly port: number
  /** From now on every byte, either way, is dropped; connections stay open. */
  readonly silence: () => void
  /** Bytes flow again (after `silence`). */
  readonly resume: () => void
  /** Resets every open connection (TCP RST); new connections go through. */
  readonly reset: () => void
  /** Closes every open connection; new connections go through. */
  readonly drop: () => void
}

/** A TCP proxy on 127.0.0.1 to `port` (on `host`, default 127.0.0.1) that a test can turn faulty. */
export const faultyProxy = (port: number, host = "127.0.0.1"): Effect.Effect<FaultyProxy, never, Scope.Scope> =>
  Effect.suspend(() => {
    const sockets = new Set<net.Socket>()
    let silent = false
    const server = net.createServer((client) => {
      const upstream = net.connect({ host, port })
      track(sockets, client)
      track(sockets, upstream)
      client.on("data", (d) => {
        if (!silent) upstream.write(d)
      })
      upstream.on("data", (d) => {
        if (!silent) client.write(d)
      })
      client.on("close", () => {
        if (!silent) upstream.destroy()
      })
      upstream.on("close", () => {
        if (!silent) client.destroy()
      })
    })
    return Effect.map(listen(server, sockets), (p): FaultyProxy => ({
      port: p,
      silence: () => {
        silent = true
      },
      resume: () => {
        silent = false
      },
      reset: () => {
        for (const s of sockets) s.resetAndDestroy()
      },
      drop: () => {
        for (const s of sockets) s.destroy()
      }
    }))
  })

/** `url` with its host and port replaced by 127.0.0.1:`port`. */
export const withPort = (url: string, port: number): string => {
  const u = new URL(url)
  u.hostname = "127.0.0.1"
  u.port = String(port)
  return u.toString()
}

/** The port of a service URL (its default when the URL has none). */
export const portOf = (url: string, fallback: number): number => Number(new URL(url).port || fallback)
