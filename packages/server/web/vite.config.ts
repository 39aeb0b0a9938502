// The Braid web app (learners, teachers, admins, run viewer): built into ./dist, which
// `braid serve` serves and the server package ships. `npm run build:web` at the root builds it.
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

const root = fileURLToPath(new URL(".", import.meta.url))

export default defineConfig({
  root,
  base: "./",
  // Braid's own modules (the Scenario schema the editor checks forms with) resolve to their sources.
  resolve: { conditions: ["@braid/source", "browser", "module", "import", "default"] },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 800
  },
  // No network at run time or build time: nothing is fetched from a CDN.
  server: { strictPort: false }
})
