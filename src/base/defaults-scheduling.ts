/**
 * The leader's scheduling loop: how long it sleeps, the missed-run and overlap policies, and the
 * work done ahead of an instant (the book's load, warm-up, staging, the precise timer).
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const SCHEDULING_DEFAULTS = {
  /** A session fills its book this many entries at a time, serving the event loop (the lock's renewals) between. */
  bookLoadSlice: 10_000,
  /** Missed-run policy: Celery fires an overdue entry once. */
  catchUp: 'once' as 'once' | 'skip' | 'all',
  /** Overlap policy: Celery publishes every slot, whether the previous run finished or not. */
  overlap: 'allow' as 'allow' | 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther',
  /** Overlap "bufferAll": slots kept at most while the previous run runs (the oldest is passed over past it). */
  overlapBuffer: 100,
  /** The largest overlapBuffer accepted: a backlog longer than this is not a buffer any more. */
  overlapBufferMax: 10_000,
  /** Overlap "terminateOther": Celery's `revoke(terminate=True)` default signal (billiard TERM_SIGNAME). */
  overlapSignal: 'SIGTERM',
  /** Task ids revoked lately, remembered so that a revoke is not broadcast twice for one run. */
  revokedRemembered: 1000,
  /** A new leader waits this long at most for the runs the last one left running, before its first wake-up. */
  overlapReadyWaitMs: 3000,
  /** Longest sleep of the scheduler loop (Celery's beat_max_loop_interval is 300 s; ours re-checks every second). */
  maxIntervalMs: 1000,
  /**
   * The scheduler compiles an entry's message template (routing, JSON, reprs) before its first run:
   * while it sleeps, for every entry due before the next wake-up plus this margin. A burst of
   * 10,000 first runs then costs no compilation at the instant; entries that are not due soon cost
   * no memory for templates.
   */
  templateWarmAheadMs: 10_000,
  /** Longest slice of that compilation between two looks at the event loop, so a due tick waits at most this long. */
  templateWarmSliceMs: 1,
  /** Distinct message shapes (task, options, monitor) a renderer keeps to share (celery/message-shape.ts); past it, it starts over. */
  messageShapesKept: 10_000,
  /** Runs planned, rendered and encoded (never sent) once after the first warm-up: see runtime/warm-up.ts. */
  rehearsalRuns: 2000,
  /** Then runs staged alone and discarded (never sent): the path of a lone entry's instant, see runtime/warm-up.ts. */
  loneRehearsalRuns: 500,
  /**
   * The scheduler wakes this long before a due instant and waits for it exactly (see
   * runtime/precise-timer.ts): a Node timer alone fires up to a millisecond or more late (bench:
   * accuracy). Every path that schedules (the leader, `beat run --dry-run`) uses it.
   */
  timerLeadMs: 4,
  /**
   * The last milliseconds before an instant, as the wall clock reads them, in which the dispatch is
   * staged and then the instant watched for in short sleeps. Two, not one: the clock reads whole
   * milliseconds, so "1 to go" may be anything from a hair to a whole one, and a sleep that ends a
   * tenth of a millisecond late would overshoot the instant unstaged.
   */
  timerEdgeMs: 2,
  /** The short sleeps at that edge (the kernel makes each about 0.1 ms). */
  timerEdgeSleepMs: 0.02,
  /**
   * Waits of the precise timer that may follow one another through the event loop when a wait ends
   * short of its instant (a timer fired earlier than the lead), before it falls back to a timer.
   */
  timerShortRetries: 2,
  /** Most slots replayed per entry per wake-up with catchUp "all"; the rest come on the next wake-up. */
  maxSlotsPerTick: 10_000,
  /** Most runs staged (or rehearsed) just before an instant; when more are due they go the usual way. */
  stageMaxRuns: 8,
  /**
   * How late after its instant a staged dispatch may still be sent. Its runs were planned for the
   * instant; this close to it, planning again would find the same slots (a slot that came due
   * meanwhile is planned by the usual path, after the staged runs).
   */
  stagedValidMs: 50,
} as const;
