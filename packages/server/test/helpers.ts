import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { Auth, Server } from "@braid/server"
import { Practice, Scripts, SessionStore } from "@braid/workflows"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { Duration } from "effect"
import { Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"

export const secret = Redacted.make("a test secret of at least thirty-two characters")

export type Role = "learner" | "teacher" | "admin"

export const tokenOf = (userId: string, role: Role, options: { tenant?: string; ttl?: Duration.DurationInput } = {}) =>
  Auth.issue(secret, { userId, role, ...options }, Date.now())

/**
 * The server on an ephemeral port of 127.0.0.1, on the in-memory store, the scripted practice
 * model and the in-memory bus.
 */
export const serve = (
  options: Partial<Server.Options> = {},
  practice: Practice.Config = {},
  script: ScriptedLanguageModel.Options = Scripts.practice
) => {
  const Base = Layer.mergeAll(
    SessionStore.layerMemory,
    Metered.fromProvider(ScriptedLanguageModel.provider(script)),
    EventBus.layerMemory
  )
  return Server.layer({ secret, ...options }).pipe(
    Layer.provide(Practice.layer({ idleTimeout: "10 minutes", ...practice })),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Base)
  )
}

/** The base URL of the server in context. */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return `http://127.0.0.1:${address.port}`
})

export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

/** One HTTP request (a JSON body unless `raw` is given) to the server at `base`. */
export const callAt = async (
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}
): Promise<Reply> => {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
  let body: string | undefined
  if (options.raw !== undefined) body = options.raw
  else if (options.body !== undefined) body = JSON.stringify(options.body)
  if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json"
  const res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.text()
  let json: unknown = undefined
  try {
    json = text === "" ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, text, json }
}

/** One HTTP request to the server in context. */
export const call = (
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}
) => Effect.flatMap(baseUrl, (base) => Effect.promise(() => callAt(base, method, path, options)))

export interface SseEvent {
  readonly event: string
  readonly id: string | undefined
  readonly data: any
}

/**
 * Reads the server-sent events of a path until `until` says stop (or `max` events); the
 * connection is closed then.
 */
export const readEvents = (
  path: string,
  until: (events: ReadonlyArray<SseEvent>) => boolean,
  options: { token?: string; lastEventId?: string; onOpen?: () => Promise<void> } = {}
) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async () => {
      const controller = new AbortController()
      const headers: Record<string, string> = { accept: "text/event-stream" }
      if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`
      if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId
      const res = await fetch(`${base}${path}`, { headers, signal: controller.signal })
      const events: Array<SseEvent> = []
      if (res.status !== 200 || res.body === null) {
        return { status: res.status, contentType: res.headers.get("content-type"), events, body: await res.text() }
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      if (options.onOpen) void options.onOpen()
      let buffer = ""
      try {
        while (!until(events)) {
          const { done, value } = await reader.read()
          if (done) break
          buffer += value
          let end = buffer.indexOf("\n\n")
          while (end >= 0) {
            const block = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            end = buffer.indexOf("\n\n")
            let event = "message"
            let id: string | undefined
            const data: Array<string> = []
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7)
              else if (line.startsWith("id: ")) id = line.slice(4)
              else if (line.startsWith("data: ")) data.push(line.slice(6))
            }
            if (data.length > 0) events.push({ event, id, data: JSON.parse(data.join("\n")) })
          }
        }
      } finally {
        controller.abort()
      }
      return { status: res.status, contentType: res.headers.get("content-type"), events, body: "" }
    }))
