/**
 * Meeting and event-bus benchmarks (issue 6), each next to its baseline in the same process,
 * measured alternately (see harness.interleaved).
 *
 * - meeting50: turns per second of a 50-participant round-robin meeting (500 turns) whose
 *   participants are Agents on an instant scripted model; baseline: the same 500 agent calls in
 *   the same order from a plain Effect loop (what the meeting machinery costs on top: state
 *   machine, policy, termination check, history, store, events on the bus).
 * - bus memory: events per second through the in-memory EventBus (Schema encode/decode, one
 *   subscriber); baseline: a raw Effect PubSub with one subscriber.
 * - bus redis: events per second through the Redis EventBus (publish on one connection, received
 *   on the subscriber connection); baseline: raw ioredis PUBLISH to a raw ioredis subscriber.
 *   Skipped (and said so) when Redis does not answer.
 */
import { Agent } from "@braid/agents"
import { Instrumentation } from "@braid/core"
import { ScriptedLanguageModel } from "@braid/llm"
import { Meeting, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { RedisEventBus } from "@braid/redis"
import { REDIS_URL } from "@braid/testing/urls"
import { Effect, ManagedRuntime, PubSub, Queue, Schema } from "effect"
import { Redis } from "ioredis"
import { interleaved, printTable, type Row } from "./harness.js"

// ---- meeting50 --------------------------------------------------------------------------------
const N = 50
const TURNS = 500
const agents = Array.from(
  { length: N },
  (_, i) => Agent.make({ name: `p${i}`, instructions: `You are participant ${i}.` })
)
const Model = ScriptedLanguageModel.layer({ default: "Agreed, next." })

const meetingTurnsPerSecond = Effect.gen(function*() {
  const meeting = yield* Meeting.make({
    topic: "bench",
    host: Meeting.fromAgent(agents[0]!),
    termination: Termination.maxTurns(TURNS)
  })
  for (const a of agents.slice(1)) yield* meeting.attend(Meeting.fromAgent(a))
  const start = performance.now()
  const result = yield* meeting.run
  const seconds = (performance.now() - start) / 1000
  if (result.turns !== TURNS) throw new Error(`expected ${TURNS} turns, got ${result.turns}`)
  return TURNS / seconds
}).pipe(Effect.provide(EventBus.layerMemory))

const rawTurnsPerSecond = Effect.gen(function*() {
  const said: Array<string> = []
  const start = performance.now()
  for (let t = 0; t < TURNS; t++) {
    const reply = yield* agents[t % N]!.invoke(Agent.conversation([`turn ${t + 1}`]))
    said.push(reply.text)
  }
  return TURNS / ((performance.now() - start) / 1000)
})

// ---- bus ---------------------------------------------------------------------------------------
const EVENTS = 20_000
const Ping = EventBus.channel("bench.ping.sent", Schema.Struct({ n: Schema.Number }))

/** Publishes `count` events and waits until the one subscriber has received them all. */
const busEventsPerSecond = (count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const done = yield* Queue.bounded<void>(1)
    let received = 0
    yield* EventBus.subscribe(Ping, () => ++received === count ? Queue.offer(done, undefined) : Effect.void)
    const start = performance.now()
    for (let n = 0; n < count; n++) yield* EventBus.publish(Ping, { n })
    yield* Queue.take(done)
    return count / ((performance.now() - start) / 1000)
  }))

const rawPubSubPerSecond = (count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const hub = yield* PubSub.unbounded<{ n: number }>()
    const sub = yield* PubSub.subscribe(hub)
    const consumer = yield* Effect.fork(Effect.gen(function*() {
      for (let i = 0; i < count; i++) yield* Queue.take(sub)
    }))
    const start = performance.now()
    for (let n = 0; n < count; n++) yield* PubSub.publish(hub, { n })
    yield* consumer.await
    return count / ((performance.now() - start) / 1000)
  }))

