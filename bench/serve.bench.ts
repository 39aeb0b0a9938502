/**
 * `braid serve` under load (issue 17): 200 learners at once against a real `braid serve` process
 * (bench/serve-server.ts: the command's own wiring, so the sessions are durable runs on the
 * embedded SQLite engine, next to the SQLite session store in the data directory) and the
 * scripted model. Each learner starts a session, follows its events over the WebSocket
 * (`/api/sessions/:id/ws`; `BENCH_PUSH=sse` for server-sent events), sends three messages one
 * after the other and ends it, while 20 more learners are refused by the session cap
 * (`503 AtCapacity`). Three runs:
 *
 * 1. no model failures;
 * 2. the model failing 30% of its calls transiently (`Overloaded`, retried by the workflow's policy);
 * 3. the server killed (SIGKILL) when half of the turns are done, and started again on the same
 *    data directory: every session resumes (durable), every client reconnects its event stream
 *    with the last event id it saw, and a send cut by the crash is not sent again if the store
 *    has it (the client reads the transcript, then waits for the reply).
 *
 * Figures: turn latency (from sending a message to having its reply) p50/p95/p99, and, counted
 * per session against the store: lost and duplicated messages (each learner message once, each
 * with one reply), lost and duplicated events (every stored message pushed once, event ids 1, 2,
 * ... without a gap or a repeat), the refusals, and how long the server was down.
 *
 * The clients run in the benchmark's process, the server in its own: on a 2-core machine both
 * share the cores. Figures: docs/serve.md, "Under load". `BENCH_LEARNERS=n` and `BENCH_RUNS=0,30,restart` (any of them) vary it.
 */
import { Auth, Sse } from "@braid/server"
import { Socket } from "@effect/platform"
import { NodeSocket } from "@effect/platform-node"
import { Effect, Redacted } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const LEARNERS = Number(process.env["BENCH_LEARNERS"] ?? 200)
const EXTRA = 20
const RUNS = (process.env["BENCH_RUNS"] ?? "0,30,restart").split(",").map((s) => s.trim())
const TURNS = [
  "Thanks for coming, Sam. What brings you here today?",
  "How do you feel about the team right now?",
  "Tell me more about that."
]
const secretText = "a benchmark secret of at least thirty-two characters"
const secret = Redacted.make(secretText)
const serverScript = join(dirname(fileURLToPath(import.meta.url)), "serve-server.ts")

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

// --- the server process ----------------------------------------------------------------------------

interface ServerProcess {
  readonly child: ChildProcess
  readonly base: string
  readonly exited: Promise<void>
}

