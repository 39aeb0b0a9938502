import { forEach, Instrumentation, parallel, Primitive, Runner, sequence } from "@braid/core"
import { byName, parentOf, successValue, withSpans } from "@braid/testing"
import { assert, describe, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import { Effect, Exit, Fiber, Schema } from "effect"

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.String }) {}

const inc = Primitive.sync("inc", (n: number) => n + 1)
const double = Primitive.sync("double", (n: number) => n * 2)

describe("the single instrumentation point", () => {
  it.effect("every primitive opens one span named after it, nested under its parent", () =>
    Effect.gen(function*() {
      const pipeline = sequence(inc, parallel({ a: double, b: inc.pipe(Primitive.named("inc2")) })).pipe(
        Primitive.named("pipeline")
      )
      const { exit, spans } = yield* withSpans(
        Runner.run(pipeline, 1, { runId: "run-1", sessionId: "s-1", tenantId: "t-1" })
      )
      assert.deepStrictEqual(successValue(exit), { a: 4, b: 3 })
      assert.sameMembers(spans.map((s) => s.name), ["pipeline", "inc", "parallel", "double", "inc2"])
      const root = byName(spans, "pipeline")
      assert.isUndefined(parentOf(spans, root))
      assert.strictEqual(parentOf(spans, byName(spans, "inc"))?.name, "pipeline")
      assert.strictEqual(parentOf(spans, byName(spans, "parallel"))?.name, "pipeline")
      assert.strictEqual(parentOf(spans, byName(spans, "double"))?.name, "parallel")
      assert.strictEqual(parentOf(spans, byName(spans, "inc2"))?.name, "parallel")
      // kind, path and run attributes on every span
      const d = byName(spans, "double")
      assert.strictEqual(d.attributes["braid.primitive.kind"], "step")
      assert.strictEqual(d.attributes["braid.path"], "pipeline/parallel/a")
      for (const s of spans) {
        assert.strictEqual(s.attributes["braid.run.id"], "run-1")
        assert.strictEqual(s.attributes["braid.session.id"], "s-1")
        assert.strictEqual(s.attributes["braid.tenant.id"], "t-1")
      }
      assert.strictEqual(byName(spans, "parallel").attributes["braid.primitive.kind"], "parallel")
    }))

  it.effect("a failure sets error status on the failing span and its parents and records the tagged error", () =>
    Effect.gen(function*() {
      const lookup = Primitive.make("lookup", (id: string) => Effect.fail(new NotFound({ id })))
      const pipeline = sequence(Primitive.sync("prepare", (s: string) => s.trim()), lookup).pipe(
        Primitive.named("find")
      )
      const { exit, spans } = yield* withSpans(Runner.run(pipeline, " 42 "))
      assert.isTrue(Exit.isFailure(exit))
      const failing = byName(spans, "lookup")
      assert.strictEqual(failing.status.code, SpanStatusCode.ERROR)
      assert.strictEqual(failing.attributes["error.type"], "NotFound")
      assert.isTrue(failing.events.some((e) => e.name === "exception"))
      assert.strictEqual(byName(spans, "find").status.code, SpanStatusCode.ERROR)
      assert.strictEqual(byName(spans, "prepare").status.code, SpanStatusCode.OK)
    }))

  it.effect("forEach items get indexed, stable paths", () =>
    Effect.gen(function*() {
      const { spans } = yield* withSpans(Runner.run(forEach(double, { concurrency: 2 }), [1, 2, 3]))
      const paths = spans.filter((s) => s.name === "double").map((s) => s.attributes["braid.path"])
      assert.sameMembers(paths, ["forEach/double[0]", "forEach/double[1]", "forEach/double[2]"])
    }))

  it.effect("duplicate names inside one parent get distinct path segments", () =>
    Effect.gen(function*() {
      const { spans } = yield* withSpans(Runner.run(sequence(inc, inc, inc), 0))
      const paths = spans.filter((s) => s.name === "inc").map((s) => s.attributes["braid.path"])
      assert.sameMembers(paths, ["sequence/inc", "sequence/inc(2)", "sequence/inc(3)"])
    }))

  it.effect("annotate and event land on the running primitive's span", () =>
    Effect.gen(function*() {
      const step = Primitive.make("cached", (n: number) =>
        Effect.gen(function*() {
          yield* Instrumentation.annotate({ "cache.hit": true })
          yield* Instrumentation.event("cache.lookup", { key: String(n) })
          assert.strictEqual(yield* Instrumentation.currentPath, "outer/cached")
          return n
        }))
      const { spans } = yield* withSpans(Runner.run(sequence(step).pipe(Primitive.named("outer")), 7))
      const span = byName(spans, "cached")
      assert.strictEqual(span.attributes["cache.hit"], true)
      assert.deepStrictEqual(span.events.map((e) => [e.name, e.attributes?.["key"]]), [["cache.lookup", "7"]])
    }))

  it.effect("instrumentation off runs the same pipeline with no spans", () =>
    Effect.gen(function*() {
      const { exit, spans } = yield* withSpans(Runner.run(sequence(inc, double), 1, { instrumentation: "off" }))
      assert.strictEqual(successValue(exit), 4)
      assert.strictEqual(spans.length, 0)
    }))

  it.effect("a primitive invoked from plain Effect code nests under the caller's span", () =>
    Effect.gen(function*() {
      const { spans } = yield* withSpans(Effect.withSpan(double.invoke(2), "caller"))
      assert.strictEqual(parentOf(spans, byName(spans, "double"))?.name, "caller")
      assert.strictEqual(byName(spans, "double").attributes["braid.path"], "double")
    }))

  it.effect("auto mode: without a tracer layer primitives run bare; \"on\" opens spans on Effect's built-in tracer", () =>
    Effect.gen(function*() {
      const spanName = Primitive.make(
        "probe",
        (_: void) => Effect.map(Effect.option(Effect.currentSpan), (s) => s._tag === "Some" ? s.value.name : "none")
      )
      const wrapped = sequence(spanName).pipe(Primitive.named("outer"))
      assert.strictEqual(yield* Runner.run(wrapped, undefined), "none")
      assert.isFalse(yield* Instrumentation.enabled)
      assert.strictEqual(yield* Runner.run(wrapped, undefined, { instrumentation: "on" }), "probe")
      assert.isTrue(yield* Instrumentation.withMode(Instrumentation.enabled, "on"))
      // with a tracer layer installed, auto turns spans on
      const { exit } = yield* withSpans(Runner.run(wrapped, undefined))
      assert.strictEqual(successValue(exit), "probe")
    }))

  it.effect("paths continue through spans opened by user code between two primitives", () =>
    Effect.gen(function*() {
      const inner = Primitive.make("inner", (_: void) => Instrumentation.currentPath)
      const outer = Primitive.make("outer", (_: void) => Effect.withSpan(inner.invoke(undefined), "user-span"))
      const { exit, spans } = yield* withSpans(Runner.run(sequence(outer).pipe(Primitive.named("root")), undefined))
      assert.strictEqual(successValue(exit), "root/outer/inner")
      assert.strictEqual(parentOf(spans, byName(spans, "inner"))?.name, "user-span")
    }))

  it.effect("contextAttributes gives other telemetry the run's ids and the enclosing path", () =>
    Effect.gen(function*() {
      const probe = Primitive.make("probe", (_: void) => Effect.contextWith(Instrumentation.contextAttributes))
      const out = yield* Runner.run(sequence(probe).pipe(Primitive.named("root")), undefined, {
        runId: "r-9",
        sessionId: "s-9",
        userId: "u-9",
        instrumentation: "on"
      })
      assert.deepStrictEqual(out, {
        "braid.path": "root/probe",
        "braid.run.id": "r-9",
        "braid.session.id": "s-9",
        "braid.user.id": "u-9"
      })
    }))

  it.effect("withSpan: the same span as Effect.withSpan (parent of inner spans, context restored after), onEnd sees the exit first", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const inner = Effect.withSpan(Effect.succeed(41), "effect-child")
      const traced = Instrumentation.withSpan(Effect.map(inner, (n) => n + 1), "lean", {
        kind: "client",
        attributes: { "db.system.name": "memory" },
        onEnd: (exit, span) => {
          seen.push(`${exit._tag}:${span.status._tag}`)
          if (exit._tag === "Success") span.attribute("result", exit.value)
        }
      })
      const after = Effect.withSpan(Effect.void, "sibling")
      const { exit, spans } = yield* withSpans(Effect.withSpan(Effect.zipLeft(traced, after), "outer"))
      assert.strictEqual(successValue(exit), 42)
      assert.deepStrictEqual(seen, ["Success:Started"], "onEnd runs once, before the span ends")
      const lean = byName(spans, "lean")
      assert.strictEqual(parentOf(spans, lean)?.name, "outer")
      assert.strictEqual(parentOf(spans, byName(spans, "effect-child"))?.name, "lean")
      assert.strictEqual(parentOf(spans, byName(spans, "sibling"))?.name, "outer", "the parent span is restored after")
      assert.strictEqual(lean.attributes["db.system.name"], "memory")
      assert.strictEqual(lean.attributes["result"], 42)
      assert.strictEqual(lean.kind, 2 /* CLIENT */)
      assert.strictEqual(lean.status.code, SpanStatusCode.OK)

      const failed = yield* withSpans(Instrumentation.withSpan(Effect.fail(new NotFound({ id: "x" })), "failing", {
        onEnd: (exit) => seen.push(exit._tag)
      }))
      assert.isTrue(Exit.isFailure(failed.exit))
      assert.strictEqual(byName(failed.spans, "failing").status.code, SpanStatusCode.ERROR)
      assert.isTrue(byName(failed.spans, "failing").events.some((e) => e.name === "exception"))
      assert.strictEqual(seen.at(-1), "Failure")
    }))

  it.effect("withSpan: interrupted work ends its span and restores the parent; span annotations in scope still apply", () =>
    Effect.gen(function*() {
      const { spans } = yield* withSpans(
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(Instrumentation.withSpan(Effect.never, "hanging"))
          yield* Effect.yieldNow()
          yield* Fiber.interrupt(fiber)
          yield* Effect.withSpan(Effect.void, "next")
        }).pipe(Effect.withSpan("root"))
      )
      const hanging = byName(spans, "hanging")
      assert.strictEqual(parentOf(spans, hanging)?.name, "root")
      assert.strictEqual(hanging.attributes["status.interrupted"], true)
      assert.strictEqual(parentOf(spans, byName(spans, "next"))?.name, "root")

      const annotated = yield* withSpans(
        Instrumentation.withSpan(Effect.void, "annotated").pipe(Effect.annotateSpans("team", "coaching"))
      )
      assert.strictEqual(byName(annotated.spans, "annotated").attributes["team"], "coaching")
    }))
})

