/**
 * The API reference cannot rot: every export carries `@since` and `@category` (the rule and its
 * exemptions live in scripts/api-docs.ts), and the generator (`npm run docs`, @effect/docgen) runs
 * here over every package, into build/, so a change docgen refuses fails the suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join, relative } from "node:path"
import { check, checkSource, generate, modules, NOT_IN_REFERENCE, packages } from "../scripts/api-docs.js"

const root = join(import.meta.dirname, "..")

describe("API documentation tags", () => {
  it("every export of every published package has @since and a known @category", () => {
    const { exports, problems } = check()
    expect(exports).toBeGreaterThan(500)
    expect(problems.map((p) => `${p.file}:${p.line} ${p.name}: missing ${p.missing.join(", ")}`)).toEqual([])
  })

  it("reports an export without @category, an unknown category and a missing @since", () => {
    const source = [
      "/**",
      " * @since 0.1.0",
      " */",
      "export const a = 1",
      "",
      "/**",
      " * @category stuff",
      " * @since 0.1.0",
      " */",
      "export const b = 2",
      "",
      "/**",
      " * @category models",
      " */",
      "export interface C {}",
      "",
      "export {",
      "  /**",
      "   * @category errors",
      "   * @since 0.1.0",
      "   */",
      "  d,",
      "  e",
      "}",
      "",
      "/**",
      " * @internal",
      " */",
      "export const f = 3"
    ].join("\n")
    const problems = checkSource("packages/core/src/Example.ts", source)
    expect(problems.map((p) => [p.name, p.missing])).toEqual([
      ["a", ["@category"]],
      ["b", ["known @category"]],
      ["C", ["@since"]],
      ["e", ["@since", "@category"]]
    ])
  })

  it("an index re-export needs @since only; no file is exempt from @category", () => {
    const plain = "/**\n * @since 0.1.0\n */\nexport const a = 1\n"
    expect(checkSource("packages/llm/src/Anything.ts", plain).map((p) => p.missing)).toEqual([["@category"]])
    const index =
      "/** The things. @since 0.1.0 */\nexport * as Things from \"./Things.js\"\nexport { x } from \"./X.js\"\n"
    expect(checkSource("packages/core/src/index.ts", index).map((p) => [p.name, p.missing])).toEqual([
      ["x", ["@since"]]
    ])
  })
})

describe("npm run docs", () => {
  it("generates a page per public module, grouped by category", { timeout: 600_000 }, async () => {
    const paths = { stagingDir: join(root, "build", "docgen-test"), outDir: join(root, "build", "docgen-test-api") }
    await generate(paths)
    for (const pkg of packages()) {
      for (const file of modules(pkg)) {
        if (file.endsWith("/index.ts") || NOT_IN_REFERENCE.includes(file)) continue
        const page = join(paths.outDir, "modules", pkg, `${relative(join("packages", pkg, "src"), file)}.md`)
        expect(existsSync(page), `${file} has no page`).toBe(true)
      }
    }
    const state = readFileSync(join(paths.outDir, "modules", "core", "State.ts.md"), "utf8")
    expect(state).toMatch(/^# accessors$/m)
    expect(state).toContain("export declare const get: <A>(key: Key<A>) => Effect.Effect<A, never, WorkflowContext>")
    expect(readFileSync(join(paths.outDir, "README.md"), "utf8")).toContain("## @braid/memory")
  })
})
