/**
 * Tutorial 12: the meeting workflow.
 *
 * A launch readiness review: Maya (product) hosts, Grace (engineering) and Linus (support) take
 * part, and Sam (design) is stuck in another call. The meeting primitive runs the discussion
 * with a turn policy (round robin) and a speaking timeout; Linus leaves after his second turn;
 * the host adjourns when the agenda is covered. Then minutes, decisions and action items are
 * extracted in parallel, each decoded with Schema, and everything is persisted in SQLite, where
 * we query it afterwards as another process would.
 *
 * Run it: npx tsx examples/12-meeting.ts                              (offline, scripted model)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/12-meeting.ts (Claude)
 */
import { Describe, Primitive, Runner } from "@braid/core"
import { Models } from "@braid/eval"
import { Meeting, MeetingStore } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { SqliteDriver } from "@braid/sqlite"
import { MeetingRecords, MeetingWorkflow, Samples, Scripts } from "@braid/workflows"
import { Effect, Layer } from "effect"
import assert from "node:assert"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const online = (await Effect.runPromise(Models.mode())) === "anthropic"

// 1. Who is there. Sam "speaks" through his own primitive: he takes far longer than the
//    speaking timeout, so his turns are skipped and the meeting goes on.
const stuckInAnotherCall = Primitive.make(
  "SamSpeaks",
  (_: unknown) => Effect.as(Effect.sleep("5 seconds"), "Sorry, I was on mute. Design is ready.")
)

const meeting = MeetingWorkflow.make({
  host: Samples.launchReview.host,
  participants: [
    { name: "Grace", role: "engineering lead" },
    { name: "Linus", role: "support lead", leaveAfterTurns: 2 },
    { name: "Sam", role: "designer", speak: stuckInAnotherCall }
  ],
  speakingTimeout: "300 millis",
  maxTurns: 14
})

const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-tutorial-12-")), "meetings.db")
const Stores = Layer.merge(MeetingStore.layerSql, MeetingRecords.layerSql).pipe(
  Layer.provide(SqliteDriver.layer({ filename: db }))
)

const main = Effect.gen(function*() {
  console.log(`== Tutorial 12: the meeting workflow (${online ? "Claude" : "scripted model, offline"}) ==\n`)
  console.log(Describe.toText(meeting.pipeline).split("\n").filter((l) => l.search(/\w/) <= 6).join("\n"))

  // 2. Live: print every entry as the meeting publishes it on the event bus.
  yield* EventBus.subscribe(Meeting.events, (e) =>
    Effect.sync(() => {
      if (e.kind === "spoke") console.log(`  ${e.participant}: ${e.text}`)
      else if (e.kind === "timed-out") {
        console.log(`  (${e.participant}: no answer within the speaking timeout, skipped)`)
      } else if (e.kind === "left") console.log(`  (${e.participant} left the meeting)`)
    }))
  console.log("\nthe discussion:")
  const outcome = yield* Runner.run(meeting.pipeline, Samples.launchReview.input)
  yield* Effect.sleep("20 millis") // let the printing subscriber catch up

  console.log(
    `\nended by ${outcome.endedBy.condition} after ${outcome.turns} turns (${outcome.tokens} tokens, $${
      outcome.costUsd.toFixed(5)
    })`
  )
  console.log(`\nminutes: ${outcome.minutes}`)
  console.log("decisions:")
  for (const d of outcome.decisions) console.log(`  - ${d.decision}`)
  console.log("action items:")
  for (const a of outcome.actionItems) console.log(`  - ${a.owner}: ${a.task}${a.due ? ` (due ${a.due})` : ""}`)

  assert.ok(outcome.turns >= 3)
  assert.ok(outcome.timedOut.includes("Sam"))
  assert.ok(outcome.minutes.length > 0)
  if (!online) {
    assert.strictEqual(outcome.endedBy.condition, `mention("MEETING ADJOURNED")`)
    assert.deepStrictEqual(outcome.left, ["Linus"])
    assert.strictEqual(outcome.decisions.length, 1)
    assert.deepStrictEqual(outcome.actionItems.map((a) => a.owner), ["Linus", "Grace"])
  }
  return outcome.meetingId
})

const meetingId = await Effect.runPromise(
  main.pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(Models.layer(Scripts.meeting), EventBus.layerMemory, Stores))
  )
)

// 3. Later, another program queries what was persisted.
const later = Effect.gen(function*() {
  const past = yield* MeetingWorkflow.history(meetingId)
  console.log(
    `\npersisted in ${
      path.basename(db)
    }: meeting ${past.status?.meetingId} is ${past.status?.state}; ${past.entries.length} history entries`
  )
  const grace = yield* Effect.flatMap(MeetingRecords.MeetingRecords, (r) => r.actionItemsOf("Grace"))
  console.log(
    `Grace's action items across meetings: ${grace.map((a) => `${a.task} (${a.meetingId})`).join("; ") || "none"}`
  )
  assert.strictEqual(past.status?.state, "ended")
  assert.ok(past.record !== undefined)
  if (!online) assert.strictEqual(grace.length, 1)
})
await Effect.runPromise(
  later.pipe(
    Effect.provide(
      Layer.merge(MeetingStore.layerSql, MeetingRecords.layerSql).pipe(
        Layer.provide(SqliteDriver.layer({ filename: db }))
      )
    )
  )
)
console.log("\nDone.")
