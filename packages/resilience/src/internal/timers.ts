/**
 * One timer per timeout duration instead of one per call.
 *
 * Every call of a timeout policy uses the same duration, so the deadlines of its calls arrive in
 * order: a FIFO queue per duration, with one `setTimeout` armed for the earliest live deadline,
 * replaces a `setTimeout`/`clearTimeout` pair per call (the larger part of a timeout's cost). A
 * cancelled entry is only marked; the queue is emptied as soon as no entry is live. The timer is
 * `ref`'d while an entry is live (a pending timeout keeps the process alive, as a sleep would) and
 * `unref`'d otherwise (an idle queue never does).
 *
 * @internal
 */

interface Entry {
  readonly deadline: number
  fire: (() => void) | undefined
}

/** A scheduled timeout; `cancel` it when the work ends. */
export interface Handle {
  readonly cancel: () => void
}

class Queue {
  private entries: Array<Entry> = []
  private head = 0
  private live = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private armedFor = Number.POSITIVE_INFINITY
  private referenced = false

  constructor(private readonly millis: number) {}

  add(fire: () => void): Handle {
    const entry: Entry = { deadline: performance.now() + this.millis, fire }
    this.entries.push(entry)
    this.live++
    if (this.timer === undefined || this.armedFor > entry.deadline) this.arm(entry.deadline)
    if (!this.referenced) {
      this.timer!.ref()
      this.referenced = true
    }
    return {
      cancel: () => {
        if (entry.fire === undefined) return
        entry.fire = undefined
        if (--this.live === 0) this.reset()
      }
    }
  }

  private reset(): void {
    this.entries = []
    this.head = 0
    if (this.timer !== undefined && this.referenced) {
      this.timer.unref()
      this.referenced = false
    }
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.armedFor = deadline
    this.timer = setTimeout(this.tick, Math.max(0, Math.ceil(deadline - performance.now())))
    this.referenced = true
    if (this.live === 0) {
      this.timer.unref()
      this.referenced = false
    }
  }

  private readonly tick = (): void => {
    this.timer = undefined
    this.armedFor = Number.POSITIVE_INFINITY
    this.referenced = false
    const now = performance.now()
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head]!
      if (entry.fire === undefined) {
        this.head++
        continue
      }
      if (entry.deadline > now) break
      const fire = entry.fire
      entry.fire = undefined
      this.head++
      this.live--
      fire()
    }
    if (this.live === 0) {
      this.reset()
      return
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head)
      this.head = 0
    }
    this.arm(this.entries[this.head]!.deadline)
  }
}

const queues = new Map<number, Queue>()

/** Calls `fire` after `millis` ms, unless cancelled first. */
export const schedule = (millis: number, fire: () => void): Handle => {
  let queue = queues.get(millis)
  if (queue === undefined) {
    queue = new Queue(millis)
    queues.set(millis, queue)
  }
  return queue.add(fire)
}
