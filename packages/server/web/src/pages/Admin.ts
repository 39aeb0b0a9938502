/**
 * The admin dashboard: live sessions, today's tokens and dollars, hourly charts over 24 hours,
 * service health and recent errors; refreshed every few seconds.
 */
import { useEffect, useState } from "preact/hooks"
import type { Check, Overview } from "../api.js"
import * as Api from "../api.js"
import { HourlyChart } from "../components/HourlyChart.js"
import { ErrorBox } from "../components/Status.js"
import { int, usd, when } from "../format.js"
import { html } from "../html.js"

const every = 3000

const Stat = ({ label, value, testid }: { readonly label: string; readonly value: string; readonly testid: string }) =>
  html`<div class="stat"><dt>${label}</dt><dd data-testid=${testid}>${value}</dd></div>`

const HealthRow = ({ name, check }: { readonly name: string; readonly check: Check | undefined }) =>
  check === undefined ? null : html`<li class=${`health ${check.status}`} data-check=${name}>
    <span class="dot" aria-hidden="true"></span><strong>${name}</strong> <span>${check.status}</span>
    <span class="muted">${check.detail}${
    check.latencyMs !== undefined ? ` · ${Math.round(check.latencyMs)} ms` : ""
  }</span></li>`

export const AdminPage = () => {
  const [data, setData] = useState<Overview | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  const [paused, setPaused] = useState(false)

  useEffect(() => {
    if (paused) return
    let live = true
    const load = () =>
      Api.overview().then(
        (o) => {
          if (!live) return
          setData(o)
          setError(undefined)
        },
        (e: unknown) => live && setError(e)
      )
    void load()
    const timer = setInterval(load, every)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [paused])

  const hourly = data?.usage.hourly ?? []
  return html`
    <h1 tabindex="-1">Dashboard</h1>
    <p class="muted">
      ${
    data
      ? html`Updated <time data-testid="updated">${new Date(data.at).toLocaleTimeString()}</time>${" · "}`
      : "Loading… "
  }
      <button type="button" class="link" aria-pressed=${paused ? "true" : "false"} onClick=${() => setPaused(!paused)}>
        ${paused ? "Resume live updates" : "Pause live updates"}</button>
    </p>
    <${ErrorBox} error=${error} />
    ${
    data === undefined ? null : html`
      <section aria-labelledby="now-h">
        <h2 id="now-h" class="visually-hidden">Now and today</h2>
        <dl class="stats">
          <${Stat} label="Active sessions" value=${int(data.sessions.active)} testid="active" />
          <${Stat} label="Queued" value=${int(data.sessions.queued)} testid="queued" />
          <${Stat} label="Messages today" value=${int(data.usage.today.messages)} testid="messages-today" />
          <${Stat} label="Tokens today" value=${
      int(data.usage.today.inputTokens + data.usage.today.outputTokens)
    } testid="tokens-today" />
          <${Stat} label="Spent today" value=${usd(data.usage.today.costUsd)} testid="cost-today" />
          <${Stat} label="Sessions started" value=${
      int(data.metrics.started.practice + data.metrics.started.coaching)
    } testid="started" />
        </dl>
      </section>
      <section aria-labelledby="charts-h" class="charts">
        <h2 id="charts-h">Last 24 hours</h2>
        <${HourlyChart} label="Tokens" buckets=${
      hourly.map((b) => ({ hour: b.start, value: b.inputTokens + b.outputTokens }))
    } format=${int} />
        <${HourlyChart} label="Dollars" buckets=${
      hourly.map((b) => ({ hour: b.start, value: b.costUsd }))
    } format=${usd} />
        <${HourlyChart} label="Messages" buckets=${
      hourly.map((b) => ({ hour: b.start, value: b.messages }))
    } format=${int} />
      </section>
      <section aria-labelledby="health-h">
        <h2 id="health-h">Health</h2>
        <ul class="health-list">
          <${HealthRow} name="model" check=${data.health.model} />
          <${HealthRow} name="database" check=${data.health.database} />
          <${HealthRow} name="redis" check=${data.health.redis} />
        </ul>
        <p class="muted">Ended sessions: ${
      Object.entries(data.metrics.ended).map(([k, v]) => `${k.replace(/-/g, " ")} ${v}`).join(", ") || "none yet"
    }${
      data.metrics.completionRate !== undefined ? ` · completion ${Math.round(data.metrics.completionRate * 100)}%` : ""
    }</p>
      </section>
      <section aria-labelledby="errors-h">
        <h2 id="errors-h">Recent errors</h2>
        ${
      data.errors.length === 0
        ? html`<p data-testid="no-errors">No errors recorded.</p>`
        : html`<div class="table-wrap"><table><thead><tr><th scope="col">When</th><th scope="col">Severity</th><th scope="col">Source</th><th scope="col">Message</th><th scope="col">Session</th></tr></thead>
          <tbody>${
          data.errors.map((e) =>
            html`<tr class=${`sev-${e.severity}`}><td>${
              when(e.at)
            }</td><td>${e.severity}</td><td>${e.source}</td><td>${e.message}</td><td>${e.sessionId ?? ""}</td></tr>`
          )
        }</tbody></table></div>`
    }
      </section>`
  }
  `
}
