/**
 * Tutorial 1: your first pipeline.
 *
 * A coaching intake: a client fills in a form, we validate it with Schema at the edge, turn it
 * into a weekly plan, and print a summary. Along the way: typed steps, `sequence`, the run's
 * shared state, a clear typed error for bad input, and a pipeline that describes itself.
 *
 * Run it: npx tsx examples/01-first-pipeline.ts
 */
import { Describe, Primitive, Runner, sequence, State } from "@braid/core"
import { Effect, Schema } from "effect"
import assert from "node:assert"

// 1. The edge: the intake form is decoded with Schema. Bad input never reaches the next step.
const Intake = Schema.Struct({
  name: Schema.NonEmptyString,
  goal: Schema.NonEmptyString,
  hoursPerWeek: Schema.Number.pipe(Schema.between(1, 40))
})

const intake = Primitive.fromSchema(
  "intake",
  { input: Intake, output: Intake },
  (form) => Effect.succeed({ ...form, name: form.name.trim() })
)

// 2. Run state: what one step writes, every later step of the same run can read.
const Notes = State.key<ReadonlyArray<string>>("notes", [])

// 3. Plain typed steps. Each one is a named Primitive<In, Out, E, R>.
const plan = Primitive.make("plan", (form: typeof Intake.Type) =>
  Effect.gen(function*() {
    const sessions = Math.max(1, Math.floor(form.hoursPerWeek / 1.5))
    yield* State.update(Notes, (ns) => [...ns, `planned ${sessions} sessions for ${form.name}`])
    return { name: form.name, goal: form.goal, sessions, minutesEach: Math.round((form.hoursPerWeek * 60) / sessions) }
  }))

const summarize = Primitive.make(
  "summarize",
  (p: { name: string; goal: string; sessions: number; minutesEach: number }) =>
    Effect.map(State.get(Notes), (notes) =>
      [
        `${p.name}, here is your week towards "${p.goal}":`,
        `  ${p.sessions} sessions of ${p.minutesEach} minutes.`,
        `  (notes from earlier steps: ${notes.join("; ")})`
      ].join("\n"))
)

// 4. Chain them. The type is inferred: Primitive<{ name; goal; hoursPerWeek }, string, DecodeError, WorkflowContext>
const onboarding = sequence(intake, plan, summarize).pipe(Primitive.named("onboarding"))

const main = Effect.gen(function*() {
  console.log("== Tutorial 1: a first pipeline ==\n")

  console.log("The pipeline describes itself:")
  console.log(Describe.toText(onboarding))
  console.log()

  const summary = yield* Runner.run(onboarding, { name: "  Ada ", goal: "run a 10k", hoursPerWeek: 4.5 })
  console.log(summary)
  assert.match(summary, /Ada, here is your week towards "run a 10k"/)
  assert.match(summary, /3 sessions of 90 minutes/)
  assert.match(summary, /planned 3 sessions for Ada/)

  console.log("\nNow a form with a bad field. The error is typed and names the field:")
  const error = yield* Effect.flip(
    Runner.run(onboarding, { name: "Grace", goal: "learn Rust", hoursPerWeek: 90 })
  )
  console.log(`  ${error._tag}: ${error.message}`)
  assert.strictEqual(error._tag, "DecodeError")
  if (error._tag === "DecodeError") {
    assert.strictEqual(error.path, "hoursPerWeek")
    assert.strictEqual(error.primitive, "intake")
  }

  console.log("\nAnd as a Mermaid flowchart (paste it into any Mermaid viewer):")
  console.log(Describe.toMermaid(onboarding))
  console.log("\nDone: typed steps, shared run state, typed errors at the edge, a self-describing pipeline.")
})

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
