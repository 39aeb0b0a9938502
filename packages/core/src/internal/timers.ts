/**
 * The timer of one bounded call (`Io.within`): interrupts the fiber running the timed work when
 * the time is up.
 *
 * Under the live clock it is one `setTimeout` per call (Node keeps its own list per duration and
 * frees it when it is empty, so nothing here outlives the call: no registry, no per-duration
 * state). The timer is `ref`'d while pending, so a pending timeout keeps the process alive as a
 * sleep would, and it is cleared as soon as the work ends, so an idle process is never held.
 * Under any other clock (`TestClock`) the timer is a fiber sleeping on that clock.
 *
 * Only work that did not finish synchronously gets a timer at all (see Io.ts).
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"

/** The longest delay `setTimeout` accepts; longer ones sleep on the clock instead. */
export const maxTimerMillis = 2 ** 31 - 1

/** A scheduled interruption; `fired` is the interruptor's id once (and only if) it fired. */
export interface Timer {
  fired: FiberId.FiberId | undefined
  /** Called right after the timer fires (set by a detached wait). */
  onFire: (() => void) | undefined
  cancel(): void
}

let armed = 0

/**
 * How many timers are pending right now (armed and neither fired nor cancelled). Returns to 0
 * once every timed call has ended, whatever the durations were.
 */
export const pending = (): number => armed

let nextId = 0

/** A fiber id of our own for each fired timeout (negative, so never a real fiber's). */
export const makeId = (): FiberId.FiberId => FiberId.make(-1 - (nextId++ % 1_000_000_000), 0)

/** Calls `fire` after `duration` on `clock` (`millis` is the same duration), unless cancelled. */
export const schedule = (
  fire: () => void,
  clock: Clock.Clock,
  live: boolean,
  duration: Duration.Duration,
  millis: number
): Timer => {
  armed++
  let done = false
  let stop: () => void = noop
  const timer: Timer = {
    fired: undefined,
    onFire: undefined,
    cancel: () => {
      if (done) return
      done = true
      armed--
      stop()
    }
  }
  const onTime = () => {
    if (done) return
    done = true
    armed--
    fire()
  }
  if (live && millis <= maxTimerMillis) {
    const handle = setTimeout(onTime, millis)
    stop = () => clearTimeout(handle)
  } else {
    const sleeper = Effect.runFork(Effect.zipRight(clock.sleep(duration), Effect.sync(onTime)))
    stop = () => sleeper.unsafeInterruptAsFork(FiberId.none)
  }
  return timer
}

/** Interrupts `fiber` after `duration` on `clock`, unless cancelled; `fired` is then the interruptor. */
export const interruptAfter = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  live: boolean,
  duration: Duration.Duration,
  millis: number
): Timer => {
  const timer: Timer = schedule(
    () => {
      const id = makeId()
      timer.fired = id
      fiber.unsafeInterruptAsFork(id)
      timer.onFire?.()
    },
    clock,
    live,
    duration,
    millis
  )
  return timer
}

const noop = () => {}

/** The live clock: under it a timer is a `setTimeout`; under any other (`TestClock`) a sleep on it. */
export const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/**
 * A callback-style call raced against one timer, without a fiber of its own (`Io.callback`,
 * `Sql.statement`): `register` starts the call and hands its outcome to `resume` once; what it
 * returns is called if the call is abandoned (when `timeout` fires after `millis`, or on
 * interruption). At the bound the result is `timeout` at once, even where the caller is
 * uninterruptible.
 */
export const race = <A, E, E2>(
  register: (resume: (exit: Exit.Exit<A, E>) => void) => (() => void) | void,
  clock: Clock.Clock,
  duration: Duration.Duration,
  millis: number,
  timeout: Effect.Effect<never, E2>
): Effect.Effect<A, E | E2> =>
  Effect.async<A, E | E2>((resume) => {
    let settled = false
    let timer: Timer | undefined
    let abandon: (() => void) | void = undefined
    if (millis !== Number.POSITIVE_INFINITY) {
      timer = schedule(
        () => {
          if (settled) return
          settled = true
          resume(timeout)
          abandon?.()
        },
        clock,
        clock === liveClock,
        duration,
        millis
      )
    }
    abandon = register((exit) => {
      if (settled) return
      settled = true
      timer?.cancel()
      resume(exit)
    })
    if (settled) return
    return Effect.sync(() => {
      if (settled) return
      settled = true
      timer?.cancel()
      abandon?.()
    })
  })
