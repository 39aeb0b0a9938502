/**
 * The web app in a real browser (Debian's Chromium via playwright-core), against the server on
 * SQLite and the scripted model: a learner practises end to end and sees the reply stream in and
 * the evaluation arrive; a second learner cannot open the first one's session; a teacher's bad
 * field gets a message and the fixed scenario is created; the admin dashboard counts the session
 * and its cost; the run viewer shows the trace of a coaching run. Screenshots land in
 * test-artifacts/screenshots/.
 *
 * Skipped (with the reason) where /usr/bin/chromium is absent; failing under BRAID_REQUIRE_SERVICES=1.
 */
import { describeWith } from "@braid/testing"
import { Scripts } from "@braid/workflows"
import { afterAll, afterEach, assert, beforeAll, it } from "@effect/vitest"
import * as fs from "node:fs"
import type { BrowserContext, Page } from "playwright-core"
import type { TestServer } from "./harness.js"
import { ensureWebBuilt, launch, shoot, signIn, startServer } from "./harness.js"

const describeChromium = await describeWith("chromium")

/** Each scenario takes seconds; a generous bound for a loaded machine (2 cores shared with the suite). */
const slow = 180_000

/** Form controls of the page without a label (none may lack one). */
const unlabelled = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLInputElement>("input, textarea, select")]
      .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"))
      .map((el) => el.id || el.name || el.outerHTML.slice(0, 60))
  )