const rawRedisPerSecond = async (count: number): Promise<number> => {
  const pub = new Redis(REDIS_URL)
  const sub = new Redis(REDIS_URL)
  const channel = `bench-raw-${process.pid}:bench.ping.sent`
  await sub.subscribe(channel)
  let received = 0
  const all = new Promise<void>((resolve) =>
    sub.on("message", (_c, m) => {
      JSON.parse(m)
      if (++received === count) resolve()
    })
  )
  const start = performance.now()
  for (let n = 0; n < count; n++) await pub.publish(channel, JSON.stringify({ n }))
  await all
  const perSecond = count / ((performance.now() - start) / 1000)
  await Promise.all([pub.quit(), sub.quit()])
  return perSecond
}

const redisReachable = async (): Promise<boolean> => {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on("error", () => {})
  try {
    await r.connect()
    await r.ping()
    await r.quit()
    return true
  } catch {
    r.disconnect()
    return false
  }
}

export default async function(): Promise<void> {
  const rows: Array<Row> = []

  const modelRuntime = ManagedRuntime.make(Model)
  // Warm-up (JIT): the first meetings of a process are several times slower than the steady state.
  for (let i = 0; i < 4; i++) {
    await modelRuntime.runPromise(meetingTurnsPerSecond)
    await modelRuntime.runPromise(Instrumentation.disabled(meetingTurnsPerSecond))
    await modelRuntime.runPromise(rawTurnsPerSecond)
    await modelRuntime.runPromise(Instrumentation.disabled(rawTurnsPerSecond))
  }
  const [meeting, raw] = await interleaved(
    () => modelRuntime.runPromise(Instrumentation.disabled(meetingTurnsPerSecond)),
    () => modelRuntime.runPromise(Instrumentation.disabled(rawTurnsPerSecond)),
    5
  )
  rows.push({
    name: `meeting of ${N}, round robin, ${TURNS} turns (instrumentation off)`,
    braid: meeting,
    baseline: raw,
    unit: "ops/s",
    note: "turns/s; baseline = the same agent calls in a plain loop"
  })
  const [meetingOn, rawOn] = await interleaved(
    () => modelRuntime.runPromise(meetingTurnsPerSecond),
    () => modelRuntime.runPromise(rawTurnsPerSecond),
    3
  )
  rows.push({
    name: `meeting of ${N} (instrumentation on, no tracer)`,
    braid: meetingOn,
    baseline: rawOn,
    unit: "ops/s",
    note: "turns/s"
  })
  await modelRuntime.dispose()

  const memoryRuntime = ManagedRuntime.make(EventBus.layerMemory)
  await memoryRuntime.runPromise(busEventsPerSecond(EVENTS)) // warm-up
  await Effect.runPromise(rawPubSubPerSecond(EVENTS))
  const [bus, pubsub] = await interleaved(
    () => memoryRuntime.runPromise(busEventsPerSecond(EVENTS)),
    () => Effect.runPromise(rawPubSubPerSecond(EVENTS)),
    5
  )
  rows.push({
    name: `EventBus memory, ${EVENTS} events`,
    braid: bus,
    baseline: pubsub,
    unit: "ops/s",
    note: "events/s; baseline = raw Effect PubSub (no Schema)"
  })
  await memoryRuntime.dispose()

  if (await redisReachable()) {
    const REDIS_EVENTS = 5_000
    const redisRuntime = ManagedRuntime.make(RedisEventBus.layer({ url: REDIS_URL, prefix: `bench-${process.pid}:` }))
    const [redisBus, redisRaw] = await interleaved(
      () => redisRuntime.runPromise(busEventsPerSecond(REDIS_EVENTS)),
      () => rawRedisPerSecond(REDIS_EVENTS),
      3
    )
    rows.push({
      name: `EventBus Redis, ${REDIS_EVENTS} events (sequential publishes)`,
      braid: redisBus,
      baseline: redisRaw,
      unit: "ops/s",
      note: "events/s; baseline = raw ioredis PUBLISH + subscriber"
    })
    await redisRuntime.dispose()
  } else {
    console.log(`\n(Redis at ${REDIS_URL} did not answer: the Redis event bus row is skipped)`)
  }

  printTable("Meetings and event bus (issue 6)", rows)
}
