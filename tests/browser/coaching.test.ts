/**
 * The web app's coaching, requeue and meetings pages in a real browser (Debian's Chromium via
 * playwright-core), against the server on SQLite and scripted models: a learner chats with the
 * coach until the goals are set; an admin requeues a failed evaluation (the evaluator model
 * fails until the test lets it succeed) and sees it complete; a teacher runs a meeting and an
 * evaluation run and reads their results. Screenshots land in test-artifacts/screenshots/.
 *
 * Skipped (with the reason) where /usr/bin/chromium is absent; failing under BRAID_REQUIRE_SERVICES=1.
 */
import { Ai } from "@braid/llm"
import type { ScriptedLanguageModel } from "@braid/llm"
import { describeWith } from "@braid/testing"
import { Samples, Scripts } from "@braid/workflows"
import { afterAll, afterEach, assert, beforeAll, it } from "@effect/vitest"
import type { BrowserContext, Page } from "playwright-core"
import type { TestServer } from "./harness.js"
import { ensureWebBuilt, launch, shoot, signIn, startServer } from "./harness.js"

const describeChromium = await describeWith("chromium")

const slow = 180_000

/** The evaluator answers nonsense (the evaluation fails) while `failing.now` is true. */
const failing = { now: true }
const flaky: ScriptedLanguageModel.Options = {
  rules: [
    { when: (r) => failing.now && Ai.systemText(r).startsWith("You evaluate a learner"), reply: "not an evaluation" },
    ...(Scripts.practice.rules ?? [])
  ]
}

const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLInputElement>("input, textarea, select")]
      .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"))
      .map((el) => el.id || el.name || el.outerHTML.slice(0, 60))
  )

