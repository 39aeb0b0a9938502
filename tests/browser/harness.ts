/**
 * The browser tests' harness: builds the web app when it is not built, runs the server in this
 * process (the `Server` layer on SQLite, the in-memory event bus and the scripted model, on an
 * ephemeral port, in a temporary data directory), issues tokens, and drives Debian's Chromium
 * with playwright-core (never a downloaded browser).
 */
import { Metered, ScriptedLanguageModel } from "@braid/llm"
import { EventBus } from "@braid/messaging"
import { Auth, Server } from "@braid/server"
import { SqliteSessionStore } from "@braid/sqlite"
import { CHROMIUM_PATH, runProcess } from "@braid/testing"
import { Practice, Scripts } from "@braid/workflows"
import type { SessionStore } from "@braid/workflows"
import { HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpServer } from "@effect/platform-node"
import type { Duration } from "effect"
import { Context, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { BrowserContext, Page } from "playwright-core"
import { chromium } from "playwright-core"

const repo = fileURLToPath(new URL("../..", import.meta.url))
export const webDir = Server.defaultWebDir
export const screenshots = path.join(repo, "test-artifacts/screenshots")

const newest = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
    const file = path.join(dir, e.name)
    return Math.max(max, e.isDirectory() ? newest(file) : fs.statSync(file).mtimeMs)
  }, 0)

/** Builds the web app with Vite when `dist/index.html` is missing or older than the app's sources. */
export const ensureWebBuilt = async (): Promise<void> => {
  const index = path.join(webDir, "index.html")
  const app = path.dirname(webDir)
  const sources = Math.max(newest(path.join(app, "src")), fs.statSync(path.join(app, "index.html")).mtimeMs)
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= sources) return
  const vite = path.join(repo, "node_modules/vite/bin/vite.js")
  const result = await runProcess(process.execPath, [vite, "build", "--config", "packages/server/web/vite.config.ts"], {
    cwd: repo,
    timeout: 240_000
  })
  if (result.status !== 0 || !fs.existsSync(path.join(webDir, "index.html"))) {
    throw new Error(`the web app did not build (exit ${result.status}):\n${result.stdout}\n${result.stderr}`)
  }
}

/**
 * The scripted practice model, streaming its reply a piece at a time with a pause between pieces
 * (as a real model does), so that the browser can be seen receiving the reply as it streams.
 */
const slowlyStreaming = (pause: Duration.DurationInput, script: ScriptedLanguageModel.Options = Scripts.practice) =>
  Metered.fromProvider(Effect.map(ScriptedLanguageModel.provider(script), (p) => ({
    ...p,
    streamText: (o: Parameters<typeof p.streamText>[0]) => p.streamText(o).pipe(Stream.tap(() => Effect.sleep(pause)))
  })))

export interface TestServer {
  readonly url: string
  readonly dataDir: string
  /** A token as `braid users token` issues it. */
  readonly token: (userId: string, role: SessionStore.Role) => string
  /** A JSON request to the API as `userId`. */
  readonly api: <A>(token: string, method: string, route: string, body?: unknown) => Promise<A>
  readonly close: () => Promise<void>
}

/**
 * Starts the server on an ephemeral port of 127.0.0.1 with a fresh SQLite file (on the practice
 * script, or `options.script`; `options.practice` over the practice workflow's configuration).
 */
export const startServer = async (
  options: { readonly script?: ScriptedLanguageModel.Options; readonly practice?: Practice.Config } = {}
): Promise<TestServer> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "braid-browser-"))
  const secret = Redacted.make("the secret of the browser tests, 32+ characters long")
  const Store = SqliteSessionStore.layer(path.join(dataDir, "braid.db"))
  const Workflows = Practice.layer({ idleTimeout: "30 minutes", ...options.practice }).pipe(
    Layer.provideMerge(Layer.mergeAll(Store, slowlyStreaming("25 millis", options.script), EventBus.layerMemory))
  )
  const App = Server.layer({ secret, webDir }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Workflows),
    Layer.provide(NodeContext.layer)
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(App, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("the server did not listen on TCP")
  const url = `http://127.0.0.1:${address.port}`
  return {
    url,
    dataDir,
    token: (userId, role) => Auth.issue(secret, { userId, role }, Date.now()),
    api: async <A>(token: string, method: string, route: string, body?: unknown) => {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" })
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000)
      })
      const text = await response.text()
      if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`)
      return (text.length > 0 ? JSON.parse(text) : undefined) as A
    },
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** Debian's Chromium, headless, in a fresh profile; nothing it does reaches the network. */
export const launch = async (): Promise<{ readonly context: BrowserContext; readonly close: () => Promise<void> }> => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "braid-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ],
    viewport: { width: 1280, height: 860 },
    timeout: 60_000
  })
  context.setDefaultTimeout(30_000)
  return {
    context,
    close: async () => {
      await context.close()
      fs.rmSync(profile, { recursive: true, force: true })
    }
  }
}

/** Signs in on a new page (its own sessionStorage, so its own user). */
export const signIn = async (context: BrowserContext, url: string, token: string, userId: string): Promise<Page> => {
  const page = await context.newPage()
  await page.goto(url)
  await page.getByLabel("Access token").fill(token)
  await page.getByRole("button", { name: "Sign in" }).click()
  await page.getByTestId("whoami").filter({ hasText: userId }).waitFor()
  return page
}

/** Saves a screenshot to test-artifacts/screenshots/<name>.png. */
export const shoot = async (page: Page, name: string, options: { readonly fullPage?: boolean } = {}): Promise<void> => {
  fs.mkdirSync(screenshots, { recursive: true })
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: options.fullPage ?? true })
}
