/**
 * Every ```ts snippet of PRIMITIVES_CATALOG.md is type-checked (by `npm run typecheck`, which
 * extracts them into tests/catalog/.generated before `tsc -b`) and run here; each asserts its own
 * result, so a snippet that no longer matches the code fails the suite.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { catalogPath, extract, generatedDir } from "../scripts/catalog-snippets.js"

const snippets = extract(readFileSync(catalogPath, "utf8"))

describe("PRIMITIVES_CATALOG.md", () => {
  it("has snippets, and each was type-checked in its current form", () => {
    expect(snippets.length).toBeGreaterThan(0)
    for (const s of snippets) {
      const file = join(generatedDir, s.file)
      const onDisk = existsSync(file) ? readFileSync(file, "utf8") : ""
      expect(onDisk, `${s.file} is stale: run \`npm run typecheck\` (npm test does) so the snippet is compiled`).toBe(
        s.code
      )
    }
  })

  for (const s of snippets) {
    it(`runs: ${s.heading} (line ${s.line})`, async () => {
      await import(pathToFileURL(join(generatedDir, s.file)).href)
    })
  }
})
