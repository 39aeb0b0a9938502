/**
 * A pipeline describes itself: its tree of primitives (names, kinds, paths, configuration) as
 * data, as an indented text tree, and as a Mermaid flowchart.
 *
 * @since 0.1.0
 */
import type { Any, Meta } from "./Primitive.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Node {
  readonly name: string
  readonly kind: string
  /** The stable path of this step in the pipeline (`[*]` stands for every item or iteration). */
  readonly path: string
  readonly meta: Meta
  readonly children: ReadonlyArray<Node>
}

/**
 * The tree of a pipeline.
 *
 * @example
 * ```ts
 * import { Describe, Primitive, sequence } from "@braid/core"
 *
 * const a = Primitive.sync("a", (n: number) => n + 1)
 * const b = Primitive.sync("b", (n: number) => n * 2)
 * const tree = Describe.describe(sequence(a, b))
 * // { name: "sequence", kind: "sequence", path: "sequence", children: [{ name: "a", path: "sequence/a", ... }, ...] }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const describe = (pipeline: Any): Node => build(pipeline, pipeline.name)

const build = (p: Any, path: string): Node => ({
  name: p.name,
  kind: p.kind,
  path,
  meta: p.meta,
  children: p.children.map((c) => build(c.primitive, `${path}/${c.key}`))
})

/**
 * The tree as indented text, one primitive a line: `name (kind) {meta}`.
 *
 * @category utils
 * @since 0.1.0
 */
export const toText = (pipeline: Any | Node): string => {
  const node = "body" in pipeline ? describe(pipeline) : pipeline
  const lines: Array<string> = []
  const walk = (n: Node, prefix: string, last: boolean, root: boolean) => {
    const meta = Object.entries(n.meta).map(([k, v]) => `${k}=${v}`).join(", ")
    lines.push(`${root ? "" : prefix + (last ? "└─ " : "├─ ")}${n.name} (${n.kind})${meta ? ` {${meta}}` : ""}`)
    const next = root ? "" : prefix + (last ? "   " : "│  ")
    n.children.forEach((c, i) => walk(c, next, i === n.children.length - 1, false))
  }
  walk(node, "", true, true)
  return lines.join("\n")
}

const escape = (s: string) => s.replace(/"/g, "#quot;")

/**
 * A Mermaid flowchart of the pipeline: sequences as chains, parallel branches between a fork
 * and a join, choices as decision nodes with labelled edges, loops and `forEach` as subgraphs.
 *
 * @example
 * ```ts
 * import { Describe, Primitive, parallel, sequence } from "@braid/core"
 *
 * const fetch = Primitive.sync("fetch", (q: string) => q)
 * const a = Primitive.sync("a", (s: string) => s.length)
 * const b = Primitive.sync("b", (s: string) => s.toUpperCase())
 * console.log(Describe.toMermaid(sequence(fetch, parallel({ a, b }))))
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const toMermaid = (pipeline: Any | Node): string => {
  const root = "body" in pipeline ? describe(pipeline) : pipeline
  const lines: Array<string> = ["flowchart TD"]
  let counter = 0
  const id = () => `n${counter++}`
  const label = (n: Node) => `${escape(n.name)}<br/><small>${escape(n.kind)}</small>`
  const render = (n: Node): { readonly entry: string; readonly exit: string } => {
    switch (n.kind) {
      case "sequence": {
        const parts = n.children.map(render)
        for (let i = 1; i < parts.length; i++) lines.push(`  ${parts[i - 1]!.exit} --> ${parts[i]!.entry}`)
        return { entry: parts[0]!.entry, exit: parts[parts.length - 1]!.exit }
      }
      case "parallel":
      case "branch":
      case "route": {
        const fork = id()
        const join = id()
        const decision = n.kind !== "parallel"
        lines.push(decision ? `  ${fork}{"${label(n)}"}` : `  ${fork}[["${label(n)}"]]`)
        lines.push(`  ${join}(( ))`)
        n.children.forEach((c, i) => {
          const part = render(c)
          const edge = n.kind === "branch"
            ? (i === 0 ? "true" : "false")
            : n.kind === "route"
            ? c.path.split("/").pop()!
            : ""
          lines.push(edge ? `  ${fork} -->|${escape(edge)}| ${part.entry}` : `  ${fork} --> ${part.entry}`)
          lines.push(`  ${part.exit} --> ${join}`)
        })
        return { entry: fork, exit: join }
      }
      default: {
        if (n.children.length === 0) {
          const leaf = id()
          lines.push(`  ${leaf}["${label(n)}"]`)
          return { entry: leaf, exit: leaf }
        }
        const sub = id()
        lines.push(`  subgraph ${sub}["${label(n)}"]`)
        const parts = n.children.map(render)
        lines.push("  end")
        for (let i = 1; i < parts.length; i++) lines.push(`  ${parts[i - 1]!.exit} --> ${parts[i]!.entry}`)
        if (n.kind === "loop" || n.kind === "repeatUntil") {
          lines.push(`  ${parts[parts.length - 1]!.exit} -.->|next iteration| ${parts[0]!.entry}`)
        }
        return { entry: parts[0]!.entry, exit: parts[parts.length - 1]!.exit }
      }
    }
  }
  render(root)
  return lines.join("\n")
}
