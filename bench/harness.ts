/**
 * The benchmark harness: every figure is measured in the same process and run as its baseline
 * (raw Effect, or the raw client), and printed with the ratio between the two.
 */

export interface Row {
  /** What is measured, e.g. "seq10 (instrumentation off)". */
  readonly name: string
  /** Braid's figure and the baseline's, in `unit`. */
  readonly braid: number
  readonly baseline: number
  readonly unit: "ops/s" | "ms" | "µs/op" | "MB"
  /** The target, as a maximum ratio of cost (for ops/s: baseline / braid; otherwise braid / baseline). */
  readonly maxRatio?: number
  readonly note?: string
}

/** The cost ratio: > 1 means Braid is slower (or bigger) than the baseline. */
export const ratio = (row: Row): number => row.unit === "ops/s" ? row.baseline / row.braid : row.braid / row.baseline

/** Runs `fn` repeatedly for about `millis` ms after a warm-up and returns operations per second. */
export const opsPerSecond = async (fn: () => Promise<unknown>, millis = 1000, batch = 100): Promise<number> => {
  const warmEnd = performance.now() + millis / 4
  while (performance.now() < warmEnd) for (let i = 0; i < batch; i++) await fn()
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < millis) {
    for (let i = 0; i < batch; i++) await fn()
    ops += batch
    now = performance.now()
  }
  return (ops * 1000) / (now - start)
}

/** Operations per second of `batch` (which runs `size` operations), measured over about `millis` after `warmups` batches. */
export const rate = (batch: () => Promise<unknown>, size: number, millis = 500, warmups = 2) => async () => {
  for (let i = 0; i < warmups; i++) await batch()
  const start = performance.now()
  let n = 0
  while (performance.now() - start < millis) {
    await batch()
    n++
  }
  return (n * size * 1000) / (performance.now() - start)
}

/** The median wall time in ms of `runs` runs of `fn` (after one warm-up run). */
export const medianMillis = async (fn: () => Promise<unknown>, runs = 7): Promise<number> => {
  await fn()
  const times: Array<number> = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]!
}

/**
 * Measures A and B alternately in `rounds` rounds and returns the median of each, so that drift
 * in the machine's speed affects both sides alike.
 */
export const interleaved = async (
  a: () => Promise<number>,
  b: () => Promise<number>,
  rounds = 5
): Promise<readonly [number, number]> => {
  const as: Array<number> = []
  const bs: Array<number> = []
  for (let i = 0; i < rounds; i++) {
    as.push(await a())
    bs.push(await b())
  }
  const median = (xs: Array<number>) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
  return [median(as), median(bs)]
}

/**
 * Operations per second of `batch` (which runs `size` operations), measured over ~millis; the
 * client CPU time per operation of each sample goes to `cpu` (less sensitive than throughput to
 * other processes on a shared machine).
 */
export const rate = (batch: () => Promise<unknown>, size: number, cpu: Array<number>, millis = 500) => async () => {
  for (let i = 0; i < 2; i++) await batch()
  const start = performance.now()
  const used = process.cpuUsage()
  let n = 0
  while (performance.now() - start < millis) {
    await batch()
    n++
  }
  const spent = process.cpuUsage(used)
  cpu.push((spent.user + spent.system) / (n * size))
  return (n * size * 1000) / (performance.now() - start)
}

/** The median of `xs`. */
export const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const fmt = (n: number) => n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(3)

/** Prints a table of rows with their ratios and whether each meets its target. */
export const printTable = (title: string, rows: ReadonlyArray<Row>): void => {
  console.log(`\n## ${title}\n`)
  console.log("| measure | braid | baseline | unit | ratio | target | |")
  console.log("|---|---|---|---|---|---|---|")
  for (const row of rows) {
    const r = ratio(row)
    const ok = row.maxRatio === undefined ? "" : r <= row.maxRatio ? "ok" : "MISSED"
    console.log(
      `| ${row.name} | ${fmt(row.braid)} | ${fmt(row.baseline)} | ${row.unit} | ${r.toFixed(2)}x | ${
        row.maxRatio === undefined ? "" : `<= ${row.maxRatio}x`
      } | ${ok}${row.note ? ` ${row.note}` : ""} |`
    )
  }
}
