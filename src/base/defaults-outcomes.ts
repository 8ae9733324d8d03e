/**
 * Run outcomes (from a result backend or task events), alerts, Sentry Crons and tracing.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const OUTCOME_DEFAULTS = {
  /**
   * The longest result (its JSON text) a canvas run's history record keeps of each final part (a
   * chain's last task, a chord's body, a group member): a longer one is left out, and the run's
   * result with it (the record is rewritten on every change, and histories hold 20 runs).
   */
  canvasPartResultMaxChars: 2000,
  /**
   * The alert kinds sent when neither the config's nor the entry's `alerts.on` lists any: a run that
   * failed, a slot that will never run, and runs nobody consumes (a routing typo stops a job
   * silently otherwise; one alert per stretch, so it costs nothing while the queue is read), and a
   * slot put in the dead-letter list (its attempts over: someone should replay or discard it).
   */
  alertsOn: ['failed', 'missed', 'unconsumed', 'stopped', 'dead-lettered'],
  /** How often the leader looks for alert deliveries due (it is also told at once when it adds some). */
  alertPollMs: 1000,

  /** The SDK's warnings (a collector that refuses or cannot be reached) are logged at most this often. */
  traceWarnEveryMs: 60_000,

  // Retries of a failed or lost run (`retry`, config/retry-schema.ts).
  /** `retry.backoff.initial`: the wait before the second attempt. */
  retryBackoffInitialMs: 30_000,
  /** `retry.backoff.factor`: each later wait is the one before times this. */
  retryBackoffFactor: 2,
  /** `retry.backoff.max`: no wait between attempts is longer. */
  retryBackoffMaxMs: 600_000,
  /** `retry.on`: what ends an attempt in another one (a final FAILURE, and a run lost on the way). */
  retryOn: ['failure', 'lost'],
  /** `deadLetters.maxItems`: the dead-letter list keeps this many slots that failed for good; the oldest leave first. */
  deadLettersMaxItems: 1000,
  /** `deadLetters.maxBytes`: the dead-letter list's items (their stored JSON) are at most this many bytes; the oldest leave first. */
  deadLettersMaxBytes: 4 * 1024 * 1024,

  // Run outcomes (src/outcomes/), with a result backend configured.
  /** Runs kept per entry in its history (`beat history`). */
  runHistoryLength: 20,
  /** Reports of slots that never ran (missed, skipped by overlap, paused) kept per entry, for the dashboard's day strips. */
  missedSlotsKept: 50,
  /**
   * `outcomeTimeout`: a run with no final state this long after it was published is recorded as
   * `unknown` and no longer read (a task whose result was never stored, or expired: Celery's
   * `result_expires` is one day by default).
   */
  outcomeTimeoutMs: 24 * 60 * 60 * 1000,
} as const;
