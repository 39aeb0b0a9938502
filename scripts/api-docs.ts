/**
 * The API reference and its rules, in one place.
 *
 * - `check()`: every export of every published package's public modules carries `@since` and
 *   `@category` in its JSDoc (a re-export in an `index.ts` needs `@since` only: the symbol's own
 *   module categorizes it). Files in `EXEMPT` need `@since` only, until the lead lifts the exemption.
 *   tests/api-docs.test.ts runs it.
 * - `generate()` (`npm run docs`): the API reference, generated from the JSDoc by `@effect/docgen`
 *   into docs/api/ (not committed: docs/api/ is ignored). docgen reads one source tree with a
 *   package.json, so the public modules of every package are copied into build/docgen/src/<package>/
 *   and docgen runs once over them (one TypeScript program instead of one per package).
 *   docgen's own `@example` checker is off (`DOCGEN_RUN_EXAMPLES=false`): the examples are compiled
 *   by scripts/jsdoc-examples.ts in `npm run typecheck`, against the real package layout.
 */
import { execFile } from "node:child_process"
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/**
 * Files being rewritten by other work at the time the `@category` rule was introduced: they need
 * `@since` only. Remove an entry (or a whole package) once its file has its categories.
 */
export const EXEMPT: ReadonlyArray<string> = []

/**
 * Files left out of the generated reference: docgen refuses them (a class member without
 * `@since`) and they are off-limits to this change. Each must still pass `check()`.
 */
export const NOT_IN_REFERENCE: ReadonlyArray<string> = []

/** The categories in use, as Effect names them. */
export const CATEGORIES: ReadonlyArray<string> = [
  "constructors",
  "combinators",
  "models",
  "errors",
  "layers",
  "services",
  "schemas",
  "guards",
  "symbols",
  "accessors",
  "constants",
  "execution",
  "instrumentation",
  "metrics",
  "parsing",
  "encoding",
  "diagnostics",
  "testing",
  "utils"
]

/** The published packages (every workspace that is not private), by directory name, in the root package.json's order. */
export const packages = (): ReadonlyArray<string> =>
  (JSON.parse(readFileSync(join(root, "package.json"), "utf8")).workspaces as ReadonlyArray<string>)
    .map((w) => w.replace(/^packages\//, ""))
    .filter((name) => {
      const pkg = join(root, "packages", name, "package.json")
      return existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).private !== true
    })

const walk = (dir: string): Array<string> =>
  readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? (name === "internal" ? [] : walk(p)) : name.endsWith(".ts") ? [p] : []
  })

/** The public modules of a package (its src/ without internal/), repository-relative. */
export const modules = (pkg: string): ReadonlyArray<string> =>
  walk(join(root, "packages", pkg, "src")).map((p) => relative(root, p))

export const isExempt = (file: string): boolean => EXEMPT.some((e) => e.endsWith("/") ? file.startsWith(e) : file === e)

/** One export without the tags it needs. */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly name: string
  readonly missing: ReadonlyArray<"@since" | "@category" | "known @category">
}

/** The tags of the JSDoc right above a node, read as docgen reads them (a tag starts a line). */
const tagsOf = (node: ts.Node, text: string): Map<string, string> => {
  const tags = new Map<string, string>()
  const ranges = ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []
  const last = ranges.filter((r) => text.slice(r.pos, r.pos + 3) === "/**").at(-1)
  if (!last) return tags
  const comment = text.slice(last.pos, last.end)
  for (const m of comment.matchAll(/^\s*(?:\/\*\*|\*)?\s*@(\w+)[ \t]*([^\n*]*)/gm)) {
    if (!tags.has(m[1]!)) tags.set(m[1]!, m[2]!.trim())
  }
  // The one-line form `/** Text. @since 0.1.0 */` used on index re-exports.
  const inline = /@since\s+(\S+)/.exec(comment)
  if (inline && !tags.has("since")) tags.set("inlineSince", inline[1]!)
  return tags
}

const hasExport = (node: ts.Node): boolean =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)

const declName = (node: ts.Statement): string => {
  if (ts.isVariableStatement(node)) {
    return node.declarationList.declarations.map((d) => d.name.getText()).join(", ")
  }
  if (ts.isExportDeclaration(node)) {
    const clause = node.exportClause
    if (!clause) return `* from ${node.moduleSpecifier?.getText() ?? ""}`
    return ts.isNamespaceExport(clause) ? clause.name.text : clause.elements.map((e) => e.name.text).join(", ")
  }
  const named = node as ts.Statement & { name?: ts.Node }
  return named.name ? named.name.getText() : "default"
}

