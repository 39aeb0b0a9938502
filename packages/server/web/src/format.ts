/**
 * Formatting shared by the pages.
 */

/** Dollars with enough digits for sub-cent model calls. */
export const usd = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? "–" : `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`

/** An integer with thousands separators. */
export const int = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? "–" : Math.round(n).toLocaleString("en-US")

/** A duration in milliseconds, short. */
export const ms = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n)
    ? "–"
    : n < 1000
    ? `${Math.round(n)} ms`
    : n < 60_000
    ? `${(n / 1000).toFixed(1)} s`
    : `${Math.floor(n / 60_000)} min ${Math.round((n % 60_000) / 1000)} s`

/** An epoch-millis time, local. */
export const when = (at: number | undefined): string =>
  at === undefined || at === 0 ? "–" : new Date(at).toLocaleString()

/** The words of an end reason. */
export const endReason = (reason: string | undefined): string => reason === undefined ? "–" : reason.replace(/-/g, " ")
