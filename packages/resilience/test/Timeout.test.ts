import { Io, Primitive, Runner } from "@braid/core"
import { Retry, Timeout, TimeoutError } from "@braid/resilience"
import { byName, parentOf, runProcess, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, FiberRef, Ref, TestClock } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

describe("Timeout", () => {
  it.effect("interrupts the work (its finalizers run) and fails with TimeoutError naming the primitive and duration", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(false)
      const slow = Primitive.make(
        "slowModel",
        (_: string) =>
          Effect.sleep("10 seconds").pipe(Effect.as("late"), Effect.onInterrupt(() => Ref.set(finalized, true)))
      )
      const fiber = yield* Effect.fork(Runner.run(slow.pipe(Timeout.within("5 seconds")), "q"))
      yield* TestClock.adjust("4999 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, TimeoutError)
      if (!(error instanceof TimeoutError)) return
      assert.strictEqual(error.primitive, "slowModel")
      assert.strictEqual(error.durationMillis, 5000)
      assert.strictEqual(error.message, "slowModel: timed out after 5000 ms")
      assert.isTrue(yield* Ref.get(finalized), "the bounded work was interrupted and its finalizer ran")
    }))

  it.effect("work that finishes in time passes through untouched", () =>
    Effect.gen(function*() {
      const quick = Primitive.make("quick", (n: number) => Effect.as(Effect.sleep("1 second"), n * 2))
      const fiber = yield* Effect.fork(Runner.run(quick.pipe(Timeout.within("2 seconds")), 21))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), 42)
    }))

  it.effect("with a fallback value, a timeout succeeds with it", () =>
    Effect.gen(function*() {
      const slow = Primitive.make("slow", (_: string) => Effect.as(Effect.sleep("1 minute"), "late"))
      const p = slow.pipe(Timeout.within("100 millis", { fallback: () => "Sorry, try again later." }))
      const fiber = yield* Effect.fork(Runner.run(p, "q"))
      yield* TestClock.adjust("100 millis")
      const out: string = yield* Fiber.join(fiber)
      assert.strictEqual(out, "Sorry, try again later.")
    }))

  it.effect("the wrapper span records timeout.fired; the inner span is its child", () =>
    Effect.gen(function*() {
      const slow = Primitive.make("slow", (_: string) => Effect.as(Effect.sleep("1 minute"), "late"))
      const { spans } = yield* withSpans(
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(Runner.run(slow.pipe(Timeout.within("1 second")), "q"))
          yield* TestClock.adjust("1 second")
          return yield* Fiber.await(fiber)
        })
      )
      const wrapper = byName(spans, "timeout(slow)")
      assert.strictEqual(parentOf(spans, byName(spans, "slow")), wrapper)
      const fired = wrapper.events.find((e) => e.name === "braid.timeout.fired")
      assert.deepStrictEqual(fired?.attributes, { "braid.timeout.duration_ms": 1000 })
      assert.strictEqual(wrapper.attributes["error.type"], "TimeoutError")
    }))

  it.effect("composes with retry: a timed-out attempt is transient and retried", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const sometimesSlow = Primitive.make("model", (_: string) =>
        Effect.flatMap(
          Ref.getAndUpdate(calls, (n) => n + 1),
          (n) => n === 0 ? Effect.as(Effect.sleep("1 minute"), "late") : Effect.succeed("fast")
        ))
      const p = sometimesSlow.pipe(
        Timeout.within("1 second"),
        Retry.policy({ backoff: "constant", baseDelay: "10 millis" })
      )
      const fiber = yield* Effect.fork(Runner.run(p, "q"))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "fast")
      assert.strictEqual(yield* Ref.get(calls), 2)
    }))

  it.effect("Timeout.effect bounds any Effect", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Timeout.effect(Effect.never, "3 seconds", { name: "wait" }))
      yield* TestClock.adjust("3 seconds")
      const e = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(e.message, "wait: timed out after 3000 ms")
      const f2 = yield* Effect.fork(Timeout.effect(Effect.never, "3 seconds", { fallback: () => 0 }))
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(yield* Fiber.join(f2), 0)
    }))

  it.effect("after a timeout the fiber carries on normally (the interruption was the timeout's only)", () =>
    Effect.gen(function*() {
      const p = Primitive.make("hang", (_: string) => Effect.never).pipe(Timeout.within("1 second"))
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        const e = yield* Effect.flip(Runner.run(p, "x"))
        yield* Effect.sleep("1 second") // an interruptible wait after the timeout
        return e._tag
      }))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(fiber), "TimeoutError")
    }))

  it.effect("nested timeouts: the one that fires is the one that fails", () =>
    Effect.gen(function*() {
      const hang = Primitive.make("hang", (_: string) => Effect.never)
      const inner = hang.pipe(Timeout.within("1 second"), Primitive.named("inner"))
      const recovered = Primitive.make("recovering", (s: string) =>
        Effect.catchTag(inner.invoke(s), "TimeoutError", (e) =>
          Effect.as(Effect.sleep("1 second"), `inner ${e.durationMillis}`)))
      const f1 = yield* Effect.fork(Runner.run(recovered.pipe(Timeout.within("5 seconds")), "x"))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(f1), "inner 1000")
      const outerFirst = hang.pipe(Timeout.within("10 seconds"), Timeout.within("1 second"))
      const f2 = yield* Effect.fork(Runner.run(outerFirst, "x"))
      yield* TestClock.adjust("1 second")
      const e = yield* Effect.flip(Fiber.join(f2))
      assert.strictEqual((e as TimeoutError).durationMillis, 1000)
    }))

  it.effect("an outside interruption is not turned into a timeout", () =>
    Effect.gen(function*() {
      const finalized = yield* Ref.make(false)
      const p = Primitive.make("hang", (_: string) => Effect.onInterrupt(Effect.never, () => Ref.set(finalized, true)))
        .pipe(Timeout.within("1 minute"))
      const fiber = yield* Effect.fork(Runner.run(p, "x"))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isTrue(yield* Ref.get(finalized))
    }))

  it.effect("a fiber's own background fibers are not interrupted by a timeout of its work", () =>
    Effect.gen(function*() {
      const background = yield* Ref.make<"running" | "interrupted" | "done">("running")
      const fiber = yield* Effect.fork(Effect.gen(function*() {
        yield* Effect.fork(
          Effect.sleep("10 seconds").pipe(
            Effect.zipRight(Ref.set(background, "done")),
            Effect.onInterrupt(() => Ref.set(background, "interrupted"))
          )
        )
        const e = yield* Effect.flip(
          Runner.run(Primitive.make("hang", (_: string) => Effect.never).pipe(Timeout.within("1 second")), "x")
        )
        yield* Effect.sleep("10 seconds")
        return e._tag
      }))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Ref.get(background), "running")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "TimeoutError")
      assert.strictEqual(yield* Ref.get(background), "done")
    }))

  it.live("with the live clock: times out on a real timer and the fiber carries on", () =>
    Effect.gen(function*() {
      const p = Primitive.make("hang", (_: string) => Effect.never).pipe(Timeout.within("30 millis"))
      const start = Date.now()
      const e = yield* Effect.flip(Runner.run(p, "x"))
      assert.strictEqual(e._tag, "TimeoutError")
      assert.isAtLeast(Date.now() - start, 25)
      yield* Effect.sleep("5 millis")
      const quick = Primitive.make("quick", (n: number) => Effect.succeed(n)).pipe(Timeout.within("30 millis"))
      for (let i = 0; i < 100; i++) assert.strictEqual(yield* Runner.run(quick, i), i)
      yield* Effect.sleep("60 millis") // the cancelled timers of the quick calls must not fire
      assert.strictEqual(yield* Runner.run(quick, 7), 7)
    }))

  it.live("with the live clock, many concurrent calls: exactly the slow ones time out (shared timers)", () =>
    Effect.gen(function*() {
      const p = Primitive.make(
        "mixed",
        (i: number) => Effect.as(Effect.sleep(i % 2 === 0 ? "5 millis" : "5 seconds"), i)
      )
        .pipe(Timeout.within("40 millis"))
      const exits = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) => Effect.exit(Runner.run(p, i)),
        { concurrency: "unbounded" }
      )
      exits.forEach((exit, i) => {
        if (i % 2 === 0) assert.deepStrictEqual(exit, Exit.succeed(i))
        else {assert.isTrue(
            Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "TimeoutError",
            `call ${i}`
          )}
      })
      // and a later, longer timeout still fires on time
      const start = Date.now()
      const e = yield* Effect.flip(
        Runner.run(Primitive.make("hang", (_: number) => Effect.never).pipe(Timeout.within("60 millis")), 0)
      )
      assert.strictEqual(e._tag, "TimeoutError")
      assert.isAtLeast(Date.now() - start, 55)
    }))

  // No wall-clock bound: the child reports its own pending timers; a timer left armed would show
  // up there (and would hold the process for an hour). The spawn timeout only stops a hung child.
  it(
    "a finished call leaves no timer holding the process; a pending timeout keeps it alive until it fires",
    async () => {
      const tsx = join(root, "node_modules", ".bin", "tsx")
      const fixture = join(root, "packages", "resilience", "test", "fixtures", "timeout-process.ts")
      const quick = await runProcess(tsx, [fixture, "quick"], { cwd: root, timeout: 600_000 })
      assert.strictEqual(quick.status, 0, quick.stderr)
      assert.strictEqual(quick.stdout.trim(), "42 handles=0 pending=0")
      const hang = await runProcess(tsx, [fixture, "hang"], { cwd: root, timeout: 600_000 })
      assert.strictEqual(hang.status, 0, hang.stderr)
      assert.strictEqual(hang.stdout.trim(), "TimeoutError", "the process stayed alive until the timeout fired")
    },
    1_300_000
  )

  it.live("many distinct durations leave no state behind: every timer is gone once the calls ended", () =>
    Effect.gen(function*() {
      const handles = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
      const before = handles()
      const suspending = Primitive.make("suspending", (n: number) => Effect.as(Effect.yieldNow(), n))
      const calls = Array.from({ length: 2000 }, (_, i) => suspending.pipe(Timeout.within(Duration.millis(60_000 + i))))
      const out = yield* Effect.forEach(calls, (p, i) => Runner.run(p, i), { concurrency: 100 })
      assert.strictEqual(out.length, 2000)
      assert.strictEqual(Io.pendingTimers(), 0, "no timer of the timeout module is pending")
      assert.strictEqual(handles(), before, "no timer handle is left in the event loop")
    }))

  it.effect("a successful timed call keeps the FiberRef changes of its work, as Effect's timeout does", () =>
    Effect.gen(function*() {
      const ref = FiberRef.unsafeMake("initial")
      yield* Timeout.effect(FiberRef.set(ref, "sync"), "1 second")
      assert.strictEqual(yield* FiberRef.get(ref), "sync")
      const fiber = yield* Effect.fork(Effect.zipRight(
        Timeout.effect(Effect.zipRight(Effect.sleep("10 millis"), FiberRef.set(ref, "async")), "1 second"),
        FiberRef.get(ref)
      ))
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(yield* Fiber.join(fiber), "async")
    }))

  it.effect("an infinite duration never fires; the work runs unbounded", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Timeout.effect(Effect.as(Effect.sleep("100 days"), "done"), Duration.infinity))
      yield* TestClock.adjust("100 days")
      assert.strictEqual(yield* Fiber.join(fiber), "done")
    }))

  it.live("a timed-out HTTP request is really aborted: the server sees the connection close", () =>
    Effect.gen(function*() {
      const closed = yield* Deferred.make<void>()
      const received = yield* Deferred.make<void>()
      const server = http.createServer((req, res) => {
        Effect.runSync(Deferred.succeed(received, undefined))
        // never answers; tells us when the client goes away
        res.on("close", () => Effect.runSync(Deferred.succeed(closed, undefined)))
        req.resume()
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as AddressInfo).port
      const fetchReply = Primitive.make("fetchReply", (path: string) =>
        Effect.tryPromise({
          try: (signal) => fetch(`http://127.0.0.1:${port}${path}`, { signal }).then((r) => r.text()),
          catch: (e) => new Error(String(e))
        }))
      const error = yield* Effect.flip(Runner.run(fetchReply.pipe(Timeout.within("300 millis")), "/slow"))
      assert.instanceOf(error, TimeoutError)
      yield* Deferred.await(received)
      const sawClose = yield* Deferred.await(closed).pipe(Effect.timeout("3 seconds"), Effect.option)
      assert.strictEqual(sawClose._tag, "Some", "the server saw the connection close after the timeout")
    }).pipe(Effect.scoped))
})
