/**
 * Child processes for tests, always asynchronous: a synchronous child process blocks the vitest
 * worker, which then fails the run with "Timeout calling onTaskUpdate" on a loaded machine.
 */
import { execFile } from "node:child_process"

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
