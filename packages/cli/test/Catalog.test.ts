import { Catalog } from "@braid/cli"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const markdown = [
  "# Catalog",
  "<!-- section:core -->",
  "### sequence / andThen",
  "Chain steps: the output of one",
  "is the input of the next. More text.",
  "",
  "```ts",
  "### not a heading",
  "```",
  "### `parallel`",
  "",
  "Run branches concurrently.",
  "<!-- /section:core -->",
  "<!-- section:workflows -->",
  "### Coaching.session",
  "A coaching session pipeline.",
  "<!-- /section:workflows -->"
].join("\n")

describe("braid catalog", () => {
  it("parses headings by section with the first sentence of their purpose, ignoring code blocks", () => {
    assert.deepStrictEqual(Catalog.parse(markdown), [
      {
        section: "core",
        name: "sequence / andThen",
        purpose: "Chain steps: the output of one is the input of the next."
      },
      { section: "core", name: "parallel", purpose: "Run branches concurrently." },
      { section: "workflows", name: "Coaching.session", purpose: "A coaching session pipeline." }
    ])
  })

  it.effect("prints the catalog, filters by section, and reports a missing file", () =>
    Effect.gen(function*() {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-cat-")), "CATALOG.md")
      fs.writeFileSync(file, markdown)
      const all = yield* runCli(["catalog", "--file", file])
      assert.strictEqual(all.code, 0)
      assert.include(all.stdout, "core\n  sequence / andThen")
      assert.include(all.stdout, "3 primitives")
      const some = yield* runCli(["catalog", "--file", file, "--section", "workflows"])
      assert.include(some.stdout, "Coaching.session")
      assert.notInclude(some.stdout, "parallel")
      const missing = yield* runCli(["catalog", "--file", path.join(path.dirname(file), "nope.md")])
      assert.strictEqual(missing.code, 2)
    }))

  it.effect("reads the repository's PRIMITIVES_CATALOG.md by default", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["catalog"])
      assert.strictEqual(r.code, 0)
      assert.include(r.stdout, "sequence")
    }))
})
