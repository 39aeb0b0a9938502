/**
 * The conformance suite every durable engine passes (in memory, SQLite single runner, PostgreSQL).
 * Real time (`it.live`): the cluster engines run on the live clock; waits are bounded generously.
 */
import { forEach, Primitive, Runner, sequence } from "@braid/core"
import { Durable, type Errors, RunStatus } from "@braid/durable"
import { assert, describe, it } from "@effect/vitest"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import { Duration, Effect, Exit, Layer, Schedule, Schema } from "effect"

/** An engine under test: a fresh, empty one per call. */
export type EngineLayer = () => Layer.Layer<WorkflowEngine | RunStatus.RunStatusStore, unknown>

/** Calls of the side effects, by label (what a step's body did, not what the journal returned). */
export const makeCounter = () => {
  const counts: Record<string, number> = {}
  const tick = <A>(label: string, value: A) =>
    Effect.sync(() => {
      counts[label] = (counts[label] ?? 0) + 1
      return value
    })
  return { counts, tick }
}

export const Reply = Schema.Struct({ text: Schema.String })
export const ChatInput = Schema.Struct({ user: Schema.String, turns: Schema.Number })

/** A numbers pipeline with journaled steps under sequence and forEach. */
export const numbers = (counter: ReturnType<typeof makeCounter>) => {
  const draft = Primitive.make(
    "draft",
    (topic: string) =>
      Durable.step("write", counter.tick("draft", `plan for ${topic}`), Schema.String, { request: topic })
  )
  const lengths = Primitive.sync("lengths", (s: string) => s.split(" ").map((w) => w.length))
  const square = Primitive.make(
    "square",
    (n: number) => Durable.step("mul", counter.tick("square", n * n), Schema.Number, { request: n })
  )
  const total = Primitive.sync("total", (xs: ReadonlyArray<number>) => xs.reduce((a, b) => a + b, 0))
  return sequence(draft, lengths, forEach(square, { concurrency: 2 }), total).pipe(Primitive.named("numbers"))
}

/**
 * A conversation: each turn a journaled "say" step, then a wait for the learner's reply (one
 * signal per turn). `observed` gets the journal keys seen before each wait, on every execution.
 */
export const chat = (
  counter: ReturnType<typeof makeCounter>,
  observed: Array<ReadonlyArray<string>>,
  version: { current: number } = { current: 1 },
  timeout?: Duration.DurationInput
) =>
  Primitive.make("chat", (input: typeof ChatInput.Type) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      for (let turn = 0; turn < input.turns; turn++) {
        const said = yield* Durable.step("say", counter.tick("say", `Q${turn} to ${input.user}`), Schema.String, {
          request: { turn, version: version.current }
        })
        observed.push(yield* Durable.journalKeys)
        const reply = yield* Durable.awaitSignal(`turn-${turn}`, Reply, timeout === undefined ? {} : { timeout })
        lines.push(`${said} -> ${reply.text}`)
      }
      return lines
    }))

const chatWorkflow = (pipeline: ReturnType<typeof chat>) =>
  Durable.workflow("chat", pipeline, {
    input: ChatInput,
    output: Schema.Array(Schema.String),
    key: (i) => i.user
  })

/** Waits (live clock, bounded) until `check` holds for the run's status. */
export const waitForStatus = <Out, E>(
  wf: Durable.DurableWorkflow<any, Out, E, any>,
  runId: string,
  check: (s: Durable.Status<Out, E>) => boolean,
  bound: Duration.DurationInput = "60 seconds"
) =>
  wf.status(runId).pipe(
    Effect.filterOrFail(check, () => "not yet" as const),
    Effect.retry(Schedule.spaced("25 millis")),
    Effect.timeoutFail({ duration: bound, onTimeout: () => new Error(`status of ${runId} not reached within bound`) })
  )

const waitingOn = (name: string) => (s: Durable.Status<unknown, unknown>) =>
  s._tag === "Suspended" && s.waitingOn.includes(name)

