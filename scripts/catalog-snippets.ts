/**
 * Extracts every ```ts block of PRIMITIVES_CATALOG.md into tests/catalog/.generated/, one module
 * per snippet, named after the entry it belongs to. `npm run typecheck` (and so `npm test`) runs
 * this before `tsc -b`, which type-checks the snippets as part of the `tests` project;
 * tests/catalog.test.ts then runs each one.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export interface Snippet {
  readonly file: string
  readonly heading: string
  readonly line: number
  readonly code: string
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
export const catalogPath = join(root, "PRIMITIVES_CATALOG.md")
export const generatedDir = join(root, "tests", "catalog", ".generated")

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 60) || "snippet"

/** The snippets of the catalog, in order, each with the heading it stands under and its line. */
export const extract = (markdown: string): ReadonlyArray<Snippet> => {
  const lines = markdown.split("\n")
  const snippets: Array<Snippet> = []
  let heading = "catalog"
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const h = /^#{2,4}\s+(.*)$/.exec(line)
    if (h) heading = h[1]!.replace(/`/g, "")
    if (line.trim() === "```ts") {
      const start = i + 1
      let end = start
      while (end < lines.length && lines[end]!.trim() !== "```") end++
      if (end >= lines.length) throw new Error(`PRIMITIVES_CATALOG.md:${i + 1}: unterminated \`\`\`ts block`)
      const n = String(snippets.length + 1).padStart(3, "0")
      snippets.push({
        file: `${n}-${slug(heading)}.ts`,
        heading,
        line: i + 1,
        code:
          `// From PRIMITIVES_CATALOG.md line ${i + 1} (${heading}). Generated: edit the catalog, not this file.\n` +
          lines.slice(start, end).join("\n") + "\n"
      })
      i = end
    }
  }
  return snippets
}

/** Writes the snippets, removing stale ones. */
export const write = (snippets: ReadonlyArray<Snippet>): void => {
  mkdirSync(generatedDir, { recursive: true })
  const keep = new Set(snippets.map((s) => s.file))
  for (const f of readdirSync(generatedDir)) if (!keep.has(f)) rmSync(join(generatedDir, f))
  for (const s of snippets) writeFileSync(join(generatedDir, s.file), s.code)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const snippets = extract(readFileSync(catalogPath, "utf8"))
  write(snippets)
  console.log(`catalog: ${snippets.length} snippets extracted to tests/catalog/.generated`)
}
