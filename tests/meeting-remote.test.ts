/**
 * Remote participants across processes: a meeting held here (host, store on PostgreSQL, events on
 * Redis) and agents in child processes (tsx on the sources) that join it over the Redis bus,
 * take their turns, decline, or stay silent (the speaking timeout takes the floor back), then read
 * the stored history from PostgreSQL. Skipped without PostgreSQL or Redis (and failing under
 * BRAID_REQUIRE_SERVICES=1).
 */
import { Meeting, RemoteParticipant, Termination } from "@braid/meetings"
import { PostgresMeetingStore } from "@braid/postgres"
import { RedisEventBus } from "@braid/redis"
import { describeWith, REDIS_URL, runProcess } from "@braid/testing"
import type { ProcessResult } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { freshSchema } from "../packages/postgres/test/schemas.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const agent = join(root, "tests", "fixtures", "meeting-remote-agent.ts")

const describePg = await describeWith("postgres")
const describeRedis = await describeWith("redis")

describePg("Meeting with participants in other processes (PostgreSQL)", () => {
  const { url } = freshSchema("braid_remote")
  describeRedis("over the Redis event bus", () => {
    it.live(
      "agents in child processes join, speak in turn, decline or go silent; all read the stored meeting",
      () =>
        Effect.gen(function*() {
          const meetingId = `standup/${process.pid}-${Date.now()}`
          const tenant = "acme"
          const prefix = `braid-test-${process.pid}-${Date.now()}:`
          const env = { ...process.env, REDIS_URL, BUS_PREFIX: prefix, DATABASE_URL: url }
          const Live = Layer.merge(RedisEventBus.layer({ url: REDIS_URL, prefix }), PostgresMeetingStore.layer({ url }))
          const result = yield* Effect.gen(function*() {
            const meeting = yield* Meeting.make({
              id: meetingId,
              tenant,
              topic: "standup",
              host: Meeting.participant("lead", (v) => `lead: turn ${v.turn}`),
              admission: "invitation",
              invited: ["ann", "bob", "mute", "carl"],
              speakingTimeout: "3 seconds",
              termination: Termination.maxTurns(8)
            })
            yield* RemoteParticipant.host(meeting, { timeout: "1 minute" })
            // Process start under tsx takes seconds on a loaded machine: the bounds are generous.
            const child = (name: string, mode: string) =>
              Effect.promise(() =>
                runProcess(tsx, [agent, meetingId, tenant, name, mode], { cwd: root, env, timeout: 240_000 })
              )
            const children = yield* Effect.fork(
              Effect.all([
                child("ann", "speak"),
                child("bob", "speak"),
                child("mute", "mute"),
                child("carl", "decline")
              ], {
                concurrency: "unbounded"
              })
            )
            // wait until everyone has answered the invitation (the children send until recorded)
            for (let i = 0; i < 1200; i++) {
              const status = yield* meeting.status
              const answered = status.invitations.filter((m) => m.invitation !== "invited").length
              if (status.participants.length === 4 && answered === 5) break
              yield* Effect.sleep("200 millis")
            }
            assert.deepStrictEqual([...(yield* meeting.status).participants].sort(), ["ann", "bob", "lead", "mute"])
            const run = yield* meeting.run
            const outputs: ReadonlyArray<ProcessResult> = yield* children.await.pipe(
              Effect.flatMap((exit) => exit)
            )
            return { run, outputs }
          }).pipe(Effect.scoped, Effect.provide(Live))

          for (const out of result.outputs) assert.strictEqual(out.status, 0, out.stderr)
          const seen = result.outputs.map((o) => JSON.parse(o.stdout.trim().split("\n").at(-1)!))
          const byName = (n: string) => seen.find((s) => s.name === n)
          const turns = result.run.history.filter((e) => e.turn !== undefined).map((e) => `${e.participant}:${e.kind}`)
          const failures = result.run.history.filter((e) => e.kind === "failed").map((e) => e.reason).join("; ")
          // the order of joining decides the round robin; who joined first is up to the processes
          assert.strictEqual(turns.length, 8)
          assert.strictEqual(turns[0], "lead:spoke")
          assert.strictEqual(turns.filter((t) => t === "mute:timed-out").length, 2, `${turns.join(" ")} ${failures}`)
          assert.strictEqual(turns.filter((t) => t === "ann:spoke").length, 2)
          assert.strictEqual(turns.filter((t) => t === "bob:spoke").length, 2)
          // each utterance came from its own process
          const ann = byName("ann")
          const annSpoke = result.run.history.filter((e) => e.participant === "ann" && e.kind === "spoke")
          assert.isTrue(annSpoke.every((e) => e.text!.startsWith(`ann@${ann.pid}:`)))
          assert.notStrictEqual(ann.pid, process.pid)
          assert.notStrictEqual(ann.pid, byName("bob").pid)
          // every agent saw the end and read the whole meeting from PostgreSQL
          for (const n of ["ann", "bob", "mute"]) {
            assert.strictEqual(byName(n).endedBy, "maxTurns(8): 8 turns taken (max 8)")
            assert.deepStrictEqual(byName(n).storedTurns, turns, `${n} read the stored turns`)
            assert.strictEqual(byName(n).storedState, "ended")
          }
          assert.strictEqual(byName("ann").turnsAnswered, 2)
          assert.deepStrictEqual(byName("carl"), { name: "carl", declined: true })
          const stored = yield* Meeting.inspect(meetingId, { tenant }).pipe(
            Effect.provide(PostgresMeetingStore.layer({ url }))
          )
          assert.deepStrictEqual(
            Option.getOrThrow(stored.status).invitations.find((m) => m.name === "carl"),
            { name: "carl", invitation: "declined" }
          )
          assert.deepStrictEqual(stored.history, result.run.history)
        }),
      300_000
    )
  })
})
