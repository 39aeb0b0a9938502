/**
 * Tutorial 15: agents that find each other and talk, through a shared store.
 *
 * A small editorial team: a planner, a critic and a fact-checker. They register in the agent
 * registry with their capabilities, then talk in the four ways Braid's messaging offers:
 *
 * 1. a notification (one-way `send`), picked up later from the critic's persisted inbox;
 * 2. a request with its reply (`request`, answered by the fact-checker's `serve` handler);
 * 3. a typed channel (`typed(schema)`): a body that does not fit the Schema is refused for the
 *    sender, naming the field;
 * 4. a conversation between two agents with a topic, a closing message, its state and history,
 *    during which both agents are busy (a second conversation with the critic is `AgentBusy`).
 *
 * Writing to an agent that is not registered is an `AgentNotFound` at once (not a timeout), and
 * another organization sees none of it.
 *
 * The store is a SQLite file in a temporary directory; the planner and the critic use two
 * separate service instances on it, as two processes would (on PostgreSQL, swap the layer for
 * `PostgresMessaging.layer({ url })`).
 *
 * Run it: npx tsx examples/15-messaging.ts
 */
import { Messaging } from "@braid/messaging"
import { SqliteMessaging } from "@braid/sqlite"
import { Effect, Layer, Option, Schema } from "effect"
import assert from "node:assert"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const dir = mkdtempSync(join(tmpdir(), "braid-messaging-"))
const filename = join(dir, "agents.db")
const say = (line: string) => Effect.sync(() => console.log(line))

const Review = Schema.Struct({ draft: Schema.String, words: Schema.Int })

const program = Effect.gen(function*() {
  // Two instances on one file: the planner's process and the critic's process.
  const planner = yield* Effect.provide(Messaging.Messaging, yield* Layer.build(SqliteMessaging.layer({ filename })))
  const critic = yield* Effect.provide(Messaging.Messaging, yield* Layer.build(SqliteMessaging.layer({ filename })))

  yield* say("== The registry")
  yield* planner.registry.register({ name: "planner", capabilities: ["plan"] })
  yield* critic.registry.register({ name: "critic", capabilities: ["review", "edit"] })
  yield* critic.registry.register({ name: "fact-checker", capabilities: ["review", "verify"] })
  const reviewers = yield* planner.registry.list({ capability: "review" })
  yield* say(`reviewers: ${reviewers.map((a) => a.name).join(", ")}`)
  assert.deepStrictEqual(reviewers.map((a) => a.name), ["critic", "fact-checker"])

  const missing = yield* Effect.flip(planner.send("planner", "editor-in-chief", "anyone there?"))
  yield* say(`writing to an unknown agent: ${missing._tag}: ${missing.message}`)
  assert.strictEqual(missing._tag, "AgentNotFound")

  yield* say("\n== 1. A notification, read later from the critic's inbox")
  yield* planner.send("planner", "critic", { note: "draft v1 is in the shared folder" })
  const [note] = yield* critic.inbox("critic").unread
  yield* say(`critic's inbox: ${JSON.stringify(note!.body)} from ${note!.from}`)
  assert.deepStrictEqual(note!.body, { note: "draft v1 is in the shared folder" })
  yield* critic.inbox("critic").markRead(note!.id)

  yield* say("\n== 2. A request and its reply")
  yield* critic.serve(
    "fact-checker",
    (m) => Effect.succeed({ claim: (m.body as { claim: string }).claim, verified: true })
  )
  const verdict = yield* planner.request("planner", "fact-checker", { claim: "Braid runs offline" }, {
    timeout: "10 seconds"
  })
  yield* say(`fact-checker answered: ${JSON.stringify(verdict)}`)
  assert.deepStrictEqual(verdict, { claim: "Braid runs offline", verified: true })

  yield* say("\n== 3. A typed channel")
  const reviews = planner.typed(Review)
  yield* reviews.send("planner", "critic", { draft: "v2", words: 1200 })
  const refused = yield* Effect.flip(reviews.send("planner", "critic", { draft: "v3", words: 12.5 }))
  yield* say(`a body that does not fit: ${refused.message}`)
  assert.strictEqual(refused._tag, "MessageInvalid")
  const typed = yield* critic.typed(Review).unread("critic")
  yield* say(`the critic reads a typed body: draft ${typed[0]!.body.draft}, ${typed[0]!.body.words} words`)
  assert.strictEqual(typed[0]!.body.words, 1200)
  yield* critic.inbox("critic").markRead(typed.map((m) => m.id))

  yield* say("\n== 4. A conversation")
  const talk = yield* planner.startConversation({ from: "planner", to: "critic", topic: "cut draft v2", body: Review })
  yield* say(
    `started ${talk.id} on "${talk.topic}"; the critic is now ${(yield* critic.registry.lookup("critic")).status}`
  )
  const busy = yield* Effect.flip(
    critic.startConversation({ from: "fact-checker", to: "critic", topic: "sources" })
  )
  yield* say(`another conversation with the critic: ${busy._tag}`)
  assert.strictEqual(busy._tag, "AgentBusy")

  yield* talk.say("planner", { draft: "v2", words: 1200 })
  // the critic's side, from its own instance
  const arrived = yield* critic.inbox("critic").waitForMessage("10 seconds")
  const side = yield* critic.conversation(Option.getOrThrow(arrived).conversationId!, Review)
  yield* side.say("critic", { draft: "v2-cut", words: 800 })
  yield* side.end("critic", { draft: "v2-final", words: 790 })
  const state = yield* talk.state
  yield* say(`state: ${state.state}, ended by ${state.endedBy}`)
  assert.deepStrictEqual([state.state, state.endedBy], ["ended", "critic"])
  const history = yield* talk.history()
  for (const m of history.messages) {
    yield* say(`  ${m.kind.padEnd(8)} ${m.from}: ${m.body.draft} (${m.body.words} words)`)
  }
  assert.deepStrictEqual(history.messages.map((m) => m.body.words), [1200, 800, 790])
  assert.strictEqual((yield* planner.registry.lookup("critic")).status, "online")

  yield* say("\n== History by sender, one page at a time")
  const first = yield* planner.history({ from: "planner", limit: 2 })
  const rest = yield* planner.history({ from: "planner", limit: 2, cursor: first.next! })
  yield* say(`page 1: ${first.messages.length} messages, page 2: ${rest.messages.length}`)
  assert.strictEqual(first.messages.length + rest.messages.length, 4)

  yield* say("\n== Organizations do not see each other")
  const acme = yield* planner.forOrganization("acme")
  const notThere = yield* Effect.flip(acme.send("planner", "critic", "hello from acme"))
  yield* say(`acme writing to the default organization's critic: ${notThere._tag}`)
  assert.strictEqual(notThere._tag, "AgentNotFound")
  assert.deepStrictEqual(yield* acme.registry.list(), [])
})

try {
  await Effect.runPromise(Effect.scoped(program))
  console.log("\nAll messaging checks passed.")
} finally {
  rmSync(dir, { recursive: true, force: true })
}
