/**
 * Extracts every ```ts block of PRIMITIVES_CATALOG.md, of the root README.md and of every
 * packages/*\/README.md into tests/catalog/.generated/, one module per snippet, named after the
 * document and the heading it stands under. `npm run typecheck` (and so `npm test`) runs this
 * before `tsc -b`, which type-checks the snippets as part of the `tests` project (with
 * `noUnusedLocals`: a snippet a reader copies compiles in a strict project); tests/catalog.test.ts
 * then runs each one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export interface Snippet {
  /** The generated module's path, relative to its directory. */
  readonly file: string
  /** The document it comes from, repository-relative. */
  readonly source: string
  readonly heading: string
  readonly line: number
  readonly code: string
  /** Compiled with unused locals allowed (see `LENIENT`). */
  readonly lenient: boolean
}

/** A document whose ```ts blocks are compiled and run. */
export interface Document {
  /** Repository-relative path. */
  readonly path: string
  /** Prefix of its generated modules. */
  readonly prefix: string
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
export const catalogPath = join(root, "PRIMITIVES_CATALOG.md")
export const generatedDir = join(root, "tests", "catalog", ".generated")
/** Where the snippets of `LENIENT` documents go: the `tests/catalog/lenient` project. */
export const lenientDir = join(root, "tests", "catalog", "lenient", ".generated")

/**
 * Documents whose snippets are compiled with unused locals allowed (and still run): READMEs of
 * packages other work owns at the moment, whose examples leave a value unused. Remove an entry
 * once its snippet uses what it declares.
 */
export const LENIENT: ReadonlyArray<string> = [
  "packages/llm/README.md",
  "packages/sqlite/README.md",
  "packages/postgres/README.md"
]

/**
 * Documents whose snippets need a running service: tests/catalog.test.ts runs them under the
 * service gate of @braid/testing (skipped when the service does not answer, failed under
 * `BRAID_REQUIRE_SERVICES=1`).
 */
export const NEEDS: Readonly<Record<string, "postgres" | "redis">> = {
  "packages/redis/README.md": "redis"
}

/** The catalog, the root README and every package README, in that order. */
export const documents = (): ReadonlyArray<Document> => [
  { path: "PRIMITIVES_CATALOG.md", prefix: "" },
  { path: "README.md", prefix: "readme-" },
  ...readdirSync(join(root, "packages")).sort()
    .filter((pkg) => existsSync(join(root, "packages", pkg, "README.md")))
    .map((pkg) => ({ path: `packages/${pkg}/README.md`, prefix: `readme-${pkg}-` }))
]

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "snippet"

/** The snippets of one document, in order, each with the heading it stands under and its line. */
export const extract = (markdown: string, document: Document = documents()[0]!): ReadonlyArray<Snippet> => {
  const lines = markdown.split("\n")
  const snippets: Array<Snippet> = []
  let heading = document.path
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const h = /^#{1,4}\s+(.*)$/.exec(line)
    if (h) heading = h[1]!.replace(/`/g, "")
    if (line.trim() === "```ts") {
      const start = i + 1
      let end = start
      while (end < lines.length && lines[end]!.trim() !== "```") end++
      if (end >= lines.length) throw new Error(`${document.path}:${i + 1}: unterminated \`\`\`ts block`)
      const n = String(snippets.length + 1).padStart(3, "0")
      snippets.push({
        file: `${document.prefix}${n}-${slug(heading)}.ts`,
        source: document.path,
        heading,
        line: i + 1,
        lenient: LENIENT.includes(document.path),
        code: `// From ${document.path} line ${i + 1} (${heading}). Generated: edit the document, not this file.\n` +
          lines.slice(start, end).join("\n") + "\n"
      })
      i = end
    }
  }
  return snippets
}

/** Every snippet of every document. */
export const all = (): ReadonlyArray<Snippet> =>
  documents().flatMap((d) => extract(readFileSync(join(root, d.path), "utf8"), d))

/** Where a snippet's module is. */
export const pathOf = (s: Snippet): string => join(s.lenient ? lenientDir : generatedDir, s.file)

/** Writes the snippets, removing stale ones. */
export const write = (snippets: ReadonlyArray<Snippet>): void => {
  for (const dir of [generatedDir, lenientDir]) {
    mkdirSync(dir, { recursive: true })
    const keep = new Set(snippets.filter((s) => dirname(pathOf(s)) === dir).map((s) => s.file))
    for (const f of readdirSync(dir)) if (!keep.has(f)) rmSync(join(dir, f))
  }
  for (const s of snippets) writeFileSync(pathOf(s), s.code)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const snippets = all()
  write(snippets)
  const readmes = snippets.filter((s) => s.source !== "PRIMITIVES_CATALOG.md").length
  console.log(
    `catalog: ${snippets.length - readmes} catalog and ${readmes} README snippets extracted to tests/catalog/.generated`
  )
}
