import type { Registry } from "@braid/cli"
import { Cli } from "@braid/cli"
import { NodeContext } from "@effect/platform-node"
import { Console, Effect } from "effect"

/** Runs the CLI on `args` with a console that records what it prints. */
export const runCli = (
  args: ReadonlyArray<string>,
  registry: ReadonlyArray<Registry.Entry> = [],
  options?: Cli.RunOptions
) =>
  Effect.gen(function*() {
    const out: Array<string> = []
    const err: Array<string> = []
    const record = (into: Array<string>) => (...xs: ReadonlyArray<unknown>) => {
      into.push(xs.map(String).join(" "))
    }
    const base = yield* Effect.console
    const console: Console.Console = {
      ...base,
      log: (...xs) => Effect.sync(() => record(out)(...xs)),
      error: (...xs) => Effect.sync(() => record(err)(...xs)),
      unsafe: { ...base.unsafe, log: record(out), error: record(err) }
    }
    const code = yield* Cli.run(["node", "braid", ...args], registry, options).pipe(
      Effect.withConsole(console),
      Effect.provide(NodeContext.layer)
    )
    return { code, stdout: out.join("\n"), stderr: err.join("\n") }
  })
