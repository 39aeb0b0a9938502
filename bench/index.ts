/**
 * `npm run bench`: runs every `bench/*.bench.ts` (or those named on the command line, e.g.
 * `npm run bench -- core`), each printing its table of Braid versus its baseline.
 *
 * Each file runs in a fresh Node process (the same tsx), one after the other: a benchmark that
 * leaves a large heap behind (the 10k fan-out, the memory stores) would otherwise slow the
 * garbage collection, and so the figures, of every benchmark after it.
 */
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)

if (args[0] === "--run") {
  // the child: run one file
  const mod = (await import(pathToFileURL(join(here, args[1]!)).href)) as { default: () => Promise<void> }
  await mod.default()
} else {
  const files = readdirSync(here)
    .filter((f) => f.endsWith(".bench.ts"))
    .filter((f) => args.length === 0 || args.some((o) => f.startsWith(o)))
    .sort()
  console.log(`# Braid benchmarks (node ${process.version}, ${new Date().toISOString()})`)
  for (const file of files) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--run", file], {
      stdio: "inherit"
    })
    if (child.status !== 0) {
      console.error(`${file} failed (exit ${String(child.status ?? child.signal)})`)
      process.exitCode = 1
    }
  }
}
