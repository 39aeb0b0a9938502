/**
 * The OpenAI test server itself, through plain fetch: the behaviours the provider tests do not
 * reach (routing, the fallback, slow and stalled replies, raw events, the leaky proxy) and the
 * wire format of what it sends.
 */
import type { TestServer } from "@braid/llm/testing/OpenAiTestServer"
import { Reply, start, usage } from "@braid/llm/testing/OpenAiTestServer"
import { afterEach, assert, beforeEach, describe, it } from "@effect/vitest"

let server: TestServer

beforeEach(async () => {
  server = await start()
})
afterEach(async () => {
  await server.close()
})

const post = (body: unknown, init: RequestInit = {}, path = "/responses") =>
  fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-secret" },
    body: JSON.stringify(body),
    ...init
  })

/** A response's JSON body, untyped (the tests read the wire shape). */
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json()

/** The `data` of every SSE event of a body, parsed. */
const events = (text: string): Array<any> =>
  text.split("\n\n").filter((e) => e.includes("data: ")).map((e) => JSON.parse(e.split("data: ")[1]!))

const waitFor = async (cond: () => boolean) => {
  for (let i = 0; i < 150 && !cond(); i++) await new Promise((r) => setTimeout(r, 20))
}

describe("OpenAiTestServer", () => {
  it("answers POST .../responses only; anything else is a 404 in OpenAI's error shape; every request is recorded", async () => {
    const ok = await post({ model: "m", input: "hi" })
    assert.strictEqual(ok.status, 200)
    const body = await json(ok)
    assert.strictEqual(body.object, "response")
    assert.strictEqual(body.status, "completed")
    assert.strictEqual(body.model, "m")
    assert.deepStrictEqual(body.output[0].content, [{ type: "output_text", text: "ok", annotations: [] }])
    const missing = await post({}, {}, "/chat/completions")
    assert.strictEqual(missing.status, 404)
    assert.strictEqual((await json(missing)).error.code, "unknown_url")
    assert.deepStrictEqual(server.requests.map((r) => [r.method, r.path]), [
      ["POST", "/v1/responses"],
      ["POST", "/v1/chat/completions"]
    ])
    assert.deepStrictEqual(server.requests[0]!.body, { model: "m", input: "hi" })
    assert.strictEqual(server.requests[0]!.headers["authorization"], "Bearer sk-secret")
  })

  it("a fallback answers when the queue is empty; queued behaviours come first, in order", async () => {
    await server.close()
    server = await start({ fallback: (r) => Reply.json(`echo ${r.body.input}`) })
    server.enqueue(Reply.json("first"))
    const texts: Array<string> = []
    for (const input of ["a", "b"]) {
      const r = await json(post({ model: "m", input }))
      texts.push(r.output[0].content[0].text)
    }
    assert.deepStrictEqual(texts, ["first", "echo b"])
  })

  it("a JSON reply with function calls and usage, in the Responses API's shape", async () => {
    server.enqueue(Reply.toolCalls([
      { callId: "call_1", name: "A", arguments: { x: 1 } },
      { callId: "call_2", name: "B", arguments: "not json" }
    ], { usage: usage(10, 2, { cached: 8, reasoning: 1 }) }))
    const r = await json(post({ model: "m", input: "hi" }))
    assert.deepStrictEqual(r.output.map((o: any) => [o.type, o.call_id, o.name, o.arguments]), [
      ["function_call", "call_1", "A", "{\"x\":1}"],
      ["function_call", "call_2", "B", "not json"]
    ])
    assert.deepStrictEqual(r.usage, {
      input_tokens: 10,
      output_tokens: 2,
      total_tokens: 12,
      input_tokens_details: { cached_tokens: 8 },
      output_tokens_details: { reasoning_tokens: 1 }
    })
  })

  it("an SSE reply numbers its events in sequence and ends with response.completed", async () => {
    server.enqueue(Reply.sse(["a", "b"], { toolCalls: [{ callId: "c", name: "T", arguments: { q: "long enough" } }] }))
    const res = await post({ model: "m", input: "hi", stream: true })
    assert.strictEqual(res.headers.get("content-type"), "text/event-stream")
    const all = events(await res.text())
    assert.deepStrictEqual(all.map((e) => e.sequence_number), all.map((_, i) => i))
    assert.deepStrictEqual(all.map((e) => e.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed"
    ])
    const completed = all[all.length - 1]
    assert.deepStrictEqual(completed.response.output.map((o: any) => o.type), ["message", "function_call"])
  })

  it("429 carries retry-after and OpenAI's error body; the leaky proxy echoes the Authorization header", async () => {
    server.enqueue(Reply.rateLimited(7), Reply.echoAuth())
    const limited = await post({ model: "m", input: "hi" })
    assert.strictEqual(limited.status, 429)
    assert.strictEqual(limited.headers.get("retry-after"), "7")
    assert.deepStrictEqual(await json(limited), {
      error: { message: "Rate limit reached for requests", type: "requests", param: null, code: "rate_limit_exceeded" }
    })
    const leaky = await post({ model: "m", input: "hi" })
    assert.strictEqual(leaky.status, 400)
    assert.include((await json(leaky)).error.message, "Bearer sk-secret")
  })

  it("rawSse sends the events as given; slow waits before its reply", async () => {
    server.enqueue(Reply.rawSse([["response.created", { nonsense: true }]]), Reply.slow(300, Reply.json("late")))
    const raw = await (await post({ model: "m", input: "hi", stream: true })).text()
    assert.strictEqual(raw, "event: response.created\ndata: {\"type\":\"response.created\",\"nonsense\":true}\n\n")
    const started = Date.now()
    const late = await json(post({ model: "m", input: "hi" }))
    assert.strictEqual(late.output[0].content[0].text, "late")
    assert.isAtLeast(Date.now() - started, 250)
  })

  it("a stalled stream sends its start, then only keep-alive comments; the client's abort is counted", async () => {
    server.enqueue(Reply.pingsThenStall(10))
    const controller = new AbortController()
    const res = await post({ model: "m", input: "hi", stream: true }, { signal: controller.signal })
    const reader = res.body!.getReader()
    let text = ""
    while (!text.includes(": keep-alive")) text += new TextDecoder().decode((await reader.read()).value)
    assert.deepStrictEqual(events(text.split(": keep-alive")[0]!).map((e) => e.type).slice(-1), [
      "response.output_text.delta"
    ])
    assert.strictEqual(server.stalled(), 1)
    controller.abort()
    await waitFor(() => server.aborted() === 1)
    assert.strictEqual(server.aborted(), 1)
  })

  it("a connection the server drops is not counted as aborted by the client", async () => {
    server.enqueue(Reply.dropBeforeReply(), Reply.dropMidStream(["a"]))
    const before = await post({ model: "m", input: "hi" }).then(() => "answered", () => "failed")
    assert.strictEqual(before, "failed")
    const mid = await post({ model: "m", input: "hi", stream: true })
    const outcome = await mid.text().then(() => "ended", () => "failed")
    assert.strictEqual(outcome, "failed")
    assert.strictEqual(server.aborted(), 0)
  })
})
