/**
 * The help of the `braid` command: one table (`commands`) describes every command, its
 * arguments, its options with their defaults, and examples. The table is the source of the
 * option descriptions the parser shows, of `braid --help` / `braid <command> --help`, and of the
 * check that an option which takes a value got one.
 *
 * Colour: headings are bold only when the output is a terminal and `NO_COLOR` is not set
 * (`colorEnabled`); otherwise the text is plain.
 *
 * @since 0.2.0
 */

/**
 * An option of a command.
 *
 * @since 0.2.0
 * @category models
 */
export interface OptionDoc {
  /** The long name, without dashes (`user` for `--user`). */
  readonly name: string
  /** A one-letter alias, without the dash. */
  readonly alias?: string
  /** What the value is (`name`, `file.jsonl`, `seconds`); absent for a flag. */
  readonly value?: string
  readonly description: string
  /** The default, as shown to the user. */
  readonly default?: string
}

/**
 * A positional argument of a command.
 *
 * @since 0.2.0
 * @category models
 */
export interface ArgDoc {
  readonly name: string
  readonly description: string
}

/**
 * A command: what it does, how it is called, and examples.
 *
 * @since 0.2.0
 * @category models
 */
export interface CommandDoc {
  readonly name: string
  readonly summary: string
  readonly args: ReadonlyArray<ArgDoc>
  readonly options: ReadonlyArray<OptionDoc>
  readonly examples: ReadonlyArray<string>
}

/**
 * The version shown by `braid --version` and in the help.
 *
 * @since 0.2.0
 * @category constants
 */
export const version = "0.1.0"

