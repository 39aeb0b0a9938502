import { Practice, Scenario, Scripts, SessionStore } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck as fc } from "effect"

const fieldOf = (input: unknown) =>
  Effect.map(Effect.flip(Scenario.decode(input)), (e) => ({ field: e.field, reason: e.reason }))

describe("Scenario.decode", () => {
  it.effect("decodes the sample scenario", () =>
    Effect.gen(function*() {
      const scenario = yield* Scenario.decode(Scripts.practiceScenario)
      assert.strictEqual(scenario.persona.name, "Sam")
      assert.strictEqual(scenario.version, 1)
      assert.strictEqual(scenario.tenant, "default")
    }))

  it.effect("names the field at fault, with its path", () =>
    Effect.gen(function*() {
      const base = Scripts.practiceScenario
      assert.strictEqual((yield* fieldOf({ ...base, persona: { ...base.persona, name: "  " } })).field, "persona.name")
      assert.strictEqual(
        (yield* fieldOf({ ...base, skills: [{ ...base.skills[0], id: "Bad Id" }] })).field,
        "skills[0].id"
      )
      assert.strictEqual((yield* fieldOf({ ...base, skills: [] })).field, "skills")
      assert.strictEqual((yield* fieldOf({ ...base, maxTurns: 1.5 })).field, "maxTurns")
      assert.strictEqual((yield* fieldOf({ ...base, aiSpeaksFirst: "yes" })).field, "aiSpeaksFirst")
      const missing = yield* fieldOf({ ...base, endCriteria: undefined })
      assert.strictEqual(missing.field, "endCriteria")
      assert.isTrue(missing.reason.length > 0)
      assert.strictEqual((yield* fieldOf(null)).field, "")
    }))

  it.effect("never throws: wrong types, BigInt, cycles, __proto__ keys, deep nesting", () =>
    Effect.gen(function*() {
      const cyclic: Record<string, unknown> = { ...Scripts.practiceScenario }
      cyclic["persona"] = cyclic
      let deep: unknown = "x"
      for (let i = 0; i < 5000; i++) deep = { persona: deep }
      const specials: Array<unknown> = [
        cyclic,
        deep,
        JSON.parse(`{"__proto__": {"id": "x"}, "title": "T"}`),
        { ...Scripts.practiceScenario, title: 10n },
        { ...Scripts.practiceScenario, maxTurns: Number.NaN }
      ]
      const inputs = [
        ...specials,
        ...fc.sample(fc.anything({ withBigInt: true, withNullPrototype: true, maxDepth: 5 }), 200)
      ]
      for (const input of inputs) {
        const exit = yield* Effect.exit(Scenario.decode(input))
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          assert.isTrue(failure._tag === "Some", Cause.pretty(exit.cause))
          if (failure._tag === "Some") assert.strictEqual(failure.value._tag, "InvalidInput")
        }
      }
    }))
})

describe("Practice.catalogue", () => {
  const teacher = { userId: "tess", role: "teacher", tenant: "default" } as const
  const learner = { userId: "ada", role: "learner", tenant: "default" } as const

  it.effect("teachers add and update scenarios; learners read and list them but cannot write", () =>
    Effect.gen(function*() {
      const added = yield* Practice.catalogue.put(teacher, Scripts.practiceScenario)
      assert.strictEqual(added.id, "first-session")
      const updated = yield* Practice.catalogue.put(teacher, { ...Scripts.practiceScenario, title: "First session" })
      assert.strictEqual(updated.version, added.version + 1)
      assert.strictEqual((yield* Practice.catalogue.get(learner, "first-session")).title, "First session")
      assert.deepStrictEqual((yield* Practice.catalogue.list(learner)).items.map((s) => s.id), ["first-session"])
      const refused = yield* Effect.flip(Practice.catalogue.put(learner, Scripts.practiceScenario))
      assert.strictEqual(refused._tag, "Forbidden")
      const bad = yield* Effect.flip(
        Practice.catalogue.put(teacher, {
          ...Scripts.practiceScenario,
          persona: { ...Scripts.practiceScenario.persona, name: "" }
        })
      )
      assert.strictEqual(bad._tag === "InvalidInput" ? bad.field : bad._tag, "persona.name")
      yield* Practice.catalogue.remove(teacher, "first-session")
      assert.strictEqual(
        (yield* Effect.flip(Practice.catalogue.get(learner, "first-session")))._tag,
        "ScenarioNotFound"
      )
    }).pipe(Effect.provide(SessionStore.layerMemory)))
})
