/**
 * The HTTP API reference (docs/http-api.md) is generated from the OpenAPI document of the server:
 * a change of an endpoint that is not regenerated (`npm run docs:http`) fails here.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { generate, target } from "../scripts/http-api-docs.js"

describe("HTTP API reference", () => {
  it("docs/http-api.md is what the server's OpenAPI document generates (run `npm run docs:http`)", () => {
    const generated = generate()
    expect(readFileSync(target, "utf8")).toBe(generated)
    // every endpoint group of the API is in it, with its operations
    for (const path of ["/api/sessions/{id}/messages", "/api/coaching", "/api/meetings", "/api/evaluations/runs"]) {
      expect(generated).toContain(` ${path}\``)
    }
  })
})
