/**
 * The entry point of the `braid` binary (`bin/braid.js` loads the compiled `dist/main.js`; inside the repository, the sources through tsx).
 *
 * @since 0.1.0
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { run } from "./Cli.js"
import { registry } from "./Workflows.js"

NodeRuntime.runMain(
  run(process.argv, registry).pipe(
    Effect.tap((code) =>
      Effect.sync(() => {
        process.exitCode = code
      })
    ),
    Effect.provide(NodeContext.layer)
  ),
  { disableErrorReporting: true, disablePrettyLogger: true }
)
