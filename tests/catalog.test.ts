/**
 * Every ```ts snippet of PRIMITIVES_CATALOG.md, of README.md and of each packages/*\/README.md is
 * type-checked (by `npm run typecheck`, which extracts them into tests/catalog/.generated before
 * `tsc -b`) and run here; each asserts its result, so a snippet that no longer matches the code
 * fails the suite. Snippets that need PostgreSQL or Redis (`NEEDS`) run under the service gate.
 */
import { describeWith } from "@braid/testing"
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"
import { all, documents, NEEDS, pathOf, type Snippet } from "../scripts/catalog-snippets.js"

const snippets = all()

const runs = (s: Snippet) =>
  it(`runs: ${s.source} ${s.heading} (line ${s.line})`, async () => {
    await import(pathToFileURL(pathOf(s)).href)
  })

describe("documentation snippets", () => {
  it("the catalog and every package README have snippets, each type-checked in its current form", () => {
    const sources = new Set(snippets.map((s) => s.source))
    for (const d of documents()) {
      if (d.path === "packages/cli/README.md") continue // a command: its README shows the command line
      expect(sources.has(d.path), `${d.path} has no \`\`\`ts snippet`).toBe(true)
    }
    for (const s of snippets) {
      const file = pathOf(s)
      const onDisk = existsSync(file) ? readFileSync(file, "utf8") : ""
      expect(onDisk, `${s.file} is stale: run \`npm run typecheck\` (npm test does) so the snippet is compiled`).toBe(
        s.code
      )
    }
  })

  for (const s of snippets) if (NEEDS[s.source] === undefined) runs(s)
})

for (const service of new Set(Object.values(NEEDS))) {
  const describeService = await describeWith(service)
  describeService(`documentation snippets that need ${service}`, () => {
    for (const s of snippets) if (NEEDS[s.source] === service) runs(s)
  })
}
