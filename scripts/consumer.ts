/**
 * The consumer check: what users install is what is tested. Builds every public package, packs
 * each into a tarball (`npm pack`), installs the tarballs into fresh projects outside the
 * repository (from npm's cache, no network), and runs them the way a user would:
 *
 * - plain `node app.mjs` importing @braid/core and @braid/resilience (a pipeline with retry and parallel);
 * - a strict TypeScript project (NodeNext, `skipLibCheck: false`) using core, agents, memory and llm,
 *   type-checked with the installed `tsc` and run under plain Node;
 * - the installed `braid` bin: `braid run coaching --offline` and `braid catalog`;
 * - an install of @braid/core + @braid/agents alone: no native module, none of pg, ioredis, better-sqlite3.
 *
 * `tests/consumer.test.ts` runs those checks as part of `npm test`; `npm run example scripts/consumer.ts`
 * prints the figures (install time and size, cold import time of @braid/core against `effect` alone).
 *
 * Every child process is asynchronous (a synchronous one would block the vitest worker), bounded in
 * time, and runs in the user's environment: no `NODE_OPTIONS` (so no "@braid/source" condition, no
 * loader), no API key.
 */
import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { lstat, readdir, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository's root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "..")

/** A public workspace package: its name, folder and the @braid packages it depends on. */
export interface Workspace {
  readonly name: string
  readonly dir: string
  readonly braidDeps: ReadonlyArray<string>
}

/** The public (non-private) packages of the root package.json's `workspaces`, in that order. */
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

/** The packages and every @braid package they need, transitively. */
export const closure = (names: ReadonlyArray<string>, all: ReadonlyArray<Workspace>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const visit = (n: string) => {
    if (seen.has(n)) return
    if (!all.some((w) => w.name === n)) throw new Error(`${n} is not a public workspace package`)
    seen.add(n)
    for (const d of all.find((w) => w.name === n)!.braidDeps) visit(d)
  }
  names.forEach(visit)
  return [...seen]
}

/** The user's environment: without the monorepo's source condition, loaders or API keys. */
export const userEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env["NODE_OPTIONS"]
  delete env["ANTHROPIC_API_KEY"]
  delete env["OPENAI_API_KEY"]
  for (const k of Object.keys(env)) if (k.startsWith("npm_") || k.startsWith("VITEST")) delete env[k]
  env["NO_COLOR"] = "1"
  return env
}

/** What a finished child process printed. */
export interface Output {
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `file` with `args` in `cwd` (asynchronously, bounded by `timeoutMs`). A non-zero exit, a
 * signal or the time bound rejects with an Error naming the command and holding what it printed.
 */
export const run = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv }
): Promise<Output> =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        cwd: options.cwd,
        env: options.env ?? userEnv(),
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 64 * 1024 * 1024,
        encoding: "utf8"
      },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ stdout, stderr })
        const e = error as Error & { code?: number | string; killed?: boolean; signal?: string }
        const why = e.killed === true
          ? `killed after ${options.timeoutMs} ms`
          : e.signal != null
          ? `signal ${e.signal}`
          : `exit code ${e.code}`
        const tail = (s: string) => s.trim().split("\n").slice(-40).join("\n")
        reject(
          Object.assign(
            new Error(
              `\`${[file, ...args].join(" ")}\` in ${options.cwd} failed (${why})\n--- stdout\n${
                tail(stdout)
              }\n--- stderr\n${tail(stderr)}`
            ),
            { stdout, stderr }
          )
        )
      }
    )
  })

/** Runs plain `node` (no loader, no condition) with `args` in `dir`. */
export const node = (dir: string, args: ReadonlyArray<string>, timeoutMs = 120_000): Promise<Output> =>
  run(process.execPath, args, { cwd: dir, timeoutMs })

const npm = (args: ReadonlyArray<string>, cwd: string, timeoutMs: number): Promise<Output> =>
  run("npm", args, { cwd, timeoutMs })

/** A packed public package. */
export interface Tarball {
  readonly name: string
  readonly file: string
  /** The tarball's size in bytes. */
  readonly size: number
  /** The size of its files, unpacked, in bytes. */
  readonly unpackedSize: number
  /** The paths of its files, relative to the package. */
  readonly files: ReadonlyArray<string>
}

/** Compiles every public package (`tsc -b tsconfig.build.json`: ESM and .d.ts in packages/X/dist). */
export const build = (timeoutMs = 900_000): Promise<Output> =>
  run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-b", "tsconfig.build.json"], {
    cwd: root,
    timeoutMs
  })

