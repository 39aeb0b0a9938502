/**
 * Meetings and evaluation runs (teachers, admins): start a meeting of agents on a preset, follow
 * its status and read its minutes, decisions and action items; start an evaluation run on a
 * sample dataset (optionally against a baseline), follow its progress and read its report.
 */
import { useEffect, useState } from "preact/hooks"
import type { EvaluationReport, EvaluationRun, EvaluationTarget, MeetingResult, MeetingRun } from "../api.js"
import * as Api from "../api.js"
import { ErrorBox, useLoad } from "../components/Status.js"
import { when } from "../format.js"
import { html } from "../html.js"
import { href, navigate } from "../router.js"

/** Polls `load` every 1.5 s while `running` says so. */
const usePoll = <A>(load: () => Promise<A>, running: (a: A) => boolean, deps: ReadonlyArray<unknown>) => {
  const [data, setData] = useState<A | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    let live = true
    let timer: ReturnType<typeof setTimeout> | undefined
    setData(undefined)
    setError(undefined)
    const tick = () =>
      load().then(
        (a) => {
          if (!live) return
          setData(a)
          if (running(a)) timer = setTimeout(tick, 1500)
        },
        (e: unknown) => live && setError(e)
      )
    void tick()
    return () => {
      live = false
      if (timer) clearTimeout(timer)
    }
  }, deps)
  return { data, error }
}

const MeetingView = ({ id }: { readonly id: string }) => {
  const run = usePoll(() => Api.getMeeting(id), (m) => m.status === "running", [id])
  const [result, setResult] = useState<MeetingResult | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    if (run.data?.status === "completed") Api.meetingResult(id).then(setResult, setError)
  }, [run.data?.status])
  if (run.error !== undefined) return html`<${ErrorBox} error=${run.error} />`
  const m = run.data
  if (m === undefined) return html`<p role="status">Loading the meeting…</p>`
  return html`<section aria-labelledby="meeting-h" class="run" data-testid="meeting">
    <h2 id="meeting-h">${m.title} <span class=${`badge ${m.status}`} data-testid="meeting-status">${m.status}</span></h2>
    <p class="muted">Hosted by ${m.host} with ${m.participants.join(", ")} · ${when(m.startedAt)}${
    m.turns !== undefined ? ` · ${m.turns} turns` : ""
  }</p>
    <p><strong>Agenda</strong></p><ol>${m.agenda.map((a) => html`<li>${a}</li>`)}</ol>
    ${m.error ? html`<p class="error" role="alert">${m.error}</p>` : null}
    ${m.status === "running" ? html`<p role="status" aria-busy="true">The meeting is under way…</p>` : null}
    <${ErrorBox} error=${error} />
    ${
    result !== undefined
      ? html`<h3>Minutes</h3><p data-testid="minutes">${result.minutes}</p>
        <h3>Decisions</h3><ul data-testid="decisions">${result.decisions.map((d) => html`<li>${d.decision}</li>`)}</ul>
        <h3>Action items</h3><ul data-testid="action-items">${
        result.actionItems.map((a) =>
          html`<li><strong>${a.owner}</strong>: ${a.task}${a.due ? ` (due ${a.due})` : ""}</li>`
        )
      }</ul>
        ${
        result.transcript !== undefined
          ? html`<details><summary>Transcript</summary><pre class="output">${result.transcript}</pre></details>`
          : null
      }`
      : null
  }
  </section>`
}

const fmt = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(2))

const EvaluationView = ({ id }: { readonly id: string }) => {
  const run = usePoll(() => Api.getEvaluationRun(id), (r) => r.status === "running", [id])
  const [report, setReport] = useState<EvaluationReport | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    if (run.data?.status === "completed") Api.evaluationReport(id).then(setReport, setError)
  }, [run.data?.status])
  if (run.error !== undefined) return html`<${ErrorBox} error=${run.error} />`
  const r = run.data
  if (r === undefined) return html`<p role="status">Loading the evaluation run…</p>`
  const metrics = report !== undefined ? Object.keys(report.means) : []
  return html`<section aria-labelledby="eval-run-h" class="run" data-testid="evaluation-run">
    <h2 id="eval-run-h">Evaluation of ${r.target}${
    r.baseline ? ` against ${r.baseline}` : ""
  } <span class=${`badge ${r.status}`}
      data-testid="evaluation-status">${r.status}</span></h2>
    <p class="muted">${r.dataset} · ${when(r.startedAt)}</p>
    <p><label for="eval-progress">Progress</label>
      <progress id="eval-progress" max=${r.progress.total} value=${r.progress.done}></progress>
      ${r.progress.done} / ${r.progress.total} conversations</p>
    ${r.error ? html`<p class="error" role="alert">${r.error}</p>` : null}
    <${ErrorBox} error=${error} />
    ${
    report !== undefined
      ? html`
        ${
        report.gate !== undefined
          ? html`<p data-testid="gate" class=${report.gate.passed ? "ok" : "error"}>Regression gate: <strong>${
            report.gate.passed ? "passed" : "failed"
          }</strong>${report.gate.failures.length > 0 ? `: ${report.gate.failures.join("; ")}` : ""}</p>`
          : null
      }
        <table>
          <caption>Mean score per metric</caption>
          <thead><tr><th scope="col">Metric</th><th scope="col">${report.target}</th>${
        report.baseline ? html`<th scope="col">${report.baseline.target}</th>` : null
      }</tr></thead>
          <tbody>${
        metrics.map((k) =>
          html`<tr><th scope="row">${k}</th><td>${fmt(report.means[k])}</td>${
            report.baseline ? html`<td>${fmt(report.baseline.means[k])}</td>` : null
          }</tr>`
        )
      }</tbody>
        </table>
        ${
        report.failures.length > 0
          ? html`<h3>Not scored</h3><ul>${
            report.failures.map((f) => html`<li>${f.conversationId} (${f.metric}): ${f.reason}</li>`)
          }</ul>`
          : null
      }`
      : null
  }
  </section>`
}

