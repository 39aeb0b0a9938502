/**
 * The service gate for tests over real PostgreSQL and Redis connections.
 *
 * URLs come from `DATABASE_URL` and `REDIS_URL` (defaults: the services on 127.0.0.1). When a
 * service does not answer, its tests are reported as skipped, except under
 * `BRAID_REQUIRE_SERVICES=1` (set by `.ci/run`), where they fail.
 */
import { describe, it } from "@effect/vitest"
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

export type Service = "postgres" | "redis"

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
  const url = service === "postgres" ? DATABASE_URL : REDIS_URL
  const ok = await reachable(url, service === "postgres" ? 5432 : 6379)
  if (ok) return (name, body) => describe(name, body)
  if (!servicesRequired) return (name, body) => describe.skip(`${name} (${service} unreachable)`, body)
  const failing: Describe = (name) =>
    describe(name, () => {
      it(`${service} is reachable at ${new URL(url).host}`, () => {
        throw new Error(`${service} did not answer at ${new URL(url).host} and BRAID_REQUIRE_SERVICES=1`)
      })
    })
  return failing
}
