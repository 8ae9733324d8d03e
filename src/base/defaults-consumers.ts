/**
 * The leader's look for queues nobody consumes (docs/outcomes.md, "Runs nobody consumes").
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const CONSUMER_DEFAULTS = {
  /**
   * How often the leader asks who consumes the schedule's queues (`consumers.every`): one
   * `active_queues` broadcast and one depth read per queue each time, so the workers answer at most
   * twice a minute; an unconsumed queue is found within this plus `consumers.unconsumedAfter`.
   */
  consumerCheckEveryMs: 30_000,
  /**
   * A queue is flagged unconsumed once nobody has consumed it this long (`consumers.unconsumedAfter`):
   * longer than a worker's restart or a rolling deploy takes (tens of seconds), so that neither
   * raises an alert, and short enough that a routing typo is seen within minutes.
   */
  unconsumedAfterMs: 120_000,
  /**
   * How long the workers' answers to `active_queues` are waited for (`consumers.replyWindow`):
   * Celery's `inspect` timeout (1.0 s). A worker that answers later is not counted in that look.
   */
  consumerReplyWindowMs: 1000,
} as const;
