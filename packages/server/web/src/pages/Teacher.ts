/**
 * Teachers write scenarios and their client personas: a list, and a form with a message next to
 * every field at fault (checked in the browser, and from the server's 400 `field`).
 */
import { useEffect, useState } from "preact/hooks"
import type { ScenarioRecord } from "../api.js"
import * as Api from "../api.js"
import { ErrorBox, message, useLoad } from "../components/Status.js"
import { when } from "../format.js"
import { html } from "../html.js"
import { ApiFailure } from "../http.js"
import { href, navigate } from "../router.js"
import { check, fieldKey } from "../validate.js"

interface SkillRow {
  id: string
  name: string
  rubric: string
}

interface Form {
  id: string
  title: string
  description: string
  personaName: string
  background: string
  personality: string
  goals: string
  difficulty: string
  objectives: string
  endCriteria: string
  skills: Array<SkillRow>
  aiSpeaksFirst: boolean
  maxTurns: string
}

const empty: Form = {
  id: "",
  title: "",
  description: "",
  personaName: "",
  background: "",
  personality: "",
  goals: "",
  difficulty: "beginner",
  objectives: "",
  endCriteria: "",
  skills: [{ id: "", name: "", rubric: "" }],
  aiSpeaksFirst: true,
  maxTurns: ""
}

const lines = (text: string): Array<string> => text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)

const fromScenario = (s: ScenarioRecord): Form => ({
  id: s.id,
  title: s.title,
  description: s.description ?? "",
  personaName: s.persona.name,
  background: s.persona.background,
  personality: s.persona.personality.join("\n"),
  goals: s.persona.goals.join("\n"),
  difficulty: s.persona.difficulty,
  objectives: s.objectives.join("\n"),
  endCriteria: s.endCriteria.join("\n"),
  skills: s.skills.map((k) => ({ ...k })),
  aiSpeaksFirst: s.aiSpeaksFirst,
  maxTurns: s.maxTurns === undefined ? "" : String(s.maxTurns)
})

/** The draft the API takes (`ScenarioDraft`). */
const toDraft = (f: Form, editing: boolean): Record<string, unknown> => ({
  ...(!editing && f.id.trim() !== "" ? { id: f.id.trim() } : {}),
  title: f.title,
  ...(f.description.trim() !== "" ? { description: f.description } : {}),
  persona: {
    name: f.personaName,
    background: f.background,
    personality: lines(f.personality),
    goals: lines(f.goals),
    difficulty: f.difficulty
  },
  objectives: lines(f.objectives),
  endCriteria: lines(f.endCriteria),
  skills: f.skills.map((k) => ({ id: k.id.trim(), name: k.name, rubric: k.rubric })),
  aiSpeaksFirst: f.aiSpeaksFirst,
  ...(f.maxTurns.trim() !== "" ? { maxTurns: Number(f.maxTurns) } : {})
})

/** A labelled control with its help and its error, wired for screen readers. */
const Field = (
  { name, label, help, errors, children }: {
    readonly name: string
    readonly label: string
    readonly help?: string
    readonly errors: Record<string, string>
    readonly children: (attrs: Record<string, unknown>) => unknown
  }
) => {
  const id = `f-${name.replace(/\./g, "-")}`
  const error = errors[name]
  const described = [help ? `${id}-help` : "", error ? `${id}-error` : ""].filter((s) => s).join(" ")
  return html`<div class=${`field${error ? " invalid" : ""}`}>
    <label for=${id}>${label}</label>
    ${help ? html`<p id=${`${id}-help`} class="help">${help}</p>` : null}
    ${children({ id, name, "aria-invalid": error ? "true" : "false", "aria-describedby": described || undefined })}
    ${error ? html`<p id=${`${id}-error`} class="field-error" data-field=${name}>${error}</p>` : null}
  </div>`
}

