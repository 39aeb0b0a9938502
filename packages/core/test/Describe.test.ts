import { branch, Describe, forEach, loop, parallel, Primitive, route, sequence } from "@braid/core"
import { assert, describe, it } from "@effect/vitest"

const a = Primitive.sync("a", (n: number) => n)
const b = Primitive.sync("b", (n: number) => n)
const c = Primitive.sync("c", (n: number) => n)

const pipeline = sequence(
  a,
  parallel({ left: b, right: sequence(Primitive.sync("toList", (n: number) => [n]), forEach(c, { concurrency: 2 })) }),
  Primitive.sync("pick", (x: { left: number }) => x.left),
  branch(
    (n: number) => n > 0,
    route((n: number) => String(n), { one: a }, b),
    loop(c, { while: () => false, maxIterations: 3 })
  )
).pipe(Primitive.named("demo"))

describe("describe", () => {
  it("returns the tree with names, kinds, stable paths and configuration", () => {
    const tree = Describe.describe(pipeline)
    assert.strictEqual(tree.name, "demo")
    assert.strictEqual(tree.kind, "sequence")
    assert.deepStrictEqual(tree.children.map((n) => n.path), ["demo/a", "demo/parallel", "demo/pick", "demo/branch"])
    const par = tree.children[1]!
    assert.deepStrictEqual(par.meta, { mode: "fail-fast", concurrency: "unbounded" })
    assert.deepStrictEqual(par.children.map((n) => [n.path, n.kind]), [["demo/parallel/left", "step"], [
      "demo/parallel/right",
      "sequence"
    ]])
    assert.strictEqual(par.children[1]!.children[1]!.children[0]!.path, "demo/parallel/right/forEach/c[*]")
    const br = tree.children[3]!
    assert.deepStrictEqual(br.children.map((n) => n.kind), ["route", "loop"])
    assert.deepStrictEqual(br.children[0]!.children.map((n) => n.path), [
      "demo/branch/route/one",
      "demo/branch/route/default"
    ])
  })

  it("renders an indented text tree", () => {
    const text = Describe.toText(pipeline)
    assert.include(text, "demo (sequence)")
    assert.include(text, "├─ parallel (parallel) {mode=fail-fast, concurrency=unbounded}")
    assert.include(text, "loop (loop) {maxIterations=3}")
  })

  it("renders a Mermaid flowchart with fork/join, decisions and loops", () => {
    const mermaid = Describe.toMermaid(pipeline)
    const lines = mermaid.split("\n")
    assert.strictEqual(lines[0], "flowchart TD")
    assert.isTrue(
      lines.some((l) => /\[\["parallel<br\/><small>parallel<\/small>"\]\]/.test(l)),
      "parallel is a fork node"
    )
    assert.isTrue(
      lines.some((l) => /-->\|true\|/.test(l)) && lines.some((l) => /-->\|false\|/.test(l)),
      "branch edges are labelled"
    )
    assert.isTrue(
      lines.some((l) => /-->\|one\|/.test(l)) && lines.some((l) => /-->\|default\|/.test(l)),
      "route edges carry keys"
    )
    assert.isTrue(lines.some((l) => l.includes("next iteration")), "loops draw their back edge")
    // every node referenced by an edge is declared
    const declared = new Set(lines.flatMap((l) => [...l.matchAll(/^\s+(?:subgraph )?(n\d+)[[({"]/g)].map((m) => m[1])))
    for (const l of lines) {
      for (const m of l.matchAll(/(n\d+) -/g)) assert.isTrue(declared.has(m[1]), `node ${m[1]} is declared`)
    }
  })
})
