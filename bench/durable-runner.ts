/**
 * One runner process of the two-runner throughput figure of `durable.bench.ts`:
 * `tsx durable-runner.ts ROLE PORT PREFIX SESSIONS DIR`. ROLE "worker" joins the cluster, writes
 * DIR/worker.up and runs until killed; ROLE "driver" joins, waits for the shards to settle, starts
 * SESSIONS sessions (five journaled steps of 20 ms each) and prints `RATE <sessions per second>`
 * once all are complete.
 */
import { Primitive } from "@braid/core"
import { Durable } from "@braid/durable"
import * as PostgresRunners from "@braid/durable/PostgresRunners"
import { DATABASE_URL } from "@braid/testing/urls"
import { Effect, Layer, Schema } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

const [role, port, prefix, sessions, dir] = process.argv.slice(2) as [string, string, string, string, string]

const work = Primitive.make("work", (id: string) =>
  Effect.gen(function*() {
    let total = 0
    for (let i = 0; i < 5; i++) {
      total += yield* Durable.step("call", Effect.as(Effect.sleep("20 millis"), i), Schema.Number, { request: i })
    }
    return `${id}: ${total}`
  }))
const Work = Durable.workflow("work", work, { input: Schema.String, output: Schema.String, key: (id) => id })

const main = Effect.gen(function*() {
  if (role === "worker") {
    writeFileSync(join(dir, "worker.up"), String(process.pid))
    return yield* Effect.never
  }
  yield* Effect.sleep("10 seconds") // let the runners settle their shards
  const ids = Array.from({ length: Number(sessions) }, (_, i) => `s-${i}`)
  const start = performance.now()
  const runIds = yield* Effect.forEach(ids, (id) => Work.start(id), { concurrency: 16 })
  for (const runId of runIds) {
    while ((yield* Work.status(runId))._tag !== "Complete") yield* Effect.sleep("20 millis")
  }
  console.log(`RATE ${(ids.length * 1000) / (performance.now() - start)}`)
})

const runner = Work.layer.pipe(
  Layer.provideMerge(PostgresRunners.layer({
    url: DATABASE_URL,
    prefix,
    runnerAddress: { host: "127.0.0.1", port: Number(port) },
    pollInterval: "200 millis"
  }))
)

Effect.provide(main, runner).pipe(Effect.timeout("10 minutes"), Effect.runPromise).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