/** The problems of one module's source. */
export const checkSource = (file: string, text: string): ReadonlyArray<Problem> => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  const isIndex = file.endsWith("/index.ts")
  const exempt = isExempt(file)
  const problems: Array<Problem> = []
  const seen = new Set<string>()
  const visit = (statements: ts.NodeArray<ts.Statement>, prefix: string) => {
    for (const node of statements) {
      const reexport = ts.isExportDeclaration(node)
      if (!reexport && !hasExport(node) && !ts.isExportAssignment(node)) continue
      const name = prefix + declName(node)
      // Overloads: the first signature carries the documentation.
      if (ts.isFunctionDeclaration(node)) {
        if (seen.has(name)) continue
        seen.add(name)
      }
      const tags = tagsOf(node, text)
      // docgen leaves `@internal` exports out of the reference.
      if (tags.has("internal")) continue
      // docgen reads the documentation of `export { a, b }` on each name, inside the braces (an
      // index.ts, left out of the reference, may document the statement instead).
      if (
        reexport && node.exportClause && ts.isNamedExports(node.exportClause) &&
        !(isIndex && (tags.has("since") || tags.has("inlineSince")))
      ) {
        for (const element of node.exportClause.elements) {
          const own = tagsOf(element, text)
          const missing: Array<Problem["missing"][number]> = []
          if (!own.has("since")) missing.push("@since")
          if (!exempt && !isIndex) {
            const category = own.get("category")
            if (category === undefined) missing.push("@category")
            else if (!CATEGORIES.includes(category)) missing.push("known @category")
          }
          if (missing.length > 0) {
            problems.push({
              file,
              line: source.getLineAndCharacterOfPosition(element.getStart()).line + 1,
              name: prefix + element.name.text,
              missing
            })
          }
        }
        continue
      }
      const missing: Array<Problem["missing"][number]> = []
      if (!tags.has("since") && !(isIndex && tags.has("inlineSince"))) missing.push("@since")
      if (!(isIndex && reexport) && !exempt) {
        const category = tags.get("category")
        if (category === undefined) missing.push("@category")
        else if (!CATEGORIES.includes(category)) missing.push("known @category")
      }
      if (missing.length > 0) {
        problems.push({ file, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, name, missing })
      }
      if (ts.isModuleDeclaration(node) && node.body && ts.isModuleBlock(node.body)) {
        visit(node.body.statements, `${name}.`)
      }
    }
  }
  visit(source.statements, "")
  return problems
}

/** How many exports the rule covered. */
export interface Counts {
  /** Every exported name (an `export { a, b }` counts two). */
  readonly exports: number
  /** Those that need `@category`: outside the index files and the exempt files. */
  readonly categorized: number
  /** Those of the exempt files (`@since` only). */
  readonly exempt: number
  /** The re-exports of the index files (`@since` only). */
  readonly reexports: number
}

/** Every export of every published package, checked, with the counts. */
export const check = (): Counts & { readonly problems: ReadonlyArray<Problem> } => {
  const counts = { exports: 0, categorized: 0, exempt: 0, reexports: 0 }
  const problems: Array<Problem> = []
  for (const pkg of packages()) {
    for (const file of modules(pkg)) {
      const text = readFileSync(join(root, file), "utf8")
      const n = countExports(file, text)
      counts.exports += n
      if (file.endsWith("/index.ts")) counts.reexports += n
      else if (isExempt(file)) counts.exempt += n
      else counts.categorized += n
      problems.push(...checkSource(file, text))
    }
  }
  return { ...counts, problems }
}

/** How many names one module exports (as `checkSource` walks them; `@internal` ones included). */
export const countExports = (file: string, text: string): number => {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true)
  let n = 0
  const visit = (statements: ts.NodeArray<ts.Statement>) => {
    for (const node of statements) {
      if (ts.isExportDeclaration(node)) {
        n += node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements.length : 1
      } else if (hasExport(node) || ts.isExportAssignment(node)) {
        n += ts.isVariableStatement(node) ? node.declarationList.declarations.length : 1
        if (ts.isModuleDeclaration(node) && node.body && ts.isModuleBlock(node.body)) visit(node.body.statements)
      }
    }
  }
  visit(source.statements)
  return n
}

