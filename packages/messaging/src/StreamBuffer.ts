/**
 * `StreamBuffer`: an append-only buffer with parallel tracks (by default `conversation` and
 * `insights`), so an agent can add observations beside the main dialogue without interrupting it.
 *
 * Readers read a track (whole, or from a position or a marker), follow it as a Stream (what is
 * there, then what comes, until the buffer is closed), and place synchronization markers: a
 * marker is written on every track at once, at each track's current end, so "what the insights
 * track said while the conversation was between marker A and marker B" is a simple read.
 *
 * @since 0.1.0
 */
import { Clock, Effect, PubSub, Stream } from "effect"
import type { Scope } from "effect"

/**
 * The default tracks.
 *
 * @category models
 * @since 0.1.0
 */
export type DefaultTrack = "conversation" | "insights"

/**
 * One item of a track: an entry, or a synchronization marker.
 *
 * @category models
 * @since 0.1.0
 */
export type Item<A, T extends string = DefaultTrack> =
  | {
    readonly _tag: "Entry"
    readonly track: T
    /** Position in the track, from 0. */
    readonly index: number
    /** Position across all tracks (the order of appends), from 1. */
    readonly seq: number
    readonly at: number
    readonly value: A
  }
  | {
    readonly _tag: "Marker"
    readonly track: T
    readonly index: number
    readonly seq: number
    readonly at: number
    readonly marker: Marker<T>
  }

/**
 * A synchronization marker, with its position on every track.
 *
 * @category models
 * @since 0.1.0
 */
export interface Marker<T extends string = DefaultTrack> {
  readonly id: number
  readonly label: string
  readonly at: number
  readonly positions: Readonly<Record<T, number>>
}

/**
 * Where to start reading: a position in the track, or just after a marker.
 *
 * @category models
 * @since 0.1.0
 */
export type From = { readonly index: number } | { readonly marker: number } | undefined

/**
 * @category models
 * @since 0.1.0
 */
export interface StreamBuffer<A, T extends string = DefaultTrack> {
  readonly tracks: ReadonlyArray<T>
  readonly append: (track: T, value: A) => Effect.Effect<Item<A, T>>
  readonly read: (track: T, from?: From) => Effect.Effect<ReadonlyArray<Item<A, T>>>
  /** The entries of `track` between two markers (to the end when `to` is omitted). */
  readonly between: (track: T, from: number, to?: number) => Effect.Effect<ReadonlyArray<A>>
  /** What the track holds from `from`, then each new item, until the buffer is closed. */
  readonly follow: (track: T, from?: From) => Stream.Stream<Item<A, T>>
  readonly mark: (label: string) => Effect.Effect<Marker<T>>
  readonly markers: Effect.Effect<ReadonlyArray<Marker<T>>>
  /** Ends every follower's stream; appends after this are refused (they die). */
  readonly close: Effect.Effect<void>
}

type Signal<A, T extends string> = Item<A, T> | { readonly _tag: "Closed" }

