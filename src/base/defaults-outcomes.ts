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
   * silently otherwise; one alert per stretch, so it costs nothing while the queue is read).
   */
  alertsOn: ['failed', 'missed', 'unconsumed', 'stopped'],
  /** How long the alert outbox remembers a delivered (or given-up) alert, so that a second leader finding the same one does not send it again. */
  alertSentRetentionMs: 86_400_000,
  /** How often the leader looks for alert deliveries due (it is also told at once when it adds some). */
  alertPollMs: 1000,
  /** A delivery being sent is held this long; if its sender dies meanwhile, the next leader sends it after that. */
  alertClaimMs: 30_000,
  /** A webhook or ping that has not answered after this is retried. */
  alertTimeoutMs: 5000,
  /** Deliveries sent at once; the rest wait for the next look. */
  alertBatch: 20,
  /** Retries of a failed delivery wait 1 s, 2 s, 4 s… up to this, and stop after alertMaxAttempts (about an hour in all). */
  alertBackoffMaxMs: 300_000,
  alertMaxAttempts: 15,
  /** Alerts raised within this are written to the outbox together: one round trip for a burst of them. */
  alertFlushMs: 50,
  /** Sentry check-ins: how soon after a publish the leader sends what is queued (a worker may finish a quick run first: Sentry keeps its ok). */
  sentryFlushMs: 250,
  /** Check-ins per envelope (Sentry takes each item on its own). */
  sentryBatch: 100,
  /** Check-ins waiting to be sent at most; past it the oldest go (a run's ok or error check-in from the worker still records it). */
  sentryQueueMax: 10_000,
  /** Retries of an envelope that could not be delivered wait 1 s, 2 s, 4 s… up to this, and stop after sentryMaxAttempts. */
  sentryBackoffMaxMs: 60_000,
  sentryMaxAttempts: 8,
  /** One POST to Sentry's envelope endpoint gives up after this. */
  sentryTimeoutMs: 5000,

  // Tracing (src/observe/run-spans.ts), with OTEL_EXPORTER_OTLP_ENDPOINT set.
  /** Run spans handed to the OpenTelemetry SDK per turn of the event loop: a burst's made a few at a time after it, holding up no timer or publish. */
  traceSpansPerTurn: 16,
  /** Longest wait at shutdown for the last spans to be exported (the collector may be down). */
  traceFlushTimeoutMs: 3000,
  /** The SDK's warnings (a collector that refuses or cannot be reached) are logged at most this often. */
  traceWarnEveryMs: 60_000,

  // Run outcomes (src/outcomes/), with a result backend configured.
  /** Runs kept per entry in its history (`beat history`). */
  runHistoryLength: 20,
  /** Reports of slots that never ran (missed, skipped by overlap, paused) kept per entry, for the dashboard's day strips. */
  missedSlotsKept: 50,
  /** An entry's list of those reports expires this long after its last report: the strips look back a day. */
  missedSlotsTtlMs: 25 * 3_600_000,
  /**
   * `outcomeTimeout`: a run with no final state this long after it was published is recorded as
   * `unknown` and no longer read (a task whose result was never stored, or expired: Celery's
   * `result_expires` is one day by default).
   */
  outcomeTimeoutMs: 24 * 60 * 60 * 1000,
  /**
   * A chord run's size in the result backend (`celery-taskset-meta-<group>.s`, docs/canvas.md)
   * expires after this long, as Celery's `set_chord_size` writes it under the default `result_expires`
   * (one day); the worker renews it on every header task's return.
   */
  chordSizeTtlS: 86_400,
  /** How often the leader reads the results of the runs still pending. */
  outcomePollMs: 1000,
  /** Result keys per MGET. */
  outcomeBatch: 500,
  /** At most this many result keys read per poll: the rest wait for the next ones, oldest first. */
  outcomeReadsPerPoll: 2000,
  /**
   * At most this many runs followed at once: beyond it the oldest is given up as `unknown` (tasks
   * that never store a result, published often, would otherwise pile up until outcomeTimeout).
   */
  outcomeMaxPending: 100_000,
  /**
   * A followed run is given up for a newer one (past outcomeMaxPending) only once it was followed
   * this long, and only for a run of a later burst (published after a pause of
   * outcomeRecordDelayMs): a burst past outcomeMaxPending follows its first runs and not the rest,
   * instead of giving up each run a moment after its publish (and writing every one of them twice).
   */
  outcomeFollowAtLeastMs: 10_000,
  /** Runs waiting to be recorded in their histories are written once none was published for this long (a burst is written after it). */
  outcomeRecordDelayMs: 50,
  /**
   * ... or, when outcomeRecordsWhileArriving or more wait (a burst), this long: a burst hands its
   * runs over in bunches as their batches are recorded, at times more than 50 ms apart, and a pause
   * between two bunches is not its end.
   */
  outcomeBurstQuietMs: 500,
  /**
   * ... and while runs keep being published without such a pause, every this long the oldest of
   * them are written, at most outcomeRecordsWhileArriving (a stream's histories stay current; a
   * burst's are written after it).
   */
  outcomeRecordMaxWaitMs: 2000,
  outcomeRecordsWhileArriving: 1000,
  /**
   * With task events read by default (no resultBackend, taskEvents unset), a run is given up as
   * `unknown` ("workers send no task events") once this has passed since its publish while no worker
   * has sent any task event to this leader: the workers may run without -E. Long enough for a
   * worker with -E to take a run from a quiet queue and say so (task-received/-started come within
   * milliseconds); a run still waits there meanwhile, shown as published (PENDING). A shorter
   * outcomeTimeout shortens it too.
   */
  taskEventsSilenceMs: 120_000,
  /**
   * Task events of tasks the leader does not follow (yet) are kept this long, for this many tasks
   * at most: a worker can start a run before the broker's confirm of its publish reaches the leader.
   */
  taskEventsEarlyMs: 60_000,
  taskEventsEarlyMax: 10_000,
} as const;