describeChromium("coaching, requeue and meetings in Chromium", () => {
  let server: TestServer
  let browser: { readonly context: BrowserContext; readonly close: () => Promise<void> }
  let context: BrowserContext

  beforeAll(async () => {
    await ensureWebBuilt()
    // one attempt per evaluation: a failed evaluation is failed at once (no 30 s backoff)
    server = await startServer({ script: flaky, practice: { evaluation: { maxAttempts: 1 } } })
    browser = await launch()
    context = browser.context
  }, 300_000)

  afterEach(async (test) => {
    if (test.task.result?.state !== "fail") return
    for (const [i, page] of context.pages().entries()) {
      await shoot(page, `FAILED-${test.task.name.slice(0, 40).replace(/[^a-z0-9]+/gi, "-")}-${i}`).catch(() => {})
      await page.close().catch(() => {})
    }
  })

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  }, slow)

  it("a learner chats with the coach: each reply appears, the goals end the session", async () => {
    const page = await signIn(context, server.url, server.token("ada", "learner"), "ada")
    await page.getByRole("link", { name: "Coaching" }).click()
    await page.getByRole("heading", { name: "Coaching", exact: true }).waitFor()
    await page.getByLabel("Your name (optional)").fill("Ada")
    await page.getByLabel("What you want to achieve (one per line, optional)").fill("run a 10k\nship the report")
    assert.deepStrictEqual(await unlabelled(page), [])
    await page.getByRole("button", { name: "Start coaching" }).click()
    await page.waitForURL(/#\/coaching\/.+/)
    const id = decodeURIComponent(page.url().split("#/coaching/")[1]!)

    for (const [i, line] of Samples.coachingDay.morning.entries()) {
      await page.getByLabel("Your message").fill(line)
      await page.getByLabel("Your message").press("Enter")
      await page.locator(".msg.user").nth(i).filter({ hasText: line.slice(0, 20) }).waitFor()
      await page.locator(".msg.assistant:not(.streaming)").nth(i).waitFor()
      if (i === 0) {
        assert.include(await page.locator(".msg.assistant").first().textContent(), "rough night")
        await shoot(page, "11-learner-coaching")
      }
    }
    await page.getByTestId("end-reason").waitFor()
    assert.strictEqual(await page.getByTestId("end-reason").textContent(), "objective met")
    assert.include(await page.getByTestId("objective").textContent(), "quarterly report")
    await shoot(page, "12-learner-coaching-goals")
    // the session is a coaching session of the learner's history (through the session endpoints)
    const listed = await server.api<{ items: Array<{ id: string; kind: string }> }>(
      server.token("ada", "learner"),
      "GET",
      "/api/sessions?kind=coaching"
    )
    assert.deepStrictEqual(listed.items.map((s) => s.id), [id])
    // on a phone
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${server.url}/#/coaching/${encodeURIComponent(id)}`)
    await page.locator(".msg.assistant").first().waitFor()
    await shoot(page, "13-learner-coaching-phone", { fullPage: false })
    await page.close()
  }, slow)

  it("an admin requeues a failed evaluation and sees it complete; a learner has no requeue button", async () => {
    failing.now = true
    const tess = server.token("tess", "teacher")
    const ada = server.token("ada", "learner")
    await server.api(tess, "POST", "/api/scenarios", Scripts.practiceScenario)
    const started = await server.api<{ session: { id: string } }>(ada, "POST", "/api/sessions", {
      scenarioId: Scripts.practiceScenario.id
    })
    const id = started.session.id
    const path = `/api/sessions/${encodeURIComponent(id)}`
    await server.api(ada, "POST", `${path}/messages`, { text: Scripts.practiceLearner[0] })
    await server.api(ada, "POST", `${path}/end`)
    let status = ""
    for (let i = 0; i < 600 && status !== "failed"; i++) {
      status = (await server.api<{ status: string }>(ada, "GET", `${path}/evaluation`)).status
      assert.notStrictEqual(status, "completed", "the evaluator was meant to fail")
      if (status !== "failed") await new Promise((r) => setTimeout(r, 100))
    }
    assert.strictEqual(status, "failed")

    const learner = await signIn(context, server.url, ada, "ada")
    await learner.goto(`${server.url}/#/practice/${encodeURIComponent(id)}`)
    await learner.getByText("The evaluation failed").waitFor()
    assert.strictEqual(await learner.getByRole("button", { name: "Requeue" }).count(), 0)
    await learner.close()

    failing.now = false
    const page = await signIn(context, server.url, server.token("root", "admin"), "root")
    await page.goto(`${server.url}/#/practice/${encodeURIComponent(id)}`)
    await page.getByText("The evaluation failed").waitFor()
    const requeue = page.getByRole("button", { name: "Requeue" })
    await shoot(page, "14-admin-failed-evaluation")
    // by keyboard
    await requeue.focus()
    await page.keyboard.press("Enter")
    await page.getByTestId("evaluation").waitFor({ timeout: 60_000 })
    assert.strictEqual(
      await page.locator("[data-testid=evaluation] tbody tr").count(),
      Scripts.practiceScenario.skills.length
    )
    assert.strictEqual(await page.getByRole("button", { name: "Requeue" }).count(), 0)
    await shoot(page, "15-admin-requeued-evaluation")
    await page.close()
  }, slow)

  it("a teacher runs a meeting and an evaluation run and reads their results", async () => {
    const page = await signIn(context, server.url, server.token("tess", "teacher"), "tess")
    await page.getByRole("link", { name: "Meetings & evals" }).click()
    await page.getByRole("heading", { name: "Meetings and evaluations" }).waitFor()
    assert.deepStrictEqual(await unlabelled(page), [])
    await page.getByLabel("Title").fill("Beta launch review")
    await page.getByRole("button", { name: "Start the meeting" }).click()
    await page.waitForURL(/#\/meetings\/meeting\/.+/)
    await page.getByTestId("decisions").waitFor({ timeout: 60_000 })
    assert.strictEqual(await page.getByTestId("meeting-status").textContent(), "completed")
    assert.isAbove(await page.locator("[data-testid=action-items] li").count(), 0)
    await shoot(page, "16-teacher-meeting")

    await page.getByLabel("Target").selectOption("prompt-v2")
    await page.getByLabel("Baseline (for the regression gate)").selectOption("prompt-v1")
    await page.getByRole("button", { name: "Start the evaluation" }).click()
    await page.waitForURL(/#\/meetings\/evaluation\/.+/)
    await page.getByTestId("gate").waitFor({ timeout: 60_000 })
    assert.include(await page.getByTestId("gate").textContent(), "failed")
    await shoot(page, "17-teacher-evaluation-run")
    // a learner may not open the page
    const learner = await signIn(context, server.url, server.token("bob", "learner"), "bob")
    await learner.goto(`${server.url}/#/meetings`)
    await learner.getByRole("heading", { name: "Not available" }).waitFor()
    await learner.close()
    await page.close()
  }, slow)
})
