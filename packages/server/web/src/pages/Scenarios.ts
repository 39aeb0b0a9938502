/**
 * Learners pick a scenario and start practising.
 */
import { useState } from "preact/hooks"
import * as Api from "../api.js"
import { ErrorBox, useLoad } from "../components/Status.js"
import { html } from "../html.js"
import { navigate } from "../router.js"

export const ScenariosPage = () => {
  const [search, setSearch] = useState("")
  const [query, setQuery] = useState("")
  const list = useLoad(() => Api.listScenarios({ search: query, limit: 50 }), [query])
  const [starting, setStarting] = useState<string | undefined>(undefined)
  const [error, setError] = useState<unknown>(undefined)

  const start = (id: string) => {
    setStarting(id)
    setError(undefined)
    Api.startSession(id).then(
      (s) => navigate(["practice", s.session.id]),
      (e: unknown) => {
        setStarting(undefined)
        setError(e)
      }
    )
  }

  return html`
    <h1 tabindex="-1">Practise a conversation</h1>
    <form class="search" role="search" onSubmit=${(e: Event) => {
    e.preventDefault()
    setQuery(search)
  }}>
      <label for="scenario-search">Search scenarios</label>
      <input id="scenario-search" type="search" value=${search} onInput=${(e: Event) =>
    setSearch((e.target as HTMLInputElement).value)} />
      <button type="submit">Search</button>
    </form>
    <${ErrorBox} error=${error ?? list.error} />
    ${list.loading && list.data === undefined ? html`<p role="status">Loading scenarios…</p>` : null}
    ${
    list.data !== undefined && list.data.items.length === 0 ? html`<p>No scenarios yet. A teacher adds them.</p>` : null
  }
    <ul class="cards">
      ${
    (list.data?.items ?? []).map((s) =>
      html`<li class="card" data-scenario=${s.id}>
        <h2>${s.title}</h2>
        <p class="muted">${s.persona.name} · ${s.persona.difficulty}</p>
        ${s.description ? html`<p>${s.description}</p>` : null}
        <details><summary>Objectives and skills</summary>
          <ul>${s.objectives.map((o) => html`<li>${o}</li>`)}</ul>
          <p>Skills: ${s.skills.map((k) => k.name).join(", ")}</p>
        </details>
        <button type="button" onClick=${() => start(s.id)} disabled=${starting !== undefined}
          aria-label=${`Start practising ${s.title}`}>${starting === s.id ? "Starting…" : "Start"}</button>
      </li>`
    )
  }
    </ul>
  `
}
