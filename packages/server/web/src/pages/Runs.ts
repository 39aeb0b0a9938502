/**
 * The run viewer (developers): a pipeline's diagram, the runs, and the live trace tree of a run
 * (spans with durations, tokens, dollars and errors), refreshed while the run is going.
 */
import { useEffect, useState } from "preact/hooks"
import type { Run } from "../api.js"
import * as Api from "../api.js"
import { Diagram } from "../components/Diagram.js"
import { ErrorBox, useLoad } from "../components/Status.js"
import { TraceTree } from "../components/TraceTree.js"
import { int, ms, usd, when } from "../format.js"
import { html } from "../html.js"
import { href, navigate } from "../router.js"

const RunView = ({ id }: { readonly id: string }) => {
  const [run, setRun] = useState<Run | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const load = () =>
      Api.getRun(id).then(
        (r) => {
          if (!live) return
          setRun(r)
          if (r.status === "running") timer = setTimeout(load, 1500)
        },
        (e: unknown) => live && setError(e)
      )
    void load()
    return () => {
      live = false
      if (timer) clearTimeout(timer)
    }
  }, [id])
  if (error !== undefined) return html`<${ErrorBox} error=${error} />`
  if (run === undefined) return html`<p role="status">Loading the run…</p>`
  return html`
    <section aria-labelledby="run-h" class="run" data-run=${run.id}>
      <h2 id="run-h">Run of ${run.pipeline} <span class=${`badge ${run.status}`} data-testid="run-status">${run.status}</span></h2>
      <dl class="stats small">
        <div class="stat"><dt>Started</dt><dd>${when(run.startedAt)}</dd></div>
        <div class="stat"><dt>Duration</dt><dd>${
    run.endedAt !== undefined ? ms(run.endedAt - run.startedAt) : "running"
  }</dd></div>
        <div class="stat"><dt>Spans</dt><dd data-testid="span-count">${int(run.totals.spans)}</dd></div>
        <div class="stat"><dt>Errors</dt><dd>${int(run.totals.errors)}</dd></div>
        <div class="stat"><dt>Tokens</dt><dd data-testid="run-tokens">${
    int(run.totals.inputTokens + run.totals.outputTokens)
  }</dd></div>
        <div class="stat"><dt>Dollars</dt><dd data-testid="run-cost">${usd(run.totals.costUsd)}</dd></div>
      </dl>
      ${run.error ? html`<p class="error" role="alert">${run.error}</p>` : null}
      ${run.output ? html`<details><summary>Output</summary><pre class="output">${run.output}</pre></details>` : null}
      <h3>Trace</h3>
      <${TraceTree} spans=${run.spans} label=${`Trace of run ${run.id}`} />
      <details class="run-diagram" open><summary>Diagram of ${run.pipeline}</summary><${Diagram} mermaid=${run.diagram} title=${run.pipeline} /></details>
    </section>
  `
}

export const RunsPage = ({ id }: { readonly id?: string | undefined }) => {
  const runs = useLoad(() => Api.listRuns(), [id])
  const pipes = useLoad(() => Api.pipelines(), [])
  const [text, setText] = useState("I keep missing deadlines and my team is frustrated.")
  const [starting, setStarting] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const start = (e: Event) => {
    e.preventDefault()
    setStarting(true)
    setError(undefined)
    Api.startRun("coaching", text).then(
      (r) => {
        setStarting(false)
        navigate(["runs", r.id])
      },
      (err: unknown) => {
        setStarting(false)
        setError(err)
      }
    )
  }
  return html`
    <h1 tabindex="-1">Runs</h1>
    <div class="split">
      <section aria-labelledby="runs-h" class="list">
        <h2 id="runs-h">Start a run</h2>
        <form onSubmit=${start}>
          <label for="run-message">Coaching message</label>
          <textarea id="run-message" rows="3" value=${text} onInput=${(e: Event) =>
    setText((e.target as HTMLTextAreaElement).value)}></textarea>
          <button type="submit" disabled=${starting}>${starting ? "Running…" : "Run the coaching pipeline"}</button>
        </form>
        <${ErrorBox} error=${error ?? runs.error} />
        <h2>Recent runs</h2>
        <ul class="runs">${
    (runs.data ?? []).map((r) =>
      html`<li><a href=${href(["runs", r.id])} aria-current=${r.id === id ? "true" : undefined}>${r.pipeline} · ${
        when(r.startedAt)
      }</a>
            <span class=${`badge ${r.status}`}>${r.status}</span></li>`
    )
  }</ul>
        ${runs.data !== undefined && runs.data.length === 0 ? html`<p class="muted">No runs yet.</p>` : null}
      </section>
      <section class="detail">
        ${
    id !== undefined
      ? html`<${RunView} id=${id} />`
      : html`<h2>Pipelines</h2>${
        (pipes.data ?? []).map((p) =>
          html`<article class="pipeline"><h3>${p.name}</h3><p>${p.description}</p><${Diagram} mermaid=${p.diagram} title=${p.name} /></article>`
        )
      }<${ErrorBox} error=${pipes.error} />`
  }
      </section>
    </div>
  `
}