export const MeetingsPage = (
  { kind, id }: { readonly kind?: string | undefined; readonly id?: string | undefined }
) => {
  const meetings = useLoad(() => Api.listMeetings(), [kind, id])
  const evaluations = useLoad(() => Api.listEvaluationRuns(), [kind, id])
  const [title, setTitle] = useState("Launch readiness review")
  const [agenda, setAgenda] = useState("Is the release ready to ship on Friday?\nWho owns the rollback plan?")
  const [target, setTarget] = useState<EvaluationTarget>("prompt-v2")
  const [baseline, setBaseline] = useState<"" | EvaluationTarget>("prompt-v1")
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const go = <A extends { readonly id: string }>(p: Promise<A>, to: string) => {
    setBusy(true)
    setError(undefined)
    p.then((a) => {
      setBusy(false)
      navigate(["meetings", to, a.id])
    }, (e: unknown) => {
      setBusy(false)
      setError(e)
    })
  }
  const items = agenda.split("\n").map((l) => l.trim()).filter((l) => l !== "")
  return html`
    <h1 tabindex="-1">Meetings and evaluations</h1>
    <div class="split">
      <section class="list" aria-labelledby="start-meeting-h">
        <h2 id="start-meeting-h">Start a meeting</h2>
        <form onSubmit=${(e: Event) => {
    e.preventDefault()
    go(
      Api.startMeeting({
        preset: "launch-review",
        ...(title.trim() !== "" ? { title: title.trim() } : {}),
        ...(items.length > 0 ? { agenda: items } : {})
      }),
      "meeting"
    )
  }}>
          <p class="help">Preset: launch review (Maya, product lead, hosts Grace, engineering lead, and Linus, support lead).</p>
          <label for="meeting-title">Title</label>
          <input id="meeting-title" maxlength="200" value=${title} onInput=${(e: Event) =>
    setTitle((e.target as HTMLInputElement).value)} />
          <label for="meeting-agenda">Agenda (one item per line)</label>
          <textarea id="meeting-agenda" rows="3" value=${agenda} onInput=${(e: Event) =>
    setAgenda((e.target as HTMLTextAreaElement).value)}></textarea>
          <button type="submit" disabled=${busy}>Start the meeting</button>
        </form>
        <h2 id="start-eval-h">Start an evaluation run</h2>
        <form aria-labelledby="start-eval-h" onSubmit=${(e: Event) => {
    e.preventDefault()
    go(
      Api.startEvaluationRun({
        dataset: "coaching-prompts",
        target,
        ...(baseline !== "" ? { baseline } : {})
      }),
      "evaluation"
    )
  }}>
          <p class="help">Dataset: coaching prompts (sample conversations of two versions of the coach's prompt).</p>
          <label for="eval-target">Target</label>
          <select id="eval-target" value=${target} onChange=${(e: Event) =>
    setTarget((e.target as HTMLSelectElement).value as EvaluationTarget)}>
            <option value="prompt-v1">prompt-v1</option><option value="prompt-v2">prompt-v2</option>
          </select>
          <label for="eval-baseline">Baseline (for the regression gate)</label>
          <select id="eval-baseline" value=${baseline} onChange=${(e: Event) =>
    setBaseline((e.target as HTMLSelectElement).value as "" | EvaluationTarget)}>
            <option value="">none</option><option value="prompt-v1">prompt-v1</option><option value="prompt-v2">prompt-v2</option>
          </select>
          <button type="submit" disabled=${busy}>Start the evaluation</button>
        </form>
        <${ErrorBox} error=${error ?? meetings.error ?? evaluations.error} />
        <h2>Recent meetings</h2>
        <ul class="runs">${
    (meetings.data ?? []).map((m: MeetingRun) =>
      html`<li><a href=${href(["meetings", "meeting", m.id])} aria-current=${
        m.id === id ? "true" : undefined
      }>${m.title} · ${when(m.startedAt)}</a> <span class=${`badge ${m.status}`}>${m.status}</span></li>`
    )
  }</ul>
        <h2>Recent evaluation runs</h2>
        <ul class="runs">${
    (evaluations.data ?? []).map((r: EvaluationRun) =>
      html`<li><a href=${href(["meetings", "evaluation", r.id])} aria-current=${
        r.id === id ? "true" : undefined
      }>${r.target} · ${when(r.startedAt)}</a> <span class=${`badge ${r.status}`}>${r.status}</span></li>`
    )
  }</ul>
      </section>
      <section class="detail">
        ${
    id === undefined
      ? html`<p class="muted">Start a meeting or an evaluation run, or open a recent one.</p>`
      : kind === "evaluation"
      ? html`<${EvaluationView} key=${id} id=${id} />`
      : html`<${MeetingView} key=${id} id=${id} />`
  }
      </section>
    </div>
  `
}
