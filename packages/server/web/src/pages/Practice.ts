/**
 * A practice session: the transcript, the client's reply streaming in, the end reason, the
 * evaluation (per-skill scores and notes), practise again, export.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import type { EvaluationRecord, Me, MessageRecord, ScenarioRecord, SessionRecord } from "../api.js"
import * as Api from "../api.js"
import { ErrorBox, message } from "../components/Status.js"
import { endReason, ms, usd } from "../format.js"
import { html } from "../html.js"
import { download, subscribe } from "../http.js"
import { navigate } from "../router.js"

interface Streaming {
  readonly turnId: string
  readonly text: string
}

const Evaluation = (
  { admin, names, onRequeue, record }: {
    readonly record: EvaluationRecord | undefined
    readonly names: ReadonlyMap<string, string>
    readonly admin: boolean
    readonly onRequeue: () => Promise<void>
  }
) => {
  const [requeueing, setRequeueing] = useState(false)
  const [requeueError, setRequeueError] = useState<unknown>(undefined)
  if (record === undefined || record.status === "pending" || record.status === "running") {
    return html`<section class="evaluation" aria-labelledby="eval-h" aria-busy="true">
      <h2 id="eval-h">Evaluation</h2><p role="status">The evaluation is being prepared…</p></section>`
  }
  if (record.status === "failed" || record.result === undefined) {
    return html`<section class="evaluation" aria-labelledby="eval-h"><h2 id="eval-h">Evaluation</h2>
      <p class="error" role="alert">The evaluation failed${record.error ? `: ${record.error}` : ""}.</p>
      ${
      admin
        ? html`<div class="actions"><button type="button" data-testid="requeue" disabled=${requeueing}
            aria-describedby="requeue-help" onClick=${() => {
          setRequeueing(true)
          setRequeueError(undefined)
          onRequeue().then(() => setRequeueing(false), (e: unknown) => {
            setRequeueing(false)
            setRequeueError(e)
          })
        }}>${requeueing ? "Requeueing…" : "Requeue"}</button></div>
          <p id="requeue-help" class="help">Puts the evaluation back in the queue; it runs again at once.</p>
          <${ErrorBox} error=${requeueError} />`
        : null
    }</section>`
  }
  const r = record.result
  return html`<section class="evaluation" aria-labelledby="eval-h" data-testid="evaluation">
    <h2 id="eval-h">Evaluation</h2>
    <p class="overall">Overall <strong data-testid="overall">${r.overall.toFixed(1)}</strong> / 5</p>
    <p>${r.summary}</p>
    <table>
      <caption>Scores per skill (1 to 5)</caption>
      <thead><tr><th scope="col">Skill</th><th scope="col">Score</th><th scope="col">Notes</th></tr></thead>
      <tbody>${
    r.skills.map((s) =>
      html`<tr data-skill=${s.skillId}><th scope="row">${names.get(s.skillId) ?? s.skillId}</th>
        <td><meter min="1" max="5" value=${s.score} aria-label=${`${s.skillId} score`}></meter> ${s.score}</td><td>${s.notes}</td></tr>`
    )
  }</tbody>
    </table>
  </section>`
}

export const PracticePage = ({ id, me }: { readonly id: string; readonly me: Me }) => {
  const [session, setSession] = useState<SessionRecord | undefined>(undefined)
  const [msgs, setMsgs] = useState<ReadonlyArray<MessageRecord>>([])
  const [streaming, setStreaming] = useState<Streaming | undefined>(undefined)
  const [evaluation, setEvaluation] = useState<EvaluationRecord | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [loadError, setLoadError] = useState<unknown>(undefined)
  const [draft, setDraft] = useState("")
  const [sending, setSending] = useState(false)
  const [link, setLink] = useState<"open" | "reconnecting" | "closed">("closed")
  const logRef = useRef<HTMLOListElement>(null)

  const [position, setPosition] = useState(0)
  const [scenario, setScenario] = useState<ScenarioRecord | undefined>(undefined)
  useEffect(() => {
    if (session?.scenarioId !== undefined) {
      Api.getScenario(session.scenarioId).then(setScenario, () => setScenario(undefined))
    }
  }, [session?.scenarioId])

  const refresh = async () => {
    const [detail, m] = await Promise.all([Api.getSession(id), Api.messages(id)])
    setSession(detail.session)
    setPosition(detail.position)
    setMsgs(m.items)
    if (detail.evaluation !== undefined) setEvaluation(detail.evaluation)
    return detail.session
  }
  const loadEvaluation = () =>
    Api.evaluation(id).then((v) => v.evaluation !== undefined && setEvaluation(v.evaluation), setError)

  useEffect(() => {
    setLoadError(undefined)
    refresh().catch(setLoadError)
    const stop = subscribe(Api.eventsPath(id), (ev) => {
      let data: any
      try {
        data = JSON.parse(ev.data)
      } catch {
        return
      }
      const tag: string = data?._tag ?? ev.type
      if (tag === "AiTurnDelta") {
        setStreaming((s) =>
          s !== undefined && s.turnId === data.turnId
            ? { turnId: s.turnId, text: s.text + data.delta }
            : { turnId: data.turnId, text: data.delta }
        )
      } else if (tag === "AiTurn" || tag === "LearnerMessage") {
        if (tag === "AiTurn") setStreaming(undefined)
        setMsgs((list) =>
          list.some((m) => m.seq === data.seq)
            ? list
            : [
              ...list,
              {
                sessionId: id,
                seq: data.seq,
                role: tag === "AiTurn" ? "assistant" : "user",
                text: data.text,
                createdAt: data.at,
                turnId: data.turnId,
                inputTokens: 0,
                outputTokens: 0,
                costUsd: 0,
                estimated: false,
                fallback: data.fallback ?? false
              } as MessageRecord
            ].sort((a, b) => a.seq - b.seq)
        )
      } else if (tag === "SessionEnded" || tag === "SessionStarted") {
        setStreaming(undefined)
        refresh().catch(() => {})
      } else if (tag === "EvaluationReady") {
        void loadEvaluation()
      }
    }, setLink)
    return stop
  }, [id])

  // the evaluation also arrives by polling, should its event be missed (a reconnect, another process)
  const waiting = session?.status === "completed" &&
    (evaluation === undefined || evaluation.status === "pending" || evaluation.status === "running")
  useEffect(() => {
    if (!waiting) return
    const timer = setInterval(() => void loadEvaluation(), 3000)
    return () => clearInterval(timer)
  }, [waiting])

  useEffect(() => {
    const el = logRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [msgs.length, streaming?.text])

  const doSend = () => {
    const text = draft.trim()
    if (text.length === 0 || sending) return
    setSending(true)
    setError(undefined)
    Api.send(id, text).then(
      () => {
        setDraft("")
        setSending(false)
        return refresh()
      },
      (e: unknown) => {
        setSending(false)
        setError(e)
      }
    )
  }

  if (loadError !== undefined) {
    return html`<h1 tabindex="-1">Session not available</h1><p class="error" role="alert" data-testid="load-error">${
      message(loadError)
    }</p>
      <p><a href="#/history">Back to your history</a></p>`
  }
  if (session === undefined) return html`<h1 tabindex="-1">Session</h1><p role="status">Loading the session…</p>`

  const done = session.status === "completed"
  return html`
    <h1 tabindex="-1">${session.title ?? session.scenarioId ?? "Practice"}</h1>
    <p class="muted session-meta">
      <span data-testid="status">${session.status}</span>${` · ${session.totals.messages} messages · ${
    usd(session.totals.costUsd)
  } · `}<span class=${`link-${link}`}>${
    link === "open" ? "live" : link === "reconnecting" ? "reconnecting…" : "offline"
  }</span>
    </p>
    ${
    scenario !== undefined
      ? html`<details class="brief"><summary>Your brief: ${scenario.persona.name}, ${scenario.persona.difficulty}</summary>
        <p>${scenario.description ?? scenario.persona.background}</p>
        <p><strong>Objectives</strong></p><ul>${scenario.objectives.map((o) => html`<li>${o}</li>`)}</ul>
        <p><strong>Skills scored</strong>: ${scenario.skills.map((k) => k.name).join(", ")}</p></details>`
      : null
  }
    <ol class="transcript" ref=${logRef} aria-label="Conversation" tabindex="0">
      ${
    msgs.filter((m) => m.role !== "system").map((m) =>
      html`<li class=${`msg ${m.role}${m.fallback ? " fallback" : ""}`} data-role=${m.role}>
        <span class="who">${m.role === "user" ? "You" : "Client"}</span><p>${m.text}</p></li>`
    )
  }
      ${
    streaming !== undefined
      ? html`<li class="msg assistant streaming" data-testid="streaming"><span class="who">Client</span><p>${streaming.text}<span class="cursor" aria-hidden="true">▍</span></p></li>`
      : null
  }
    </ol>
    <div class="visually-hidden" aria-live="polite" data-testid="live">${
    streaming !== undefined
      ? "The client is replying"
      : msgs.length > 0
      ? `${msgs[msgs.length - 1]!.role === "user" ? "You" : "Client"}: ${msgs[msgs.length - 1]!.text}`
      : ""
  }</div>
    <${ErrorBox} error=${error} />
    ${
    done
      ? html`<section class="ended" aria-labelledby="ended-h" data-testid="ended">
          <h2 id="ended-h">Session ended</h2>
          <p>Reason: <strong data-testid="end-reason">${endReason(session.endReason)}</strong>${
        session.durationMs !== undefined ? ` after ${ms(session.durationMs)}` : ""
      }.</p>
          ${session.endMessage ? html`<p>${session.endMessage}</p>` : null}
          <div class="actions">
            <button type="button" onClick=${() =>
        Api.practiseAgain(id).then((s) => navigate(["practice", s.session.id]), setError)}>Practise again</button>
            <button type="button" class="secondary" onClick=${() =>
        download(Api.exportPath(id), `${id}.md`).catch(setError)}>Export transcript</button>
            <button type="button" class="secondary danger" onClick=${() => {
        if (confirm("Delete this session and its transcript?")) {
          Api.deleteSession(id).then(
            () => navigate(["history"]),
            setError
          )
        }
      }}>Delete</button>
          </div>
        </section>
        <${Evaluation} record=${evaluation} names=${new Map((scenario?.skills ?? []).map((k) => [k.id, k.name]))}
          admin=${me.role === "admin"} onRequeue=${() =>
        Api.requeueEvaluation(id).then((v) => {
          if (v.evaluation !== undefined) setEvaluation(v.evaluation)
        })} />`
      : html`<form class="composer" onSubmit=${(e: Event) => {
        e.preventDefault()
        doSend()
      }}>
          <label for="message">Your message</label>
          <textarea id="message" rows="3" value=${draft} disabled=${session.status !== "active"}
            aria-describedby="message-help"
            onInput=${(e: Event) => setDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown=${(e: KeyboardEvent) => {
        if (e.key === "Enter" && !e.shiftKey) {
          e.preventDefault()
          doSend()
        }
      }}></textarea>
          <p id="message-help" class="help">${
        session.status === "queued"
          ? `You are number ${position} in the queue; the session starts when a place frees.`
          : "Enter sends, Shift+Enter starts a new line."
      }</p>
          <div class="actions">
            <button type="submit" disabled=${sending || session.status !== "active"}>${
        sending ? "Sending…" : "Send"
      }</button>
            <button type="button" class="secondary" onClick=${() =>
        Api.end(id).then(() => refresh(), setError)}>End session</button>
          </div>
        </form>`
  }
  `
}
