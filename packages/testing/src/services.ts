/**
 * The service gate for tests over real PostgreSQL and Redis connections, and for the browser
 * tests over Debian's Chromium.
 *
 * URLs come from `DATABASE_URL` and `REDIS_URL` (defaults: the services on 127.0.0.1); Chromium is
 * `CHROMIUM_PATH` (default `/usr/bin/chromium`). When a service does not answer (or Chromium is not
 * installed), its tests are reported as skipped, except under `BRAID_REQUIRE_SERVICES=1` (set by
 * `.ci/run`), where they fail.
 */
import { describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as net from "node:net"

import { DATABASE_URL, REDIS_URL } from "./urls.js"

export { DATABASE_URL, REDIS_URL }
export const servicesRequired = process.env["BRAID_REQUIRE_SERVICES"] === "1"

const reachable = (url: string, defaultPort: number): Promise<boolean> =>
  new Promise((resolve) => {
    const u = new URL(url)
    const socket = net.connect({ host: u.hostname || "127.0.0.1", port: Number(u.port || defaultPort) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })

/** The Chromium the browser tests drive (Debian's package; never a downloaded browser). */
export const CHROMIUM_PATH = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"

const installed = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK)
    return true
  } catch {
    return false
  }
}

export type Service = "postgres" | "redis" | "chromium"

/**
 * A `describe` for tests that need `service`: the real one when it answers, `describe.skip`
 * when it does not, and, under `BRAID_REQUIRE_SERVICES=1`, a suite with one failing test that
 * says which service was unreachable.
 *
 * ```ts
 * const describePg = await describeWith("postgres")
 * describePg("PostgreSQL store", () => { ... })
 * ```
 */
export type Describe = (name: string, body: () => void) => void

export const describeWith = async (service: Service): Promise<Describe> => {
  const where = service === "chromium"
    ? CHROMIUM_PATH
    : new URL(service === "postgres" ? DATABASE_URL : REDIS_URL).host
  const ok = service === "chromium"
    ? installed(CHROMIUM_PATH)
    : await reachable(service === "postgres" ? DATABASE_URL : REDIS_URL, service === "postgres" ? 5432 : 6379)
  if (ok) return (name, body) => describe(name, body)
  const missing = service === "chromium"
    ? `chromium is not installed at ${where} (apt-get install -y chromium)`
    : `${service} unreachable`
  if (!servicesRequired) return (name, body) => describe.skip(`${name} (${missing})`, body)
  const failing: Describe = (name) =>
    describe(name, () => {
      it(`${service} is available at ${where}`, () => {
        throw new Error(`${missing} and BRAID_REQUIRE_SERVICES=1`)
      })
    })
  return failing
}
