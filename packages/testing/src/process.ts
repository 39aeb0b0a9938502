/**
 * Child processes for tests, always asynchronous: a synchronous child process blocks the vitest
 * worker, which then fails the run with "Timeout calling onTaskUpdate" on a loaded machine.
 */
import { execFile, spawn } from "node:child_process"

/** What a finished child process left. */
export interface ProcessResult {
  /** The exit code, or `null` when a signal ended it. */
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` with `args` to its end and resolves with its result (never rejects on a failed exit). */
export const runProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly timeout?: number } = {}
): Promise<ProcessResult> =>
  new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { ...options, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({
          status: error === null ? 0 : typeof error.code === "number" ? error.code : null,
          signal: (error?.signal as NodeJS.Signals | undefined) ?? null,
          stdout,
          stderr
        })
    )
  })

/** A long-running child process started by `startProcess`. */
export interface RunningProcess {
  readonly pid: number
  /** Everything it printed so far (stdout and stderr interleaved as they came). */
  readonly output: () => string
  /** Resolves with the first match of `pattern` in its output; rejects after `timeoutMs` or when it exits first. */
  readonly waitFor: (pattern: RegExp, timeoutMs: number) => Promise<RegExpExecArray>
  /** Sends `signal` (default SIGTERM) and resolves when it has exited. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
  /** Resolves when it exits. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/**
 * Starts `command` in the background (a server under test): its output is collected, a test
 * waits for a line (`waitFor`) and ends it with a signal of its choice (`stop("SIGKILL")` for a
 * crash). Stop every process a test starts (in `finally` or `afterAll`).
 */
export const startProcess = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {}
): RunningProcess => {
  const child = spawn(command, [...args], { ...options, stdio: ["ignore", "pipe", "pipe"] })
  let text = ""
  let listeners: Array<() => void> = []
  const onData = (chunk: Buffer) => {
    text += chunk.toString("utf8")
    for (const l of listeners) l()
  }
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      for (const l of listeners) l()
      resolve({ code, signal })
    })
  })
  let done = false
  void exited.then(() => {
    done = true
  })
  return {
    pid: child.pid ?? -1,
    output: () => text,
    waitFor: (pattern, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(text)
          if (match !== null) {
            finish()
            resolve(match)
          } else if (done || child.exitCode !== null || child.signalCode !== null) {
            finish()
            reject(new Error(`the process exited before printing ${pattern}:\n${text}`))
          }
        }
        const timer = setTimeout(() => {
          finish()
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text}`))
        }, timeoutMs)
        const finish = () => {
          clearTimeout(timer)
          listeners = listeners.filter((l) => l !== check)
        }
        listeners.push(check)
        check()
      }),
    stop: (signal = "SIGTERM") => {
      if (!done && child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited.then(() => undefined)
    },
    exited
  }
}
