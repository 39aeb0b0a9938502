/**
 * The request hash of a journaled step: SHA-256 of a canonical JSON text (object keys sorted,
 * bigints and non-finite numbers spelled out), bounded in depth, refusing cycles.
 *
 * @internal
 */
import { createHash } from "node:crypto"

const maxDepth = 256

/** The canonical text of `value`, or the reason it has none. */
export const canonical = (value: unknown): { readonly text: string } | { readonly error: string } => {
  const seen = new Set<object>()
  const walk = (v: unknown, depth: number, path: string): string => {
    if (depth > maxDepth) throw new HashError(`${path}: nested deeper than ${maxDepth}`)
    switch (typeof v) {
      case "string":
        return JSON.stringify(v)
      case "number":
        return Number.isFinite(v) ? String(v) : `"#${String(v)}"`
      case "bigint":
        return `"#${v.toString()}n"`
      case "boolean":
        return v ? "true" : "false"
      case "undefined":
        return "null"
      case "function":
      case "symbol":
        throw new HashError(`${path}: a ${typeof v} has no journal form`)
    }
    if (v === null) return "null"
    const o = v as object
    if (seen.has(o)) throw new HashError(`${path}: a cycle`)
    seen.add(o)
    try {
      if (Array.isArray(o)) return `[${o.map((x, i) => walk(x, depth + 1, `${path}[${i}]`)).join(",")}]`
      if (o instanceof Date) return JSON.stringify(o.toISOString())
      if (o instanceof Uint8Array) return `"#bytes:${Buffer.from(o).toString("base64")}"`
      const keys = Object.keys(o).sort()
      const parts: Array<string> = []
      for (const k of keys) {
        const x = (o as Record<string, unknown>)[k]
        if (x === undefined) continue
        parts.push(`${JSON.stringify(k)}:${walk(x, depth + 1, path === "" ? k : `${path}.${k}`)}`)
      }
      return `{${parts.join(",")}}`
    } finally {
      seen.delete(o)
    }
  }
  try {
    return { text: walk(value, 0, "") }
  } catch (e) {
    if (e instanceof HashError) return { error: e.message.startsWith(": ") ? `(root)${e.message}` : e.message }
    throw e
  }
}

class HashError extends Error {}

/** The first 16 hex digits of the SHA-256 of `text`. */
export const digest = (text: string): string => createHash("sha256").update(text).digest("hex").slice(0, 16)
