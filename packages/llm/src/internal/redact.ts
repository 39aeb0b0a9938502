/**
 * Scrubbing of secrets from text that may leave the process (error messages, span attributes,
 * the headers and bodies of provider errors). The one scrubbing function of the package: every
 * secret, and every value that looks like an API key or an auth header's value, becomes `***`.
 *
 * @internal
 */

/** What a secret is replaced with. */
export const mask = "***"

const patterns: ReadonlyArray<RegExp> = [
  // Anthropic and OpenAI keys (sk-ant-..., sk-..., sk-proj-...)
  /sk-[A-Za-z0-9_-]{8,}/g,
  /((?:x-api-key|api-key|api_key|apikey)["']?\s*[:=]\s*["']?)[^\s,;"'}]+/gi,
  /(authorization["']?\s*[:=]\s*["']?)(bearer\s+)?[^\s,;"'}]+/gi,
  /(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi
]

/** Header names whose values are always secret. */
const secretHeaders = new Set(["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie"])

/**
 * Removes the given secrets and anything that looks like an API key or auth header value; text
 * longer than `maxLength` is cut (default 500; `Infinity` keeps it whole).
 */
export const redact = (text: string, secrets: ReadonlyArray<string> = [], maxLength = 500): string => {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join(mask)
  for (const p of patterns) {
    out = out.replace(p, (_m, prefix?: string) => (typeof prefix === "string" ? prefix : "") + mask)
  }
  return out.length > maxLength ? out.slice(0, maxLength - 3) + "..." : out
}

/** Headers with the values of secret headers masked and the others scrubbed like any text. */
export const redactHeaders = (
  headers: Readonly<Record<string, string>>,
  secrets: ReadonlyArray<string> = []
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) {
    out[k] = secretHeaders.has(k.toLowerCase()) ? mask : redact(String(v), secrets, Infinity)
  }
  return out
}

/** A URL without its query, fragment and credentials (which may hold keys). */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname}`
  } catch {
    return redact(url.split(/[?#]/)[0] ?? "")
  }
}
