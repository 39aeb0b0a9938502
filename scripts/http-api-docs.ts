/**
 * The HTTP API reference of `braid serve` (docs/http-api.md), generated from the OpenAPI document
 * of `@braid/server` (`OpenApi.fromApi(Api.Api)`), so that it cannot drift from the endpoints:
 * `npm run docs:http` writes it, and tests/http-api-docs.test.ts fails when the committed file is
 * not what the API generates.
 */
import { Api } from "@braid/server"
import { OpenApi } from "@effect/platform"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

type Json = Record<string, any>

const methods = ["get", "post", "put", "patch", "delete"] as const

/** A schema in a few words: its type, the fields of an object (required ones unmarked). */
const brief = (schema: Json | undefined, spec: Json, depth = 0): string => {
  if (schema === undefined) return ""
  if (schema.$ref !== undefined) {
    const name = String(schema.$ref).split("/").pop()!
    return depth > 0 ? name : brief(spec.components?.schemas?.[name], spec, depth) || name
  }
  if (schema.anyOf !== undefined || schema.oneOf !== undefined) {
    return (schema.anyOf ?? schema.oneOf).map((s: Json) => brief(s, spec, depth + 1)).join(" \\| ")
  }
  if (schema.enum !== undefined) return schema.enum.map((v: unknown) => JSON.stringify(v)).join(" \\| ")
  if (schema.type === "array") return `${brief(schema.items, spec, depth + 1)}[]`
  if (schema.type === "object" && schema.properties !== undefined && depth === 0) {
    const required = new Set<string>(schema.required ?? [])
    return `{ ${
      Object.entries(schema.properties as Json).map(([k, v]) =>
        `${k}${required.has(k) ? "" : "?"}: ${brief(v as Json, spec, depth + 1)}`
      ).join(", ")
    } }`
  }
  return schema.type ?? "object"
}

/** The markdown reference. */
export const generate = (): string => {
  const spec = OpenApi.fromApi(Api.Api) as unknown as Json
  const lines: Array<string> = [
    "# HTTP API reference (`braid serve`)",
    "",
    "<!-- Generated from the OpenAPI document of @braid/server by `npm run docs:http`; do not edit. -->",
    "",
    `${spec.info.description} Every endpoint but \`GET /api/health\` needs \`Authorization: Bearer <token>\``,
    "(see [serve.md](serve.md#users-and-roles)); errors are JSON `{ _tag, message, field? }`. The",
    "running server serves the same document at `/api/openapi.json` and an interactive page at `/api/docs`.",
    "Not in the document: `GET /api/sessions/:id/ws` (the WebSocket push, see",
    "[serve.md](serve.md#live-events-of-a-session)).",
    ""
  ]
  for (const tag of spec.tags as ReadonlyArray<Json>) {
    lines.push(`## ${tag.name}`, "", tag.description ?? "", "")
    lines.push("| Endpoint | Parameters | Body | Answers |", "|---|---|---|---|")
    for (const [path, item] of Object.entries(spec.paths as Json)) {
      for (const method of methods) {
        const op = (item as Json)[method]
        if (op === undefined || !(op.tags ?? []).includes(tag.name)) continue
        const params = (op.parameters ?? []).map((p: Json) => `${p.name}${p.required ? "" : "?"} (${p.in})`).join(
          ", "
        )
        const bodySchema = op.requestBody?.content?.["application/json"]?.schema
        const answers = Object.entries(op.responses ?? {}).map(([status, r]) => {
          const schema = (r as Json).content?.["application/json"]?.schema
          const tags = schema === undefined ? "" : brief(schema, spec, 1)
          return status.startsWith("2") || tags === "" ? status : `${status} ${tags}`
        }).join("; ")
        const title = op.description !== undefined ? ` ${String(op.description).replace(/\n/g, " ")}` : ""
        lines.push(
          `| \`${method.toUpperCase()} ${path}\`${title} | ${params} | ${
            brief(bodySchema, spec).replace(/\|/g, "\\|")
          } | ${answers} |`
        )
      }
    }
    lines.push("")
  }
  return lines.join("\n")
}

export const target = join(import.meta.dirname, "..", "docs", "http-api.md")

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  writeFileSync(target, generate())
  console.log(`wrote ${target}`)
}
