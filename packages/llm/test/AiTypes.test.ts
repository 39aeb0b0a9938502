/**
 * Type-level tests of the port: tools, toolkits, structured output, the error mapping and
 * Braid's prompt options. `expectTypeOf` and `@ts-expect-error` are checked by `tsc -b` (the
 * package's tsconfig includes test/); the runtime assertions check the same values exist.
 */
import type { Errors } from "@braid/llm"
import { Ai, AiErrors, Metered, ScriptedLanguageModel } from "@braid/llm"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, Schema } from "effect"

const Add = Ai.Tool.make("Add", {
  parameters: { a: Schema.Number, b: Schema.Number },
  success: Schema.Number,
  failure: Schema.Struct({ reason: Schema.String }),
  failureMode: "return"
})
const Echo = Ai.Tool.make("Echo", { parameters: { text: Schema.String }, success: Schema.String })
const Tools = Ai.Toolkit.make(Add, Echo)
const Person = Schema.Struct({ name: Schema.String, age: Schema.Number })

describe("types of the port", () => {
  it("tools carry their parameter, success and failure types", () => {
    expectTypeOf<Ai.Tool.Parameters<typeof Add>>().toEqualTypeOf<{ readonly a: number; readonly b: number }>()
    expectTypeOf<Ai.Tool.Success<typeof Add>>().toEqualTypeOf<number>()
    expectTypeOf<Ai.Tool.Failure<typeof Add>>().toEqualTypeOf<{ readonly reason: string }>()
    expectTypeOf<Ai.Tool.Name<typeof Echo>>().toEqualTypeOf<"Echo">()
    assert.strictEqual(Add.name, "Add")
  })

  it("a toolkit's handlers are checked against its tools", () => {
    const live = Tools.toLayer({
      Add: ({ a, b }) => {
        expectTypeOf(a).toEqualTypeOf<number>()
        return Effect.succeed(a + b)
      },
      Echo: ({ text }) => Effect.succeed(text)
    })
    Tools.toLayer({
      // @ts-expect-error: Add must succeed with a number
      Add: () => Effect.succeed("three"),
      Echo: ({ text }) => Effect.succeed(text)
    })
    // @ts-expect-error: every tool needs its handler
    Tools.toLayer({ Add: ({ a, b }) => Effect.succeed(a + b) })
    assert.isDefined(live)
  })

  it("generateText with a toolkit: typed tool calls and results, handlers required, AiError in E", () => {
    const call = Ai.LanguageModel.generateText({ prompt: "2 + 3?", toolkit: Tools })
    type Response = Effect.Effect.Success<typeof call>
    type Call = Response["toolCalls"][number]
    expectTypeOf<Extract<Call, { name: "Add" }>["params"]>().toEqualTypeOf<{ readonly a: number; readonly b: number }>()
    type Result = Extract<Response["toolResults"][number], { name: "Add" }>
    expectTypeOf<Result["result"]>().toEqualTypeOf<number | { readonly reason: string }>()
    expectTypeOf<Effect.Effect.Error<typeof call>>().toEqualTypeOf<Ai.AiError.AiError>()
    type R = Effect.Effect.Context<typeof call>
    expectTypeOf<Ai.LanguageModel.LanguageModel>().toMatchTypeOf<R>()
    expectTypeOf<Ai.Tool.Handler<"Add">>().toMatchTypeOf<R>()
    expectTypeOf<Ai.Tool.Handler<"Echo">>().toMatchTypeOf<R>()
    // @ts-expect-error: only the toolkit's tools can be chosen
    Ai.LanguageModel.generateText({ prompt: "x", toolkit: Tools, toolChoice: { tool: "Nope" } })
    Ai.LanguageModel.generateText({ prompt: "x", toolkit: Tools, toolChoice: { tool: "Echo" } })
    assert.isDefined(call)
  })

  it("generateObject decodes to the Schema's type", async () => {
    const call = Ai.LanguageModel.generateObject({ prompt: "A person", schema: Person })
    expectTypeOf<Effect.Effect.Success<typeof call>["value"]>().toEqualTypeOf<
      { readonly name: string; readonly age: number }
    >()
    const r = await Effect.runPromise(
      call.pipe(
        Effect.provide(ScriptedLanguageModel.layer({ rules: [{ when: "person", object: { name: "Ada", age: 36 } }] }))
      )
    )
    assert.strictEqual(r.value.age, 36)
  })

  it("the error mapping narrows AiError to Braid's ModelError; usage is typed", () => {
    const typed = Ai.LanguageModel.generateText({ prompt: "hi" }).pipe(AiErrors.mapToModelError)
    expectTypeOf<Effect.Effect.Error<typeof typed>>().toEqualTypeOf<Errors.ModelError>()
    expectTypeOf(Metered.usageOf).returns.toEqualTypeOf<Ai.BraidUsage | undefined>()
    expectTypeOf(AiErrors.fromModelError).returns.toMatchTypeOf<Ai.AiError.AiError & AiErrors.Carried>()
    assert.isDefined(typed)
  })

  it("Braid's prompt options are typed", () => {
    const ok = Ai.Prompt.make([{ role: "system", content: "x", options: { braid: { cache: true } } }])
    // @ts-expect-error: cache is a boolean
    Ai.Prompt.make([{ role: "system", content: "x", options: { braid: { cache: "yes" } } }])
    assert.strictEqual(ok.content.length, 1)
  })
})
