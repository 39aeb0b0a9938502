#!/usr/bin/env node
// The `braid` command: runs the TypeScript CLI (src/main.ts) through tsx, so no build step is needed.
import { register } from "tsx/esm/api"

register()
await import("../src/main.ts")
