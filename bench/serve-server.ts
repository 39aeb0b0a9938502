/**
 * The server process of `serve.bench.ts`: `braid serve` (`ServeCommand.serve`, the same wiring as
 * the command, settings from the environment) on the data directory DIR and PORT, with the
 * scripted model failing FAIL_RATE of its calls transiently (`Overloaded`):
 * `tsx serve-server.ts DIR PORT FAIL_RATE`. It prints `listening on <url>` and runs until killed.
 */
import { ServeCommand } from "@braid/cli"
import { Errors as LlmErrors, ScriptedLanguageModel } from "@braid/llm"
import { Scripts } from "@braid/workflows"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"

const [data, port, failRate] = process.argv.slice(2) as [string, string, string]
const rate = Number(failRate)

NodeRuntime.runMain(
  ServeCommand.serve({
    data,
    port: Number(port),
    host: "127.0.0.1",
    offline: true,
    cors: [],
    provider: ScriptedLanguageModel.provider({
      ...Scripts.practice,
      failures: rate === 0 ? [] : [{
        when: () => Math.random() < rate,
        error: new LlmErrors.Overloaded({ message: "overloaded (injected)" })
      }]
    })
  }).pipe(Effect.provide(NodeContext.layer))
)
