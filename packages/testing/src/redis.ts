/**
 * Redis connections for tests: every client made here is closed, and every key under the run's
 * unique prefix deleted, by `cleanup` (call it from `afterAll`).
 */
import { Redis } from "ioredis"
import { REDIS_URL } from "./urls.js"

export interface RedisTestClients {
  /** A prefix unique to this test run: put every key under it. */
  readonly prefix: string
  /** A new connection (as a second process would have). */
  readonly client: () => Redis
  /** Deletes the run's keys and closes every connection. */
  readonly cleanup: () => Promise<void>
}

export const redisTestClients = (url: string = REDIS_URL): RedisTestClients => {
  const prefix = `braid-test:${crypto.randomUUID()}:`
  const clients: Array<Redis> = []
  const client = () => {
    const c = new Redis(url, { maxRetriesPerRequest: 1 })
    clients.push(c)
    return c
  }
  const cleanup = async () => {
    const c = clients[0] ?? client()
    const keys = await c.keys(`${prefix}*`)
    if (keys.length > 0) await c.del(...keys)
    await Promise.all(clients.map((x) => x.quit()))
  }
  return { prefix, client, cleanup }
}
