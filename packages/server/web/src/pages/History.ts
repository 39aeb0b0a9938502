/**
 * A learner's sessions, newest first: search by title, filter by status, page by cursor.
 */
import { useState } from "preact/hooks"
import type { Me } from "../api.js"
import * as Api from "../api.js"
import { ErrorBox, useLoad } from "../components/Status.js"
import { endReason, usd, when } from "../format.js"
import { html } from "../html.js"
import type { Route } from "../router.js"
import { href, navigate } from "../router.js"

export const HistoryPage = ({ route }: { readonly route: Route; readonly me: Me }) => {
  const search = route.query.get("search") ?? ""
  const status = route.query.get("status") ?? ""
  const cursor = route.query.get("cursor") ?? undefined
  // the cursors of the pages before this one, so "Previous" works without the server's help
  // ("-" stands for the first page)
  const back = route.query.get("back")?.split(",") ?? []
  const [draft, setDraft] = useState(search)
  const list = useLoad(() => Api.listSessions({ search, status, cursor, limit: 10 }), [search, status, cursor])
  const items = list.data?.items ?? []

  return html`
    <h1 tabindex="-1">Your practice history</h1>
    <form class="search" role="search" onSubmit=${(e: Event) => {
    e.preventDefault()
    navigate(["history"], { search: draft, status })
  }}>
      <label for="history-search">Search by title</label>
      <input id="history-search" type="search" value=${draft} onInput=${(e: Event) =>
    setDraft((e.target as HTMLInputElement).value)} />
      <label for="history-status">Status</label>
      <select id="history-status" value=${status} onChange=${(e: Event) =>
    navigate(["history"], { search, status: (e.target as HTMLSelectElement).value })}>
        <option value="">Any</option>
        <option value="active">Active</option>
        <option value="queued">Queued</option>
        <option value="completed">Completed</option>
      </select>
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${list.error} />
    ${list.loading && list.data === undefined ? html`<p role="status">Loading…</p>` : null}
    ${
    list.data !== undefined && items.length === 0
      ? html`<p>No sessions${search ? ` matching “${search}”` : ""}.</p>`
      : null
  }
    ${
    items.length > 0
      ? html`<div class="table-wrap"><table class="history">
      <caption class="visually-hidden">Sessions</caption>
      <thead><tr><th scope="col">Scenario</th><th scope="col">Started</th><th scope="col">Status</th><th scope="col">Ended because</th><th scope="col">Messages</th><th scope="col">Cost</th></tr></thead>
      <tbody>${
        items.map((s) =>
          html`<tr data-session=${s.id}>
          <th scope="row"><a href=${href(["practice", s.id])}>${s.title ?? s.scenarioId ?? s.id}</a></th>
          <td>${when(s.startedAt ?? s.createdAt)}</td><td>${s.status}</td><td>${endReason(s.endReason)}</td>
          <td>${s.totals.messages}</td><td>${usd(s.totals.costUsd)}</td></tr>`
        )
      }</tbody></table></div>`
      : null
  }
    <nav class="pager" aria-label="Pages">
      ${
    back.length > 0
      ? html`<a href=${
        href(["history"], {
          search,
          status,
          cursor: back[back.length - 1] === "-" ? undefined : back[back.length - 1],
          back: back.slice(0, -1).join(",") || undefined
        })
      }>Previous page</a>`
      : html`<span class="disabled" aria-disabled="true">Previous page</span>`
  }
      ${
    list.data?.nextCursor
      ? html`<a href=${
        href(["history"], { search, status, cursor: list.data.nextCursor, back: [...back, cursor ?? "-"].join(",") })
      }>Next page</a>`
      : html`<span class="disabled" aria-disabled="true">Next page</span>`
  }
    </nav>
  `
}