/** Builds and packs every public package into `into` (one `npm pack`); returns name -> tarball. */
export const packAll = async (into: string, timeoutMs = 900_000): Promise<ReadonlyMap<string, Tarball>> => {
  await build(timeoutMs)
  const all = workspaces()
  const out = await npm(
    [
      "pack",
      "--json",
      "--loglevel=error",
      "--pack-destination",
      into,
      ...all.flatMap((w) => ["-w", relative(root, w.dir)])
    ],
    root,
    timeoutMs
  )
  const packed = JSON.parse(out.stdout) as ReadonlyArray<
    { name: string; filename: string; size: number; unpackedSize: number; files: ReadonlyArray<{ path: string }> }
  >
  const tarballs = new Map<string, Tarball>()
  for (const p of packed) {
    tarballs.set(p.name, {
      name: p.name,
      file: join(into, p.filename),
      size: p.size,
      unpackedSize: p.unpackedSize,
      files: p.files.map((f) => f.path)
    })
  }
  const missing = all.filter((w) => !tarballs.has(w.name)).map((w) => w.name)
  if (missing.length > 0) throw new Error(`npm pack produced no tarball for ${missing.join(", ")}`)
  return tarballs
}

/** A fresh project outside the repository with the tarballs installed. */
export interface Installed {
  readonly dir: string
  readonly millis: number
}

/**
 * Makes a fresh project outside the repository that depends on `names` (their tarballs) and on
 * `extra` registry packages (name -> version), and installs it from npm's cache (`--prefer-offline`).
 * Every other @braid package is pinned to its tarball with `overrides`, so nothing named @braid/*
 * can come from the registry. `ignoreScripts` skips dependency install scripts (native builds);
 * `omitOptional` leaves optional dependencies out (`--omit=optional`).
 */
export const install = async (
  tarballs: ReadonlyMap<string, Tarball>,
  names: ReadonlyArray<string>,
  options: {
    readonly extra?: Readonly<Record<string, string>>
    readonly ignoreScripts?: boolean
    readonly omitOptional?: boolean
    readonly timeoutMs?: number
  } = {}
): Promise<Installed> => {
  const dir = mkdtempSync(join(tmpdir(), "braid-consumer-"))
  const dependencies: Record<string, string> = {}
  const overrides: Record<string, string> = {}
  for (const [name, t] of tarballs) (names.includes(name) ? dependencies : overrides)[name] = `file:${t.file}`
  for (const n of names) if (dependencies[n] === undefined) throw new Error(`no tarball for ${n}`)
  Object.assign(dependencies, options.extra ?? {})
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({ name: "braid-consumer", private: true, type: "module", dependencies, overrides }, null, 2)
  )
  const start = performance.now()
  try {
    await npm(
      [
        "install",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
        ...(options.ignoreScripts === true ? ["--ignore-scripts"] : []),
        ...(options.omitOptional === true ? ["--omit=optional"] : [])
      ],
      dir,
      options.timeoutMs ?? 900_000
    )
  } catch (e) {
    await cleanup(dir)
    throw e
  }
  return { dir, millis: performance.now() - start }
}

/** One package installed under node_modules, as npm recorded it. */
export interface InstalledPackage {
  readonly name: string
  readonly version: string
  /** Its folder, relative to the project (`node_modules/...`). */
  readonly path: string
  /** npm installed it only as an optional dependency (an install does not fail without it). */
  readonly optional: boolean
}

/** What an install holds: its packages, its native modules (binding.gyp, .node files) and its size. */
export interface Inventory {
  readonly packages: ReadonlyArray<InstalledPackage>
  /** Each native file, relative to the project, with the package holding it. */
  readonly native: ReadonlyArray<{ readonly file: string; readonly owner: InstalledPackage | undefined }>
  readonly bytes: number
}

/** Reads an install's packages (npm's node_modules/.package-lock.json) and walks its files (asynchronously). */
export const inventory = async (dir: string): Promise<Inventory> => {
  const lock = JSON.parse(await readFile(join(dir, "node_modules", ".package-lock.json"), "utf8")) as {
    packages: Record<string, { name?: string; version?: string; optional?: boolean; link?: boolean }>
  }
  const packages: Array<InstalledPackage> = Object.entries(lock.packages).flatMap(([path, p]) => {
    if (!path.startsWith("node_modules/") || p.link === true) return []
    const name = p.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)
    return [{ name, version: p.version ?? "?", path, optional: p.optional === true }]
  })
  const byPath = new Map(packages.map((p) => [p.path, p]))
  const ownerOf = (file: string): InstalledPackage | undefined => {
    const parts = file.split("/")
    for (let i = parts.length - 1; i > 0; i--) {
      const owner = byPath.get(parts.slice(0, i).join("/"))
      if (owner !== undefined) return owner
    }
    return undefined
  }
  const native: Array<{ file: string; owner: InstalledPackage | undefined }> = []
  let bytes = 0
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const p = join(d, entry.name)
      if (entry.isSymbolicLink()) continue
      if (entry.isDirectory()) await walk(p)
      else {
        bytes += (await lstat(p)).size
        if (entry.name.endsWith(".node") || entry.name === "binding.gyp") {
          const file = relative(dir, p).split(sep).join("/")
          native.push({ file, owner: ownerOf(file) })
        }
      }
    }
  }
  await walk(join(dir, "node_modules"))
  return { packages, native, bytes }
}

