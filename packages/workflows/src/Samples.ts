/**
 * Sample data for the tutorials, the CLI and the tests: the client of the coaching tutorial, a
 * coaching day and a launch review meeting. (The evaluation samples are in `@braid/eval`.)
 *
 * @since 0.1.0
 */
/**
 * The client of the coaching tutorial.
 *
 * @example
 * ```ts
 * import { Coaching, Samples } from "@braid/workflows"
 *
 * const day: Coaching.DayInput = { profile: Samples.adaProfile, morning: ["Good morning!"], evening: [] }
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const adaProfile = {
  userId: "ada",
  name: "Ada",
  aspirations: ["finish work on time", "run three times a week"],
  challenges: ["meetings that run over", "poor sleep"],
  tone: "warm" as const
}

/**
 * A coaching day for the scripted coach (`Scripts.coaching`): the morning sets two goals, the
 * evening reviews them.
 *
 * @example
 * ```ts
 * import { Runner } from "@braid/core"
 * import { Coaching, Samples } from "@braid/workflows"
 *
 * const run = Runner.run(Coaching.make().day, Samples.coachingDay, { userId: "ada" })
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const coachingDay = {
  profile: adaProfile,
  morning: [
    "Good morning! I slept badly but I want today to count.",
    "Finishing the quarterly report draft, and I'd like to get a run in.",
    "Run at lunch, 30 minutes. Report from 9 to 11."
  ],
  evening: [
    "Evening! The report is done, but I skipped the run.",
    "A meeting ran over and then I was too tired."
  ]
}

/**
 * The meeting of the tutorial: Maya (product) hosts a launch review with Grace (engineering) and
 * Linus (support), who leaves after his second turn.
 *
 * @example
 * ```ts
 * import { MeetingWorkflow, Samples } from "@braid/workflows"
 *
 * const meeting = MeetingWorkflow.make({ host: Samples.launchReview.host, participants: Samples.launchReview.participants })
 * ```
 *
 * @category testing
 * @since 0.1.0
 */
export const launchReview = {
  input: {
    meetingId: "launch-review-1",
    title: "Launch readiness review",
    agenda: ["Is the release ready to ship on Friday?", "Who owns the rollback plan?"] as const
  },
  host: { name: "Maya", role: "product lead" },
  participants: [
    { name: "Grace", role: "engineering lead" },
    { name: "Linus", role: "support lead", leaveAfterTurns: 2 }
  ]
}
