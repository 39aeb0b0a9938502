/**
 * Tutorial 14: the practice workflow.
 *
 * A learner (a student coach) practises a first coaching session with an AI that plays a client,
 * Sam, from a scenario a teacher wrote. The session ends for a recorded reason, an evaluator
 * scores the learner per skill, and the learner exports the transcript and practises again.
 * Everything is kept in an SQLite file.
 *
 * Then we break things on purpose: a model outage, an idle learner, and more learners at once
 * than the service has room for.
 *
 * Run it: npx tsx examples/14-practice.ts                              (offline, scripted model)
 *         ANTHROPIC_API_KEY=sk-ant-... npx tsx examples/14-practice.ts (Claude)
 */
import { Models } from "@braid/eval"
import { Errors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { SqliteSessionStore } from "@braid/sqlite"
import { Practice, Scripts, SessionEvents, SessionStore } from "@braid/workflows"
import { Effect, Layer, Ref } from "effect"
import assert from "node:assert"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const online = (await Effect.runPromise(Models.mode())) === "anthropic"
const dir = mkdtempSync(join(tmpdir(), "braid-practice-"))
const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
const ada = { userId: "ada", role: "learner", tenant: "default" } as const
const admin = { userId: "root", role: "admin", tenant: "default" } as const

const main = Effect.gen(function*() {
  console.log(`== Tutorial 14: the practice workflow (${online ? "Claude" : "scripted model, offline"}) ==\n`)

  // 1. The teacher writes the scenario. A scenario is data, decoded at the edge: a bad field is
  //    refused with an error that names it.
  const refused = yield* Effect.flip(
    Practice.catalogue.put(teacher, {
      ...Scripts.practiceScenario,
      persona: { ...Scripts.practiceScenario.persona, name: "" }
    })
  )
  console.log(`A scenario without a client name is refused: ${refused.message}`)
  assert.strictEqual(refused._tag === "InvalidInput" && refused.field, "persona.name")
  const scenario = yield* Practice.catalogue.put(teacher, Scripts.practiceScenario)
  console.log(
    `Scenario "${scenario.title}" (client: ${scenario.persona.name}, skills: ${
      scenario.skills.map((s) => s.id).join(", ")
    })\n`
  )

  // 2. The practice service: the session cap, the idle timer, the model policies, the judge that
  //    decides when the objective is met, and the evaluation worker live in this scope.
  const events = yield* Ref.make<ReadonlyArray<SessionEvents.Event>>([])
  yield* EventBus.subscribe(SessionEvents.sessions, (e) => Ref.update(events, (all) => [...all, e]))
  const practice = yield* Practice.make({ idleTimeout: "10 minutes", cap: { maxActive: 20, maxQueued: 5 } })

  // 3. Ada starts. The scenario says the AI speaks first.
  const started = yield* practice.start(ada, scenario.id)
  const id = started.session.id
  console.log(`Sam : ${started.opening?.text}`)
  for (
    const text of [
      "Thanks for coming, Sam. What brings you here today?",
      "So what I hear is that you want to decide, by the end of the month, whether to stay in the role. Is that right?"
    ]
  ) {
    const turn = yield* practice.send(ada, id, text)
    console.log(`Ada : ${text}`)
    console.log(
      `Sam : ${turn.reply?.text}   [${turn.reply?.outputTokens} tokens out, $${turn.reply?.costUsd.toFixed(5)}]`
    )
    if (turn.verdict !== undefined) {
      console.log(`      judge: ${turn.verdict.met ? "met" : "not yet"} (${turn.verdict.reason})`)
    }
    if (turn.session.status === "completed") {
      console.log(
        `\nThe session ended: ${turn.session.endReason}, after ${turn.session.durationMs} ms. ${turn.session.endMessage}`
      )
      break
    }
  }
  if (!online) {
    const session = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.getSession(ada, id))
    assert.strictEqual(session.endReason, "objective-met")
  } else {
    yield* practice.end(ada, id) // Claude may need more turns: Ada ends it herself
  }

  // 4. Ending the session queued its evaluation; the worker scores each skill of the scenario.
  const evaluation = yield* practice.evaluation!.settled(ada, id)
  console.log(`\nEvaluation: ${evaluation?.status}`)
  for (const s of evaluation?.result?.skills ?? []) console.log(`  ${s.skillId}: ${s.score}/5 (${s.notes})`)
  console.log(`  overall ${evaluation?.result?.overall.toFixed(1)}/5: ${evaluation?.result?.summary}`)
  assert.strictEqual(evaluation?.status, "completed")
  assert.strictEqual(evaluation?.result?.skills.length, scenario.skills.length)

  // 5. History, export, practice again.
  const markdown = yield* practice.exportMarkdown(ada, id)
  console.log(
    `\nThe export (Markdown), first lines:\n${markdown.split("\n").slice(0, 8).map((l) => `  ${l}`).join("\n")}`
  )
  assert.match(markdown, /## Evaluation/)
  const notHers = yield* Effect.flip(practice.exportMarkdown({ userId: "grace", role: "learner" }, id))
  console.log(`Grace cannot export Ada's session: ${notHers._tag}`)
  const again = yield* practice.practiceAgain(ada, id)
  console.log(
    `Practice again: a new session linked to the first (previousSessionId ${
      again.session.previousSessionId?.slice(0, 8)
    }...)`
  )
  assert.strictEqual(again.session.previousSessionId, id)
  yield* practice.end(ada, again.session.id)

  yield* Effect.sleep("50 millis") // let the event subscriber catch up
  const seen = (yield* Ref.get(events)).filter((e) => e.sessionId === id).map((e) => e._tag)
  console.log(
    `\nThe events of the first session, in order (without the ${
      seen.filter((t) => t === "AiTurnDelta").length
    } AiTurnDelta pieces):`
  )
  console.log(`  ${seen.filter((t) => t !== "AiTurnDelta").join(" → ")}`)
  assert.deepStrictEqual(seen.filter((t) => t !== "AiTurnDelta").slice(-2), ["SessionEnded", "EvaluationReady"])
})

// 6. Failures, offline only (failure injection belongs to the scripted model).
const outage = Effect.gen(function*() {
  console.log("\n-- the model goes down --")
  const practice = yield* Practice.make({ outageAfter: 2, retry: { maxAttempts: 1 }, evaluation: false })
  const { opening, session } = yield* practice.start({ userId: "bob", role: "learner" }, Scripts.practiceScenario.id)
  console.log(`  the opening: "${opening?.text}" (fallback: ${opening?.fallback}, cause: ${opening?.fallbackCause})`)
  assert.strictEqual(opening?.fallback, true)
  const turn = yield* practice.send({ userId: "bob", role: "learner" }, session.id, "Hello Sam, what brings you here?")
  console.log(`  after two failed replies in a row: ${turn.session.endReason}: ${turn.session.endMessage}`)
  assert.strictEqual(turn.session.endReason, "model-outage")
}).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider({
  ...Scripts.practice,
  failures: [{ when: () => true, error: new Errors.Overloaded({ message: "the model is overloaded" }) }]
}))))

