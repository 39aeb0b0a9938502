/**
 * The shell: sign-in, role-based navigation, and the page of the current route.
 */
import { useEffect, useRef, useState } from "preact/hooks"
import type { Me, Role } from "./api.js"
import * as Api from "./api.js"
import { clearToken, readToken, saveToken } from "./auth.js"
import { html } from "./html.js"
import { ApiFailure } from "./http.js"
import { AdminPage } from "./pages/Admin.js"
import { CoachingPage } from "./pages/Coaching.js"
import { HistoryPage } from "./pages/History.js"
import { MeetingsPage } from "./pages/Meetings.js"
import { PracticePage } from "./pages/Practice.js"
import { RunsPage } from "./pages/Runs.js"
import { ScenariosPage } from "./pages/Scenarios.js"
import { href, useRoute } from "./router.js"

/** The scenario editor checks forms with Effect's Schema: loaded only when a teacher opens it. */
const TeacherLazy = ({ id }: { readonly id?: string | undefined }) => {
  const [Page, setPage] = useState<any>(undefined)
  const [error, setError] = useState<unknown>(undefined)
  useEffect(() => {
    import("./pages/Teacher.js").then((m) => setPage(() => m.TeacherPage), setError)
  }, [])
  if (error !== undefined) return html`<p class="error" role="alert">The editor did not load: ${String(error)}</p>`
  return Page === undefined
    ? html`<h1 tabindex="-1">Scenarios</h1><p role="status">Loading the editor…</p>`
    : html`<${Page} id=${id} />`
}

interface NavItem {
  readonly path: string
  readonly label: string
  readonly roles: ReadonlyArray<Role>
}

const nav: ReadonlyArray<NavItem> = [
  { path: "scenarios", label: "Practise", roles: ["learner", "teacher", "admin"] },
  { path: "coaching", label: "Coaching", roles: ["learner", "teacher", "admin"] },
  { path: "history", label: "History", roles: ["learner", "teacher", "admin"] },
  { path: "teach", label: "Scenarios", roles: ["teacher", "admin"] },
  { path: "admin", label: "Dashboard", roles: ["admin"] },
  { path: "meetings", label: "Meetings & evals", roles: ["teacher", "admin"] },
  { path: "runs", label: "Runs", roles: ["teacher", "admin"] }
]

const SignIn = ({ onSignedIn, error }: { readonly onSignedIn: (token: string) => void; readonly error?: string }) => {
  const [token, setToken] = useState("")
  return html`
    <main id="main" class="signin">
      <h1>Sign in to Braid</h1>
      <form onSubmit=${(e: Event) => {
    e.preventDefault()
    if (token.trim().length > 0) onSignedIn(token.trim())
  }}>
        <label for="token">Access token</label>
        <p id="token-help" class="help">Paste the token that <code>braid users token</code> printed for you.</p>
        <textarea id="token" name="token" rows="4" required aria-describedby="token-help${error ? " token-error" : ""}"
          aria-invalid=${error ? "true" : "false"} value=${token} onInput=${(e: Event) =>
    setToken((e.target as HTMLTextAreaElement).value)}></textarea>
        ${error ? html`<p id="token-error" class="field-error" role="alert">${error}</p>` : null}
        <button type="submit">Sign in</button>
      </form>
    </main>
  `
}

export const App = () => {
  const route = useRoute()
  const [me, setMe] = useState<Me | null>(null)
  const [error, setError] = useState<string | undefined>(undefined)
  const [checking, setChecking] = useState(readToken() !== null)
  const mainRef = useRef<HTMLElement>(null)

  const check = () => {
    if (readToken() === null) {
      setChecking(false)
      return
    }
    setChecking(true)
    Api.me().then(
      (m) => {
        setMe(m)
        setError(undefined)
        setChecking(false)
      },
      (e: unknown) => {
        clearToken()
        setMe(null)
        setError(e instanceof ApiFailure ? e.message : String(e))
        setChecking(false)
      }
    )
  }
  useEffect(check, [])
  // move focus to the page's heading on navigation (screen readers announce the new page)
  useEffect(() => {
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus()
  }, [route.path.join("/")])

  if (checking) return html`<p class="loading" role="status">Signing in…</p>`
  if (me === null) {
    return html`<${SignIn} error=${error} onSignedIn=${(t: string) => {
      saveToken(t)
      check()
    }} />`
  }

  const items = nav.filter((n) => n.roles.includes(me.role))
  const page = route.path[0] ?? "scenarios"
  const allowed = items.some((n) => n.path === page) || page === "practice"
  const body = !allowed
    ? html`<h1 tabindex="-1">Not available</h1><p>Your role (${me.role}) cannot open this page.</p>`
    : page === "practice"
    ? html`<${PracticePage} key=${route.path[1] ?? ""} id=${route.path[1] ?? ""} me=${me} />`
    : page === "history"
    ? html`<${HistoryPage} route=${route} me=${me} />`
    : page === "teach"
    ? html`<${TeacherLazy} id=${route.path[1]} />`
    : page === "admin"
    ? html`<${AdminPage} />`
    : page === "coaching"
    ? html`<${CoachingPage} id=${route.path[1]} />`
    : page === "meetings"
    ? html`<${MeetingsPage} kind=${route.path[1]} id=${route.path[2]} />`
    : page === "runs"
    ? html`<${RunsPage} id=${route.path[1]} />`
    : html`<${ScenariosPage} />`

  return html`
    <a class="skip" href="#main" onClick=${(e: Event) => {
    e.preventDefault()
    mainRef.current?.querySelector<HTMLElement>("h1")?.focus()
  }}>Skip to content</a>
    <header class="top">
      <a class="brand" href=${href(["scenarios"])}>Braid</a>
      <nav aria-label="Main">
        <ul>
          ${
    items.map((n) =>
      html`<li><a href=${href([n.path])} aria-current=${n.path === page ? "page" : undefined}>${n.label}</a></li>`
    )
  }
        </ul>
      </nav>
      ${me.role === "learner" ? null : html`<a class="api-link" href="/api/docs">API reference</a>`}
      <div class="who">
        <span data-testid="whoami">${me.userId} <span class="role">${me.role}</span></span>
        <button type="button" class="link" onClick=${() => {
    clearToken()
    setMe(null)
  }}>Sign out</button>
      </div>
    </header>
    <main id="main" ref=${mainRef}>${body}</main>
  `
}