describeChromium("the web app in Chromium", () => {
  let server: TestServer
  let browser: { readonly context: BrowserContext; readonly close: () => Promise<void> }
  let context: BrowserContext
  let teacherToken: string
  let scenarioTitle: string
  // the learner's session, shared with the tests that look at it from elsewhere
  let adaSession = ""

  beforeAll(async () => {
    await ensureWebBuilt()
    server = await startServer()
    browser = await launch()
    context = browser.context
    teacherToken = server.token("tess", "teacher")
    const scenario = await server.api<{ title: string }>(
      teacherToken,
      "POST",
      "/api/scenarios",
      Scripts.practiceScenario
    )
    scenarioTitle = scenario.title
  }, 300_000)

  // a failed scenario leaves a screenshot of every page still open, to see what the user saw
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

  it("a learner practises end to end: the reply streams in, the session ends, the evaluation arrives", async () => {
    const page = await signIn(context, server.url, server.token("ada", "learner"), "ada")
    await page.getByRole("heading", { name: scenarioTitle }).waitFor()
    await shoot(page, "01-learner-scenarios")

    // Record every text the streaming reply shows, as the page renders it.
    await page.evaluate(() => {
      const seen: Array<string> = []
      ;(window as any).__streamed = seen
      new MutationObserver(() => {
        const el = document.querySelector("[data-testid=streaming] p")
        const text = el?.textContent?.replace("▍", "")
        if (text && seen[seen.length - 1] !== text) seen.push(text)
      }).observe(document.body, { subtree: true, childList: true, characterData: true })
    })

    await page.getByRole("button", { name: `Start practising ${scenarioTitle}` }).click()
    await page.waitForURL(/#\/practice\//)
    adaSession = decodeURIComponent(page.url().split("#/practice/")[1]!)
    // the client speaks first; the learner's brief names the client
    await page.locator(".msg.assistant").first().waitFor()
    await page.getByText(`Your brief: ${Scripts.practiceScenario.persona.name}`).waitFor()

    const assistantCount = () => page.locator(".msg.assistant:not(.streaming)").count()
    for (const [i, line] of Scripts.practiceLearner.entries()) {
      const before = await assistantCount()
      await page.getByLabel("Your message").fill(line)
      await page.getByLabel("Your message").press("Enter")
      await page.locator(".msg.user").nth(i).filter({ hasText: line.slice(0, 20) }).waitFor()
      if (i < Scripts.practiceLearner.length - 1) {
        await page.waitForFunction(
          (n) => document.querySelectorAll(".msg.assistant:not(.streaming)").length > n,
          before
        )
        if (i === 0) {
          assert.deepStrictEqual(await unlabelled(page), [])
          await shoot(page, "02-learner-practice")
        }
      }
    }

    // the summary meets the objective: the session ends for that reason
    await page.getByTestId("end-reason").waitFor()
    assert.strictEqual(await page.getByTestId("end-reason").textContent(), "objective met")
    // the evaluation arrives (pushed, or polled should the event be missed) with a score per skill
    await page.getByTestId("evaluation").waitFor({ timeout: 60_000 })
    const skills = await page.locator("[data-testid=evaluation] tbody tr").count()
    assert.strictEqual(skills, Scripts.practiceScenario.skills.length)
    const overall = Number(await page.getByTestId("overall").textContent())
    assert.isTrue(overall >= 1 && overall <= 5, `overall ${overall}`)
    await shoot(page, "03-learner-evaluation")

    // the reply streamed: the page showed partial texts that each begin a reply it then showed whole
    const streamed: Array<string> = await page.evaluate(() => (window as any).__streamed)
    const replies = await page.locator(".msg.assistant:not(.streaming) p").allTextContents()
    const partial = streamed.filter((s) => replies.some((r) => r.startsWith(s) && r.length > s.length))
    assert.isTrue(partial.length >= 2, `partial texts seen while streaming: ${JSON.stringify(streamed.slice(0, 5))}`)

    // export: the transcript downloads as Markdown
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export transcript" }).click()
    ])
    const file = await download.path()
    const exported = fs.readFileSync(file, "utf8")
    assert.include(exported, Scripts.practiceLearner[0]!)
    assert.strictEqual(download.suggestedFilename(), `${adaSession}.md`)

    // history lists the session; search finds it by title, and not by a title it does not have
    await page.getByRole("link", { name: "History" }).click()
    await page.locator(`[data-session="${adaSession}"]`).waitFor()
    await page.getByLabel("Search by title").fill("no such title")
    await page.getByRole("button", { name: "Search" }).click()
    await page.getByText("No sessions matching").waitFor()
    assert.strictEqual(await page.locator(`[data-session="${adaSession}"]`).count(), 0)
    await page.getByLabel("Search by title").fill(scenarioTitle.slice(2, 12).toUpperCase())
    await page.getByRole("button", { name: "Search" }).click()
    await page.locator(`[data-session="${adaSession}"]`).waitFor()
    await shoot(page, "04-learner-history")

    // on a phone
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${server.url}/#/practice/${encodeURIComponent(adaSession)}`)
    await page.getByTestId("evaluation").waitFor()
    await shoot(page, "05-learner-phone", { fullPage: false })

    // practise again: a new session of the same scenario, linked to this one
    await page.getByRole("button", { name: "Practise again" }).click()
    await page.waitForURL((u) => u.hash.startsWith("#/practice/") && !u.hash.endsWith(encodeURIComponent(adaSession)))
    await page.locator(".msg.assistant").first().waitFor()
    const again = decodeURIComponent(page.url().split("#/practice/")[1]!)
    const detail = await server.api<{ session: { previousSessionId?: string; scenarioId?: string } }>(
      server.token("ada", "learner"),
      "GET",
      `/api/sessions/${encodeURIComponent(again)}`
    )
    assert.strictEqual(detail.session.previousSessionId, adaSession)
    // until it ends, the new session shows no evaluation (not the previous session's)
    assert.strictEqual(await page.getByTestId("evaluation").count(), 0)
    await page.getByRole("button", { name: "End session" }).click()
    await page.getByTestId("end-reason").waitFor()
    assert.strictEqual(await page.getByTestId("end-reason").textContent(), "user")
    await page.locator(".evaluation").waitFor()
    const shown = await page.locator(".evaluation").textContent()
    const ownEvaluation = await server.api<{ status: string }>(
      server.token("ada", "learner"),
      "GET",
      `/api/sessions/${encodeURIComponent(again)}/evaluation`
    )
    // what the page shows is this session's evaluation state, not the first session's scores
    if (ownEvaluation.status !== "completed") assert.notInclude(shown, "Overall")
    await page.close()
  }, slow)

  it("a second learner cannot open the first one's session", async () => {
    assert.notStrictEqual(adaSession, "", "the first test made a session")
    const page = await signIn(context, server.url, server.token("bob", "learner"), "bob")
    await page.goto(`${server.url}/#/practice/${encodeURIComponent(adaSession)}`)
    await page.getByTestId("load-error").waitFor()
    assert.match((await page.getByTestId("load-error").textContent()) ?? "", /not found/i)
    assert.strictEqual(await page.locator(".msg").count(), 0)
    // and bob's history does not list it
    await page.goto(`${server.url}/#/history`)
    await page.getByText("No sessions").waitFor()
    assert.strictEqual(await page.locator(`[data-session="${adaSession}"]`).count(), 0)
    await shoot(page, "06-other-learner-refused")
    // the navigation shows a learner's pages only; an admin page by its address is refused
    assert.deepStrictEqual(await page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents(), [
      "Practise",
      "Coaching",
      "History"
    ])
    await page.goto(`${server.url}/#/admin`)
    await page.getByRole("heading", { name: "Not available" }).waitFor()
    assert.strictEqual(await page.getByTestId("cost-today").count(), 0)
    // bob starts his own session and leaves it open (the dashboard counts it as active)
    await page.goto(`${server.url}/#/scenarios`)
    await page.getByRole("button", { name: `Start practising ${scenarioTitle}` }).click()
    await page.waitForURL(/#\/practice\//)
    await page.locator(".msg.assistant").first().waitFor()
    await page.close()
  }, slow)

  it("history pages through a learner's sessions", async () => {
    const cara = server.token("cara", "learner")
    const scenarios = await server.api<{ items: Array<{ id: string }> }>(cara, "GET", "/api/scenarios")
    for (let i = 0; i < 11; i++) {
      const started = await server.api<{ session: { id: string } }>(cara, "POST", "/api/sessions", {
        scenarioId: scenarios.items[0]!.id
      })
      await server.api(cara, "POST", `/api/sessions/${encodeURIComponent(started.session.id)}/end`)
    }
    const page = await signIn(context, server.url, cara, "cara")
    await page.getByRole("link", { name: "History" }).click()
    const rows = page.locator("table.history tbody tr")
    await page.getByRole("link", { name: "Next page" }).waitFor()
    assert.strictEqual(await rows.count(), 10)
    const firstPage = await rows.first().getAttribute("data-session")
    await page.getByRole("link", { name: "Next page" }).click()
    await page.waitForFunction(() => document.querySelectorAll("table.history tbody tr").length === 1)
    assert.strictEqual(await page.getByRole("link", { name: "Next page" }).count(), 0, "the last page has no next")
    await page.getByRole("link", { name: "Previous page" }).click()
    await page.waitForFunction(() => document.querySelectorAll("table.history tbody tr").length === 10)
    assert.strictEqual(await rows.first().getAttribute("data-session"), firstPage)
    await page.close()
  }, slow)

  it("a teacher gets a message next to a bad field, then creates the scenario", async () => {
    const page = await signIn(context, server.url, teacherToken, "tess")
    await page.getByRole("link", { name: "Scenarios" }).click()
    await page.getByRole("heading", { name: "New scenario" }).waitFor()
    await page.getByLabel("Title").fill("Negotiating a deadline")
    await page.getByLabel("Name", { exact: true }).fill("Riley")
    await page.getByLabel("Background").fill("A product manager under pressure from sales to ship early.")
    await page.getByLabel("Personality").fill("impatient\nfair")
    await page.getByLabel("Goals").fill("ship by Friday")
    await page.getByLabel("Objectives").fill("Agree on a realistic date")
    await page.getByLabel("End criteria").fill("Both agree on a date")
    await page.getByLabel("Skill 1 id").fill("Active Listening!")
    await page.getByLabel("Skill 1 name").fill("Active listening")
    await page.getByLabel("Skill 1 rubric").fill("Reflects what the client says before answering.")
    await page.getByRole("button", { name: "Create scenario" }).click()

    const error = page.locator("[data-field='skills.0.id']")
    await error.waitFor()
    assert.match((await error.textContent()) ?? "", /skill id is 1 to 64 lowercase letters/)
    assert.strictEqual(await page.getByLabel("Skill 1 id").getAttribute("aria-invalid"), "true")
    // focus moved to the field at fault
    await page.waitForFunction(() => document.activeElement?.id === "f-skills-0-id")
    assert.deepStrictEqual(await unlabelled(page), [])
    await shoot(page, "07-teacher-validation", { fullPage: false })

    await page.getByLabel("Skill 1 id").fill("active-listening")
    await page.getByRole("button", { name: "Create scenario" }).click()
    await page.waitForURL(/#\/teach\/.+/)
    await page.getByRole("link", { name: "Negotiating a deadline" }).waitFor()
    const id = decodeURIComponent(page.url().split("#/teach/")[1]!)
    const saved = await server.api<{ persona: { name: string }; skills: Array<{ id: string }> }>(
      teacherToken,
      "GET",
      `/api/scenarios/${encodeURIComponent(id)}`
    )
    assert.strictEqual(saved.persona.name, "Riley")
    assert.deepStrictEqual(saved.skills.map((s) => s.id), ["active-listening"])
    // editing: the form opens with the saved scenario; a change is saved as the next version
    await page.getByRole("heading", { name: "Edit “Negotiating a deadline”" }).waitFor()
    assert.strictEqual(await page.getByLabel("Name", { exact: true }).inputValue(), "Riley")
    await page.getByLabel("Background").fill("")
    await page.getByRole("button", { name: "Save changes" }).click()
    await page.locator("[data-field='persona.background']").waitFor()
    await page.getByLabel("Background").fill("A product manager whom sales push to ship before the tests pass.")
    await page.getByRole("button", { name: "Save changes" }).click()
    await page.getByText("Saved “Negotiating a deadline” (version 2).").waitFor()
    const edited = await server.api<{ version: number; persona: { background: string } }>(
      teacherToken,
      "GET",
      `/api/scenarios/${encodeURIComponent(id)}`
    )
    assert.strictEqual(edited.version, 2)
    assert.match(edited.persona.background, /before the tests pass/)
    await shoot(page, "08-teacher-saved")
    await page.close()
  }, slow)

  it("the admin dashboard counts the sessions and their cost", async () => {
    const page = await signIn(context, server.url, server.token("root", "admin"), "root")
    await page.getByRole("link", { name: "Dashboard" }).click()
    await page.getByTestId("cost-today").waitFor()
    const number = async (id: string) => Number(((await page.getByTestId(id).textContent()) ?? "").replace(/[$,]/g, ""))
    assert.isAtLeast(await number("active"), 1, "bob's open session")
    assert.isAtLeast(await number("started"), 2, "ada's and bob's sessions")
    assert.isAbove(await number("cost-today"), 0)
    assert.isAbove(await number("tokens-today"), 0)
    assert.isAtLeast(await number("messages-today"), Scripts.practiceLearner.length * 2)
    // the hourly charts have a bar for the current hour
    assert.isAbove(await page.locator(".chart rect.bar[height]:not([height='0'])").count(), 0)
    // it updates live: the time of the last update moves on by itself
    const first = await page.getByTestId("updated").textContent()
    await page.waitForFunction((t) => document.querySelector("[data-testid=updated]")?.textContent !== t, first, {
      timeout: 30_000
    })
    await shoot(page, "09-admin-dashboard")
    await page.close()
  }, slow)

  it("the run viewer shows the diagram and the trace of a coaching run", async () => {
    const page = await signIn(context, server.url, server.token("root", "admin"), "root")
    await page.getByRole("link", { name: "Runs" }).click()
    await page.locator(".diagram svg").first().waitFor()
    await page.getByRole("button", { name: "Run the coaching pipeline" }).click()
    await page.waitForURL(/#\/runs\/.+/)
    await page.waitForFunction(
      () => document.querySelector("[data-testid=run-status]")?.textContent === "completed",
      null,
      {
        timeout: 60_000
      }
    )
    const spans = await page.locator(".trace [role=treeitem]").count()
    assert.isAbove(spans, 3)
    assert.strictEqual(spans, Number(await page.getByTestId("span-count").textContent()))
    // nested: some span has children
    assert.isAbove(await page.locator(".trace [role=treeitem] [role=group] [role=treeitem]").count(), 0)
    assert.isAbove(Number(((await page.getByTestId("run-tokens").textContent()) ?? "").replace(/,/g, "")), 0)
    // a model call's span shows its GenAI attributes when selected (by keyboard)
    const modelCall = page.locator(".trace .span-select").filter({ hasText: /^chat / }).first()
    await modelCall.focus()
    await page.keyboard.press("Enter")
    await page.locator(".span-details").getByText("gen_ai.usage.input_tokens").waitFor()
    assert.isAbove(
      Number((await page.locator(".span-details dt:text-is('input tokens') + dd").textContent())?.replace(/,/g, "")),
      0
    )
    // a subtree folds away
    const before = await page.locator(".trace [role=treeitem]").count()
    await page.locator(".trace .toggle[aria-label^='Collapse']").first().click()
    assert.isBelow(await page.locator(".trace [role=treeitem]").count(), before)
    await page.locator(".trace .toggle[aria-label^='Expand']").first().click()
    assert.isAbove(await page.locator(".diagram .node").count(), 1)
    assert.include(await page.getByTestId("mermaid").first().textContent(), "flowchart")
    await shoot(page, "10-run-viewer", { fullPage: false })
    await page.close()
  }, slow)
})
