/**
 * Tutorial 16: event-driven coaching, across processes.
 *
 * The coaching workflow publishes what happens as typed events on the `EventBus`
 * (`SessionEvents`): a session started, the user wrote, the coach answered, the goals were set,
 * the observer had an insight, the evening reflection started, a session ended and why. On the
 * Redis bus (`RedisEventBus` from @braid/redis) any other process can follow a coaching day as
 * it happens: a web server pushing to a browser, an analytics job, another agent.
 *
 * This file is both processes. The first one subscribes to nothing but a "ready" signal, spawns
 * itself as the second one (the tsx binary with `--conditions=@braid/source`, the way the
 * examples are run), waits until the second has subscribed, then runs a coaching day. The
 * second prints every event it receives and exits after the evening session's end. The first
 * checks that the second saw every event it published, then shows the same day from the admin's
 * side: the sessions stored (`SessionStore`), the session metrics derived from the events
 * (`SessionMetrics`) and the admin views (`Admin`).
 *
 * Without Redis (offline), the tutorial says so and falls back to an in-process subscriber on
 * the memory bus: the same events, one process.
 *
 * Run it: npx tsx --conditions=@braid/source examples/16-coaching-events.ts
 *         (REDIS_URL=redis://host:6379 to use another Redis)
 */
import { Runner } from "@braid/core"
import { Models } from "@braid/eval"
import { Memory } from "@braid/memory"
import { EventBus } from "@braid/messaging"
import { RedisEventBus } from "@braid/redis"
import { Admin, Coaching, Samples, Scripts, SessionEvents, SessionMetrics, SessionStore } from "@braid/workflows"
import { Deferred, Effect, Layer, Ref, Schedule, Schema } from "effect"
import assert from "node:assert"
import { execFile } from "node:child_process"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const root = join(dirname(self), "..")

/** The subscriber tells the coaching process it is listening. */
const SubscriberReady = Schema.TaggedStruct("SubscriberReady", { pid: Schema.Number })
const Ready = EventBus.channel("example.subscriber.ready", SubscriberReady)
/** Everything the subscriber listens to: the session and coaching events (and the ready signal). */
const everything = EventBus.channel("*.*.*", Schema.Union(SessionEvents.Event, Ready.schema))

/** One line per event. */
const describeEvent = (event: SessionEvents.Event): string => {
  const session = event.sessionId.split(":").pop()
  switch (event._tag) {
    case "SessionStarted":
      return `${session}: session started (${event.kind})`
    case "CoachingUserMessage":
      return `${session}: Ada: ${event.text}`
    case "CoachingAgentResponse":
      return `${session}: ${event.agent}${event.fallback ? " (fallback)" : ""}: ${
        event.text.split("\n")[0]!.slice(0, 70)
      }...`
    case "GoalsSet":
      return `${session}: goals set: ${event.goals.join("; ")}`
    case "ReflectionStarted":
      return `${session}: reflection started on ${event.goals.length} goals`
    case "Insight":
      return `${session}: observer: ${event.text.slice(0, 70)}`
    case "SessionEnded":
      return `${session}: session ended (${event.reason}) ${event.at - event.requestedAt} ms after the decision`
    default:
      return `${session}: ${event._tag}`
  }
}

/**
 * The second process: prints every event until the evening session ends. Returns the number of
 * events it received.
 */
const follow = (print: (line: string) => void) =>
  Effect.gen(function*() {
    const ended = yield* Deferred.make<void>()
    const count = yield* Ref.make(0)
    yield* EventBus.subscribe(everything, (event) =>
      Effect.gen(function*() {
        if (event._tag === "SubscriberReady") return
        const n = yield* Ref.updateAndGet(count, (x) => x + 1)
        print(`  #${String(n).padStart(2)} ${describeEvent(event)}`)
        if (event._tag === "SessionEnded" && event.sessionId.endsWith(":evening")) {
          yield* Deferred.succeed(ended, void 0)
        }
      }))
    return { ended, count }
  })

const subscriberProcess = (prefix: string) =>
  Effect.scoped(Effect.gen(function*() {
    const { count, ended } = yield* follow((line) => console.log(line))
    yield* EventBus.publish(Ready, SubscriberReady.make({ pid: process.pid }))
    yield* Deferred.await(ended).pipe(
      Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error("no evening end within 90 s") })
    )
    console.log(`subscriber: received ${yield* Ref.get(count)} events`)
  })).pipe(Effect.provide(RedisEventBus.layer({ prefix })))

/** Spawns this file as the subscriber process; resolves with its output. */
const spawnSubscriber = (prefix: string) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    const tsx = join(root, "node_modules", ".bin", "tsx")
    execFile(
      tsx,
      ["--conditions=@braid/source", self, "subscriber", prefix],
      { cwd: root, encoding: "utf8", timeout: 150_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
  })

/** The coaching day, with sessions stored and metrics derived from the events. */
const coachingDay = Effect.gen(function*() {
  const coaching = Coaching.make({ idleTimeout: "15 minutes" })
  const published = yield* Ref.make(0)
  yield* EventBus.subscribe(SessionEvents.sessions, () => Ref.update(published, (n) => n + 1))
  yield* EventBus.subscribe(SessionEvents.coaching, () => Ref.update(published, (n) => n + 1))
  const report = yield* Runner.run(coaching.day, Samples.coachingDay, { userId: "ada", sessionId: "day-16" })
  return { report, published }
})

