/**
 * Splits a text into stream deltas (one word with its trailing space each).
 *
 * @internal
 */
export const words = (text: string): ReadonlyArray<string> => (text.match(/\S*\s*/g) ?? []).filter((c) => c !== "")
