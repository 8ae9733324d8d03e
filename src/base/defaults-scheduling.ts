/**
 * The leader's scheduling loop: how long it sleeps, the missed-run and overlap policies, the
 * bounds of schedule computations and of a write's checks.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const SCHEDULING_DEFAULTS = {
  /**
   * The most specs one entry's `schedule` list may hold (issue 71; the config's `entryLimits.maxSpecs`):
   * each is computed at every next run of the entry, so a list is a few calendars of one job
   * (weekdays at 09:00, weekends at 12:00), not a table of instants (an rrule or a clocked entry
   * each says that better).
   */
  maxSpecs: 16,
  /** The highest `entryLimits.maxSpecs` accepted: past it, every next run of the entry computes hundreds of schedules. */
  maxSpecsCeiling: 256,
  /** Missed-run policy: Celery fires an overdue entry once. */
  catchUp: 'once' as 'once' | 'skip' | 'all',
  /** Overlap policy: Celery publishes every slot, whether the previous run finished or not. */
  overlap: 'allow' as 'allow' | 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther',
  /** Overlap "bufferAll": slots kept at most while the previous run runs (the oldest is passed over past it). */
  overlapBuffer: 100,
  /** Overlap "terminateOther": Celery's `revoke(terminate=True)` default signal (billiard TERM_SIGNAME). */
  overlapSignal: 'SIGTERM',
  /** How long a run may wait for a place in its concurrency group when its entry sets no catchUpWindow (then it is missed). */
  concurrencyWaitMs: 3_600_000,
  /** Longest sleep of the scheduler loop (Celery's beat_max_loop_interval is 300 s; ours re-checks every second). */
  maxIntervalMs: 1000,
  /**
   * Steps one schedule computation (next fires, fires in a window, the exclusion scan, rrule
   * expansion) may take before its entry is failed alone (src/base/step-budget.ts). A step is a turn of
   * a loop that does not give a slot (a day searched, an excluded slot, a DST change crossed), about
   * 2 µs, so a call stops within tens of milliseconds and the scheduler's loop keeps its timing;
   * ordinary schedules spend a few steps per call, a crontab for February 29th a few hundred.
   */
  scheduleStepBudget: 25_000,
  /**
   * How long past a write's time limit (redis/entry-store.ts writeCheckMs and
   * writeCheckEntryMs) `beat run`'s worker thread of entry checks may go before it is stopped,
   * ms: it stops itself between two entries, each within its step budgets (tens of milliseconds, a
   * few hundred on a loaded machine).
   */
  writeCheckStopMs: 2000,
  /** The checks of a write turn the event loop over after this much CPU time, ms: the scheduler sharing the process keeps its slots. */
  writeCheckSliceMs: 10,
  /**
   * `beat check` warns (and exits 0) when more than this many runs of the config start in one
   * second (the config's `loadWarnAt`): 1,000 messages published at once, and as many tasks a
   * pool of workers takes at once, is past what one Redis or RabbitMQ node and a worker fleet sized
   * for the average take without a queue building up (issue 71).
   */
  loadWarnAt: 1000,
  /** The window whose runs `beat plan` and `beat check --load` count, ms (`--horizon`): a day shows each daily entry once. */
  loadHorizonMs: 86_400_000,
  /** The longest `--horizon` (and POST /api/plan's `horizon`): a week shows each weekly entry once, and a week's seconds are an array of 2.4 MB. */
  loadHorizonMaxMs: 7 * 86_400_000,
} as const;