const idle = Effect.gen(function*() {
  console.log("\n-- an idle learner --")
  const practice = yield* Practice.make({ idleTimeout: "300 millis", evaluation: false })
  const { session } = yield* practice.start({ userId: "cy", role: "learner" }, Scripts.practiceScenario.id)
  yield* Effect.sleep("600 millis")
  const after = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.getSession(admin, session.id))
  console.log(`  nobody wrote for 300 ms: ${after.endReason} (${after.endMessage})`)
  assert.strictEqual(after.endReason, "idle-timeout")
}).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.practice))))

const capacity = Effect.gen(function*() {
  console.log("\n-- more learners than room: 2 sessions at once, 1 waiting --")
  const practice = yield* Practice.make({ cap: { maxActive: 2, maxQueued: 1 }, evaluation: false })
  const results = yield* Effect.forEach(
    ["dee", "eve", "fay", "gus"],
    (userId) => Effect.either(practice.start({ userId, role: "learner" }, Scripts.practiceScenario.id)),
    { concurrency: "unbounded" }
  )
  for (const r of results) {
    console.log(
      `  ${
        r._tag === "Right"
          ? `${r.right.session.userId}: ${r.right.position === 0 ? "active" : `queued, position ${r.right.position}`}`
          : r.left.message
      }`
    )
  }
  assert.strictEqual(results.filter((r) => r._tag === "Left" && r.left._tag === "AtCapacity").length, 1)
  const waiting = results.find((r) => r._tag === "Right" && r.right.position === 1)
  const first = results.find((r) => r._tag === "Right" && r.right.position === 0)
  if (waiting?._tag === "Right" && first?._tag === "Right") {
    yield* practice.end({ userId: first.right.session.userId, role: "learner" }, first.right.session.id)
    yield* Effect.sleep("50 millis")
    const now = yield* Effect.flatMap(SessionStore.SessionStore, (s) => s.getSession(admin, waiting.right.session.id))
    console.log(`  ${first.right.session.userId} ends: ${now.userId}'s session is now ${now.status}`)
    assert.strictEqual(now.status, "active")
  }
}).pipe(Effect.provide(Metered.fromProvider(ScriptedLanguageModel.provider(Scripts.practice))))

const Store = SqliteSessionStore.layer(join(dir, "practice.db"))
try {
  await Effect.runPromise(
    Effect.scoped(main).pipe(
      Effect.provide(Layer.mergeAll(Store, Models.layer(Scripts.practice), EventBus.layerMemory))
    )
  )
  if (!online) {
    await Effect.runPromise(
      Effect.scoped(Effect.all([outage, idle, capacity], { discard: true })).pipe(Effect.provide(Store))
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
console.log("\nDone.")
