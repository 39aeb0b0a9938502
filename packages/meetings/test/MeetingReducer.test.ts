/**
 * The meeting's rules as a pure reducer: random command sequences (joins, leaves, invitations,
 * turns, answers, failures, timeouts, interruptions, ends) keep the invariants a user relies on,
 * and a bad command is a typed rejection that changes nothing.
 */
import { MeetingReducer } from "@braid/meetings"
import { assert, describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"

const HOST = "h"
const NAMES = [HOST, "a", "b", "c", "__proto__", "x/y:z"]
const TIMEOUT = 1000

type Step = MeetingReducer.CommandInput & { readonly dt: number }

const name = fc.constantFrom(...NAMES)
const weighted = <A>(weight: number, arbitrary: fc.Arbitrary<A>) => ({ weight, arbitrary })
const step: fc.Arbitrary<Step> = fc.oneof(
  weighted(18, fc.record({ _tag: fc.constant("Join" as const), name, dt: fc.nat(300) })),
  weighted(12, fc.record({ _tag: fc.constant("Leave" as const), name, dt: fc.nat(300) })),
  weighted(
    4,
    fc.record({ _tag: fc.constant("Invite" as const), by: fc.constantFrom(HOST, HOST, "a"), name, dt: fc.nat(300) })
  ),
  weighted(6, fc.record({ _tag: fc.constant("Accept" as const), name, dt: fc.nat(300) })),
  weighted(9, fc.record({ _tag: fc.constant("Decline" as const), name, dt: fc.nat(300) })),
  weighted(2, fc.record({ _tag: fc.constant("Start" as const), by: fc.constantFrom(HOST, "b"), dt: fc.nat(300) })),
  weighted(
    6,
    fc.record({
      _tag: fc.constant("GrantFloor" as const),
      speaker: name,
      fallback: fc.option(fc.constant("picked by a test"), { nil: undefined }),
      dt: fc.nat(300)
    })
  ),
  weighted(
    5,
    fc.record({
      _tag: fc.constant("Speak" as const),
      name,
      text: fc.constantFrom("yes", "no", "DONE"),
      tokens: fc.nat(50),
      costUsd: fc.constantFrom(0, 0.01),
      dt: fc.nat(1500)
    })
  ),
  weighted(6, fc.record({ _tag: fc.constant("Fail" as const), name, reason: fc.constant("boom"), dt: fc.nat(1500) })),
  weighted(
    4,
    fc.record({ _tag: fc.constant("Expire" as const), turn: fc.integer({ min: 0, max: 12 }), dt: fc.nat(1500) })
  ),
  weighted(2, fc.record({ _tag: fc.constant("Interrupt" as const), reason: fc.constant("cut"), dt: fc.nat(300) })),
  weighted(1, fc.record({ _tag: fc.constant("End" as const), by: fc.constantFrom(HOST, "a"), dt: fc.nat(300) })),
  weighted(
    1,
    fc.record({
      _tag: fc.constant("Conclude" as const),
      endedBy: fc.constant({ condition: "maxTurns(3)", detail: "3 turns" }),
      dt: fc.nat(300)
    })
  )
)

/** Speaks as the speaker of the open turn most of the time (else turns would rarely be answered). */
const aimSpeak = (state: MeetingReducer.State, s: Step): Step => {
  if ((s._tag === "Speak" || s._tag === "Fail") && state.floor !== undefined && s.name !== "c") {
    return { ...s, name: state.floor.speaker }
  }
  // and answers an open invitation most of the time
  const pending = state.members.find((m) => m.invitation === "invited")
  if ((s._tag === "Accept" || s._tag === "Decline") && pending !== undefined && s.name !== "c") {
    return { ...s, name: pending.name }
  }
  return s
}

/** Turns an `Expire` of a random turn into one of the open turn most of the time (else it would rarely hit). */
const aim = (state: MeetingReducer.State, s: Step): Step =>
  s._tag === "Expire" && state.floor !== undefined && s.turn % 3 !== 0 ? { ...s, turn: state.floor.turn } : s

const scenario = fc.record({
  admission: fc.constantFrom<MeetingReducer.Admission>("open", "invitation"),
  hostSpeaks: fc.boolean(),
  steps: fc.array(step, { minLength: 20, maxLength: 80, size: "max" }).map((
    steps
  ) => [{ _tag: "Start", by: HOST, dt: 0 } as Step, ...steps])
})
/** How often each kind of entry came up (checked at the end: the generator must reach every rule). */
const seen = new Map<string, number>()

describe("MeetingReducer: invariants over random command sequences", () => {
  it("at most one speaker, who is a present accepted participant; no entries after the end; turns and seq monotone; declined never speak", () => {
    fc.assert(
      fc.property(scenario, ({ admission, hostSpeaks, steps }) => {
        let state = MeetingReducer.initial({
          meetingId: "m",
          tenant: "acme",
          topic: "t",
          host: HOST,
          hostSpeaks,
          admission,
          speakingTimeout: TIMEOUT
        })
        state = Either.getOrThrow(MeetingReducer.reduce(state, { _tag: "Join", at: 0, name: HOST })).state
        let at = 0
        const history: Array<MeetingReducer.Transition["entries"][number]> = []
        /** Who was invited (by an entry) before joining, for invitation-only meetings. */
        const invited = new Set<string>()
        /** Who declined and was not invited again. */
        const declined = new Set<string>()
        for (const raw of steps) {
          at += raw.dt
          const s = aimSpeak(state, aim(state, raw))
          const before = JSON.stringify(state)
          const command = { ...s, at } as unknown as MeetingReducer.Command
          const result = MeetingReducer.reduce(state, command)
          assert.strictEqual(JSON.stringify(state), before, "reduce never mutates its input")
          if (Either.isLeft(result)) {
            // a rejection is typed and names the command
            assert.strictEqual(result.left._tag, "MeetingActionRejected")
            assert.isString(result.left.reason)
            continue
          }
          const { entries, state: next } = result.right
          if (state.phase === "ended") {
            assert.deepStrictEqual(entries, [], `no entries after the end (${command._tag})`)
            assert.strictEqual(next.phase, "ended")
          }
          // entries are numbered on, stamped with the command's time and the tenant
          entries.forEach((e, i) => {
            assert.strictEqual(e.seq, state.seq + i + 1)
            assert.strictEqual(e.at, at)
            assert.strictEqual(e.tenant, "acme")
          })
          for (const e of entries) {
            seen.set(e.kind, (seen.get(e.kind) ?? 0) + 1)
            if (e.kind === "invited") {
              invited.add(e.participant)
              declined.delete(e.participant)
            }
            if (e.kind === "declined") {
              invited.delete(e.participant)
              declined.add(e.participant)
            }
            if (e.kind === "joined") {
              assert.isFalse(declined.has(e.participant), `${e.participant} joined after declining`)
            }
            if (e.kind === "joined" && admission === "invitation" && e.participant !== HOST) {
              assert.isTrue(invited.has(e.participant), `${e.participant} joined without an invitation`)
            }
            if (e.turn !== undefined) {
              // turn entries are numbered 1, 2, 3 ... without gaps
              const last = history.filter((h) => h.turn !== undefined).at(-1)?.turn ?? 0
              assert.strictEqual(e.turn, last + 1)
              // only the speaker of the open turn closes it; a timeout only after the deadline
              assert.strictEqual(e.participant, state.floor?.speaker)
              if (e.kind === "timed-out") assert.isAtLeast(e.at, state.floor!.openedAt + TIMEOUT)
              if (e.kind === "spoke") {
                assert.strictEqual(MeetingReducer.invitationOf(state, e.participant), "accepted")
              }
            }
            history.push(e)
          }
          assert.isAtLeast(next.turns, state.turns, "turn counts never go down")
          assert.isAtLeast(next.tokens, state.tokens)
          state = next
          // the state's own invariants
          if (state.floor !== undefined) {
            assert.include(state.present, state.floor.speaker, "the speaker is present")
            assert.include(state.order, state.floor.speaker, "the speaker is in the turn order")
            assert.strictEqual(MeetingReducer.invitationOf(state, state.floor.speaker), "accepted")
            assert.strictEqual(state.floor.turn, state.turns + 1)
            assert.strictEqual(state.phase, "running")
          }
          assert.strictEqual(new Set(state.order).size, state.order.length, "nobody twice in the order")
          for (const p of state.order) assert.include(state.present, p)
          for (const p of state.present) assert.strictEqual(MeetingReducer.invitationOf(state, p), "accepted")
          if (state.phase !== "ended") assert.include(state.present, HOST, "the host stays until the end")
          assert.strictEqual(state.seq, history.length + 1) // + the host's joined entry
          const spoken = history.filter((e) => e.kind === "spoke")
          assert.strictEqual(state.tokens, spoken.reduce((n, e) => n + (e.tokens ?? 0), 0))
          assert.deepStrictEqual(MeetingReducer.status(state).participants, state.present)
        }
      }),
      { numRuns: 500 }
    )
    const kinds = [
      "joined",
      "left",
      "spoke",
      "timed-out",
      "failed",
      "interrupted",
      "invited",
      "accepted",
      "declined",
      "ended"
    ]
    for (const kind of kinds) {
      assert.isAtLeast(seen.get(kind) ?? 0, 25, `the sequences reached "${kind}" entries: ${JSON.stringify([...seen])}`)
    }
  })
})

describe("MeetingReducer: rules", () => {
  const start = (options: Partial<MeetingReducer.InitialOptions> = {}) => {
    let state = MeetingReducer.initial({ meetingId: "m", topic: "t", host: HOST, ...options })
    const apply = (command: MeetingReducer.CommandInput, at = 0) => {
      const result = MeetingReducer.reduce(state, { ...command, at } as MeetingReducer.Command)
      if (Either.isRight(result)) state = result.right.state
      return Either.map(result, (t) => t.entries.map((e) => `${e.participant}:${e.kind}`))
    }
    apply({ _tag: "Join", name: HOST })
    return { apply, state: () => state }
  }

  it("invitations: only the invited join an invitation meeting; a decline keeps one out until invited again", () => {
    const m = start({ admission: "invitation" })
    const reason = (r: Either.Either<unknown, { reason: string }>) => Either.isLeft(r) ? r.left.reason : "accepted"
    assert.include(reason(m.apply({ _tag: "Join", name: "a" })), "not invited")
    assert.include(reason(m.apply({ _tag: "Invite", by: "a", name: "b" })), "only the host")
    assert.deepStrictEqual(m.apply({ _tag: "Invite", by: HOST, name: "a" }), Either.right(["a:invited"]))
    assert.include(reason(m.apply({ _tag: "Invite", by: HOST, name: "a" })), "already invited")
    assert.deepStrictEqual(m.apply({ _tag: "Decline", name: "a" }), Either.right(["a:declined"]))
    assert.include(reason(m.apply({ _tag: "Join", name: "a" })), "declined")
    assert.include(reason(m.apply({ _tag: "Accept", name: "a" })), "invite again")
    assert.deepStrictEqual(m.apply({ _tag: "Invite", by: HOST, name: "a" }), Either.right(["a:invited"]))
    assert.deepStrictEqual(m.apply({ _tag: "Accept", name: "a" }), Either.right(["a:accepted"]))
    assert.deepStrictEqual(m.apply({ _tag: "Join", name: "a" }), Either.right(["a:joined"]))
    assert.include(reason(m.apply({ _tag: "Decline", name: "a" })), "leave instead")
    assert.include(reason(m.apply({ _tag: "Decline", name: HOST })), "host cannot decline")
    assert.deepStrictEqual(MeetingReducer.status(m.state()).invitations, [
      { name: HOST, invitation: "accepted" },
      { name: "a", invitation: "accepted" }
    ])
  })

  it("an open meeting admits anyone, except who declined", () => {
    const m = start()
    assert.deepStrictEqual(m.apply({ _tag: "Join", name: "a" }), Either.right(["a:joined"]))
    m.apply({ _tag: "Invite", by: HOST, name: "b" })
    m.apply({ _tag: "Decline", name: "b" })
    assert.isTrue(Either.isLeft(m.apply({ _tag: "Join", name: "b" })))
  })

  it("the speaking timeout closes only its own turn, and only at its deadline", () => {
    const m = start({ speakingTimeout: 5000 })
    m.apply({ _tag: "Join", name: "a" })
    m.apply({ _tag: "Start", by: HOST }, 0)
    m.apply({ _tag: "GrantFloor", speaker: "a" }, 100)
    assert.deepStrictEqual(m.apply({ _tag: "Expire", turn: 1 }, 5099), Either.right([]), "before the deadline")
    assert.deepStrictEqual(m.apply({ _tag: "Expire", turn: 2 }, 9000), Either.right([]), "another turn's timer")
    assert.deepStrictEqual(m.apply({ _tag: "Expire", turn: 1 }, 5100), Either.right(["a:timed-out"]))
    assert.strictEqual(m.state().floor, undefined)
    const late = m.apply({ _tag: "Speak", name: "a", text: "late", tokens: 1, costUsd: 0, turn: 1 }, 5200)
    assert.isTrue(Either.isLeft(late), "an answer after the timeout is refused")
  })

  it("a speaker who leaves mid-turn leaves when the turn closes; a pick who is absent falls back to round robin", () => {
    const m = start()
    m.apply({ _tag: "Join", name: "a" })
    m.apply({ _tag: "Join", name: "b" })
    m.apply({ _tag: "Start", by: HOST })
    m.apply({ _tag: "GrantFloor", speaker: "a" })
    assert.deepStrictEqual(m.apply({ _tag: "Leave", name: "a" }), Either.right([]))
    assert.deepStrictEqual(
      m.apply({ _tag: "Speak", name: "a", text: "bye", tokens: 1, costUsd: 0 }),
      Either.right(["a:spoke", "a:left"])
    )
    m.apply({ _tag: "GrantFloor", speaker: "ghost" })
    assert.strictEqual(m.state().floor?.speaker, "b")
    assert.include(m.state().floor?.fallback, "ghost left before the turn")
    assert.deepStrictEqual(m.apply({ _tag: "End", by: HOST }), Either.right(["b:interrupted", "h:ended"]))
  })

  it("property: untrusted commands are decoded first: random values never throw, they apply or fail with MeetingActionRejected naming the path", () => {
    const weird = fc.oneof(
      fc.anything({ withBigInt: true, withNullPrototype: true }),
      fc.constantFrom<unknown>(Number.NaN, Infinity, "", "__proto__", null, undefined)
    )
    const tags = [
      "Invite",
      "Accept",
      "Decline",
      "Join",
      "Leave",
      "Start",
      "GrantFloor",
      "Speak",
      "Fail",
      "Expire",
      "Interrupt",
      "End",
      "Conclude"
    ]
    const decoded = MeetingReducer.decodeCommand(
      MeetingReducer.initial({ meetingId: "m", topic: "t", host: HOST }),
      { _tag: "Speak", at: 1, name: "a", text: "hi", tokens: Number.NaN, costUsd: 0 }
    )
    assert.strictEqual(Either.isLeft(decoded) && decoded.left.path, "tokens")
    fc.assert(
      fc.property(fc.constantFrom(...tags), weird, weird, (tag, a, b) => {
        const m = start({ speakingTimeout: 10 })
        m.apply({ _tag: "Join", name: "a" })
        m.apply({ _tag: "Start", by: HOST })
        const command = { _tag: tag, at: 1, name: a, by: a, speaker: a, text: b, tokens: b, turn: b, reason: b }
        const before = m.state()
        const result = Either.flatMap(
          MeetingReducer.decodeCommand(before, command),
          (c) => MeetingReducer.reduce(before, c)
        )
        if (Either.isLeft(result)) {
          assert.strictEqual(result.left._tag, "MeetingActionRejected")
        } else {
          // it decoded: then it was a well-formed command
          assert.isTrue(typeof a === "string" || ["Interrupt", "Expire", "Conclude"].includes(tag))
        }
        assert.strictEqual(m.state(), before)
      }),
      { numRuns: 500 }
    )
  })
})
