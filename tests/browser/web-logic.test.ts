/**
 * The web app's logic that runs without a browser: the server-sent events parser (any chunking of a
 * stream yields the same events), the trace tree (every span exactly once, whatever the parents say),
 * the Mermaid reader of the run viewer (on `Describe.toMermaid`'s real output), and the scenario
 * form's checks (the library's Schema, the server's field paths, hostile input).
 */
import { branch, Describe, loop, parallel, Primitive, sequence } from "@braid/core"
import { Scripts } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { parseMermaid } from "../../packages/server/web/src/components/Diagram.js"
import type { SpanView } from "../../packages/server/web/src/components/TraceTree.js"
import { toTree } from "../../packages/server/web/src/components/TraceTree.js"
import type { ServerEvent } from "../../packages/server/web/src/http.js"
import { parseEvents } from "../../packages/server/web/src/http.js"
import { check, fieldKey } from "../../packages/server/web/src/validate.js"

/** Feeds `chunks` one after the other, as the stream reader does. */
const feed = (chunks: ReadonlyArray<string>): Array<ServerEvent> => {
  const out: Array<ServerEvent> = []
  let buffer = ""
  for (const chunk of chunks) {
    const parsed = parseEvents(buffer + chunk)
    buffer = parsed.rest
    out.push(...parsed.events)
  }
  return out
}

const splitAt = (text: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const parts: Array<string> = []
  let from = 0
  for (const p of points) {
    parts.push(text.slice(from, p))
    from = p
  }
  parts.push(text.slice(from))
  return parts
}

describe("parseEvents (server-sent events)", () => {
  const line = fc.string({ maxLength: 30 }).filter((s) => !/[\r\n]/.test(s))
  const event = fc.record({
    id: fc.option(fc.stringMatching(/^[0-9]{1,6}$/), { nil: undefined }),
    type: fc.constantFrom("AiTurnDelta", "AiTurn", "SessionEnded", "EvaluationReady", "message"),
    lines: fc.array(line, { minLength: 1, maxLength: 3 })
  })

  it("yields the same events whatever the chunking, with LF or CR LF, comments and heartbeats", () => {
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (events, cuts, crlf) => {
          const nl = crlf ? "\r\n" : "\n"
          const text = events.map((e) =>
            `: heartbeat${nl}${nl}` +
            (e.id !== undefined ? `id: ${e.id}${nl}` : "") +
            `event: ${e.type}${nl}` +
            e.lines.map((l) => `data: ${l}${nl}`).join("") + nl
          ).join("")
          const got = feed(splitAt(text, cuts))
          const want = events.map((e) => ({
            ...(e.id !== undefined ? { id: e.id } : {}),
            type: e.type,
            data: e.lines.join("\n")
          }))
          assert.deepStrictEqual(got, want)
        }
      )
    )
  })

  it("keeps an unfinished event for the next chunk", () => {
    const first = parseEvents("id: 1\nevent: AiTurnDelta\ndata: {\"delta\":\"Hel")
    assert.deepStrictEqual(first.events, [])
    const second = parseEvents(first.rest + "lo\"}\n\n")
    assert.deepStrictEqual(second.events, [{ id: "1", type: "AiTurnDelta", data: "{\"delta\":\"Hello\"}" }])
    assert.strictEqual(second.rest, "")
  })
})

const flatten = (nodes: ReturnType<typeof toTree>): Array<SpanView> =>
  nodes.flatMap((n) => [n.span, ...flatten(n.children)])

const span = (spanId: string, parentSpanId: string | undefined, startMs: number): SpanView => ({
  spanId,
  ...(parentSpanId !== undefined ? { parentSpanId } : {}),
  name: `s${spanId}`,
  startMs,
  durationMs: 1,
  status: "ok",
  attributes: {}
})

describe("toTree (the run viewer's trace)", () => {
  it("nests children under parents, in start order, orphans at the top", () => {
    const tree = toTree([span("c", "a", 3), span("b", "a", 2), span("a", undefined, 1), span("o", "gone", 0)])
    assert.deepStrictEqual(tree.map((n) => n.span.spanId), ["o", "a"])
    assert.deepStrictEqual(tree[1]!.children.map((n) => n.span.spanId), ["b", "c"])
  })

  it("shows every span exactly once, even when parents point at themselves or in a circle", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 30 }).chain((ids) =>
          fc.tuple(
            fc.constant(ids),
            // parents: mostly spans of the list (so cycles and self-parents happen), some unknown, some none
            fc.array(
              fc.oneof(
                { arbitrary: fc.constantFrom(...ids), weight: 4 },
                { arbitrary: fc.integer({ min: 41, max: 45 }), weight: 1 },
                { arbitrary: fc.constant(undefined), weight: 1 }
              ),
              { minLength: ids.length, maxLength: ids.length }
            ),
            fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: ids.length, maxLength: ids.length })
          )
        ),
        ([ids, parents, starts]) => {
          const spans = ids.map((id, i) =>
            span(String(id), parents[i] === undefined ? undefined : String(parents[i]), starts[i]!)
          )
          const shown = flatten(toTree(spans)).map((s) => s.spanId).sort()
          assert.deepStrictEqual(shown, spans.map((s) => s.spanId).sort())
        }
      )
    )
  })
})

