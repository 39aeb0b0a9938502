import { Meeting, Termination } from "@braid/meetings"
import { EventBus } from "@braid/messaging"
import { RedisEventBus } from "@braid/redis"
import { describeWith, REDIS_URL } from "@braid/testing"
import { assert, it } from "@effect/vitest"
import { Effect, Queue } from "effect"

const describeRedis = await describeWith("redis")

describeRedis("Meeting over the Redis event bus", () => {
  it.live("every step of the meeting reaches a subscriber through Redis, in order", () =>
    Effect.gen(function*() {
      const got = yield* Queue.unbounded<string>()
      yield* EventBus.subscribe(
        Meeting.events,
        (e, channel) => Queue.offer(got, `${channel}|${e.participant}|${e.seq}`)
      )
      const meeting = yield* Meeting.make({
        topic: "redis",
        host: Meeting.participant("host", () => "hi"),
        speakingTimeout: "300 millis",
        termination: Termination.maxTurns(4)
      })
      yield* meeting.attend(Meeting.participant("mute", () => Effect.never))
      yield* meeting.attend(Meeting.participant("gone", () => "bye"))
      yield* meeting.leave("gone")
      const result = yield* meeting.run
      const events = yield* Effect.all(result.history.map(() => Queue.take(got))).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(
        events,
        result.history.map((e) => `${Meeting.channelOf[e.kind]}|${e.participant}|${e.seq}`)
      )
      assert.includeMembers(events.map((e) => e.split("|")[0]), [
        "meeting.participant.joined",
        "meeting.participant.left",
        "meeting.session.started",
        "meeting.participant.spoke",
        "meeting.participant.timed_out",
        "meeting.session.ended"
      ])
    }).pipe(
      Effect.scoped,
      Effect.provide(
        RedisEventBus.layer({ url: REDIS_URL, prefix: `braid-test-meeting-${process.pid}-${Date.now()}:` })
      )
    ))
})
