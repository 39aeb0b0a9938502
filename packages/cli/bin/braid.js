#!/usr/bin/env node
// The `braid` command. Installed, it runs the compiled CLI (dist/main.js) under plain Node.
// Inside the Braid repository it always runs the TypeScript sources (never a stale build) through
// tsx, a development dependency there, with the "@braid/source" export condition that maps every
// @braid package to its sources: directly when the condition is on, else in a child process with it.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const compiled = new URL("../dist/main.js", import.meta.url)
const sources = new URL("../src/main.ts", import.meta.url)
const sourceCondition = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => arg.includes("@braid/source"))
const inRepository = existsSync(sources) && existsSync(new URL("../../../PRIMITIVES_CATALOG.md", import.meta.url))

if (sourceCondition) {
  const { register } = await import("tsx/esm/api")
  register()
  await import(sources.href)
} else if (inRepository) {
  const child = spawnSync(
    process.execPath,
    ["--conditions=@braid/source", "--import", "tsx", fileURLToPath(sources), ...process.argv.slice(2)],
    { stdio: "inherit" }
  )
  process.exit(child.status ?? 1)
} else {
  await import(compiled.href)
}