/**
 * Every command of `braid`, given the names of the workflows it knows.
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * const run = Help.commands(["coaching"]).find((c) => c.name === "run")
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const commands = (workflows: ReadonlyArray<string>): ReadonlyArray<CommandDoc> => {
  const known = workflows.join(", ")
  const modelTimeout: OptionDoc = {
    name: "model-timeout",
    value: "seconds",
    description: "Bound of one model call; past it the call is retried, then given up",
    default: "30"
  }
  const dataOption: OptionDoc = {
    name: "data",
    value: "dir",
    description: "The data directory (SQLite store, development secret)",
    default: ".braid"
  }
  return [
    {
      name: "run",
      summary: `Run a workflow (${known}) with a progress display and a summary`,
      args: [{ name: "workflow", description: `One of: ${known}` }],
      options: [
        { name: "user", value: "name", description: "The user (coaching, practice) or run name", default: "ada" },
        { name: "offline", description: "Use the scripted model even if ANTHROPIC_API_KEY is set" },
        {
          name: "turns",
          value: "n",
          description: "Coaching: exchanges in the morning session; meeting: maximum turns; practice: turn limit"
        },
        {
          name: "dataset",
          value: "file.jsonl",
          description: "Evaluation: a JSONL dataset (default: the built-in sample)"
        },
        { name: "topic", value: "text", description: "Meeting: the agenda item to discuss" },
        {
          name: "store",
          value: "file.db",
          description: "SQLite file for results, memory and history",
          default: "in memory"
        },
        modelTimeout,
        {
          name: "verbose",
          alias: "v",
          description: "Print every step, with each reply's tokens, cost and fallback cause"
        }
      ],
      examples: [
        "braid run coaching --offline",
        "braid run coaching --user grace --turns 2 --verbose",
        "braid run evaluation --dataset conversations.jsonl --store evals.db",
        "braid run meeting --topic \"Ship on Friday?\"",
        "braid run practice --user grace --store sessions.db --verbose"
      ]
    },
    {
      name: "catalog",
      summary: "Print the primitives of the catalog",
      args: [],
      options: [
        { name: "file", value: "file.md", description: "The catalog file", default: "the catalog shipped with Braid" },
        { name: "section", value: "name", description: "Only this section (core, resilience, llm, ...)" }
      ],
      examples: ["braid catalog", "braid catalog --section resilience"]
    },
    {
      name: "describe",
      summary: "Print the pipeline of a workflow as a Mermaid diagram (or a text tree)",
      args: [{ name: "workflow", description: `One of: ${known}` }],
      options: [{ name: "format", value: "mermaid|text", description: "The output format", default: "mermaid" }],
      examples: ["braid describe coaching", "braid describe meeting --format text"]
    },
    {
      name: "eval",
      summary: "Evaluate a dataset of conversations and apply the regression gate (exit 1 on regression)",
      args: [{ name: "dataset.jsonl", description: "The conversations to evaluate, one JSON object a line" }],
      options: [
        {
          name: "baseline",
          value: "file.jsonl",
          description: "The baseline run's dataset, compared by conversation id"
        },
        {
          name: "max-regression",
          value: "x",
          description: "Largest tolerated drop of a metric's mean",
          default: "0.05"
        },
        { name: "min", value: "metric=value", description: "Minimum mean of a metric (repeatable)" },
        {
          name: "confidence",
          value: "x",
          description: "Confidence level of the comparison's intervals",
          default: "0.95"
        },
        { name: "seed", value: "n", description: "Seed of the bootstrap", default: "42" },
        {
          name: "store",
          value: "file.db",
          description: "SQLite file where results are persisted (re-runs reuse them)",
          default: "in memory"
        },
        modelTimeout,
        { name: "offline", description: "Use the scripted judge even if ANTHROPIC_API_KEY is set" }
      ],
      examples: [
        "braid eval candidate.jsonl --baseline baseline.jsonl",
        "braid eval candidate.jsonl --min relevance=0.7 --min objectiveMet=0.5",
        "braid eval candidate.jsonl --store evals.db --offline"
      ]
    },
    {
      name: "serve",
      summary: "Serve the HTTP API and the web app (practice, scenarios, admin dashboard, run viewer)",
      args: [],
      options: [
        dataOption,
        { name: "port", value: "n", description: "The TCP port", default: "4173" },
        { name: "host", value: "address", description: "The address to listen on", default: "127.0.0.1" },
        { name: "offline", description: "Use the scripted model even if ANTHROPIC_API_KEY is set" },
        {
          name: "cors",
          value: "origin",
          description: "An origin allowed to call the API from a browser (repeatable)",
          default: "none"
        },
        { name: "web", value: "dir", description: "The web app's built files", default: "the ones shipped with Braid" },
        {
          name: "runner-host",
          value: "address",
          description: "BRAID_STORE=postgres: the address the other server processes reach this one at",
          default: "BRAID_RUNNER_HOST or 127.0.0.1"
        },
        {
          name: "runner-port",
          value: "n",
          description: "BRAID_STORE=postgres: this process's runner port (unique per process)",
          default: "BRAID_RUNNER_PORT or 34431"
        }
      ],
      examples: [
        "braid serve",
        "braid serve --port 8080 --data /var/lib/braid",
        "BRAID_STORE=postgres DATABASE_URL=... REDIS_URL=... braid serve --port 8081 --runner-port 34432",
        "BRAID_AUTH_SECRET=... braid serve --host 0.0.0.0 --cors https://app.example.com"
      ]
    },
    {
      name: "users",
      summary: "Issue a sign-in token for a user of `braid serve` (braid users token <user> --role <role>)",
      args: [
        { name: "token", description: "The action (issue a token)" },
        { name: "user", description: "The user id" }
      ],
      options: [
        { name: "role", value: "learner|teacher|admin", description: "The user's role", default: "learner" },
        { name: "tenant", value: "name", description: "The organization", default: "default" },
        { name: "ttl", value: "duration", description: "How long the token is valid (7d, 12h, 30m)", default: "7d" },
        dataOption
      ],
      examples: [
        "braid users token ada --role learner",
        "braid users token tess --role teacher --ttl 30d",
        "braid users token root --role admin --tenant acme --ttl 12h"
      ]
    },
    {
      name: "worker",
      summary: "Start a runner of durable practice and coaching sessions (SQLite file, or PostgreSQL runners)",
      args: [],
      options: [
        {
          name: "database",
          value: "file.db",
          description: "SQLite file of the durable engine (one runner per file)",
          default: "braid-durable.db"
        },
        { name: "store", value: "file.db", description: "SQLite file of the sessions", default: "braid.db" },
        {
          name: "database-url",
          value: "url",
          description: "PostgreSQL for the engine and the sessions; this process is one runner of several"
        },
        {
          name: "prefix",
          value: "name",
          description: "PostgreSQL: the table prefix (and shard locks) shared by the runners of one deployment",
          default: "braid_durable"
        },
        {
          name: "host",
          value: "host",
          description: "This runner's host, reachable by the others",
          default: "127.0.0.1"
        },
        { name: "port", value: "n", description: "This runner's port (its own per runner)", default: "34431" },
        {
          name: "idle-timeout",
          value: "minutes",
          description: "A session ends after this long without a message of its user",
          default: "10"
        },
        { name: "offline", description: "Use the scripted model even if ANTHROPIC_API_KEY is set" }
      ],
      examples: [
        "braid worker",
        "braid worker --database-url postgres://braid@db/braid --host 10.0.0.7 --port 34431"
      ]
    }
  ]
}

/**
 * The description of an option of a command, for the parser (`Options.withDescription`).
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * Help.describeOption(Help.commands([]), "run", "user") // "The user (coaching, practice) or run name (default: ada)"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const describeOption = (docs: ReadonlyArray<CommandDoc>, command: string, option: string): string => {
  const o = docs.find((c) => c.name === command)?.options.find((x) => x.name === option)
  if (o === undefined) throw new Error(`no option --${option} documented for ${command}`) // a programming error, caught by the tests
  return o.default === undefined ? o.description : `${o.description} (default: ${o.default})`
}

/**
 * Whether colour may be used: the stream is a terminal, `NO_COLOR` is unset or empty
 * (https://no-color.org) and `TERM` is not `dumb`.
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * Help.colorEnabled({ isTTY: true, env: { NO_COLOR: "1" } }) // false
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const colorEnabled = (
  options: { readonly isTTY: boolean; readonly env: Readonly<Record<string, string | undefined>> }
): boolean => options.isTTY && (options.env["NO_COLOR"] ?? "") === "" && options.env["TERM"] !== "dumb"

/**
 * Removes ANSI colour and style sequences from a text.
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * Help.stripAnsi("\x1b[1mUSAGE\x1b[0m") // "USAGE"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const stripAnsi = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, "")

const flagOf = (o: OptionDoc) =>
  `${o.alias !== undefined ? `-${o.alias}, ` : ""}--${o.name}${o.value !== undefined ? ` <${o.value}>` : ""}`

const table = (rows: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`)
}

/**
 * The help text of `braid` (no command) or of one command.
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * const docs = Help.commands(["coaching"])
 * console.log(Help.render(docs, "run", { color: false }))
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const render = (
  docs: ReadonlyArray<CommandDoc>,
  command: string | undefined,
  options: { readonly color: boolean }
): string => {
  const h = (title: string) => (options.color ? `\x1b[1m${title}\x1b[0m` : title)
  const doc = docs.find((c) => c.name === command)
  if (doc === undefined) {
    return [
      `braid ${version}: typed, instrumented agent workflows`,
      "",
      h("Usage:"),
      "  braid <command> [options]",
      "",
      h("Commands:"),
      ...table(docs.map((c) => [c.name, c.summary])),
      "",
      h("Options:"),
      ...table([["-h, --help", "Show this help (braid <command> --help: the help of a command)"], [
        "--version",
        "Print the version"
      ]]),
      "",
      h("Examples:"),
      ...docs.map((c) => `  ${c.examples[0]}`),
      "",
      "Exit codes: 0 success, 1 failed run or regression, 2 bad arguments or input."
    ].join("\n")
  }
  const usage = `braid ${doc.name}${doc.args.map((a) => ` <${a.name}>`).join("")}${
    doc.options.length > 0 ? " [options]" : ""
  }`
  return [
    `braid ${doc.name}: ${doc.summary}`,
    "",
    h("Usage:"),
    `  ${usage}`,
    ...(doc.args.length > 0
      ? ["", h("Arguments:"), ...table(doc.args.map((a) => [`<${a.name}>`, a.description]))]
      : []),
    "",
    h("Options:"),
    ...table([
      ...doc.options.map((
        o
      ): readonly [string, string] => [
        flagOf(o),
        o.default === undefined ? o.description : `${o.description} (default: ${o.default})`
      ]),
      ["-h, --help", "Show this help"]
    ]),
    "",
    h("Examples:"),
    ...doc.examples.map((e) => `  ${e}`)
  ].join("\n")
}

/**
 * Checks that every option of `command` which takes a value got one (`--user` at the end, or
 * followed by another option, did not); returns the message of the first that did not.
 *
 * @example
 * ```ts
 * import { Help } from "@braid/cli"
 *
 * Help.missingValue(Help.commands(["coaching"]), "run", ["coaching", "--user"])
 * // "--user needs a value (<name>): The user (coaching, practice) or run name (see braid run --help)"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const missingValue = (
  docs: ReadonlyArray<CommandDoc>,
  command: string,
  args: ReadonlyArray<string>
): string | undefined => {
  const doc = docs.find((c) => c.name === command)
  if (doc === undefined) return undefined
  const flags = new Set(doc.options.flatMap((o) => [`--${o.name}`, ...(o.alias !== undefined ? [`-${o.alias}`] : [])]))
  flags.add("--help").add("-h")
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") break
    const o = doc.options.find((x) => `--${x.name}` === arg)
    if (o === undefined || o.value === undefined) continue
    const next = args[i + 1]
    if (next === undefined || flags.has(next) || next.startsWith("--")) {
      return `--${o.name} needs a value (<${o.value}>): ${o.description} (see braid ${command} --help)`
    }
    i++
  }
  return undefined
}