const startServer = (data: string, port: number, failRate: number): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    // BENCH_CPU_PROF=dir: the server writes a CPU profile there when it stops
    const profile = process.env["BENCH_CPU_PROF"]
    const flags = profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profile}`]
    const child = spawn(process.execPath, [
      ...process.execArgv,
      ...flags,
      serverScript,
      data,
      String(port),
      String(failRate)
    ], {
      env: {
        ...process.env,
        ANTHROPIC_API_KEY: "",
        BRAID_AUTH_SECRET: secretText,
        BRAID_STORE: "sqlite",
        BRAID_SESSION_CAP_ACTIVE: String(LEARNERS),
        BRAID_SESSION_CAP_QUEUED: "0",
        BRAID_IDLE_TIMEOUT: "1 hour"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    let up = false
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const m = /listening on (http:\/\/\S+)/.exec(output)
      if (m !== null && !up) {
        up = true
        resolve({ child, base: m[1]!, exited })
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    void exited.then(() => {
      if (!up) reject(new Error(`the server exited before listening:\n${output}`))
    })
  })

// --- a learner's client ------------------------------------------------------------------------------

interface Event {
  readonly event: string
  /** The event's sequence number in the session; absent on live-only events (reply deltas). */
  readonly id: number | undefined
  readonly data: { readonly seq?: number }
}

/** Whether `e` is a failure to reach the server (down, restarting), not an answer. */
const unreachable = (e: unknown) => e instanceof TypeError || (e instanceof Error && e.name === "AbortError")

/** Over the WebSocket (`/api/sessions/:id/ws`, default) or server-sent events (`BENCH_PUSH=sse`). */
const PUSH = process.env["BENCH_PUSH"] === "sse" ? "sse" : "ws"

const makeWebSocket = Effect.runSync(
  Socket.WebSocketConstructor.pipe(Effect.provide(NodeSocket.layerWebSocketConstructor))
)

/** One connection of a follower: pushes what it reads into `push`; resolves when it closes. */
const connectSse = async (
  url: string,
  token: string,
  signal: AbortSignal,
  push: (e: Event) => void
): Promise<void> => {
  const res = await fetch(url.replace(/\/ws\?/, "/events?"), { headers: { authorization: `Bearer ${token}` }, signal })
  if (res.status !== 200) throw new TypeError(`events: ${res.status}`)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  while (true) {
    const { done, value } = await reader.read()
    if (done) return
    const parsed = Sse.parse(buffer + value)
    buffer = parsed.rest
    for (const m of parsed.messages) {
      push({ event: m.event, id: m.id === undefined ? undefined : Number(m.id), data: JSON.parse(m.data) })
    }
  }
}

const connectWs = (url: string, token: string, signal: AbortSignal, push: (e: Event) => void): Promise<void> =>
  new Promise((resolve) => {
    const ws = makeWebSocket(url.replace(/^http/, "ws"), ["braid", token])
    const close = () => ws.close()
    signal.addEventListener("abort", close)
    ws.addEventListener("message", (m) => {
      const frame = JSON.parse(String(m.data)) as { id?: number; event?: { _tag: string; seq?: number } }
      if (frame.event !== undefined) push({ event: frame.event._tag, id: frame.id, data: frame.event })
    })
    const done = () => {
      signal.removeEventListener("abort", close)
      resolve()
    }
    ws.addEventListener("close", done)
    ws.addEventListener("error", done)
  })

/**
 * Follows a session's events, reconnecting (with the last event id it saw) whenever the
 * connection ends before `stop()`.
 */
const follow = (base: () => string, id: string, token: string) => {
  let controller = new AbortController()
  let stopped = false
  let reconnects = 0
  const events: Array<Event> = []
  const lastId = () => events.reduce((n, e) => (e.id !== undefined ? e.id : n), 0)
  const connect = PUSH === "ws" ? connectWs : connectSse
  const done = (async () => {
    while (!stopped) {
      await connect(
        `${base()}/api/sessions/${id}/ws?lastEventId=${lastId()}`,
        token,
        controller.signal,
        (e) => events.push(e)
      ).catch(() => undefined)
      if (stopped) break
      reconnects++
      await sleep(250)
    }
  })()
  return {
    events,
    reconnects: () => reconnects,
    until: async (predicate: (es: ReadonlyArray<Event>) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      while (!predicate(events) && Date.now() < deadline) await sleep(50)
      return predicate(events)
    },
    stop: async () => {
      stopped = true
      controller.abort()
      controller = new AbortController()
      await done
    }
  }
}

interface Message {
  readonly seq: number
  readonly role: string
  readonly text: string
  readonly turnId?: string
}

const percentile = (xs: ReadonlyArray<number>, p: number) => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

// --- one run -----------------------------------------------------------------------------------------

const load = async (run: "0" | "30" | "restart") => {
  const failRate = run === "30" ? 0.3 : 0
  const data = mkdtempSync(join(tmpdir(), "braid-serve-bench-"))
  let server = await startServer(data, 0, failRate)
  const port = Number(new URL(server.base).port)
  let current = server.base
  const base = () => current
  let down: { at: number; back: Promise<void> } | undefined
  let downSeconds = 0

  const request = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${base()}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    return { status: res.status, json: (text === "" ? undefined : JSON.parse(text)) as any }
  }
  /** A request that waits for the server through a restart (for idempotent reads). */
  const reliably = async (method: string, path: string, token: string) => {
    while (true) {
      try {
        const r = await request(method, path, token)
        if (r.status < 500) return r
      } catch (e) {
        if (!unreachable(e)) throw e
      }
      await (down?.back ?? sleep(250))
      await sleep(100)
    }
  }
  const transcript = async (id: string, token: string): Promise<ReadonlyArray<Message>> =>
    (await reliably("GET", `/api/sessions/${id}/messages?limit=500`, token)).json.items

  const bearer = Array.from(
    { length: LEARNERS + EXTRA },
    (_, i) => Auth.issue(secret, { userId: `learner-${i}`, role: "learner" }, Date.now())
  )

  const totalTurns = LEARNERS * TURNS.length
  let turnsDone = 0
  const restartAt = run === "restart" ? Math.floor(totalTurns / 2) : Number.POSITIVE_INFINITY
  const restart = async () => {
    let markBack!: () => void
    down = { at: performance.now(), back: new Promise<void>((r) => (markBack = r)) }
    server.child.kill("SIGKILL")
    await server.exited
    server = await startServer(data, port, failRate)
    current = server.base
    downSeconds = (performance.now() - down.at) / 1000
    markBack()
  }
  let restarting: Promise<void> | undefined

  const started = await Promise.all(
    bearer.slice(0, LEARNERS).map((t) => request("POST", "/api/sessions", t, { scenarioId: "first-session" }))
  )
  const refused = await Promise.all(
    bearer.slice(LEARNERS).map((t) => request("POST", "/api/sessions", t, { scenarioId: "first-session" }))
  )
  const latencies: Array<number> = []
  const counts = {
    lostMessages: 0,
    duplicatedMessages: 0,
    lostEvents: 0,
    duplicatedEvents: 0,
    fallbacks: 0,
    failedTurns: 0,
    resentAfterCrash: 0,
    takenBeforeCrash: 0,
    reconnects: 0,
    unfinished: 0
  }
  const startedAll = performance.now()
  await Promise.all(started.map(async (s, i) => {
    const token = bearer[i]!
    if (s.status !== 201) {
      counts.failedTurns += TURNS.length
      return
    }
    const id: string = s.json.session.id
    const stream = follow(base, id, token)
    for (const [k, text] of TURNS.entries()) {
      const t0 = performance.now()
      // send; if the server died under the request, read the store before sending again
      let answered = false
      while (!answered) {
        try {
          const turn = await request("POST", `/api/sessions/${id}/messages`, token, { text })
          if (turn.status === 200) {
            if (turn.json.reply?.fallback === true) counts.fallbacks++
            answered = true
          } else if (turn.status >= 500 && down !== undefined) {
            // the server restarting: try again below
            await down.back
          } else {
            counts.failedTurns++
            answered = true
          }
        } catch (e) {
          if (!unreachable(e)) throw e
          await (down?.back ?? sleep(250))
          const messages = await transcript(id, token)
          const mine = messages.filter((m) => m.role === "user")
          if (mine.length > k) {
            // the message was taken before the crash: wait for its reply (the resumed run writes it)
            counts.takenBeforeCrash++
            const turnId = mine[k]!.turnId
            while (!(await transcript(id, token)).some((m) => m.role === "assistant" && m.turnId === turnId)) {
              await sleep(200)
            }
            answered = true
          } else counts.resentAfterCrash++
        }
      }
      latencies.push(performance.now() - t0)
      turnsDone++
      if (turnsDone === restartAt) restarting = restart()
    }
    let ended = false
    while (!ended) {
      try {
        const r = await request("POST", `/api/sessions/${id}/end`, token)
        ended = r.status < 500 || down === undefined
        if (!ended) await down?.back
      } catch (e) {
        if (!unreachable(e)) throw e
        await (down?.back ?? sleep(250))
      }
    }
    if (!(await stream.until((es) => es.some((e) => e.event === "SessionEnded"), 120_000))) counts.unfinished++
    await stream.stop()
    counts.reconnects += stream.reconnects()
    // against the store: each learner message once, each with one reply; each stored message pushed once
    const messages = await transcript(id, token)
    for (const t of TURNS) {
      const n = messages.filter((m) => m.role === "user" && m.text === t).length
      if (n === 0) counts.lostMessages++
      if (n > 1) counts.duplicatedMessages += n - 1
    }
    for (const m of messages.filter((m) => m.role === "user")) {
      const n = messages.filter((r) => r.role === "assistant" && r.turnId === m.turnId).length
      if (n === 0) counts.lostMessages++
      if (n > 1) counts.duplicatedMessages += n - 1
    }
    const persisted = stream.events.filter((e) => e.id !== undefined)
    const pushed = persisted.filter((e) => e.event === "AiTurn" || e.event === "LearnerMessage").map((e) => e.data.seq)
    for (const m of messages.filter((m) => m.role !== "system")) {
      const n = pushed.filter((x) => x === m.seq).length
      if (n === 0) counts.lostEvents++
      if (n > 1) counts.duplicatedEvents += n - 1
    }
    // ids 1, 2, ... : a repeat is a duplicate, a skipped id a loss
    let expected = 1
    for (const e of persisted) {
      if (e.id! < expected) counts.duplicatedEvents++
      else {
        counts.lostEvents += e.id! - expected
        expected = e.id! + 1
      }
    }
  }))
  await restarting
  const seconds = (performance.now() - startedAll) / 1000
  server.child.kill("SIGTERM")
  await Promise.race([server.exited, sleep(10_000)])
  server.child.kill("SIGKILL")
  rmSync(data, { recursive: true, force: true })
  return {
    run,
    started: started.filter((s) => s.status === 201).length,
    refused: refused.filter((r) => r.status === 503 && r.json?._tag === "AtCapacity").length,
    refusal: refused.find((r) => r.status === 503)?.json?.message as string | undefined,
    turns: latencies.length,
    seconds,
    downSeconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    ...counts
  }
}

export default async () => {
  console.log(
    `\n## braid serve: ${LEARNERS} learners at once over HTTP + ${
      PUSH === "ws" ? "WebSocket" : "SSE"
    }, durable sessions on SQLite, scripted model, server in its own process`
  )
  console.log(
    "| run | started | refused by the cap (of 20) | turns | p50 ms | p95 ms | p99 ms | lost / duplicated messages | lost / duplicated events | fallback replies | failed turns | stream reconnects | server down s | wall s |"
  )
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
  let refusal: string | undefined
  for (const run of RUNS) {
    if (run !== "0" && run !== "30" && run !== "restart") throw new Error(`BENCH_RUNS: unknown run ${run}`)
    const r = await load(run)
    refusal ??= r.refusal
    const name = run === "0"
      ? "no model failures"
      : run === "30"
      ? "model fails 30% of calls"
      : "server killed at half the turns, restarted"
    console.log(
      `| ${name} | ${r.started} | ${r.refused} | ${r.turns} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${
        r.p99.toFixed(1)
      } | ${r.lostMessages} / ${r.duplicatedMessages} | ${r.lostEvents} / ${r.duplicatedEvents} | ${r.fallbacks} | ${r.failedTurns} | ${r.reconnects} | ${
        run === "restart" ? r.downSeconds.toFixed(1) : "-"
      } | ${r.seconds.toFixed(1)} |`
    )
    if (run === "restart") {
      console.log(
        `\n(restart: ${r.takenBeforeCrash} sends cut by the crash were found in the store and not sent again; ${r.resentAfterCrash} were sent again; ${r.unfinished} sessions whose end never arrived)`
      )
    }
  }
  if (refusal !== undefined) console.log(`\nThe cap's refusal: 503 AtCapacity "${refusal}"`)
}
