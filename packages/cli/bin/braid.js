#!/usr/bin/env node
// The `braid` command. Installed, it runs the compiled CLI (dist/main.js) under plain Node.
// Inside the Braid repository, under the "@braid/source" export condition or before a build (no
// dist/), it runs the TypeScript sources through tsx, a development dependency there.
import { existsSync } from "node:fs"

const compiled = new URL("../dist/main.js", import.meta.url)
const sourceCondition = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].some((arg) => arg.includes("@braid/source"))
if (existsSync(compiled) && !sourceCondition) {
  await import(compiled.href)
} else {
  const { register } = await import("tsx/esm/api")
  register()
  await import(new URL("../src/main.ts", import.meta.url).href)
}