export const durableSuite = (engine: string, makeLayer: EngineLayer) =>
  describe(`Durable conformance: ${engine}`, () => {
    it.live("the durable output equals the plain run's output, and every step ran once", () => {
      const plainCounter = makeCounter()
      const durableCounter = makeCounter()
      const wf = Durable.workflow("numbers", numbers(durableCounter), {
        input: Schema.String,
        output: Schema.Number,
        key: (topic) => topic
      })
      return Effect.gen(function*() {
        const plain = yield* Effect.promise(() => Runner.runPromise(numbers(plainCounter), "durable braid runs"))
        const durable = yield* wf.run("durable braid runs")
        assert.strictEqual(durable, plain)
        assert.deepStrictEqual(durableCounter.counts, plainCounter.counts)
        // attaching to the finished run returns its result without running anything again
        assert.strictEqual(yield* wf.run("durable braid runs"), plain)
        assert.deepStrictEqual(durableCounter.counts, { draft: 1, square: 5 })
        const id = yield* wf.runId("durable braid runs")
        const status = yield* wf.status(id)
        assert.strictEqual(status._tag, "Complete")
        if (status._tag === "Complete") assert.deepStrictEqual(status.exit, Exit.succeed(plain))
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("signals after suspension resume the run; keys are identical between a run and its replays", () => {
      const counter = makeCounter()
      const observed: Array<ReadonlyArray<string>> = []
      const wf = chatWorkflow(chat(counter, observed))
      return Effect.gen(function*() {
        const id = yield* wf.start({ user: "ada", turns: 2 })
        assert.strictEqual(yield* wf.start({ user: "ada", turns: 2 }), id, "start is idempotent by key")
        yield* waitForStatus(wf, id, waitingOn("signal:turn-0"))
        yield* wf.signal(id, "turn-0", Reply, { text: "hello" })
        yield* waitForStatus(wf, id, waitingOn("signal:turn-1"))
        yield* wf.signal(id, "turn-1", Reply, { text: "bye" })
        const result = yield* wf.run({ user: "ada", turns: 2 })
        assert.deepStrictEqual(result, ["Q0 to ada -> hello", "Q1 to ada -> bye"])
        assert.strictEqual(counter.counts["say"], 2, "each journaled step ran once across the replays")
        // every execution saw the same keys at the first wait, and the replays extend them
        const first = observed[0]!
        assert.deepStrictEqual(first, ["(run)/startedAt#0", "chat/say#0"])
        assert.isTrue(observed.length >= 3)
        for (const keys of observed) assert.deepStrictEqual(keys.slice(0, first.length), first)
        const atSecondWait = observed.filter((k) => k.length > first.length)
        for (const keys of atSecondWait) assert.deepStrictEqual(keys, ["(run)/startedAt#0", "chat/say#0", "chat/say#1"])
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("a run's status never goes back to a wait it got past while it replays its journal", () => {
      const wf = chatWorkflow(chat(makeCounter(), []))
      // every status the runner writes, in order
      const written: Array<ReadonlyArray<string>> = []
      const turnOf = (w: string) => Number(w.slice("signal:turn-".length))
      return Effect.gen(function*() {
        const id = yield* wf.start({ user: "replay", turns: 3 })
        for (let turn = 0; turn < 3; turn++) {
          yield* waitForStatus(wf, id, waitingOn(`signal:turn-${turn}`))
          yield* wf.signal(id, `turn-${turn}`, Reply, { text: `t${turn}` })
        }
        assert.strictEqual((yield* wf.run({ user: "replay", turns: 3 })).length, 3)
        const turns = written.flatMap((waits) => waits.filter((w) => w.startsWith("signal:turn-")).map(turnOf))
        // (an engine may record a wait more than once while it waits: never one it got past)
        const backwards = turns.filter((t, i) => i > 0 && t < turns[i - 1]!)
        assert.deepStrictEqual(backwards, [], `the waits recorded, in order: ${turns.join(", ")}`)
        assert.deepStrictEqual([...new Set(turns)], [0, 1, 2])
        // and a wait the run got past does not stay on record while it works on the next turn:
        // "running" (no wait) is written between the first record of each wait and the next one
        for (const turn of [0, 1]) {
          const first = written.findIndex((w) => w.includes(`signal:turn-${turn}`))
          const next = written.findIndex((w) => w.includes(`signal:turn-${turn + 1}`))
          assert.isTrue(
            written.slice(first, next).some((w) => w.length === 0),
            `no "running" between turn ${turn} and turn ${turn + 1}: ${JSON.stringify(written)}`
          )
        }
      }).pipe(
        Effect.provide(wf.layer),
        Effect.updateService(RunStatus.RunStatusStore, (inner) => ({
          ...inner,
          update: (record) => Effect.zipRight(Effect.sync(() => written.push(record.waitingOn)), inner.update(record))
        })),
        Effect.provide(makeLayer())
      )
    })

    it.live("a signal sent before its wait (or as the run suspends) is kept; a duplicate is ignored", () => {
      const counter = makeCounter()
      const wf = chatWorkflow(chat(counter, []))
      return Effect.gen(function*() {
        const id = yield* wf.start({ user: "grace", turns: 3 })
        // at once: races the run's first suspension
        yield* wf.signal(id, "turn-0", Reply, { text: "one" })
        // before the run waits for them, and turn-1 twice: the first one counts
        yield* wf.signal(id, "turn-1", Reply, { text: "two" })
        yield* wf.signal(id, "turn-1", Reply, { text: "duplicate" })
        yield* wf.signal(id, "turn-2", Reply, { text: "three" })
        const result = yield* wf.run({ user: "grace", turns: 3 })
        assert.deepStrictEqual(result, ["Q0 to grace -> one", "Q1 to grace -> two", "Q2 to grace -> three"])
        assert.strictEqual(counter.counts["say"], 3)
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("a signal or a status for an unknown run, or a signal to a complete run, fails with a typed error", () => {
      const wf = chatWorkflow(chat(makeCounter(), []))
      return Effect.gen(function*() {
        const unknown = yield* Effect.flip(wf.signal("no-such-run", "turn-0", Reply, { text: "x" }))
        assert.strictEqual(unknown._tag, "RunNotFound")
        const status = yield* Effect.flip(wf.status("no-such-run"))
        assert.strictEqual(status._tag, "RunNotFound")
        const bad = yield* Effect.flip(wf.signal("no-such-run", "turn-0", Reply, { text: 3 } as never))
        assert.strictEqual(bad._tag, "InvalidInput")
        const id = yield* wf.start({ user: "zero", turns: 0 })
        assert.deepStrictEqual(yield* wf.run({ user: "zero", turns: 0 }), [])
        const late = yield* Effect.flip(wf.signal(id, "turn-0", Reply, { text: "late" }))
        assert.strictEqual(late._tag, "RunCompleted")
        const badKey = yield* Effect.flip(wf.start({ user: "", turns: 1 }))
        assert.strictEqual(badKey._tag, "InvalidInput")
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("changed code is detected on replay: the run fails with NonDeterminism instead of a stale result", () => {
      const counter = makeCounter()
      const version = { current: 1 }
      const wf = chatWorkflow(chat(counter, [], version))
      return Effect.gen(function*() {
        const id = yield* wf.start({ user: "linus", turns: 2 })
        yield* waitForStatus(wf, id, waitingOn("signal:turn-0"))
        version.current = 2 // the code now asks something else at chat/say#0
        yield* wf.signal(id, "turn-0", Reply, { text: "hi" })
        const status = yield* waitForStatus(wf, id, (s) => s._tag === "Complete")
        assert.strictEqual(status._tag, "Complete")
        if (status._tag === "Complete") {
          assert.isTrue(Exit.isFailure(status.exit))
          const error = yield* Effect.flip(status.exit)
          assert.strictEqual(error._tag, "NonDeterminism")
          assert.strictEqual((error as Errors.NonDeterminism).key, "chat/say#0")
        }
        assert.strictEqual(counter.counts["say"], 1)
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("a durable sleep suspends the run (status says on what) and wakes it", () => {
      const counter = makeCounter()
      const nap = Primitive.make("nap", (ms: number) =>
        Effect.gen(function*() {
          yield* Durable.step("before", counter.tick("before", 1), Schema.Number)
          yield* Durable.sleep("nap", Duration.millis(ms))
          return yield* Durable.step("after", counter.tick("after", 2), Schema.Number)
        }))
      const wf = Durable.workflow("nap", nap, { input: Schema.Number, output: Schema.Number, key: String })
      return Effect.gen(function*() {
        // long enough to be seen suspended on a loaded machine
        const id = yield* wf.start(4000)
        yield* waitForStatus(wf, id, waitingOn("sleep:nap"))
        assert.strictEqual(yield* wf.run(4000), 2)
        assert.deepStrictEqual(counter.counts, { before: 1, after: 1 })
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })

    it.live("a wait with a timeout fails with SignalTimeout when no signal comes", () => {
      const wf = chatWorkflow(chat(makeCounter(), [], { current: 1 }, "1 second"))
      return Effect.gen(function*() {
        const id = yield* wf.start({ user: "slow", turns: 1 })
        const status = yield* waitForStatus(wf, id, (s) => s._tag === "Complete")
        if (status._tag !== "Complete") return assert.fail("not complete")
        const error = yield* Effect.flip(status.exit)
        assert.strictEqual(error._tag, "SignalTimeout")
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })
    it.live("continueAsNew: a session runs as a chain of bounded executions; signals reach the newest, run waits through", () => {
      const counter = makeCounter()
      const State = Schema.Struct({ learner: Schema.String, day: Schema.Number, notes: Schema.Array(Schema.String) })
      const observed: Array<ReadonlyArray<string>> = []
      const day = Primitive.make("day", (state: typeof State.Type) =>
        Effect.gen(function*() {
          const note = yield* Durable.awaitSignal(`day-${state.day}`, Reply)
          yield* Durable.step("log", counter.tick("log", state.day), Schema.Number, { request: state.day })
          observed.push(yield* Durable.journalKeys)
          const notes = [...state.notes, note.text]
          if (state.day < 2) return yield* Durable.continueAsNew({ ...state, day: state.day + 1, notes })
          return notes
        }))
      const wf = Durable.workflow("course", day, {
        input: State,
        output: Schema.Array(Schema.String),
        key: (s) => s.learner
      })
      return Effect.gen(function*() {
        const first = yield* wf.start({ learner: "ada", day: 0, notes: [] })
        for (const d of [0, 1, 2]) {
          // sent to the first run id: it follows the chain to the newest execution
          yield* Effect.gen(function*() {
            let latest = yield* wf.status(first)
            while (latest._tag === "Continued") latest = yield* wf.status(latest.next)
            return latest
          }).pipe(
            Effect.filterOrFail(waitingOn(`signal:day-${d}`), () => "not yet" as const),
            Effect.retry(Schedule.spaced("25 millis")),
            Effect.timeout("60 seconds")
          )
          yield* wf.signal(first, `day-${d}`, Reply, { text: `note ${d}` })
        }
        assert.deepStrictEqual(yield* wf.run({ learner: "ada", day: 0, notes: [] }), ["note 0", "note 1", "note 2"])
        const status = yield* wf.status(first)
        assert.strictEqual(status._tag, "Continued")
        assert.deepStrictEqual(counter.counts, { log: 3 })
        // each execution journals only its own steps: bounded, whatever the number of days
        for (const keys of observed) assert.deepStrictEqual(keys, ["(run)/startedAt#0", "day/log#0"])
      }).pipe(Effect.provide(wf.layer.pipe(Layer.provideMerge(makeLayer()))))
    })
  })
