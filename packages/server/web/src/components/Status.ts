/**
 * Loading and error states shared by the pages; errors are announced (role="alert").
 */
import { useEffect, useState } from "preact/hooks"
import { html } from "../html.js"
import { ApiFailure } from "../http.js"

export const message = (e: unknown): string =>
  e instanceof ApiFailure ? e.message : e instanceof Error ? e.message : String(e)

export const ErrorBox = ({ error }: { readonly error: unknown }) =>
  error === undefined || error === null ? null : html`<p class="error" role="alert">${message(error)}</p>`

/** Loads `load()` when `deps` change; `reload` runs it again. */
export const useLoad = <A>(load: () => Promise<A>, deps: ReadonlyArray<unknown>) => {
  const [state, setState] = useState<{ data?: A; error?: unknown; loading: boolean }>({ loading: true })
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    setState((s) => ({ ...s, loading: true }))
    load().then(
      (data) => live && setState({ data, loading: false }),
      (error: unknown) => live && setState({ error, loading: false })
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  return { ...state, reload: () => setTick((t) => t + 1) }
}
