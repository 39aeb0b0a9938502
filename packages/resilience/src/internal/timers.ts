/**
 * One timer per timeout duration instead of one per call.
 *
 * Every call of a timeout policy uses the same duration, so the deadlines of its calls arrive in
 * order: a FIFO queue per duration, with one `setTimeout` armed for the earliest live deadline,
 * replaces a `setTimeout`/`clearTimeout` pair per call. A cancelled entry is only marked; the
 * queue is emptied as soon as no entry is live. The timer is `ref`'d while an entry is live (a
 * pending timeout keeps the process alive, as a sleep would) and `unref`'d otherwise (an idle
 * queue never does). No closure is created per call (entries are plain objects).
 *
 * @internal
 */
import type { Fiber, FiberId } from "effect"

/** A scheduled interruption of `fiber` by `id`; `fired` once it happened. */
export interface Entry {
  readonly deadline: number
  readonly queue: Queue
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  readonly id: FiberId.FiberId
  fired: boolean
}

class Queue {
  entries: Array<Entry> = []
  head = 0
  live = 0
  timer: ReturnType<typeof setTimeout> | undefined = undefined
  armedFor = Number.POSITIVE_INFINITY
  referenced = false
  readonly tick: () => void

  constructor(readonly millis: number) {
    this.tick = tick.bind(undefined, this)
  }
}

const reset = (q: Queue): void => {
  q.entries = []
  q.head = 0
  if (q.timer !== undefined && q.referenced) {
    q.timer.unref()
    q.referenced = false
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
    entry.fiber = undefined
    entry.fired = true
    q.head++
    q.live--
    fiber.unsafeInterruptAsFork(entry.id)
  }
  if (q.live === 0) {
    reset(q)
    return
  }
  if (q.head > 1024 && q.head * 2 > q.entries.length) {
    q.entries = q.entries.slice(q.head)
    q.head = 0
  }
  arm(q, q.entries[q.head]!.deadline)
}

const queues = new Map<number, Queue>()

/** Interrupts `fiber` with `id` after `millis` ms, unless `cancel`led first. */
export const schedule = (millis: number, fiber: Fiber.RuntimeFiber<unknown, unknown>, id: FiberId.FiberId): Entry => {
  let q = queues.get(millis)
  if (q === undefined) {
    q = new Queue(millis)
    queues.set(millis, q)
  }
  const entry: Entry = { deadline: performance.now() + millis, queue: q, fiber, id, fired: false }
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