/**
 * Creates a buffer with the given tracks (default `conversation` and `insights`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamBuffer } from "@braid/messaging"
 *
 * const program = Effect.gen(function*() {
 *   const buffer = yield* StreamBuffer.make<string>()
 *   yield* buffer.append("conversation", "user: how do I start running?")
 *   yield* buffer.append("insights", "user is a beginner")
 *   const m = yield* buffer.mark("after first exchange")
 *   return m.positions // { conversation: 1, insights: 1 }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A, T extends string = DefaultTrack>(
  options: { readonly tracks?: ReadonlyArray<T> } = {}
): Effect.Effect<StreamBuffer<A, T>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const tracks = (options.tracks ?? ["conversation", "insights"]) as ReadonlyArray<T>
    if (tracks.length === 0) throw new RangeError("StreamBuffer needs at least one track")
    const items = new Map<T, Array<Item<A, T>>>(tracks.map((t) => [t, []]))
    const markers: Array<Marker<T>> = []
    const hub = yield* Effect.acquireRelease(PubSub.unbounded<Signal<A, T>>(), PubSub.shutdown)
    let seq = 0
    let closed = false

    const trackOf = (track: T) => {
      const list = items.get(track)
      if (list === undefined) throw new RangeError(`StreamBuffer: no track "${track}" (tracks: ${tracks.join(", ")})`)
      return list
    }
    const startOf = (track: T, from: From): number => {
      if (from === undefined) return 0
      if ("index" in from) return Math.max(0, from.index)
      const m = markers.find((x) => x.id === from.marker)
      if (m === undefined) throw new RangeError(`StreamBuffer: no marker ${from.marker}`)
      return m.positions[track] + 1 // just after the marker item
    }

    const append = (track: T, value: A) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Effect.suspend(() => {
          if (closed) return Effect.dieMessage("StreamBuffer: append after close")
          const list = trackOf(track)
          const item: Item<A, T> = { _tag: "Entry", track, index: list.length, seq: ++seq, at, value }
          list.push(item)
          return Effect.as(PubSub.publish(hub, item), item)
        }))

    const mark = (label: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Effect.suspend(() => {
          if (closed) return Effect.dieMessage("StreamBuffer: mark after close")
          const positions = Object.fromEntries(tracks.map((t) => [t, trackOf(t).length])) as Record<T, number>
          const marker: Marker<T> = { id: markers.length + 1, label, at, positions }
          markers.push(marker)
          const placed = tracks.map((track): Item<A, T> => {
            const item: Item<A, T> = { _tag: "Marker", track, index: positions[track], seq: ++seq, at, marker }
            trackOf(track).push(item)
            return item
          })
          return Effect.as(PubSub.publishAll(hub, placed), marker)
        }))

    const read = (track: T, from?: From) => Effect.sync(() => trackOf(track).slice(startOf(track, from)))

    const follow = (track: T, from?: From): Stream.Stream<Item<A, T>> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const start = startOf(track, from)
        if (closed) return Stream.fromIterable(trackOf(track).slice(start))
        const queue = yield* PubSub.subscribe(hub)
        // Items already in the track are replayed; live items below the replayed length are skipped.
        const past = trackOf(track).slice(start)
        const replayedUpTo = start + past.length
        const live = Stream.fromQueue(queue).pipe(
          Stream.takeWhile((s): s is Item<A, T> => s._tag !== "Closed"), // ends explicitly (a shut-down queue would end with nothing)
          Stream.filter((s) => s.track === track && s.index >= replayedUpTo)
        )
        return Stream.concat(Stream.fromIterable(past), live)
      }))

    return {
      tracks,
      append,
      read,
      between: (track, fromMarker, toMarker) =>
        Effect.sync(() => {
          const start = startOf(track, { marker: fromMarker })
          const end = toMarker === undefined ? Infinity : startOf(track, { marker: toMarker }) - 1
          return trackOf(track).slice(start, end).flatMap((i) => (i._tag === "Entry" ? [i.value] : []))
        }),
      follow,
      mark,
      markers: Effect.sync(() => markers.slice()),
      close: Effect.suspend(() => {
        if (closed) return Effect.void
        closed = true
        return Effect.asVoid(PubSub.publish(hub, { _tag: "Closed" }))
      })
    } satisfies StreamBuffer<A, T>
  })

/**
 * The entries (not the markers) of a list of items.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { StreamBuffer } from "@braid/messaging"
 *
 * const program = Effect.gen(function*() {
 *   const buffer = yield* StreamBuffer.make<string>()
 *   yield* buffer.append("insights", "prefers mornings")
 *   return StreamBuffer.values(yield* buffer.read("insights")) // ["prefers mornings"]
 * })
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const values = <A, T extends string>(items: ReadonlyArray<Item<A, T>>): ReadonlyArray<A> =>
  items.flatMap((i) => (i._tag === "Entry" ? [i.value] : []))
