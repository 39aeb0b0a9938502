/**
 * `braid catalog`: the primitives listed in `PRIMITIVES_CATALOG.md`, read from its `###`
 * headings, grouped by section (`<!-- section:core -->` ...), each with the first sentence of its
 * purpose.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * One primitive of the catalog.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly section: string
  readonly name: string
  readonly purpose: string
}

/**
 * The catalog file could not be read.
 *
 * @example
 * ```ts
 * import { Catalog } from "@braid/cli"
 *
 * const e = new Catalog.CatalogError({ file: "CATALOG.md", reason: "no such file" })
 * e.message // "CATALOG.md: no such file"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CatalogError extends Schema.TaggedError<CatalogError>()("CatalogError", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/**
 * The catalog the CLI prints: the copy shipped inside the installed package
 * (`@braid/cli/PRIMITIVES_CATALOG.md`, copied there when the package is packed), or, inside the
 * Braid repository, the root `PRIMITIVES_CATALOG.md`.
 *
 * @example
 * ```ts
 * import { Catalog } from "@braid/cli"
 *
 * const program = Catalog.load(Catalog.defaultFile)
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFile: string = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const shipped = path.resolve(here, "../PRIMITIVES_CATALOG.md")
  return existsSync(shipped) ? shipped : path.resolve(here, "../../../PRIMITIVES_CATALOG.md")
})()

/**
 * Parses the catalog's markdown into entries (headings inside fenced code blocks are ignored).
 *
 * @example
 * ```ts
 * import { Catalog } from "@braid/cli"
 *
 * const entries = Catalog.parse("<!-- section:core -->\n### Primitive.make\nA step from a function.\n")
 * // [{ section: "core", name: "Primitive.make", purpose: "A step from a function." }]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const parse = (markdown: string): ReadonlyArray<Entry> => {
  const out: Array<Entry> = []
  let section = "other"
  let inFence = false
  let current: { section: string; name: string; paragraph: Array<string>; closed: boolean } | undefined
  const flush = () => {
    if (current === undefined) return
    const text = current.paragraph.join(" ").replace(/^\*\*Purpose\.?\*\*:?\s*/i, "").replace(/^Purpose:\s*/i, "")
      .replace(/`/g, "")
    const sentence = /^(.+?[.!?])(\s|$)/.exec(text)
    out.push({ section: current.section, name: current.name, purpose: sentence ? sentence[1]! : text })
    current = undefined
  }
  for (const line of markdown.split(/\r?\n/)) {
    if (/^\s*```/.test(line)) {
      inFence = !inFence
      if (current !== undefined && current.paragraph.length > 0) current.closed = true
      continue
    }
    if (inFence) continue
    const sec = /^<!--\s*\/?section:([\w-]+)\s*-->/.exec(line)
    if (sec) {
      flush()
      section = line.includes("/section:") ? "other" : sec[1]!
      continue
    }
    const h = /^###\s+(.+?)\s*$/.exec(line)
    if (h) {
      flush()
      current = { section, name: h[1]!.replace(/`/g, ""), paragraph: [], closed: false }
      continue
    }
    if (/^#{1,2}\s/.test(line)) {
      flush()
      continue
    }
    if (current === undefined || current.closed) continue
    if (line.trim() === "") {
      if (current.paragraph.length > 0) current.closed = true
    } else if (!line.startsWith("<!--")) current.paragraph.push(line.trim())
  }
  flush()
  return out
}

/**
 * Reads and parses a catalog file.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Catalog } from "@braid/cli"
 *
 * const program = Effect.map(Catalog.load(Catalog.defaultFile), (entries) => entries.length)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const load = (file: string): Effect.Effect<ReadonlyArray<Entry>, CatalogError> =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (e) =>
      new CatalogError({ file, reason: (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(e) })
  }).pipe(Effect.map(parse))

/**
 * The catalog as text: one block per section, one line per primitive.
 *
 * @example
 * ```ts
 * import { Catalog } from "@braid/cli"
 *
 * console.log(Catalog.format([{ section: "core", name: "sequence", purpose: "Runs steps in order." }]))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (entries: ReadonlyArray<Entry>): string => {
  if (entries.length === 0) return "The catalog has no primitives yet."
  const width = Math.min(40, Math.max(...entries.map((e) => e.name.length)))
  const lines: Array<string> = []
  let section: string | undefined
  for (const e of entries) {
    if (e.section !== section) {
      if (section !== undefined) lines.push("")
      section = e.section
      lines.push(`${section}`)
    }
    lines.push(`  ${e.name.padEnd(width)}  ${e.purpose}`.trimEnd())
  }
  lines.push("", `${entries.length} primitives`)
  return lines.join("\n")
}