describe("agent spans follow the GenAI agent conventions (by kind, at the single instrumentation point)", () => {
  it.effect("a primitive of kind agent is an INTERNAL `invoke_agent {name}` span; a remote one is CLIENT", () =>
    Effect.gen(function*() {
      const coach = Primitive.make("coach", (q: string) => Effect.succeed(q.length), { kind: "agent" })
      const remote = Primitive.make("oracle", (q: string) => Effect.succeed(q.length), {
        kind: "agent",
        meta: { remote: true }
      })
      const { spans } = yield* withSpans(
        Runner.run(sequence(coach, Primitive.sync("show", (n: number) => String(n)), remote), "hi", {
          runId: "r-a",
          sessionId: "conv-1"
        })
      )
      const local = byName(spans, "invoke_agent coach")
      assert.strictEqual(local.kind, 0) // INTERNAL
      assert.strictEqual(local.attributes["gen_ai.operation.name"], "invoke_agent")
      assert.strictEqual(local.attributes["gen_ai.agent.name"], "coach")
      assert.strictEqual(local.attributes["gen_ai.conversation.id"], "conv-1")
      assert.strictEqual(local.attributes["braid.primitive.name"], "coach")
      assert.strictEqual(local.attributes["braid.primitive.kind"], "agent")
      assert.strictEqual(byName(spans, "invoke_agent oracle").kind, 2) // CLIENT
      // other kinds keep their own name and no GenAI operation
      assert.isUndefined(byName(spans, "show").attributes["gen_ai.operation.name"])
      // the scope of core's spans is named on them (Braid's tracers lift it into the span's scope)
      assert.strictEqual(byName(spans, "show").attributes["otel.scope.name"], "@braid/core")
    }))
})
