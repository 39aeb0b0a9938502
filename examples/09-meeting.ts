/**
 * Tutorial 9: a planning meeting of four agents.
 *
 * The lead (the host) and three participants (dev, design, qa) plan a release, round robin.
 * Each speaker gets 500 ms to speak: qa is slow on its first turn, is skipped with a timeout event,
 * and the meeting moves on. Design leaves after its first turn (the turn order adjusts). The
 * meeting ends when someone says "AGREED" (or after 12 turns, whichever comes first), and the
 * result says which condition ended it. Every step is an event on the EventBus, and the history
 * is kept in a MeetingStore to inspect afterwards.
 *
 * Offline: a scripted model answers for each agent.
 *
 * Run it: npx tsx examples/09-meeting.ts
 */
import { Agent } from "@braid/agents"
import { Primitive } from "@braid/core"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { Meeting, MeetingStore, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { Effect, Layer, Option, Schema } from "effect"
import assert from "node:assert"

// 1. The model: what each agent says depends on who it is and on the turn (the prompt names both).
const agentOf = (prompt: Ai.Prompt.Prompt) => /^You are (\w+) in/.exec(Ai.systemText(prompt))?.[1] ?? ""
const turnOf = (prompt: Ai.Prompt.Prompt) => Number(/turn (\d+)\./.exec(Ai.lastUserText(prompt))?.[1] ?? 0)
const Model = ScriptedLanguageModel.layer({
  rules: [
    { when: (r) => agentOf(r) === "lead" && turnOf(r) >= 8, reply: "AGREED: we ship on Monday with the PDF export." },
    { when: (r) => agentOf(r) === "lead", reply: "Let's plan the release. Opinions?" },
    { when: (r) => agentOf(r) === "dev", reply: "The PDF export is done; I need one day for review fixes." },
    { when: (r) => agentOf(r) === "design", reply: "The layout is final. I have to drop off, sorry." },
    { when: (r) => agentOf(r) === "qa", reply: "Tests pass on staging; Monday works for me." }
  ]
})

// 2. The agents. QA is slow on its first turn (it takes 2 s: longer than the speaking timeout).
const agent = (name: string) =>
  Agent.make({ name, instructions: `You are ${name} in a release planning meeting. Be brief.` })
let qaTurns = 0
const qa = Primitive.make(
  "qa",
  (c: Agent.Conversation) =>
    Effect.zipRight(Effect.sleep(qaTurns++ === 0 ? "2 seconds" : "10 millis"), agent("qa").invoke(c))
)

const program = Effect.gen(function*() {
  console.log("== Tutorial 9: a planning meeting (scripted model, offline) ==\n")

  // Every step of every meeting is published on the bus: print them as they happen.
  yield* EventBus.subscribe(
    Meeting.events,
    (e, channel) =>
      Effect.sync(() =>
        console.log(`  [${channel}] ${e.participant}${e.text ? `: ${e.text}` : ""}${e.reason ? ` (${e.reason})` : ""}`)
      )
  )

  const meeting = yield* Meeting.make({
    id: "release-planning",
    topic: "release of the PDF export",
    host: Meeting.fromAgent(agent("lead")),
    speakingTimeout: "500 millis",
    termination: Termination.or(Termination.mention("AGREED"), Termination.maxTurns(12))
  })
  yield* meeting.attend(Meeting.fromAgent(agent("dev")))
  yield* meeting.attend(Meeting.fromAgent(agent("design")))
  yield* meeting.attend(Meeting.fromAgent(qa))

  // Design leaves as soon as it has spoken once.
  yield* EventBus.subscribe(
    EventBus.channel("meeting.participant.spoke", Schema.Struct({ participant: Schema.String })),
    (e) => e.participant === "design" ? Effect.ignore(meeting.leave("design")) : Effect.void
  )

  // The host cannot leave: out-of-order actions are typed errors.
  const refused = yield* Effect.flip(meeting.leave("lead"))
  console.log(`lead tries to leave: ${refused._tag}: ${refused.reason}\n`)

  const result = yield* meeting.run
  yield* Effect.sleep("20 millis") // let the printing subscriber catch up

  console.log(`\nended by ${result.endedBy.condition}: ${result.endedBy.detail}`)
  const turns = result.history.filter((e) => e.turn !== undefined).map((e) => `${e.participant}:${e.kind}`)
  console.log(`turns: ${turns.join(" ")}`)
  assert.strictEqual(result.endedBy.condition, `mention("AGREED")`)
  assert.deepStrictEqual(turns, [
    "lead:spoke",
    "dev:spoke",
    "design:spoke",
    "qa:timed-out",
    "lead:spoke",
    "dev:spoke",
    "qa:spoke",
    "lead:spoke"
  ])
  assert.ok(result.history.some((e) => e.kind === "left" && e.participant === "design"))

  // Later: the stored status and history.
  const stored = yield* Meeting.inspect("release-planning")
  const status = Option.getOrThrow(stored.status)
  console.log(
    `stored: ${status.state}, ${stored.history.length} entries, participants ${
      status.participants.join(", ")
    }, ${status.tokens} tokens`
  )
  assert.deepStrictEqual(status.participants, ["lead", "dev", "qa"])
  console.log("\nDone.")
})

await Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(Layer.mergeAll(Model, EventBus.layerMemory, MeetingStore.layerMemory)))
)
