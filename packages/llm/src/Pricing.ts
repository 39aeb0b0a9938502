/**
 * Prices of models, in USD per million tokens: input, output, prompt-cache read and
 * prompt-cache write (5-minute cache). The defaults are Anthropic's list prices as published in
 * October 2026; add or override models with `Pricing.layer`. A dated model id
 * (`claude-sonnet-5-5-20260901`) is priced by its longest matching prefix.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"

/**
 * Tokens of one call, as priced: input (excluding cache reads and writes), output, cache reads,
 * cache writes.
 *
 * @example
 * ```ts
 * import type { Pricing } from "@braid/llm"
 *
 * const u: Pricing.Usage = { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 0, cacheWriteTokens: 0 }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
}

/**
 * USD per million tokens.
 *
 * @since 0.1.0
 * @category models
 */
export interface Price {
  readonly input: number
  readonly output: number
  readonly cacheRead: number
  readonly cacheWrite: number
}

/**
 * Prices by model id (or id prefix).
 *
 * @since 0.1.0
 * @category models
 */
export type Table = Readonly<Record<string, Price>>

const p = (input: number, output: number, cacheRead: number, cacheWrite: number): Price => ({
  input,
  output,
  cacheRead,
  cacheWrite
})

/**
 * The built-in table. `braid-scripted` (the offline model) is priced like Claude Sonnet 5.5 so
 * offline cost reports look like real ones; `braid-scripted-mini` like Claude Haiku 5.5.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: Table = {
  "claude-opus-5-5": p(4, 20, 0.2, 5),
  "claude-opus-5": p(5, 25, 0.5, 6.25),
  "claude-sonnet-5-5": p(2, 10, 0.1, 2.5),
  "claude-sonnet-5": p(2, 10, 0.2, 2.5),
  "claude-haiku-5-5": p(0.1, 0.5, 0.01, 0.125),
  "claude-opus-4-8": p(5, 25, 0.5, 6.25),
  "claude-opus-4-7": p(5, 25, 0.5, 6.25),
  "claude-opus-4-6": p(5, 25, 0.5, 6.25),
  "claude-opus-4-5": p(5, 25, 0.5, 6.25),
  "claude-opus-4-1": p(15, 75, 1.5, 18.75),
  "claude-sonnet-4-6": p(3, 15, 0.3, 3.75),
  "claude-sonnet-4-5": p(3, 15, 0.3, 3.75),
  "claude-sonnet-4": p(3, 15, 0.3, 3.75),
  "claude-haiku-4-5": p(1, 5, 0.1, 1.25),
  "braid-scripted": p(2, 10, 0.1, 2.5),
  "braid-scripted-mini": p(0.1, 0.5, 0.01, 0.125)
}

/**
 * The price table in use (a `Context.Reference`: the defaults unless a layer replaces them).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pricing } from "@braid/llm"
 *
 * const price = Effect.map(Pricing.Pricing, (t) => Pricing.lookup(t.table, "claude-haiku-5-5"))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Pricing extends Context.Reference<Pricing>()("@braid/llm/Pricing", {
  defaultValue: (): { readonly table: Table } => ({ table: defaults })
}) {}

/**
 * The defaults extended (or overridden) with `table`.
 *
 * @example
 * ```ts
 * import { Pricing } from "@braid/llm"
 *
 * const MyPrices = Pricing.layer({ "my-fine-tune": { input: 1, output: 4, cacheRead: 0.1, cacheWrite: 1.25 } })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (table: Table): Layer.Layer<never> =>
  Layer.succeedContext(Context.make(Pricing, { table: { ...defaults, ...table } }))

/**
 * The price of `model`: exact id, else the longest id that is a prefix of it.
 *
 * @example
 * ```ts
 * import { Pricing } from "@braid/llm"
 *
 * Pricing.lookup(Pricing.defaults, "claude-sonnet-5-5-20260901")?.input // 2
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const lookup = (table: Table, model: string): Price | undefined => {
  const exact = table[model]
  if (exact) return exact
  let best: string | undefined
  for (const id of Object.keys(table)) {
    if (model.startsWith(id) && (best === undefined || id.length > best.length)) best = id
  }
  return best === undefined ? undefined : table[best]
}

/**
 * The dollar cost of `usage` at `price` (input tokens exclude cache reads and writes, as the
 * Messages API reports them).
 *
 * @example
 * ```ts
 * import { Pricing } from "@braid/llm"
 *
 * Pricing.cost(
 *   { input: 2, output: 10, cacheRead: 0.1, cacheWrite: 2.5 },
 *   { inputTokens: 1_000_000, outputTokens: 100_000, cacheReadTokens: 0, cacheWriteTokens: 0 }
 * ) // 3
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const cost = (price: Price, usage: Usage): number =>
  (usage.inputTokens * price.input + usage.outputTokens * price.output + usage.cacheReadTokens * price.cacheRead +
    usage.cacheWriteTokens * price.cacheWrite) / 1_000_000
