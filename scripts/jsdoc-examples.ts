/**
 * Extracts every ```ts block of an `@example` in the JSDoc of the packages' sources into
 * tests/jsdoc/.generated/, one module per example, named after its file and line. `npm run
 * typecheck` (and so `npm test`) runs this before `tsc -b`, which type-checks them as the
 * `tests/jsdoc` project (unused names allowed: an example often only shows a value). An example
 * that no longer matches the API fails the type-check.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
export const generatedDir = join(root, "tests", "jsdoc", ".generated")

export interface Example {
  readonly file: string
  readonly source: string
  readonly line: number
  readonly code: string
}

const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? sources(p) : name.endsWith(".ts") ? [p] : []
  })

/** The examples of one source file. */
export const extract = (path: string, text: string): ReadonlyArray<Example> => {
  const lines = text.split("\n")
  const out: Array<Example> = []
  const rel = relative(root, path)
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*\*\s*@example\b/.test(lines[i]!)) continue
    let j = i + 1
    while (
      j < lines.length && !/^\s*\*\s*```ts\s*$/.test(lines[j]!) && /^\s*\*/.test(lines[j]!) &&
      !/^\s*\*\//.test(lines[j]!)
    ) j++
    if (j >= lines.length || !/```ts/.test(lines[j]!)) continue
    const start = j + 1
    let end = start
    while (end < lines.length && !/^\s*\*\s*```\s*$/.test(lines[end]!)) end++
    const body = lines.slice(start, end).map((l) => l.replace(/^\s*\* ?/, ""))
    const name = rel.replace(/^packages\//, "").replace(/\/src\//, "-").replace(/[/.]/g, "-")
    out.push({
      file: `${name}-${start}.ts`,
      source: rel,
      line: start,
      code: `// From ${rel} line ${start}. Generated: edit the JSDoc, not this file.\n${body.join("\n")}\nexport {}\n`
    })
    i = end
  }
  return out
}

/** Every example of every package's sources. */
export const all = (): ReadonlyArray<Example> =>
  readdirSync(join(root, "packages")).flatMap((pkg) => {
    const src = join(root, "packages", pkg, "src")
    try {
      statSync(src)
    } catch {
      return []
    }
    return sources(src).flatMap((p) => extract(p, readFileSync(p, "utf8")))
  })

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const examples = all()
  mkdirSync(generatedDir, { recursive: true })
  const keep = new Set(examples.map((e) => e.file))
  for (const f of readdirSync(generatedDir)) if (!keep.has(f)) rmSync(join(generatedDir, f))
  for (const e of examples) writeFileSync(join(generatedDir, e.file), e.code)
  console.log(`jsdoc: ${examples.length} @example blocks extracted to tests/jsdoc/.generated`)
}
