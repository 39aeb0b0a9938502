import { Describe } from "@braid/core"
import { Evaluation } from "@braid/eval"
import { Coaching, MeetingWorkflow, Samples } from "@braid/workflows"
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const docs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../docs/workflows")
const mermaidOf = (file: string) => {
  const text = fs.readFileSync(path.join(docs, file), "utf8")
  const m = /```mermaid\n([\s\S]*?)\n```/.exec(text)
  if (!m) throw new Error(`${file} has no mermaid block`)
  return m[1]
}

describe("docs/workflows", () => {
  it("each page's Mermaid diagram is the one the pipeline draws of itself", () => {
    assert.strictEqual(mermaidOf("coaching.md"), Describe.toMermaid(Coaching.make().day))
    assert.strictEqual(
      mermaidOf("evaluation.md"),
      Describe.toMermaid(Evaluation.make({ runId: "docs", metrics: [...Evaluation.defaultMetrics] }))
    )
    assert.strictEqual(
      mermaidOf("meeting.md"),
      Describe.toMermaid(
        MeetingWorkflow.make({ host: Samples.launchReview.host, participants: Samples.launchReview.participants })
          .pipeline
      )
    )
  })
})
