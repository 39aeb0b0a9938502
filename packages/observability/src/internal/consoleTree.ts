/**
 * A span processor that prints a readable tree of each finished trace when its root span ends.
 *
 * @internal
 */
import { Attributes as Names } from "@braid/core"
import type { Context } from "@opentelemetry/api"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base"

const millis = (span: ReadableSpan) => span.duration[0] * 1e3 + span.duration[1] / 1e6

const num = (v: unknown): number => (typeof v === "number" ? v : 0)

interface Totals {
  input: number
  output: number
  cost: number
  calls: number
}

/**
 * Model-call spans (`chat {model}`) carry a GenAI operation that is not an agent's or a tool's.
 * Tokens and cost are read from them alone: other spans may repeat the usage of the calls they
 * made (an agent annotates its turn's usage on its own span), which would count it twice.
 */
const isModelCall = (span: ReadableSpan): boolean => {
  const op = span.attributes[Names.GenAI.operationName]
  return op !== undefined && op !== Names.GenAIOperation.invokeAgent && op !== Names.GenAIOperation.executeTool &&
    op !== Names.GenAIOperation.createAgent
}

const formatMillis = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`)

const formatUsd = (usd: number) => (usd >= 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(6)}`)

/**
 * Renders the tree of `spans` (one trace), roots first, children in start order. A span's
 * tokens and cost are the sum over the model-call spans in its subtree (itself included).
 */
export const render = (spans: ReadonlyArray<ReadableSpan>): string => {
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  const children = new Map<string, Array<ReadableSpan>>()
  const roots: Array<ReadableSpan> = []
  for (const s of spans) {
    const parent = s.parentSpanContext?.spanId
    if (parent === undefined || !ids.has(parent)) roots.push(s)
    else {
      const list = children.get(parent) ?? []
      list.push(s)
      children.set(parent, list)
    }
  }
  const start = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1]
  for (const list of children.values()) list.sort((a, b) => start(a) - start(b))
  roots.sort((a, b) => start(a) - start(b))

  const totals = new Map<string, Totals>()
  const total = (s: ReadableSpan): Totals => {
    const id = s.spanContext().spanId
    const cached = totals.get(id)
    if (cached) return cached
    const a = s.attributes
    const t: Totals = isModelCall(s)
      ? {
        // cache reads and writes are counted in `gen_ai.usage.input_tokens`
        input: num(a[Names.GenAI.usageInputTokens]),
        output: num(a[Names.GenAI.usageOutputTokens]),
        cost: num(a[Names.Braid.costUsd]),
        calls: 1
      }
      : { input: 0, output: 0, cost: 0, calls: 0 }
    for (const c of children.get(id) ?? []) {
      const ct = total(c)
      t.input += ct.input
      t.output += ct.output
      t.cost += ct.cost
      t.calls += ct.calls
    }
    totals.set(id, t)
    return t
  }

  const lines: Array<string> = []
  const line = (s: ReadableSpan, prefix: string, connector: string) => {
    const t = total(s)
    const parts = [`${connector}${s.name}`, formatMillis(millis(s))]
    if (s.status.code === SpanStatusCode.ERROR) {
      parts.push(`✗ ${String(s.attributes[Names.General.errorType] ?? s.status.message ?? "error")}`)
    }
    if (t.calls > 0) {
      const est = s.attributes[Names.Braid.usageEstimated] === true ? "~" : ""
      parts.push(`${est}${t.input} in / ${est}${t.output} out tokens`)
      parts.push(formatUsd(t.cost))
    }
    for (const e of s.events) {
      if (e.name === Names.Braid.costAlert) parts.push(`⚠ cost alert`)
    }
    lines.push(prefix + parts.join("  "))
  }
  const walk = (s: ReadableSpan, prefix: string, isLast: boolean, isRoot: boolean) => {
    line(s, isRoot ? "" : prefix, isRoot ? "" : isLast ? "└─ " : "├─ ")
    const kids = children.get(s.spanContext().spanId) ?? []
    const next = isRoot ? "" : prefix + (isLast ? "   " : "│  ")
    kids.forEach((k, i) => walk(k, next, i === kids.length - 1, false))
  }
  for (const r of roots) {
    const run = r.attributes[Names.Braid.runId]
    if (run !== undefined) lines.push(`run ${String(run)}`)
    walk(r, "", true, true)
  }
  return lines.join("\n")
}

/** Collects spans per trace and writes the tree when the trace's root span ends. */
export class ConsoleTreeProcessor implements SpanProcessor {
  private readonly traces = new Map<string, Array<ReadableSpan>>()
  constructor(private readonly write: (text: string) => void) {}
  onStart(_span: Span, _parentContext: Context): void {}
  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId
    const list = this.traces.get(traceId) ?? []
    list.push(span)
    if (span.parentSpanContext === undefined || span.parentSpanContext.isRemote === true) {
      this.traces.delete(traceId)
      this.write(render(list))
    } else {
      this.traces.set(traceId, list)
      // a trace whose root never ends here (e.g. its parent lives in another process) must not
      // grow without bound: forget the oldest pending traces
      if (this.traces.size > 1000) this.traces.delete(this.traces.keys().next().value!)
    }
  }
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }
  shutdown(): Promise<void> {
    this.traces.clear()
    return Promise.resolve()
  }
}
