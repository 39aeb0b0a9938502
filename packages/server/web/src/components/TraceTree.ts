/**
 * The trace of a run as a tree: one row per span, nested under its parent, with its duration,
 * tokens, dollars and errors. Keyboard: the tree is a list of <details>, each opens with Enter.
 */
import type { Api } from "@braid/server"
import { useState } from "preact/hooks"
import { int, ms, usd } from "../format.js"
import { html } from "../html.js"

export type SpanView = Api.Span

interface Node {
  readonly span: SpanView
  readonly children: Array<Node>
}

/**
 * Nests spans under their parents, by start time. A span whose parent is not in the list is a root,
 * and so is a span whose parent chain loops back to itself (a malformed trace still shows every span
 * once).
 */
export const toTree = (spans: ReadonlyArray<SpanView>): Array<Node> => {
  const nodes = new Map<string, Node>()
  for (const span of spans) if (!nodes.has(span.spanId)) nodes.set(span.spanId, { span, children: [] })
  const parentOf = (node: Node): Node | undefined =>
    node.span.parentSpanId === undefined ? undefined : nodes.get(node.span.parentSpanId)
  const loops = (node: Node): boolean => {
    const seen = new Set<Node>([node])
    for (let p = parentOf(node); p !== undefined; p = parentOf(p)) {
      if (seen.has(p)) return p === node || loops(p)
      seen.add(p)
    }
    return false
  }
  const roots: Array<Node> = []
  for (const node of nodes.values()) {
    const parent = parentOf(node)
    if (parent !== undefined && !loops(node)) parent.children.push(node)
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

interface Scale {
  readonly start: number
  readonly total: number
}

const Row = (
  { node, onSelect, scale, selected }: {
    readonly node: Node
    readonly scale: Scale
    readonly selected: string | undefined
    readonly onSelect: (span: SpanView) => void
  }
) => {
  const [open, setOpen] = useState(true)
  const s = node.span
  const t = totals(node)
  const left = scale.total > 0 ? ((s.startMs - scale.start) / scale.total) * 100 : 0
  const width = scale.total > 0 ? Math.max((s.durationMs / scale.total) * 100, 0.5) : 0.5
  const hasChildren = node.children.length > 0
  return html`
    <li role="treeitem" aria-expanded=${hasChildren ? String(open) : undefined} aria-selected=${
    String(selected === s.spanId)
  } data-span=${s.name}>
      <div class="span-line">
        ${
    hasChildren
      ? html`<button type="button" class="toggle" aria-label=${`${
        open ? "Collapse" : "Expand"
      } ${s.name}`} onClick=${() => setOpen(!open)}>${open ? "▾" : "▸"}</button>`
      : html`<span class="toggle" aria-hidden="true"></span>`
  }
        <button type="button" class="span-select" aria-pressed=${String(selected === s.spanId)} onClick=${() =>
    onSelect(s)}>
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
        </button>
      </div>
      ${s.error ? html`<p class="span-error" role="note">${s.error}</p>` : null}
      ${
    hasChildren && open
      ? html`<ul role="group">${
        node.children.map((c) => html`<${Row} node=${c} scale=${scale} selected=${selected} onSelect=${onSelect} />`)
      }</ul>`
      : null
  }
    </li>
  `
}

const Details = ({ span }: { readonly span: SpanView | undefined }) =>
  span === undefined
    ? html`<p class="muted">Select a span to see its attributes.</p>`
    : html`<h4>${span.name}</h4>
      <dl class="span-attrs">
        <dt>status</dt><dd class=${`status-${span.status}`}>${span.status}</dd>
        <dt>duration</dt><dd>${ms(span.durationMs)}</dd>
        ${span.inputTokens !== undefined ? html`<dt>input tokens</dt><dd>${int(span.inputTokens)}</dd>` : null}
        ${span.outputTokens !== undefined ? html`<dt>output tokens</dt><dd>${int(span.outputTokens)}</dd>` : null}
        ${span.costUsd !== undefined ? html`<dt>dollars</dt><dd>${usd(span.costUsd)}</dd>` : null}
        ${span.error ? html`<dt>error</dt><dd class="status-error">${span.error}</dd>` : null}
        ${Object.entries(span.attributes).map(([k, v]) => html`<dt>${k}</dt><dd>${String(v)}</dd>`)}
      </dl>`

export const TraceTree = ({ label, spans }: { readonly spans: ReadonlyArray<SpanView>; readonly label: string }) => {
  const [selected, setSelected] = useState<string | undefined>(undefined)
  if (spans.length === 0) return html`<p class="muted">No spans yet.</p>`
  const start = Math.min(...spans.map((s) => s.startMs))
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs))
  const scale = { start, total: end - start }
  return html`<div class="trace-view">
    <ul class="trace" role="tree" aria-label=${label}>
      ${
    toTree(spans).map((n) =>
      html`<${Row} node=${n} scale=${scale} selected=${selected} onSelect=${(s: SpanView) => setSelected(s.spanId)} />`
    )
  }
    </ul>
    <aside class="span-details" aria-live="polite" aria-label="Span details">
      <${Details} span=${spans.find((s) => s.spanId === selected)} />
    </aside>
  </div>`
}
