/**
 * Coaching: start a session with the coach (morning goals or evening review) and chat; the
 * coach's replies arrive on the session's events as they are given, the session ends when the
 * coach writes the goals (or the review), on "End session", or after a quiet while.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import type { MessageRecord, SessionRecord } from "../api.js"
import * as Api from "../api.js"
import { ErrorBox, message, useLoad } from "../components/Status.js"
import { endReason, usd, when } from "../format.js"
import { html } from "../html.js"
import { subscribe } from "../http.js"
import { href, navigate } from "../router.js"

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)

const StartForm = () => {
  const [phase, setPhase] = useState<"morning" | "evening">("morning")
  const [name, setName] = useState("")
  const [aspirations, setAspirations] = useState("")
  const [starting, setStarting] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const recent = useLoad(() => Api.listCoaching(), [])
  const start = (e: Event) => {
    e.preventDefault()
    setStarting(true)
    setError(undefined)
    Api.startCoaching({
      phase,
      ...(name.trim() !== "" ? { name: name.trim() } : {}),
      aspirations: lines(aspirations)
    }).then(
      (s) => navigate(["coaching", s.id]),
      (err: unknown) => {
        setStarting(false)
        setError(err)
      }
    )
  }
  return html`
    <h1 tabindex="-1">Coaching</h1>
    <form class="coaching-start" onSubmit=${start}>
      <fieldset>
        <legend>Session</legend>
        <label class="inline"><input type="radio" name="phase" value="morning" checked=${phase === "morning"}
          onChange=${() => setPhase("morning")} /> Morning: agree on today's goals</label>
        <label class="inline"><input type="radio" name="phase" value="evening" checked=${phase === "evening"}
          onChange=${() => setPhase("evening")} /> Evening: review the day</label>
      </fieldset>
      <label for="coach-name">Your name (optional)</label>
      <input id="coach-name" maxlength="100" value=${name} onInput=${(e: Event) =>
    setName((e.target as HTMLInputElement).value)} />
      <label for="coach-aspirations">What you want to achieve (one per line, optional)</label>
      <textarea id="coach-aspirations" rows="3" value=${aspirations} onInput=${(e: Event) =>
    setAspirations((e.target as HTMLTextAreaElement).value)}></textarea>
      <button type="submit" disabled=${starting}>${starting ? "Starting…" : "Start coaching"}</button>
    </form>
    <${ErrorBox} error=${error ?? recent.error} />
    <h2>Your coaching sessions</h2>
    <ul class="runs">${
    (recent.data?.items ?? []).map((s) =>
      html`<li><a href=${href(["coaching", s.id])}>${s.title ?? "coaching"} · ${when(s.createdAt)}</a>
        <span class=${`badge ${s.status}`}>${s.status}</span></li>`
    )
  }</ul>
    ${recent.data !== undefined && recent.data.items.length === 0 ? html`<p class="muted">No sessions yet.</p>` : null}
  `
}

const Chat = ({ id }: { readonly id: string }) => {
  const [session, setSession] = useState<SessionRecord | undefined>(undefined)
  const [msgs, setMsgs] = useState<
    ReadonlyArray<{ readonly role: string; readonly text: string; readonly key: string }>
  >(
    []
  )
  const [draft, setDraft] = useState("")
  const [sending, setSending] = useState(false)
  const [error, setError] = useState<unknown>(undefined)
  const [loadError, setLoadError] = useState<unknown>(undefined)
  const [objective, setObjective] = useState<string | undefined>(undefined)
  const [link, setLink] = useState<"open" | "reconnecting" | "closed">("closed")
  const logRef = useRef<HTMLOListElement>(null)

  const refresh = async () => {
    const [detail, m] = await Promise.all([Api.getSession(id), Api.messages(id)])
    setSession(detail.session)
    setMsgs(
      m.items.filter((x: MessageRecord) => x.role !== "system").map((x: MessageRecord) => ({
        role: x.role,
        text: x.text,
        key: `seq-${x.seq}`
      }))
    )
  }

  useEffect(() => {
    refresh().catch(setLoadError)
    return subscribe(Api.eventsPath(id), (ev) => {
      let data: any
      try {
        data = JSON.parse(ev.data)
      } catch {
        return
      }
      const tag: string = data?._tag ?? ev.type
      if (tag === "CoachingUserMessage" || tag === "CoachingAgentResponse") {
        const key = `event-${data.eventId}`
        const role = tag === "CoachingUserMessage" ? "user" : "assistant"
        setMsgs((list) =>
          list.some((m) => m.key === key) ||
            // already loaded from the store (same role and text at the end)
            (list.length > 0 && list[list.length - 1]!.role === role && list[list.length - 1]!.text === data.text)
            ? list
            : [...list, { role, text: data.text, key }]
        )
      } else if (tag === "SessionEnded") {
        refresh().catch(() => {})
      }
    }, setLink)
  }, [id])

  useEffect(() => {
    const el = logRef.current
    if (el) el.scrollTop = el.scrollHeight
  }, [msgs.length, sending])

  const doSend = () => {
    const text = draft.trim()
    if (text.length === 0 || sending) return
    setSending(true)
    setError(undefined)
    Api.sendCoaching(id, text).then(
      (turn) => {
        setDraft("")
        setSending(false)
        setSession(turn.session)
        if (turn.objective !== undefined) setObjective(turn.objective)
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
    }</p><p><a href="#/coaching">Back to coaching</a></p>`
  }
  if (session === undefined) return html`<h1 tabindex="-1">Coaching</h1><p role="status">Loading the session…</p>`
  const done = session.status === "completed"
  const last = msgs[msgs.length - 1]
  return html`
    <h1 tabindex="-1">${session.title ?? "Coaching"}</h1>
    <p class="muted session-meta"><span data-testid="status">${session.status}</span>${` · ${session.totals.messages} messages · ${
    usd(session.totals.costUsd)
  } · `}<span class=${`link-${link}`}>${
    link === "open" ? "live" : link === "reconnecting" ? "reconnecting…" : "offline"
  }</span></p>
    <ol class="transcript" ref=${logRef} aria-label="Conversation with the coach" tabindex="0">
      ${
    msgs.map((m) =>
      html`<li class=${`msg ${m.role}`} data-role=${m.role} key=${m.key}><span class="who">${
        m.role === "user" ? "You" : "Coach"
      }</span><p>${m.text}</p></li>`
    )
  }
      ${
    sending
      ? html`<li class="msg assistant streaming" data-testid="coach-typing"><span class="who">Coach</span><p>…<span class="cursor" aria-hidden="true">▍</span></p></li>`
      : null
  }
    </ol>
    <div class="visually-hidden" aria-live="polite" data-testid="live">${
    sending
      ? "The coach is replying"
      : last !== undefined
      ? `${last.role === "user" ? "You" : "Coach"}: ${last.text}`
      : ""
  }</div>
    <${ErrorBox} error=${error} />
    ${
    done
      ? html`<section class="ended" aria-labelledby="ended-h" data-testid="ended">
          <h2 id="ended-h">Session ended</h2>
          <p>Reason: <strong data-testid="end-reason">${endReason(session.endReason)}</strong>.</p>
          ${objective !== undefined ? html`<p data-testid="objective">${objective}</p>` : null}
          ${session.endMessage ? html`<p>${session.endMessage}</p>` : null}
          <p><a href="#/coaching">Start another session</a></p>
        </section>`
      : html`<form class="composer" onSubmit=${(e: Event) => {
        e.preventDefault()
        doSend()
      }}>
          <label for="coach-message">Your message</label>
          <textarea id="coach-message" rows="3" value=${draft} aria-describedby="coach-message-help"
            onInput=${(e: Event) => setDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown=${(e: KeyboardEvent) => {
        if (e.key === "Enter" && !e.shiftKey) {
          e.preventDefault()
          doSend()
        }
      }}></textarea>
          <p id="coach-message-help" class="help">Enter sends, Shift+Enter starts a new line.</p>
          <div class="actions">
            <button type="submit" disabled=${sending}>${sending ? "Sending…" : "Send"}</button>
            <button type="button" class="secondary" onClick=${() =>
        Api.endCoaching(id).then((s) => setSession(s), setError)}>End session</button>
          </div>
        </form>`
  }
  `
}

export const CoachingPage = ({ id }: { readonly id?: string | undefined }) =>
  id === undefined || id === "" ? html`<${StartForm} />` : html`<${Chat} key=${id} id=${id} />`