const Editor = ({ existing }: { readonly existing?: ScenarioRecord | undefined }) => {
  const [form, setForm] = useState<Form>(existing ? fromScenario(existing) : empty)
  const [errors, setErrors] = useState<Record<string, string>>({})
  const [failure, setFailure] = useState<unknown>(undefined)
  const [saved, setSaved] = useState<string | undefined>(undefined)
  const [saving, setSaving] = useState(false)
  useEffect(() => setForm(existing ? fromScenario(existing) : empty), [existing?.id, existing?.version])

  const set = <K extends keyof Form>(key: K) => (e: Event) => {
    const t = e.target as HTMLInputElement
    setForm({ ...form, [key]: t.type === "checkbox" ? t.checked : t.value })
  }
  const setSkill = (i: number, key: keyof SkillRow) => (e: Event) =>
    setForm({
      ...form,
      skills: form.skills.map((k, j) => j === i ? { ...k, [key]: (e.target as HTMLInputElement).value } : k)
    })

  const focusFirstError = (found: Record<string, string>) =>
    requestAnimationFrame(() => {
      const first = Object.keys(found)[0]
      if (first) document.getElementById(`f-${first.replace(/\./g, "-")}`)?.focus()
    })

  const submit = (e: Event) => {
    e.preventDefault()
    setSaved(undefined)
    setFailure(undefined)
    const draft = toDraft(form, existing !== undefined)
    const found = check(draft)
    if (form.maxTurns.trim() !== "" && !/^\d+$/.test(form.maxTurns.trim())) {
      found["maxTurns"] = "a whole number of turns"
    }
    setErrors(found)
    if (Object.keys(found).length > 0) return focusFirstError(found)
    setSaving(true)
    const save = existing ? Api.updateScenario(existing.id, draft) : Api.createScenario(draft)
    save.then(
      (s) => {
        setSaving(false)
        setSaved(`Saved “${s.title}” (version ${s.version}).`)
        if (!existing) navigate(["teach", s.id])
      },
      (err: unknown) => {
        setSaving(false)
        if (err instanceof ApiFailure && err.field !== undefined) {
          const server = { [fieldKey(err.field)]: err.message }
          setErrors(server)
          focusFirstError(server)
        } else setFailure(err)
      }
    )
  }

  const errorCount = Object.keys(errors).length
  return html`
    <form class="editor" onSubmit=${submit} novalidate aria-labelledby="editor-h">
      <h2 id="editor-h">${existing ? `Edit “${existing.title}”` : "New scenario"}</h2>
      <div role="alert" class="summary">${
    errorCount > 0 ? `${errorCount} field${errorCount > 1 ? "s need" : " needs"} attention.` : ""
  }</div>
      ${
    existing
      ? null
      : html`<${Field} name="id" label="Id (optional)" help="Letters, digits, dots, dashes or underscores; made from the title when empty." errors=${errors}>${(
        a: any
      ) => html`<input ...${a} value=${form.id} onInput=${set("id")} />`}<//>`
  }
      <${Field} name="title" label="Title" errors=${errors}>${(a: any) =>
    html`<input ...${a} value=${form.title} onInput=${set("title")} />`}<//>
      <${Field} name="description" label="Description (optional)" errors=${errors}>${(a: any) =>
    html`<textarea ...${a} rows="2" value=${form.description} onInput=${set("description")}></textarea>`}<//>
      <fieldset>
        <legend>Client persona</legend>
        <${Field} name="persona.name" label="Name" errors=${errors}>${(a: any) =>
    html`<input ...${a} value=${form.personaName} onInput=${set("personaName")} />`}<//>
        <${Field} name="persona.background" label="Background" errors=${errors}>${(a: any) =>
    html`<textarea ...${a} rows="3" value=${form.background} onInput=${set("background")}></textarea>`}<//>
        <${Field} name="persona.personality" label="Personality" help="One trait per line." errors=${errors}>${(
    a: any
  ) => html`<textarea ...${a} rows="2" value=${form.personality} onInput=${set("personality")}></textarea>`}<//>
        <${Field} name="persona.goals" label="Goals" help="One goal per line." errors=${errors}>${(a: any) =>
    html`<textarea ...${a} rows="2" value=${form.goals} onInput=${set("goals")}></textarea>`}<//>
        <${Field} name="persona.difficulty" label="Difficulty" errors=${errors}>${(a: any) =>
    html`<select ...${a} value=${form.difficulty} onChange=${set("difficulty")}>
          <option value="beginner">Beginner</option><option value="intermediate">Intermediate</option><option value="advanced">Advanced</option>
        </select>`}<//>
      </fieldset>
      <${Field} name="objectives" label="Objectives" help="What the learner should achieve; one per line." errors=${errors}>${(
    a: any
  ) => html`<textarea ...${a} rows="3" value=${form.objectives} onInput=${set("objectives")}></textarea>`}<//>
      <${Field} name="endCriteria" label="End criteria" help="When the conversation is over; one per line." errors=${errors}>${(
    a: any
  ) => html`<textarea ...${a} rows="2" value=${form.endCriteria} onInput=${set("endCriteria")}></textarea>`}<//>
      <fieldset>
        <legend>Skills the evaluation scores</legend>
        ${
    errors["skills"]
      ? html`<p class="field-error" id="f-skills" tabindex="-1" data-field="skills">${errors["skills"]}</p>`
      : null
  }
        ${
    form.skills.map((k, i) =>
      html`<div class="skill-row" role="group" aria-label=${`Skill ${i + 1}`}>
          <${Field} name=${`skills.${i}.id`} label=${`Skill ${
        i + 1
      } id`} help="Lowercase letters, digits and dashes." errors=${errors}>${(a: any) =>
        html`<input ...${a} value=${k.id} onInput=${setSkill(i, "id")} />`}<//>
          <${Field} name=${`skills.${i}.name`} label=${`Skill ${i + 1} name`} errors=${errors}>${(a: any) =>
        html`<input ...${a} value=${k.name} onInput=${setSkill(i, "name")} />`}<//>
          <${Field} name=${`skills.${i}.rubric`} label=${`Skill ${i + 1} rubric`} errors=${errors}>${(a: any) =>
        html`<textarea ...${a} rows="2" value=${k.rubric} onInput=${setSkill(i, "rubric")}></textarea>`}<//>
          ${
        form.skills.length > 1
          ? html`<button type="button" class="secondary" onClick=${() =>
            setForm({ ...form, skills: form.skills.filter((_, j) => j !== i) })}>Remove skill ${i + 1}</button>`
          : null
      }
        </div>`
    )
  }
        <button type="button" class="secondary" onClick=${() =>
    setForm({ ...form, skills: [...form.skills, { id: "", name: "", rubric: "" }] })}>Add a skill</button>
      </fieldset>
      <div class="field check">
        <input id="f-aiSpeaksFirst" type="checkbox" checked=${form.aiSpeaksFirst} onChange=${set("aiSpeaksFirst")} />
        <label for="f-aiSpeaksFirst">The client speaks first</label>
      </div>
      <${Field} name="maxTurns" label="Turn limit (optional)" help="1 to 500 learner messages." errors=${errors}>${(
    a: any
  ) => html`<input ...${a} inputmode="numeric" value=${form.maxTurns} onInput=${set("maxTurns")} />`}<//>
      <${ErrorBox} error=${failure} />
      <p role="status" class="saved">${saved ?? ""}</p>
      <button type="submit" disabled=${saving}>${
    saving ? "Saving…" : existing ? "Save changes" : "Create scenario"
  }</button>
    </form>
  `
}

export const TeacherPage = ({ id }: { readonly id?: string | undefined }) => {
  const list = useLoad(() => Api.listScenarios({ limit: 100 }), [id])
  const current = useLoad(() => id === undefined ? Promise.resolve(undefined) : Api.getScenario(id), [id])
  return html`
    <h1 tabindex="-1">Scenarios</h1>
    <div class="split">
      <section aria-labelledby="list-h" class="list">
        <h2 id="list-h">Your organization's scenarios</h2>
        <p><a href=${href(["teach"])} class="button">New scenario</a></p>
        <${ErrorBox} error=${list.error} />
        <ul>${
    (list.data?.items ?? []).map((s) =>
      html`<li><a href=${href(["teach", s.id])} aria-current=${s.id === id ? "true" : undefined}>${s.title}</a>
            <span class="muted"> v${s.version} · ${when(s.updatedAt)}</span></li>`
    )
  }</ul>
      </section>
      <section class="form">
        ${current.error !== undefined ? html`<p class="error" role="alert">${message(current.error)}</p>` : null}
        ${
    id !== undefined && current.data === undefined
      ? html`<p role="status">Loading…</p>`
      : html`<${Editor} existing=${current.data} />`
  }
      </section>
    </div>
  `
}
