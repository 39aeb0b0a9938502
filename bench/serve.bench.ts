/**
 * `braid serve` under load (issue 17): 200 learners at once over HTTP and server-sent events, on
 * SQLite (a file) and the scripted model, each starting a session, sending three messages one
 * after the other and ending it, while 20 more learners are refused by the session cap. Figures:
 * turn latency (the `POST /messages` round trip) p50/p95/p99, lost and duplicated events (every
 * persisted message must arrive once on the learner's event stream, with contiguous ids), and
 * the refusals. Then the same with the model failing 30% of its calls transiently (`Overloaded`,
 * retried by the workflow's policy: 3 attempts, backoff from 500 ms).
 *
 * The clients run in the benchmark's own process, next to the server: on a 2-core machine the
 * figures are those of one Node process doing both, so they bound the server's own cost from
 * above. `BENCH_LEARNERS=n`, `BENCH_STORE=memory` and `BENCH_FAIL=0` (no failure run) vary it.
 *
 * Not measured here: a restart in the middle (tests/serve-events.test.ts checks that a client
 * resumes after one and loses nothing), and the WebSocket (the same follower as SSE).
 */
import { Errors as LlmErrors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { Auth, Server, Sse } from "@braid/server"
import { SqliteSessionStore } from "@braid/sqlite"
import { Practice, Scripts, SessionStore } from "@braid/workflows"
import { HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"

const LEARNERS = Number(process.env["BENCH_LEARNERS"] ?? 200)
const EXTRA = 20
const MEMORY = process.env["BENCH_STORE"] === "memory"
const TURNS = [
  "Thanks for coming, Sam. What brings you here today?",
  "How do you feel about the team right now?",
  "Tell me more about that."
]

const secret = Redacted.make("a benchmark secret of at least thirty-two characters")

interface SseEvent {
  readonly event: string
  readonly id: number
  readonly data: { readonly seq?: number }
}

/** Reads a session's events in the background until `stop()`; resolves with them. */
const follow = (url: string, token: string) => {
  const controller = new AbortController()
  const events: Array<SseEvent> = []
  let waiters: Array<() => void> = []
  const done = (async () => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    try {
      while (true) {
        const { done, value } = await reader.read()
        if (done) break
        const parsed = Sse.parse(buffer + value)
        buffer = parsed.rest
        for (const m of parsed.messages) {
          events.push({ event: m.event, id: Number(m.id), data: JSON.parse(m.data) })
          for (const w of waiters) w()
          waiters = []
        }
      }
    } catch {
      // aborted
    }
    return events
  })()
  return {
    events,
    until: async (predicate: (es: ReadonlyArray<SseEvent>) => boolean) => {
      while (!predicate(events)) await new Promise<void>((resolve) => waiters.push(resolve))
    },
    stop: () => {
      controller.abort()
      return done
    }
  }
}

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const load = async (failRate: number) => {
  const dir = mkdtempSync(join(tmpdir(), "braid-serve-bench-"))
  const script: ScriptedLanguageModel.Options = {
    ...Scripts.practice,
    failures: failRate === 0 ? [] : [{
      when: () => Math.random() < failRate,
      error: new LlmErrors.Overloaded({ message: "overloaded (injected)" })
    }]
  }
  const App = Server.layer({ secret, messageRate: { limit: 1000, window: "1 minute" } }).pipe(
    Layer.provide(
      Practice.layer({ cap: { maxActive: LEARNERS, maxQueued: 0 }, idleTimeout: "1 hour", breaker: false })
    ),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Layer.mergeAll(
      MEMORY ? SessionStore.layerMemory : SqliteSessionStore.layer(join(dir, "braid.db")),
      Metered.fromProvider(ScriptedLanguageModel.provider(script)),
      EventBus.layerMemory
    ))
  )
  const runtime = ManagedRuntime.make(App)
  try {
    const base = await runtime.runPromise(Effect.gen(function*() {
      yield* Server.seed()
      const address = (yield* HttpServer.HttpServer).address
      return `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}`
    }))
    const post = async (path: string, token: string, body?: unknown) => {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
      return { status: res.status, json: (await res.json()) as any }
    }
    const tokens = Array.from(
      { length: LEARNERS + EXTRA },
      (_, i) => Auth.issue(secret, { userId: `learner-${i}`, role: "learner" }, Date.now())
    )
    const started = await Promise.all(
      tokens.slice(0, LEARNERS).map((t) => post("/api/sessions", t, { scenarioId: "first-session" }))
    )
    const refused = await Promise.all(
      tokens.slice(LEARNERS).map((t) => post("/api/sessions", t, { scenarioId: "first-session" }))
    )
    const latencies: Array<number> = []
    let lost = 0
    let duplicated = 0
    let gaps = 0
    let fallbacks = 0
    let failedTurns = 0
    const startedAll = performance.now()
    await Promise.all(started.map(async (s, i) => {
      const token = tokens[i]!
      if (s.status !== 201) {
        failedTurns += TURNS.length
        return
      }
      const id: string = s.json.session.id
      const stream = follow(`${base}/api/sessions/${id}/events`, token)
      for (const text of TURNS) {
        const t0 = performance.now()
        const turn = await post(`/api/sessions/${id}/messages`, token, { text })
        latencies.push(performance.now() - t0)
        if (turn.status !== 200) failedTurns++
        else if (turn.json.reply?.fallback === true) fallbacks++
      }
      await post(`/api/sessions/${id}/end`, token)
      await stream.until((es) => es.some((e) => e.event === "SessionEnded"))
      const events = await stream.stop()
      const messages = await fetch(`${base}/api/sessions/${id}/messages?limit=500`, {
        headers: { authorization: `Bearer ${token}` }
      }).then((r) => r.json() as Promise<{ items: ReadonlyArray<{ seq: number; role: string }> }>)
      const persisted = messages.items.filter((m) => m.role !== "system").map((m) => m.seq)
      const pushed = events.filter((e) => e.event === "AiTurn" || e.event === "LearnerMessage").map((e) => e.data.seq!)
      for (const seq of persisted) {
        const n = pushed.filter((x) => x === seq).length
        if (n === 0) lost++
        if (n > 1) duplicated += n - 1
      }
      // the persisted events carry contiguous ids; deltas (live only) carry none
      events.filter((e) => e.event !== "AiTurnDelta").forEach((e, k) => {
        if (e.id !== k + 1) gaps++
      })
    }))
    const seconds = (performance.now() - startedAll) / 1000
    return {
      started: started.filter((s) => s.status === 201).length,
      refused: refused.filter((r) => r.status === 503 && r.json._tag === "AtCapacity").length,
      turns: latencies.length,
      seconds,
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      lost,
      duplicated,
      gaps,
      fallbacks,
      failedTurns
    }
  } finally {
    await runtime.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

export default async () => {
  console.log(`\n## braid serve: ${LEARNERS} learners at once over HTTP + SSE, SQLite, scripted model`)
  console.log(
    "| model failures | started | refused by the cap (of 20) | turns | p50 ms | p95 ms | p99 ms | lost | duplicated | id gaps | fallback replies | failed turns | wall s |"
  )
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  for (const failRate of process.env["BENCH_FAIL"] === "0" ? [0] : [0, 0.3]) {
    const r = await load(failRate)
    console.log(
      `| ${failRate * 100}% | ${r.started} | ${r.refused} | ${r.turns} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${
        r.p99.toFixed(1)
      } | ${r.lost} | ${r.duplicated} | ${r.gaps} | ${r.fallbacks} | ${r.failedTurns} | ${r.seconds.toFixed(1)} |`
    )
  }
}