describe("parseMermaid (the run viewer's diagram)", () => {
  it("reads every node and edge of Describe.toMermaid, the loop's way back marked", () => {
    const fetch = Primitive.sync("fetch", (q: string) => q)
    const a = Primitive.sync("a", (s: string) => s.length)
    const b = Primitive.sync("b", (s: string) => s.toUpperCase())
    const short = Primitive.sync("short", (s: string) => `short: ${s}`)
    const long = Primitive.sync("long", (s: string) => `long: ${s}`)
    const refine = Primitive.sync("refine \"quoted\"", (d: string) => d + "!")
    const pipeline = sequence(
      fetch,
      branch((s: string) => s.length < 5, short, long),
      loop(refine, { while: (d) => d.length < 8, maxIterations: 3 }),
      parallel({ a, b })
    )
    const text = Describe.toMermaid(pipeline)
    const { edges, nodes } = parseMermaid(text)
    const lines = text.split("\n").slice(1).map((l) => l.trim())
    const edgeLines = lines.filter((l) => /-->|-\.->/.test(l))
    const nodeLines = lines.filter((l) => !/-->|-\.->/.test(l) && !l.startsWith("subgraph") && l !== "end")
    assert.strictEqual(edges.length, edgeLines.length)
    assert.strictEqual(nodes.length, nodeLines.length)
    assert.isTrue(edges.some((e) => e.back && e.label === "next iteration"))
    assert.deepStrictEqual(edges.filter((e) => e.label === "true" || e.label === "false").length, 2)
    const labels = nodes.map((n) => n.label[0])
    for (const name of ["fetch", "short", "long", "a", "b", "refine \"quoted\""]) assert.include(labels, name)
    // every edge joins nodes the diagram draws
    const ids = new Set(nodes.map((n) => n.id))
    assert.isTrue(edges.every((e) => ids.has(e.from) && ids.has(e.to)))
  })
})

describe("the scenario form's checks", () => {
  const { author: _a, createdAt: _c, tenant: _t, updatedAt: _u, version: _v, ...draft } = Scripts
    .practiceScenario as any

  it("passes the sample scenario and names each field at fault", () => {
    assert.deepStrictEqual(check(draft), {})
    const errors = check({
      ...draft,
      persona: { ...draft.persona, name: "  ", personality: ["fine", "x".repeat(201)] },
      objectives: [],
      skills: [{ id: "Bad Id!", name: "Listening", rubric: "Reflects." }]
    })
    assert.deepStrictEqual(Object.keys(errors).sort(), [
      "objectives",
      "persona.name",
      "persona.personality",
      "skills.0.id"
    ])
    assert.match(errors["skills.0.id"]!, /skill id is 1 to 64 lowercase letters/)
    assert.match(errors["persona.personality"]!, /^line 2: /)
  })

  it("maps the server's field paths onto the form's fields", () => {
    assert.strictEqual(fieldKey("skills[0].id"), "skills.0.id")
    assert.strictEqual(fieldKey("persona.goals[3]"), "persona.goals")
    assert.strictEqual(fieldKey("objectives[0]"), "objectives")
    assert.strictEqual(fieldKey("title"), "title")
    assert.strictEqual(fieldKey(["skills", 2, "rubric"]), "skills.2.rubric")
  })

  it("never throws on hostile input, and always answers messages by field", () => {
    const hostile = fc.oneof(
      fc.anything(),
      fc.constant(JSON.parse("{\"__proto__\": {\"title\": \"x\"}, \"title\": 1}")),
      fc.constant({ ...draft, maxTurns: Number.NaN }),
      fc.constant({ ...draft, maxTurns: 10n }),
      fc.constant({ ...draft, skills: [{ id: "a.b/c", name: "n", rubric: "r" }] })
    )
    fc.assert(
      fc.property(hostile, (input) => {
        const errors = check(input)
        assert.isTrue(Object.values(errors).every((m) => typeof m === "string" && m.length > 0))
      })
    )
    const cyclic: any = { ...draft }
    cyclic.persona = { ...draft.persona, self: cyclic }
    assert.containsAllKeys(check(cyclic), ["persona.self"])
  })
})
