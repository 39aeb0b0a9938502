/**
 * Hash routes (`#/practice/<id>`): work from any path the server mounts the app on, with no
 * server-side fallback needed.
 */
import { useEffect, useState } from "preact/hooks"

export interface Route {
  readonly path: ReadonlyArray<string>
  readonly query: URLSearchParams
}

export const parse = (hash: string): Route => {
  const [p = "", q = ""] = hash.replace(/^#\/?/, "").split("?", 2)
  return { path: p.split("/").filter((s) => s.length > 0).map(decodeURIComponent), query: new URLSearchParams(q) }
}

export const href = (path: ReadonlyArray<string>, query?: Record<string, string | number | undefined>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") q.set(k, String(v))
  const qs = q.toString()
  return `#/${path.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`
}

export const navigate = (path: ReadonlyArray<string>, query?: Record<string, string | number | undefined>): void => {
  location.hash = href(path, query)
}

export const useRoute = (): Route => {
  const [route, setRoute] = useState(() => parse(location.hash))
  useEffect(() => {
    const on = () => setRoute(parse(location.hash))
    addEventListener("hashchange", on)
    return () => removeEventListener("hashchange", on)
  }, [])
  return route
}
