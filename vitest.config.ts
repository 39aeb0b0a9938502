import { defineConfig } from "vitest/config"

// Inside the monorepo every @braid package resolves to its TypeScript sources through the
// "@braid/source" export condition (no build step); installed packages resolve to dist/.
// Child processes the tests start (examples, the CLI, fixtures) inherit the condition.
const source = "@braid/source"
if (!(process.env["NODE_OPTIONS"] ?? "").includes(`--conditions=${source}`)) {
  process.env["NODE_OPTIONS"] = `${process.env["NODE_OPTIONS"] ?? ""} --conditions=${source}`.trim()
}

export default defineConfig({
  // Vitest's own server conditions, with Braid's first ("module" is left out on purpose: some
  // dependencies map it to ESM files Node cannot load).
  ssr: { resolve: { conditions: [source, "node", "development|production"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The services (PostgreSQL, Redis) and the SQLite files are shared by every test file;
    // two workers keep to the two cores of these machines.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } }
  }
})
