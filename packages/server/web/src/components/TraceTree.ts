/**
 * The trace of a run as a tree: one row per span, nested under its parent, with its duration,
 * tokens, dollars and errors. Keyboard: the tree is a list of <details>, each opens with Enter.
 */
import type { Api } from "@braid/server"
import { int, ms, usd } from "../format.js"
import { html } from "../html.js"

export type SpanView = Api.Span

interface Node {
  readonly span: SpanView
  readonly children: Array<Node>
}

/** Nests spans under their parents (a span whose parent is not in the list is a root), by start time. */
export const toTree = (spans: ReadonlyArray<SpanView>): Array<Node> => {
  const nodes = new Map<string, Node>()
  for (const span of spans) nodes.set(span.spanId, { span, children: [] })
  const roots: Array<Node> = []
  for (const node of nodes.values()) {
    const parent = node.span.parentSpanId === undefined ? undefined : nodes.get(node.span.parentSpanId)
    if (parent !== undefined && parent !== node) parent.children.push(node)
    else roots.push(node)
  }
  const sort = (list: Array<Node>) => {
    list.sort((a, b) => a.span.startMs - b.span.startMs)
    for (const n of list) sort(n.children)
  }
  sort(roots)
  return roots
}

/** Tokens and dollars of a subtree (a span's own plus its descendants'). */
const totals = (node: Node): { tokens: number; cost: number } =>
  node.children.reduce(
    (acc, child) => {
      const t = totals(child)
      return { tokens: acc.tokens + t.tokens, cost: acc.cost + t.cost }
    },
    {
      tokens: (node.span.inputTokens ?? 0) + (node.span.outputTokens ?? 0),
      cost: node.span.costUsd ?? 0
    }
  )

const Row = ({ node, scale }: { readonly node: Node; readonly scale: { start: number; total: number } }) => {
  const s = node.span
  const t = totals(node)
  const left = scale.total > 0 ? ((s.startMs - scale.start) / scale.total) * 100 : 0
  const width = scale.total > 0 ? Math.max((s.durationMs / scale.total) * 100, 0.5) : 0.5
  const summary = html`
    <span class=${`span-name status-${s.status}`}>${s.name}</span>
    <span class="span-meta">
      <span title="duration">${ms(s.durationMs)}</span>
      ${t.tokens > 0 ? html`<span title="tokens">${int(t.tokens)} tok</span>` : null}
      ${t.cost > 0 ? html`<span title="dollars">${usd(t.cost)}</span>` : null}
      ${s.status === "error" ? html`<span class="error-badge">error</span>` : null}
    </span>
    <span class="span-bar" aria-hidden="true"><span style=${`left:${Math.min(left, 99.5)}%;width:${
    Math.min(width, 100)
  }%`}></span></span>
  `
  return html`
    <li role="treeitem" aria-expanded=${node.children.length > 0 ? "true" : undefined} data-span=${s.name}>
      <details open>
        <summary>${summary}</summary>
        ${s.error ? html`<p class="span-error" role="note">${s.error}</p>` : null}
        ${
    Object.keys(s.attributes).length > 0
      ? html`<details class="span-attrs-box"><summary>Attributes</summary><dl class="span-attrs">${
        Object.entries(s.attributes).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)
      }</dl></details>`
      : null
  }
        ${
    node.children.length > 0
      ? html`<ul role="group">${node.children.map((c) => html`<${Row} node=${c} scale=${scale} />`)}</ul>`
      : null
  }
      </details>
    </li>
  `
}

export const TraceTree = ({ spans, label }: { readonly spans: ReadonlyArray<SpanView>; readonly label: string }) => {
  if (spans.length === 0) return html`<p class="muted">No spans yet.</p>`
  const start = Math.min(...spans.map((s) => s.startMs))
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs))
  return html`<ul class="trace" role="tree" aria-label=${label}>
    ${toTree(spans).map((n) => html`<${Row} node=${n} scale=${{ start, total: end - start }} />`)}
  </ul>`
}
