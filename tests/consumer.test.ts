/**
 * The consumer test: Braid as users get it. Every public package is built (`tsc -b
 * tsconfig.build.json`) and packed (`npm pack`) once; the tarballs are installed into fresh projects
 * outside the repository (from npm's cache) and used there with plain Node and the installed `tsc`,
 * without the monorepo's "@braid/source" condition, loader or API keys (scripts/consumer.ts).
 *
 * Every child process is asynchronous: a synchronous one would block this vitest worker.
 */
import { describe, expect, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { readdir, readFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll } from "vitest"
import {
  cleanup,
  closure,
  install,
  type Installed,
  inventory,
  node,
  packAll,
  root,
  run,
  type Tarball,
  workspaces
} from "../scripts/consumer.js"

// Build, pack and install take minutes on a loaded 2-core machine.
const hookTimeout = 1_200_000
const testTimeout = 1_200_000
const stepTimeout = 300_000

/** The version the repository pins (root devDependencies), so the consumer gets what Braid is tested with. */
const pinned = (name: string): string => {
  const rootJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>
  }
  const version = rootJson.devDependencies[name]
  if (version === undefined) throw new Error(`the root package.json pins no ${name}`)
  return version
}

/** A file of a consumer project. */
const write = (dir: string, file: string, text: string) => {
  mkdirSync(join(dir, file, ".."), { recursive: true })
  writeFileSync(join(dir, file), text)
}

/** The last line a program printed, parsed as JSON. */
const lastJson = (stdout: string): unknown => JSON.parse(stdout.trim().split("\n").at(-1)!)

/** Drivers no install of the concept packages may bring. */
const drivers = ["pg", "ioredis", "better-sqlite3"]

/**
 * Native modules an install of the concept packages may hold, and only as optional dependencies:
 * `msgpackr` (a dependency of `@effect/platform`, a peer of `@braid/observability`, which
 * `@braid/llm` depends on) has an optional native accelerator with prebuilt binaries. It never
 * compiles and nothing fails without it (`npm install --omit=optional` leaves it out; the check
 * below runs an agent without it). Any other native module fails the test.
 */
const tolerated = (name: string) => name === "msgpackr-extract" || name.startsWith("@msgpackr-extract/")

const all = workspaces()
const dirs: Array<string> = []
let tarballs: ReadonlyMap<string, Tarball>
let installs: {
  readonly app: Promise<Installed>
  readonly typed: Promise<Installed>
  readonly cli: Promise<Installed>
  readonly lean: Promise<Installed>
}

/** Awaits an install started in beforeAll, keeping its folder for cleanup. */
const installed = async (which: keyof typeof installs): Promise<string> => {
  const { dir } = await installs[which]
  return dir
}

beforeAll(async () => {
  const packDir = mkdtempSync(join(tmpdir(), "braid-pack-"))
  dirs.push(packDir)
  // Throws with tsc's or npm's output when the build or the pack fails: every test fails with it.
  tarballs = await packAll(packDir, hookTimeout)
  const start = (names: ReadonlyArray<string>, options: Parameters<typeof install>[2]) => {
    const p = install(tarballs, closure(names, all), options).then((i) => {
      dirs.push(i.dir)
      return i
    })
    p.catch(() => {}) // reported by the test that awaits it
    return p
  }
  installs = {
    app: start(["@braid/core", "@braid/resilience"], { extra: { effect: pinned("effect") } }),
    typed: start(["@braid/core", "@braid/agents", "@braid/memory", "@braid/llm"], {
      extra: { effect: pinned("effect"), typescript: pinned("typescript"), "@types/node": pinned("@types/node") }
    }),
    // Dependency install scripts are skipped: better-sqlite3 (through @braid/sqlite) would compile
    // from source for minutes; `braid run coaching` without --store never opens SQLite.
    cli: start(["@braid/cli"], { ignoreScripts: true }),
    lean: start(["@braid/core", "@braid/agents"], { extra: { effect: pinned("effect") }, omitOptional: true })
  }
}, hookTimeout)

afterAll(async () => {
  if (installs !== undefined) await Promise.allSettled(Object.values(installs))
  await Promise.all(dirs.map(cleanup))
}, hookTimeout)

