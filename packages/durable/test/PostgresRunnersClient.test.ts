/**
 * `PostgresRunners.layerClient` input checks (no database needed; the client itself is tested
 * against two real `braid worker` runners in packages/cli/test/Worker.test.ts).
 */
import * as PostgresRunners from "@braid/durable/PostgresRunners"
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc, Layer } from "effect"

const url = "postgres://postgres@127.0.0.1:5432/test"

describe("PostgresRunners.layerClient", () => {
  it("any prefix: a layer for a SQL name, else a TypeError naming the prefix (never the URL)", () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (prefix) => {
      const valid = /^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)
      try {
        const layer = PostgresRunners.layerClient({ url, prefix })
        assert.isTrue(valid, `accepted ${JSON.stringify(prefix)}`)
        assert.isTrue(Layer.isLayer(layer))
      } catch (e) {
        assert.isFalse(valid, String(e))
        assert.instanceOf(e, TypeError)
        assert.include((e as TypeError).message, JSON.stringify(prefix))
        assert.notInclude((e as TypeError).message, url)
      }
    }))
  })
})
