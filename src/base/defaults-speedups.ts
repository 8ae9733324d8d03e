/**
 * The tuning of the speed-ups shared by several modules (src/base/speedups.ts names those with a
 * switch for the ablation): the templates compiled ahead of an instant (warm-up) and the precise
 * timer. The rest of their tuning is declared beside its one user (runtime/warm-up.ts,
 * runtime/precise-timer.ts, kombu/redis-transport.ts, and the shape caches).
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const SPEEDUP_DEFAULTS = {
  /**
   * The scheduler compiles an entry's message template (routing, JSON, reprs) before its first run:
   * while it sleeps, for every entry due before the next wake-up plus this margin. A burst of
   * 10,000 first runs then costs no compilation at the instant; entries that are not due soon cost
   * no memory for templates.
   */
  templateWarmAheadMs: 10_000,
  /**
   * Most compiled templates kept at once (~630 B of heap each, for per-tenant entries of one shape).
   * Past it, the warm-up compiles no more and an entry's template is compiled for its run alone:
   * a burst of 1,000,000 first runs kept ~630 MB of templates used once, which the collector copied,
   * promoted and marked through the burst, and compiling them ahead took more than the warm-up's
   * 10 s. Bursts of up to this many are compiled ahead as before.
   */
  templatesKept: 100_000,
  /**
   * The scheduler wakes this long before a due instant and waits for it exactly (see
   * runtime/precise-timer.ts): a Node timer alone fires up to a millisecond or more late (bench:
   * accuracy). Every path that schedules (the leader, `beat run --dry-run`) uses it.
   */
  timerLeadMs: 4,
  /**
   * The last milliseconds before an instant, as the wall clock reads them, in which the instant is
   * watched for in short sleeps. Two, not one: the clock reads whole
   * milliseconds, so "1 to go" may be anything from a hair to a whole one, and a sleep that ends a
   * tenth of a millisecond late would overshoot the instant.
   */
  timerEdgeMs: 2,
} as const;