/** What an admin sees afterwards: stored sessions, metrics from the events, the admin views. */
const adminView = Effect.gen(function*() {
  const admin = SessionStore.system("default")
  const store = yield* SessionStore.SessionStore
  const sessions = yield* store.listSessions(admin, { order: "oldest" })
  console.log("\nThe admin's side of the same day:")
  for (const s of sessions.items) {
    console.log(
      `  stored session ${s.id}: ${s.kind}, ${s.status} (${s.endReason}), ${s.totals.messages} messages, ${
        s.totals.inputTokens + s.totals.outputTokens
      } tokens, $${s.totals.costUsd.toFixed(5)}`
    )
  }
  // The metrics follow the bus on their own fiber: wait until they have seen both ends.
  yield* SessionMetrics.snapshot.pipe(
    Effect.repeat({
      until: (m) => Object.values(m.ended).reduce((a, b) => a + b, 0) >= 2,
      schedule: Schedule.spaced("5 millis")
    }),
    Effect.timeout("30 seconds")
  )
  const page = yield* Admin.overview(admin)
  console.log(
    `  active now: ${page.sessions.active}, today: ${page.usage.today.messages} messages, $${
      page.usage.today.costUsd.toFixed(5)
    }; database ${page.health.database.status}`
  )
  console.log(
    `  metrics from the events: ${page.metrics.ended["objective-met"]} of ${
      Object.values(page.metrics.ended).reduce((a, b) => a + b, 0)
    } sessions met their objective (completion rate ${page.metrics.completionRate})`
  )
  assert.strictEqual(sessions.items.length, 2)
  assert.ok(sessions.items.every((s) => s.status === "completed" && s.kind === "coaching"))
  assert.strictEqual(page.sessions.active, 0)
  assert.strictEqual(page.metrics.started.coaching, 2)
})

const appLayers = (bus: Layer.Layer<EventBus.EventBus, unknown>) => {
  const withBus = Layer.mergeAll(SessionMetrics.layer, SessionStore.layerMemory).pipe(Layer.provideMerge(bus))
  return Layer.mergeAll(withBus, Models.layer(Scripts.coaching), Memory.layerInMemory())
}

const overRedis = (prefix: string) =>
  Effect.scoped(Effect.gen(function*() {
    console.log(`Redis answered: the subscriber is another process, on channels under "${prefix}".\n`)
    const ready = yield* Deferred.make<number>()
    yield* EventBus.subscribe(Ready, (r) => Deferred.succeed(ready, r.pid))
    const child = spawnSubscriber(prefix)
    const pid = yield* Deferred.await(ready).pipe(
      Effect.timeoutFail({ duration: "90 seconds", onTimeout: () => new Error("the subscriber did not start in 90 s") })
    )
    console.log(`The subscriber process (pid ${pid}) is listening. Running the coaching day...\n`)
    const { published, report } = yield* coachingDay
    const out = yield* Effect.promise(() => child)
    console.log("What the subscriber process printed:")
    process.stdout.write(out.stdout)
    if (out.code !== 0) console.error(out.stderr)
    assert.strictEqual(out.code, 0, "the subscriber process succeeded")
    const received = Number(/received (\d+) events/.exec(out.stdout)?.[1])
    const sent = yield* Ref.get(published)
    console.log(`\nThe coaching process published ${sent} events; the other process received ${received}.`)
    assert.strictEqual(received, sent)
    assert.ok(out.stdout.includes("goals set:"))
    assert.strictEqual(report.morning.endedBy, "objective-met")
    yield* adminView
  })).pipe(Effect.provide(appLayers(RedisEventBus.layer({ prefix, timeout: "3 seconds" }))))

const inProcess = Effect.scoped(Effect.gen(function*() {
  const { ended } = yield* follow((line) => console.log(line))
  const { published, report } = yield* coachingDay
  yield* Deferred.await(ended)
  console.log(`\nThe coaching day published ${yield* Ref.get(published)} events.`)
  assert.strictEqual(report.morning.endedBy, "objective-met")
  yield* adminView
})).pipe(Effect.provide(appLayers(EventBus.layerMemory)))

/** Whether Redis answers (one bounded connection attempt). */
const redisAnswers = Effect.scoped(RedisEventBus.make({ prefix: "braid-probe:", timeout: "2 seconds" })).pipe(
  Effect.as(true),
  Effect.catchAll(() => Effect.succeed(false))
)

const main = Effect.gen(function*() {
  console.log("== Tutorial 16: event-driven coaching ==\n")
  if (yield* redisAnswers) {
    yield* overRedis(`braid-example-16:${crypto.randomUUID()}:`)
  } else {
    if (process.env["BRAID_EXAMPLE_REDIS"] === "require") throw new Error("Redis is unreachable and required")
    console.log(
      "Redis is unreachable (REDIS_URL or 127.0.0.1:6379): falling back to an in-process subscriber on the memory bus.\n"
    )
    yield* inProcess
  }
  console.log("\nDone.")
})

const [, , role, prefix] = process.argv
Effect.runPromise(role === "subscriber" ? subscriberProcess(prefix!) : main).catch((e) => {
  console.error(e)
  process.exit(1)
})
