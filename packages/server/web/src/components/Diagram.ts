/**
 * A pipeline's Mermaid flowchart (`Describe.toMermaid`), drawn as a simple layered SVG by this
 * page itself (no Mermaid library, no network), with the Mermaid text beside it to copy.
 * It reads the subset `toMermaid` writes: `id["label"]`, `id{"label"}`, `id[["label"]]`, `id(( ))`,
 * `a --> b`, `a -->|label| b`, `a -.->|label| b` (a loop's way back) and subgraphs.
 */
import { html } from "../html.js"

interface DNode {
  readonly id: string
  readonly label: ReadonlyArray<string>
  readonly shape: "box" | "decision" | "fork" | "join"
}
interface DEdge {
  readonly from: string
  readonly to: string
  readonly label: string
  readonly back: boolean
}

const unescape = (s: string) => s.replace(/#quot;/g, "\"")

/** Nodes and edges of a Mermaid flowchart (the subset above; other lines are ignored). */
export const parseMermaid = (text: string): { nodes: Array<DNode>; edges: Array<DEdge> } => {
  const nodes = new Map<string, DNode>()
  const edges: Array<DEdge> = []
  const add = (id: string, shape: DNode["shape"], raw: string) => {
    const label = unescape(raw).split(/<br\/?>/).map((s) => s.replace(/<[^>]+>/g, "").trim()).filter((s) =>
      s.length > 0
    )
    nodes.set(id, { id, label, shape })
  }
  for (const line of text.split("\n").map((l) => l.trim())) {
    let m: RegExpMatchArray | null
    if ((m = line.match(/^(\w+)\s*(-\.->|-->)\s*(?:\|([^|]*)\|\s*)?(\w+)$/))) {
      edges.push({ from: m[1]!, to: m[4]!, label: unescape(m[3] ?? ""), back: m[2] === "-.->" })
    } else if ((m = line.match(/^(\w+)\[\["(.*)"\]\]$/))) add(m[1]!, "fork", m[2]!)
    else if ((m = line.match(/^(\w+)\{"(.*)"\}$/))) add(m[1]!, "decision", m[2]!)
    else if ((m = line.match(/^(\w+)\(\((.*)\)\)$/))) add(m[1]!, "join", m[2]!.replace(/"/g, ""))
    else if ((m = line.match(/^(\w+)\["(.*)"\]$/))) add(m[1]!, "box", m[2]!)
  }
  for (const e of edges) {
    for (const id of [e.from, e.to]) if (!nodes.has(id)) nodes.set(id, { id, label: [id], shape: "box" })
  }
  return { nodes: [...nodes.values()], edges }
}

/** Layers by longest path from the sources (loop edges left out), then places nodes in rows. */
const layout = (nodes: ReadonlyArray<DNode>, edges: ReadonlyArray<DEdge>) => {
  const layer = new Map<string, number>(nodes.map((n) => [n.id, 0]))
  const forward = edges.filter((e) => !e.back)
  for (let i = 0; i < nodes.length; i++) {
    let changed = false
    for (const e of forward) {
      const next = (layer.get(e.from) ?? 0) + 1
      if (next > (layer.get(e.to) ?? 0)) {
        layer.set(e.to, next)
        changed = true
      }
    }
    if (!changed) break
  }
  const rows = new Map<number, Array<DNode>>()
  for (const n of nodes) rows.set(layer.get(n.id)!, [...(rows.get(layer.get(n.id)!) ?? []), n])
  const W = 150
  const H = 44
  const gapX = 24
  const gapY = 36
  const widest = Math.max(1, ...[...rows.values()].map((r) => r.length))
  const width = widest * (W + gapX) + gapX
  const pos = new Map<string, { x: number; y: number }>()
  for (const [l, row] of rows) {
    const rowWidth = row.length * (W + gapX) - gapX
    row.forEach((n, i) => pos.set(n.id, { x: (width - rowWidth) / 2 + i * (W + gapX), y: gapY / 2 + l * (H + gapY) }))
  }
  const height = (Math.max(0, ...layer.values()) + 1) * (H + gapY)
  return { pos, width, height, W, H }
}

export const Diagram = ({ mermaid, title }: { readonly mermaid: string; readonly title: string }) => {
  const { edges, nodes } = parseMermaid(mermaid)
  const { H, W, height, pos, width } = layout(nodes, edges)
  const centre = (id: string) => {
    const p = pos.get(id)!
    return { x: p.x + W / 2, top: p.y, bottom: p.y + H }
  }
  return html`
    <figure class="diagram">
      <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`Diagram of ${title}: ${
    nodes.map((n) => n.label[0] ?? n.id).join(", ")
  }`}>
        <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" /></marker></defs>
        ${
    edges.map((e) => {
      const a = centre(e.from)
      const b = centre(e.to)
      const d = e.back
        ? `M ${a.x + W / 2} ${a.top + H / 2} C ${a.x + W} ${a.top}, ${b.x + W} ${b.bottom}, ${b.x + W / 2} ${
          b.top + H / 2
        }`
        : `M ${a.x} ${a.bottom} L ${b.x} ${b.top}`
      return html`<g class=${e.back ? "edge back" : "edge"}><path d=${d} marker-end="url(#arrow)" />
          ${e.label ? html`<text x=${(a.x + b.x) / 2 + 4} y=${(a.bottom + b.top) / 2}>${e.label}</text>` : null}</g>`
    })
  }
        ${
    nodes.map((n) => {
      const p = pos.get(n.id)!
      if (n.shape === "join") return html`<circle class="node join" cx=${p.x + W / 2} cy=${p.y + H / 2} r="7" />`
      return html`<g class=${`node ${n.shape}`} data-node=${n.label[0] ?? n.id}>
          <rect x=${p.x} y=${p.y} width=${W} height=${H} rx=${n.shape === "decision" ? 18 : 6} />
          ${
        n.label.slice(0, 2).map((t, i) =>
          html`<text x=${p.x + W / 2} y=${p.y + (n.label.length > 1 ? 18 + i * 16 : 27)} text-anchor="middle" class=${
            i === 0 ? "label" : "kind"
          }>${t.length > 22 ? `${t.slice(0, 21)}…` : t}</text>`
        )
      }</g>`
    })
  }
      </svg>
      <details><summary>Mermaid source</summary><pre data-testid="mermaid">${mermaid}</pre></details>
    </figure>
  `
}