describe("consumer: the packed packages installed outside the repository", () => {
  it("packs every public workspace package, with compiled ESM and declarations", () => {
    expect([...tarballs.keys()].sort()).toEqual(all.map((w) => w.name).sort())
    expect(all.map((w) => w.name)).toEqual(expect.arrayContaining(["@braid/memory", "@braid/messaging", "@braid/eval"]))
    for (const t of tarballs.values()) {
      expect(t.files, t.name).toEqual(expect.arrayContaining(["package.json", "dist/index.js", "dist/index.d.ts"]))
      expect(t.files.filter((f) => /\.test\.ts$|\.tsbuildinfo$/.test(f)), t.name).toEqual([])
    }
    // the web app is prebuilt into the server's tarball (its `prepack` runs the Vite build)
    const server = tarballs.get("@braid/server")!
    expect(server.files).toEqual(expect.arrayContaining(["web/dist/index.html"]))
    expect(server.files.some((f) => /^web\/dist\/assets\/.+\.js$/.test(f))).toBe(true)
  })

  it(
    "plain `node app.mjs` runs a pipeline with retry and parallel from @braid/core and @braid/resilience",
    async () => {
      const dir = await installed("app")
      write(
        dir,
        "app.mjs",
        `import { Data, Effect } from "effect"
import { parallel, Primitive, Runner, sequence } from "@braid/core"
import { Retry, RetryExhausted } from "@braid/resilience"

class Overloaded extends Data.TaggedError("Overloaded") {}

let calls = 0
const retries = []
const flaky = Primitive.make("flaky", (n) =>
  Effect.suspend(() => ++calls < 3 ? Effect.fail(new Overloaded({ transient: true })) : Effect.succeed(n * 2)))
const resilient = flaky.pipe(Retry.policy({
  maxAttempts: 4,
  baseDelay: 0,
  onRetry: (info) => Effect.sync(() => retries.push(info.attempt))
}))
const pipeline = sequence(
  parallel({ doubled: resilient, same: Primitive.sync("same", (n) => n) }),
  Primitive.sync("sum", ({ doubled, same }) => ({ doubled, same, sum: doubled + same }))
)
const out = await Runner.runPromise(pipeline, 21)

const down = Primitive.make("down", () => Effect.fail(new Overloaded({ transient: true })))
  .pipe(Retry.policy({ maxAttempts: 2, baseDelay: 0 }))
const error = await Runner.runPromise(down, 1).catch((e) => e)

console.log(JSON.stringify({
  resolved: import.meta.resolve("@braid/core"),
  out,
  calls,
  retries,
  exhausted: error instanceof RetryExhausted,
  attempts: error.attempts
}))
`
      )
      const { stdout } = await node(dir, ["app.mjs"])
      const result = lastJson(stdout) as Record<string, unknown>
      expect(result["resolved"]).toMatch(/node_modules\/@braid\/core\/dist\/index\.js$/)
      expect(result).toMatchObject({
        out: { doubled: 42, same: 21, sum: 63 },
        calls: 3,
        retries: [1, 2],
        exhausted: true,
        attempts: 2
      })
    },
    testTimeout
  )

  it(
    "@braid/core's compiled modules import Effect by module (effect/Effect, ...), never the `effect` barrel",
    async () => {
      // The barrel loads every Effect module: importing @braid/core alone costs about a quarter less
      // CPU without it (figures: `npm run example scripts/consumer.ts`).
      const dist = join(await installed("app"), "node_modules", "@braid", "core", "dist")
      const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith(".js"))
      expect(files.length).toBeGreaterThan(5)
      const barrel: Array<string> = []
      for (const f of files) {
        if (
          /^(?:import|export)\b[^\n]*\bfrom\s*"effect";?\s*$|\bimport\(\s*"effect"\s*\)/m.test(
            await readFile(join(dist, f), "utf8")
          )
        ) barrel.push(f)
      }
      expect(barrel).toEqual([])
    },
    testTimeout
  )

  it(
    "a strict NodeNext TypeScript project using core, agents, memory and llm (and observability, which llm brings) type-checks with the installed tsc and runs under plain Node",
    async () => {
      const dir = await installed("typed")
      write(
        dir,
        "tsconfig.json",
        JSON.stringify(
          {
            compilerOptions: {
              target: "ES2022",
              lib: ["ES2022"],
              module: "NodeNext",
              moduleResolution: "NodeNext",
              strict: true,
              skipLibCheck: false,
              types: ["node"],
              outDir: "dist",
              rootDir: "src"
            },
            include: ["src"]
          },
          null,
          2
        )
      )
      write(
        dir,
        "src/main.ts",
        `import { Primitive, Runner, sequence, WorkflowContext } from "@braid/core"
import { Agent } from "@braid/agents"
import { Memory } from "@braid/memory"
import { Ai, ScriptedLanguageModel } from "@braid/llm"
import { Observability } from "@braid/observability"
import { Effect, Layer, Option } from "effect"

const coach = Agent.make({ name: "coach", instructions: "You are a running coach." })
const format = Primitive.sync("format", (r: Agent.Reply): string => \`\${r.agent}: \${r.text}\`)
const pipeline = sequence(coach, format).pipe(Memory.remember({ key: "last", scope: "user" }))

const program = Effect.gen(function*() {
  const out: string = yield* Runner.run(pipeline, Agent.conversation(["How far today?"]), { userId: "ada" })
  const stored = yield* Effect.provide(Memory.retrieve("last", { scope: "user" }), WorkflowContext.layer({ userId: "ada" }))
  const direct = yield* Ai.LanguageModel.generateText({ prompt: "ping" })
  return { out, stored: Option.getOrNull(Option.map(stored, (e) => e.value)), direct: direct.text }
})

// The declarations are real types, not \`any\`: each line below must be a type error.
export const witnesses = () => {
  // @ts-expect-error: the pipeline's input is a conversation, not a number
  Runner.run(pipeline, 42)
  // @ts-expect-error: a reply has no \`answer\`
  return (r: Agent.Reply) => r.answer
}

const Live = Layer.mergeAll(
  Memory.layerInMemory(),
  ScriptedLanguageModel.layer({ rules: [{ when: "far", reply: "Easy 5 km." }], default: "You said: {{input}}" }),
  Observability.off
)
console.log(JSON.stringify(await Effect.runPromise(program.pipe(Effect.provide(Live)))))
`
      )
      const tsc = join(dir, "node_modules", "typescript", "bin", "tsc")
      await node(dir, [tsc, "-p", "."], stepTimeout).catch((e: Error) => {
        // A type error in a declaration file names its package: say which.
        const where = [...e.message.matchAll(/node_modules\/(@[^/]+\/[^/]+|[^/@]+)\//g)].map((m) => m[1])
        throw new Error(`tsc failed (declarations of: ${[...new Set(where)].join(", ") || "none"})\n${e.message}`)
      })
      const checked = await node(dir, [tsc, "-p", ".", "--listFilesOnly"], stepTimeout)
      const files = checked.stdout.split("\n")
      // The @braid types come from the packed declarations, never from the shipped sources.
      for (const pkg of ["core", "agents", "memory", "llm", "observability"]) {
        expect(files.some((f) => f.endsWith(`node_modules/@braid/${pkg}/dist/index.d.ts`)), pkg).toBe(true)
      }
      expect(files.filter((f) => /node_modules\/@braid\/[^/]+\/src\//.test(f))).toEqual([])
      const { stdout } = await node(dir, ["dist/main.js"])
      expect(lastJson(stdout)).toEqual({
        out: "coach: Easy 5 km.",
        stored: "coach: Easy 5 km.",
        direct: "You said: ping"
      })
    },
    testTimeout
  )

  it("the installed `braid` bin runs `braid run coaching --offline` and `braid catalog`", async () => {
    const dir = await installed("cli")
    const braid = join(dir, "node_modules", ".bin", "braid")
    const coaching = await run(braid, ["run", "coaching", "--offline"], { cwd: dir, timeoutMs: stepTimeout })
    expect(coaching.stdout).toContain("model: scripted (offline)")
    expect(coaching.stdout).toMatch(/── coaching: done in [\d.]+ s ──/)
    expect(coaching.stdout).toMatch(/^ {2}goals: .+/m)
    expect(coaching.stdout).toMatch(/^ {2}review: \d+\/\d+ goals done/m)
    expect(coaching.stdout).toMatch(/model calls [1-9]\d*, tokens [\d,]+ in \/ [\d,]+ out, cost \$\d/)

    const catalog = await run(braid, ["catalog"], { cwd: dir, timeoutMs: stepTimeout })
    // The shipped catalog is the repository's: every primitive of PRIMITIVES_CATALOG.md is listed.
    const headings = [...readFileSync(join(root, "PRIMITIVES_CATALOG.md"), "utf8").matchAll(/^### (.+)$/gm)]
      .map((m) => m[1]!.trim())
    expect(headings.length).toBeGreaterThan(20)
    expect(headings.filter((h) => !catalog.stdout.includes(h))).toEqual([])
  }, testTimeout)

  it("an install of @braid/core + @braid/agents holds no driver and needs no native module", async () => {
    // The default install (the typed project: core, agents, memory, llm and what they depend on).
    const typed = await inventory(await installed("typed"))
    expect(typed.packages.filter((p) => drivers.includes(p.name)).map((p) => p.name)).toEqual([])
    const native = typed.native.filter((n) => !(n.owner !== undefined && n.owner.optional && tolerated(n.owner.name)))
    expect(native.map((n) => `${n.file} (${n.owner?.name ?? "no package"})`)).toEqual([])

    // Without optional dependencies: no binding.gyp, no .node file at all, and an agent runs.
    const dir = await installed("lean")
    const lean = await inventory(dir)
    expect(lean.packages.map((p) => p.name)).toEqual(expect.arrayContaining(["@braid/core", "@braid/agents"]))
    expect(lean.packages.filter((p) => drivers.includes(p.name)).map((p) => p.name)).toEqual([])
    expect(lean.native.map((n) => n.file)).toEqual([])
    write(
      dir,
      "agent.mjs",
      `import { Effect } from "effect"
import { Runner } from "@braid/core"
import { Agent } from "@braid/agents"
import { ScriptedLanguageModel } from "@braid/llm"

const agent = Agent.make({ name: "echo", instructions: "Repeat." })
const reply = await Effect.runPromise(
  Runner.run(agent, Agent.conversation(["hello"])).pipe(Effect.provide(ScriptedLanguageModel.layer({ default: "heard: {{input}}" })))
)
console.log(JSON.stringify({ agent: reply.agent, text: reply.text }))
`
    )
    const { stdout } = await node(dir, ["agent.mjs"])
    expect(lastJson(stdout)).toEqual({ agent: "echo", text: "heard: hello" })
  }, testTimeout)
})