/** Median of a non-empty list. */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** One cold import, in a fresh `node` process: wall time of the import, CPU time of the import, and of the whole process. */
export interface ImportSample {
  readonly importMillis: number
  readonly importCpuMillis: number
  readonly processMillis: number
}

const importProbe = (spec: string) =>
  [
    "const c = process.cpuUsage(); const t = performance.now();",
    `await import(${JSON.stringify(spec)});`,
    "const u = process.cpuUsage(c);",
    "console.log(JSON.stringify({ wall: performance.now() - t, cpu: (u.user + u.system) / 1000 }))"
  ].join(" ")

/** What to import, from which project: `label` names it in the results. */
export interface Probe {
  readonly label: string
  readonly dir: string
  readonly spec: string
}

/**
 * Cold import times of each probe, `runs` fresh `node` processes each, interleaved (a, b, a, b, ...)
 * so that load on the machine hits every probe alike, after one warm-up round (file system cache).
 * Returns label -> samples.
 */
export const coldImports = async (
  probes: ReadonlyArray<Probe>,
  runs = 15
): Promise<ReadonlyMap<string, ReadonlyArray<ImportSample>>> => {
  const samples = new Map<string, Array<ImportSample>>(probes.map((p) => [p.label, []]))
  for (let i = -1; i < runs; i++) {
    for (const probe of probes) {
      const start = performance.now()
      const out = await node(probe.dir, ["--input-type=module", "-e", importProbe(probe.spec)])
      const processMillis = performance.now() - start
      const { cpu, wall } = JSON.parse(out.stdout.trim()) as { wall: number; cpu: number }
      if (i >= 0) samples.get(probe.label)!.push({ importMillis: wall, importCpuMillis: cpu, processMillis })
    }
  }
  return samples
}

/** One line per probe: medians of import wall time, import CPU time and whole process, with ratios to `base`. */
export const importReport = (
  samples: ReadonlyMap<string, ReadonlyArray<ImportSample>>,
  base: string
): ReadonlyArray<string> => {
  const stat = (label: string, pick: (s: ImportSample) => number) => median(samples.get(label)!.map(pick))
  const width = Math.max(...[...samples.keys()].map((l) => l.length))
  return [...samples.keys()].map((label) => {
    const wall = stat(label, (s) => s.importMillis)
    const cpu = stat(label, (s) => s.importCpuMillis)
    const proc = stat(label, (s) => s.processMillis)
    const ratio = (a: number, b: number) => `x${(a / b).toFixed(2)}`
    return `  ${label.padEnd(width)}  import ${wall.toFixed(0).padStart(4)} ms (${
      ratio(wall, stat(base, (s) => s.importMillis))
    }), CPU ${cpu.toFixed(0).padStart(4)} ms (${ratio(cpu, stat(base, (s) => s.importCpuMillis))}), process ${
      proc.toFixed(0).padStart(4)
    } ms (${ratio(proc, stat(base, (s) => s.processMillis))})`
  })
}

/** Removes a temporary folder (asynchronously: a large tree takes a while on a loaded disk). */
export const cleanup = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true, maxRetries: 3 })

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`

const main = async () => {
  const runs = Number(process.env["RUNS"] ?? 21)
  const packDir = mkdtempSync(join(tmpdir(), "braid-pack-"))
  const dirs: Array<string> = [packDir]
  try {
    const buildStart = performance.now()
    const tarballs = await packAll(packDir)
    console.log(`build + pack: ${secs(performance.now() - buildStart)}, ${tarballs.size} tarballs`)
    for (const t of tarballs.values()) {
      console.log(
        `  ${t.name.padEnd(22)} ${(t.size / 1024).toFixed(0).padStart(4)} kB packed, ${mb(t.unpackedSize)} unpacked`
      )
    }
    const all = workspaces()
    const report = async (label: string, names: ReadonlyArray<string>, ignoreScripts = false) => {
      const installed = await install(tarballs, names, { ignoreScripts })
      dirs.push(installed.dir)
      const inv = await inventory(installed.dir)
      const native = [...new Set(inv.native.map((n) => n.owner?.name ?? n.file))]
      console.log(
        `${label}: install ${secs(installed.millis)}, ${inv.packages.length} packages, ${mb(inv.bytes)}, native: ${
          native.length === 0 ? "none" : native.join(", ")
        }`
      )
      return installed
    }
    const core = await report("@braid/core alone", ["@braid/core"])
    await report("@braid/core + @braid/agents", closure(["@braid/core", "@braid/agents"], all))
    await report("everything (install scripts run)", all.map((w) => w.name))
    await report("everything (--ignore-scripts)", all.map((w) => w.name), true)

    const probes = ["effect", "@braid/core", "effect/Effect"].map((spec) => ({ label: spec, dir: core.dir, spec }))
    const samples = await coldImports(probes, runs)
    console.log(`cold import under plain Node (medians of ${runs} fresh processes, interleaved; ratios to effect):`)
    for (const line of importReport(samples, "effect")) console.log(line)
  } finally {
    await Promise.all(dirs.map(cleanup))
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e)
    process.exitCode = 1
  })
}
