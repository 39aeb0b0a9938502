import { Cli, Help, Workflows } from "@braid/cli"
import { CliConfig, Command, CommandDescriptor, HelpDoc } from "@effect/cli"
import { assert, describe, it } from "@effect/vitest"
import { Effect, HashMap } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runCli } from "./helpers.js"

const cli = (...args: Array<string>) => runCli(args, Workflows.registry)
const names = Workflows.registry.map((e) => e.name)
const ESC = "\x1b["

describe("braid --help", () => {
  it.effect("the help of a command: usage with `braid`, every option with its own description and default, examples; no type boilerplate", () =>
    Effect.gen(function*() {
      for (const flag of ["--help", "-h"]) {
        const r = yield* cli("run", flag)
        assert.strictEqual(r.code, 0)
        assert.strictEqual(r.stderr, "")
        assert.isTrue(
          r.stdout.startsWith("braid run: Run a workflow (coaching, evaluation, meeting, practice)"),
          r.stdout
        )
        assert.include(r.stdout, "Usage:\n  braid run <workflow> [options]")
        assert.notInclude(r.stdout, "$ run")
        assert.match(r.stdout, /--user <name> +The user \(coaching, practice\) or run name \(default: ada\)/)
        assert.match(r.stdout, /--model-timeout <seconds> +Bound of one model call.* \(default: 30\)/)
        assert.match(r.stdout, /-v, --verbose +Print every step/)
        assert.include(r.stdout, "Examples:\n  braid run coaching --offline")
        assert.notInclude(r.stdout, "A user-defined piece of text")
        assert.notInclude(r.stdout, "This setting is optional")
      }
      const evalHelp = yield* cli("eval", "--help")
      assert.include(evalHelp.stdout, "Usage:\n  braid eval <dataset.jsonl> [options]")
      assert.match(
        evalHelp.stdout,
        /--max-regression <x> +Largest tolerated drop of a metric's mean \(default: 0\.05\)/
      )
      assert.include(evalHelp.stdout, "braid eval candidate.jsonl --baseline baseline.jsonl")
      const top = yield* cli("--help")
      assert.strictEqual(top.code, 0)
      assert.include(top.stdout, "Usage:\n  braid <command> [options]")
      for (const c of ["run", "catalog", "describe", "eval"]) assert.match(top.stdout, new RegExp(`\\n  ${c} +\\S`))
      const bare = yield* cli()
      assert.strictEqual(bare.stdout, top.stdout)
    }))

  it("the help documents exactly the options the parser accepts", () => {
    const subcommands = [...HashMap.values(Command.getSubcommands(Cli.make(Workflows.registry)))]
    const parser = subcommands.map((c) => HelpDoc.toAnsiText(CommandDescriptor.getHelp(c, CliConfig.defaultConfig)))
      .join("\n")
    assert.isTrue(subcommands.length >= 4)
    const builtIn = new Set(["help", "version", "wizard", "completions", "log-level"])
    const accepted = new Set(
      [...Help.stripAnsi(parser).matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!).filter((n) => !builtIn.has(n))
    )
    const documented = new Set(Help.commands(names).flatMap((c) => c.options.map((o) => o.name)))
    assert.deepStrictEqual([...documented].sort(), [...accepted].sort())
    // and the parser's own descriptions are the table's, defaults included
    assert.include(parser, "The user (coaching, practice) or run name (default: ada)")
  })

  it.effect("colour only on a terminal without NO_COLOR; never when piped", () =>
    Effect.gen(function*() {
      const tty = yield* runCli(["run", "--help"], Workflows.registry, { isTTY: true, env: {} })
      assert.include(tty.stdout, `${ESC}1mUsage:`)
      const noColor = yield* runCli(["run", "--help"], Workflows.registry, { isTTY: true, env: { NO_COLOR: "1" } })
      assert.notInclude(noColor.stdout, ESC)
      assert.include(noColor.stdout, "Usage:")
      const dumb = yield* runCli(["run", "--help"], Workflows.registry, { isTTY: true, env: { TERM: "dumb" } })
      assert.notInclude(dumb.stdout, ESC)
      const piped = yield* runCli(["run", "--help"], Workflows.registry, { isTTY: false, env: {} })
      assert.notInclude(piped.stdout, ESC)
      // the parser's own messages (coloured by @effect/cli) are plain when piped too
      const unknown = yield* runCli(["run", "coaching", "--bogus"], Workflows.registry, { isTTY: false, env: {} })
      assert.strictEqual(unknown.code, 2)
      assert.notInclude(unknown.stderr + unknown.stdout, ESC)
      const version = yield* runCli(["--version"], Workflows.registry, { isTTY: true, env: { NO_COLOR: "1" } })
      assert.notInclude(version.stdout, ESC)
      assert.isFalse(Help.colorEnabled({ isTTY: true, env: { NO_COLOR: "yes" } }))
      assert.isTrue(
        Help.colorEnabled({ isTTY: true, env: { NO_COLOR: "" } }),
        "an empty NO_COLOR does not disable colour (no-color.org)"
      )
    }))

  it.effect("an option without its value names the option and exits 2 (not \"unknown argument\")", () =>
    Effect.gen(function*() {
      const end = yield* cli("run", "coaching", "--user")
      assert.strictEqual(end.code, 2)
      assert.strictEqual(
        end.stderr,
        "braid: --user needs a value (<name>): The user (coaching, practice) or run name (see braid run --help)"
      )
      const beforeAnother = yield* cli("run", "coaching", "--user", "--offline")
      assert.strictEqual(beforeAnother.code, 2)
      assert.include(beforeAnother.stderr, "--user needs a value")
      const first = yield* cli("run", "--user")
      assert.strictEqual(first.code, 2)
      assert.include(first.stderr, "--user needs a value")
      const evalOpt = yield* cli("eval", "d.jsonl", "--baseline")
      assert.strictEqual(evalOpt.code, 2)
      assert.include(evalOpt.stderr, "braid: --baseline needs a value (<file.jsonl>)")
      // a negative number is a value, not an option
      const negative = yield* cli("eval", "d.jsonl", "--max-regression", "-1")
      assert.strictEqual(negative.code, 2)
      assert.include(negative.stderr, "--max-regression must be >= 0, got -1")
      const zeroTimeout = yield* cli("run", "coaching", "--offline", "--model-timeout", "0")
      assert.strictEqual(zeroTimeout.code, 2)
      assert.include(zeroTimeout.stderr, "--model-timeout must be a positive number of seconds")
    }))

  it.effect("catalog --section with an unknown section exits 2 and lists the sections", () =>
    Effect.gen(function*() {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "braid-help-")), "CATALOG.md")
      fs.writeFileSync(file, "<!-- section:core -->\n### sequence\nRuns steps in order.\n<!-- /section:core -->\n")
      const r = yield* cli("catalog", "--file", file, "--section", "nope")
      assert.strictEqual(r.code, 2)
      assert.strictEqual(r.stderr, `braid: no section "nope" in ${file} (sections: core)`)
      assert.notInclude(r.stdout, "The catalog has no primitives")
      const ok = yield* cli("catalog", "--file", file, "--section", "core")
      assert.strictEqual(ok.code, 0)
      assert.include(ok.stdout, "sequence")
    }))
})
