/**
 * Scrubbing of secrets from text that may leave the process (error messages, span attributes).
 *
 * @internal
 */

const patterns: ReadonlyArray<RegExp> = [
  /sk-ant-[A-Za-z0-9_-]+/g,
  /(x-api-key\s*[:=]\s*)[^\s,;"']+/gi,
  /(authorization\s*[:=]\s*)(bearer\s+)?[^\s,;"']+/gi,
  /(bearer\s+)[A-Za-z0-9._~+/-]+=*/gi
]

/** Removes the given secrets and anything that looks like an API key or auth header value. */
export const redact = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = text
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[redacted]")
  for (const p of patterns) {
    out = out.replace(p, (_m, prefix?: string) => (typeof prefix === "string" ? prefix : "") + "[redacted]")
  }
  return out.length > 500 ? out.slice(0, 497) + "..." : out
}
