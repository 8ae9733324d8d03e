/**
 * The tuning of the speed-ups (src/base/speedups.ts names those with a switch for the ablation):
 * the templates compiled ahead of an instant (warm-up), the precise timer, the kept encoded
 * buffers, and the caches that let entries of one shape share their work. Kept in
 * one module so that what exists only for speed is found in one place, apart from the behaviour.
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
  /** Longest slice of that compilation between two looks at the event loop, so a due tick waits at most this long. */
  templateWarmSliceMs: 1,
  /** Distinct message shapes (task, options, monitor) a renderer keeps to share (celery/message-shape.ts); past it, it starts over. */
  messageShapesKept: 10_000,
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
  /** The short sleeps at that edge (the kernel makes each about 0.1 ms). */
  timerEdgeSleepMs: 0.02,
  /**
   * Waits of the precise timer that may follow one another through the event loop when a wait ends
   * short of its instant (a timer fired earlier than the lead), before it falls back to a timer.
   */
  timerShortRetries: 2,
  /**
   * Encoded EVALSHA buffers the Redis broker connection keeps for reuse (each up to 64 MB): enough
   * for the dispatches in flight, so that a burst's batches reuse
   * them instead of allocating a buffer of their size each.
   */
  scriptBuffersKept: 8,
  /**
   * Definition shapes a reader of runtime entries keeps (config/entry-shapes.ts): per-tenant entries
   * have a handful; past this many (entries that share nothing) it starts again, so that a million
   * distinct definitions never make it a second copy of the catalog.
   */
  entryShapesKept: 10_000,
  /** Row shapes a django source keeps checked (django/row-shapes.ts): past it the memo starts afresh (rows that all differ gain nothing from it). */
  djangoRowShapesKept: 10_000,
} as const;