export const stagingDir = join(root, "build", "docgen")
export const outDir = join(root, "docs", "api")

/** Where `generate` stages the sources and writes the reference. */
export interface Paths {
  /** Inside the repository, so that the staged sources resolve the root node_modules. */
  readonly stagingDir: string
  readonly outDir: string
}

/** Copies the public modules into the staging tree docgen reads (internal/ too: modules import it). */
const stage = ({ outDir, stagingDir }: Paths): void => {
  rmSync(stagingDir, { recursive: true, force: true })
  mkdirSync(join(stagingDir, "src"), { recursive: true })
  for (const pkg of packages()) {
    cpSync(join(root, "packages", pkg, "src"), join(stagingDir, "src", pkg), { recursive: true })
  }
  writeFileSync(
    join(stagingDir, "package.json"),
    JSON.stringify({ name: "braid", private: true, type: "module", homepage: "../../README.md" }, null, 2)
  )
  const exclude = [
    "src/**/internal/**",
    "src/*/index.ts",
    ...NOT_IN_REFERENCE.map((f) => f.replace(/^packages\//, "src/").replace("/src/", "/"))
  ]
  writeFileSync(
    join(stagingDir, "docgen.json"),
    JSON.stringify(
      {
        srcDir: "src",
        outDir: relative(stagingDir, outDir),
        exclude,
        enableSearch: false,
        enforceVersion: true,
        parseCompilerOptions: relative(stagingDir, join(root, "tsconfig.base.json"))
      },
      null,
      2
    )
  )
}

/** The first paragraph of a package's README. */
const summary = (pkg: string): string => {
  const readme = join(root, "packages", pkg, "README.md")
  if (!existsSync(readme)) return ""
  const paragraphs = readFileSync(readme, "utf8").split(/\n\s*\n/).map((p) => p.trim())
  return paragraphs.find((p) => p !== "" && !p.startsWith("#")) ?? ""
}

/** A table of contents by package, over docgen's per-module pages. */
const writeIndex = (outDir: string): void => {
  const lines = [
    "# Braid API reference",
    "",
    "Generated by `npm run docs` from the JSDoc of the sources (`@effect/docgen`); not committed.",
    ""
  ]
  for (const pkg of packages()) {
    lines.push(`## @braid/${pkg}`, "", summary(pkg), "")
    for (const file of modules(pkg)) {
      if (file.endsWith("/index.ts") || NOT_IN_REFERENCE.includes(file)) continue
      const rel = relative(join(root, "packages", pkg, "src"), file)
      lines.push(`- [${rel.replace(/\.ts$/, "")}](modules/${pkg}/${rel}.md)`)
    }
    lines.push("")
  }
  writeFileSync(join(outDir, "README.md"), lines.join("\n"))
}

/**
 * Generates docs/api/ (or `paths.outDir`). Throws with docgen's output when it fails (a missing
 * `@since` fails it); `verbose` shows its progress.
 */
export const generate = async (paths: Paths = { stagingDir, outDir }, verbose = false): Promise<void> => {
  stage(paths)
  rmSync(paths.outDir, { recursive: true, force: true })
  // Asynchronous: a test runner's worker must not be blocked for the tens of seconds docgen takes.
  await new Promise<void>((resolve, reject) => {
    const child = execFile(
      join(root, "node_modules", ".bin", "docgen"),
      [],
      {
        cwd: paths.stagingDir,
        env: { ...process.env, DOCGEN_RUN_EXAMPLES: "false" },
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024
      },
      (error, stdout, stderr) => error === null ? resolve() : reject(new Error(`docgen failed:\n${stdout}${stderr}`))
    )
    if (verbose) {
      child.stdout?.pipe(process.stdout)
      child.stderr?.pipe(process.stderr)
    }
  })
  writeIndex(paths.outDir)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === "check") {
    const { categorized, exempt, exports, problems, reexports } = check()
    for (const p of problems) console.log(`${p.file}:${p.line} ${p.name}: missing ${p.missing.join(", ")}`)
    console.log(
      `api: ${exports} exports (${categorized} with @since and @category, ${exempt} in exempt files and ` +
        `${reexports} index re-exports with @since), ${problems.length} without the tags they need`
    )
    process.exitCode = problems.length > 0 ? 1 : 0
  } else {
    const started = Date.now()
    await generate({ stagingDir, outDir }, true)
    console.log(`api: reference generated in docs/api/ in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
}
