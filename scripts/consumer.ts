/**
 * The consumer check: what users install is what is tested. Builds every public package, packs
 * each into a tarball (`npm pack`), installs the tarballs into fresh projects outside the
 * repository (from npm's cache, no network), and runs them the way a user would:
 *
 * - plain `node app.mjs` importing @braid/core and @braid/resilience (a pipeline with retry and parallel);
 * - a strict TypeScript project (NodeNext, `skipLibCheck: false`) using core, agents and llm,
 *   type-checked and run under plain Node;
 * - the installed `braid` bin: `braid run coaching` offline and `braid catalog`;
 * - an install of @braid/core + @braid/agents alone: no native module, none of pg, ioredis, better-sqlite3.
 *
 * `tests/consumer.test.ts` runs it as part of `npm test`; `npx tsx scripts/consumer.ts` prints the
 * figures (install time and size, cold import time of @braid/core).
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** A public workspace package: its name, folder and the @braid packages it depends on. */
export interface Workspace {
  readonly name: string
  readonly dir: string
  readonly braidDeps: ReadonlyArray<string>
}

export const workspaces = (): ReadonlyArray<Workspace> => {
  const rootJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: ReadonlyArray<string> }
  return rootJson.workspaces.flatMap((w) => {
    const pj = JSON.parse(readFileSync(join(root, w, "package.json"), "utf8")) as {
      name: string
      private?: boolean
      dependencies?: Record<string, string>
    }
    if (pj.private === true) return []
    return [{
      name: pj.name,
      dir: join(root, w),
      braidDeps: Object.keys(pj.dependencies ?? {}).filter((d) => d.startsWith("@braid/"))
    }]
  })
}

/** The package and every @braid package it needs, transitively. */
export const closure = (names: ReadonlyArray<string>, all: ReadonlyArray<Workspace>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (n: string) => {
    if (seen.has(n)) return
    seen.add(n)
    for (const d of all.find((w) => w.name === n)?.braidDeps ?? []) visit(d)
  }
  names.forEach(visit)
  return [...seen]
}

const npm = (args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync("npm", [...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: npmEnv() })

/** The user's environment, without the monorepo's source condition. */
const npmEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env["NODE_OPTIONS"]
  delete env["ANTHROPIC_API_KEY"]
  env["NO_COLOR"] = "1"
  return env
}

/** Builds (tsc -b tsconfig.build.json) and packs every public package; returns name -> tarball. */
export const packAll = (into: string): ReadonlyMap<string, string> => {
  execFileSync("npx", ["tsc", "-b", "tsconfig.build.json"], { cwd: root, stdio: "inherit", env: npmEnv() })
  const tarballs = new Map<string, string>()
  for (const w of workspaces()) {
    const out = npm(["pack", "--json", "--pack-destination", into], w.dir)
    const [info] = JSON.parse(out) as ReadonlyArray<{ filename: string }>
    tarballs.set(w.name, join(into, info!.filename))
  }
  return tarballs
}

/** Makes a fresh project outside the repository and installs the tarballs (and `extra` packages) from the cache. */
export const install = (
  tarballs: ReadonlyArray<string>,
  extra: ReadonlyArray<string> = []
): { readonly dir: string; readonly millis: number } => {
  const dir = mkdtempSync(join(tmpdir(), "braid-consumer-"))
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2))
  const start = performance.now()
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs, ...extra], dir)
  return { dir, millis: performance.now() - start }
}

/** Installed packages (name@version) under node_modules, and every native module (.node file). */
export const inventory = (
  dir: string
): { readonly packages: ReadonlyArray<string>; readonly native: ReadonlyArray<string>; readonly bytes: number } => {
  const packages: Array<string> = []
  const native: Array<string> = []
  let bytes = 0
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) {
        if (existsSync(join(p, "package.json")) && /node_modules[/\\](@[^/\\]+[/\\])?[^/\\]+$/.test(p)) {
          const pj = JSON.parse(readFileSync(join(p, "package.json"), "utf8")) as { name?: string; version?: string }
          if (pj.name !== undefined) packages.push(`${pj.name}@${pj.version}`)
        }
        walk(p)
      } else {
        bytes += statSync(p).size
        if (entry.name.endsWith(".node")) native.push(p)
      }
    }
  }
  walk(join(dir, "node_modules"))
  return { packages, native, bytes }
}

/** Runs `node` with `args` in `dir` (plain Node, the user's environment). */
export const node = (dir: string, args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, args, { cwd: dir, encoding: "utf8", env: npmEnv(), timeout: 120_000 })

/** The cold import time of a package in a fresh process, in ms (median of `runs`). */
export const coldImportMillis = (dir: string, pkg: string, runs = 5): number => {
  const times: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const r = node(dir, [
      "--input-type=module",
      "-e",
      `const t = performance.now(); await import(${JSON.stringify(pkg)}); console.log(performance.now() - t)`
    ])
    times.push(Number(r.stdout.trim()))
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(runs / 2)]!
}

export const cleanup = (dir: string) => rmSync(dir, { recursive: true, force: true })

export const mkdirp = (d: string) => mkdirSync(d, { recursive: true })

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const packDir = mkdtempSync(join(tmpdir(), "braid-pack-"))
  const tarballs = packAll(packDir)
  const all = workspaces()
  const coreOnly = install(closure(["@braid/core"], all).map((n) => tarballs.get(n)!))
  const coreInv = inventory(coreOnly.dir)
  const everything = install([...tarballs.values()])
  const allInv = inventory(everything.dir)
  console.log(
    `@braid/core alone: install ${(coreOnly.millis / 1000).toFixed(1)} s, ${coreInv.packages.length} packages, ${
      (coreInv.bytes / 1024 / 1024).toFixed(1)
    } MB`
  )
  console.log(
    `everything: install ${(everything.millis / 1000).toFixed(1)} s, ${allInv.packages.length} packages, ${
      (allInv.bytes / 1024 / 1024).toFixed(1)
    } MB, native modules: ${allInv.native.length}`
  )
  console.log(
    `cold import of @braid/core under plain Node: ${
      coldImportMillis(coreOnly.dir, "@braid/core").toFixed(0)
    } ms (median of 5)`
  )
  console.log(`cold import of effect alone: ${coldImportMillis(coreOnly.dir, "effect").toFixed(0)} ms (median of 5)`)
  for (const d of [coreOnly.dir, everything.dir, packDir]) cleanup(d)
}
