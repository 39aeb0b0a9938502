/**
 * One timer per timeout duration instead of one per call.
 *
 * Every call of a timeout policy uses the same duration, so the deadlines of its calls arrive in
 * order: a FIFO queue per duration, with one `setTimeout` armed for the earliest live deadline,
 * replaces a `setTimeout`/`clearTimeout` pair per call. A cancelled entry is only marked; the
 * queue is emptied as soon as no entry is live. The timer is `ref`'d while an entry is live (a
 * pending timeout keeps the process alive, as a sleep would) and `unref`'d once the queue is idle
 * (an idle queue never does). The `unref` waits for the event loop's next check phase, so a
 * burst of calls toggles the timer's reference once instead of twice per call. No closure and no
 * fiber id is created per call: entries are plain objects, and the id of the interruption is
 * made only when the timer fires.
 *
 * @internal
 */
import type { Fiber } from "effect"
import { FiberId } from "effect"

/** A scheduled interruption of `fiber`; `id` is the interruptor, set when (and only if) it fired. */
export interface Entry {
  readonly deadline: number
  readonly queue: Queue
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  id: FiberId.FiberId | undefined
}

/** The timer of one duration. */
export class Queue {
  entries: Array<Entry> = []
  head = 0
  live = 0
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  armedFor = Number.POSITIVE_INFINITY
  referenced = false
  idleCheck = false
  readonly tick: () => void
  readonly release: () => void

  constructor(readonly millis: number) {
    this.tick = tick.bind(undefined, this)
    this.release = release.bind(undefined, this)
  }
}

let nextId = 0

/** A fiber id of our own for each fired timeout (negative, so never a real fiber's). */
export const makeId = (): FiberId.FiberId => FiberId.make(-1 - (nextId++ % 1_000_000_000), 0)

/** Unreferences the timer if the queue is still idle (run from `setImmediate`). */
function release(q: Queue): void {
  q.idleCheck = false
  if (q.live === 0 && q.timer !== undefined && q.referenced) {
    q.timer.unref()
    q.referenced = false
  }
}

/** Empties the queue (every entry is dead). */
const clear = (q: Queue): void => {
  const entries = q.entries
  if (entries.length > 16) q.entries = []
  else while (entries.length > 0) entries.pop()
  q.head = 0
}

const reset = (q: Queue): void => {
  clear(q)
  if (q.referenced && !q.idleCheck) {
    q.idleCheck = true
    setImmediate(q.release)
  }
}

const arm = (q: Queue, deadline: number): void => {
  if (q.timer !== undefined) clearTimeout(q.timer)
  q.armedFor = deadline
  q.timer = setTimeout(q.tick, Math.max(0, Math.ceil(deadline - performance.now())))
  q.referenced = true
  if (q.live === 0) {
    q.timer.unref()
    q.referenced = false
  }
}

function tick(q: Queue): void {
  q.timer = undefined
  q.armedFor = Number.POSITIVE_INFINITY
  q.referenced = false
  const now = performance.now()
  while (q.head < q.entries.length) {
    const entry = q.entries[q.head]!
    if (entry.fiber === undefined) {
      q.head++
      continue
    }
    if (entry.deadline > now) break
    const fiber = entry.fiber
    const id = makeId()
    entry.fiber = undefined
    entry.id = id
    q.head++
    q.live--
    fiber.unsafeInterruptAsFork(id)
  }
  if (q.live === 0) {
    clear(q)
    return
  }
  if (q.head > 1024 && q.head * 2 > q.entries.length) {
    q.entries = q.entries.slice(q.head)
    q.head = 0
  }
  arm(q, q.entries[q.head]!.deadline)
}

const queues = new Map<number, Queue>()

/** The timer queue of a duration (one per process). */
export const queueFor = (millis: number): Queue => {
  let q = queues.get(millis)
  if (q === undefined) {
    q = new Queue(millis)
    queues.set(millis, q)
  }
  return q
}

/** Interrupts `fiber` after the queue's duration, unless `cancel`led first. */
export const schedule = (q: Queue, fiber: Fiber.RuntimeFiber<unknown, unknown>): Entry => {
  const entry: Entry = { deadline: performance.now() + q.millis, queue: q, fiber, id: undefined }
  q.entries.push(entry)
  q.live++
  if (q.timer === undefined || q.armedFor > entry.deadline) arm(q, entry.deadline)
  if (!q.referenced) {
    q.timer!.ref()
    q.referenced = true
  }
  return entry
}

/** Cancels a scheduled interruption (no effect once it fired). */
export const cancel = (entry: Entry): void => {
  if (entry.fiber === undefined) return
  entry.fiber = undefined
  if (--entry.queue.live === 0) reset(entry.queue)
}
