/** Every value of the `event` field of a log line. Operators alert on these: they are stable. */
export const EVENTS = {
  publishDropped: 'beat.publish.dropped',
  publishError: 'beat.publish.error',
  /**
   * A scheduler wake-up's publish failed, in full or in part (`err`): the runs it did not publish
   * stay due and are tried again after DEFAULTS.publishRetryMs, or as soon as Redis is back
   * (`beat.publish.resume`), whichever comes first.
   */
  publishRetry: 'beat.publish.retry',
  /** A connection to Redis (the state's, a Redis broker's) came back while the leader backed off after a failed publish: it tries again now, once per failure. */
  publishResume: 'beat.publish.resume',
  /**
   * An entry's runs were refused because of the entry alone (`reason`: its queue key holds another
   * Redis type, its exchange does not exist…), or its schedule cannot be computed (`code`
   * SCHEDULE_BUDGET or SCHEDULE_STALLED: base/step-budget.ts); logged once per change of reason. It is
   * retried with a backoff (`retryInMs`); the other entries go on.
   */
  entryFailing: 'beat.entry.failing',
  /** An entry that was failing published again (`failedForMs`, `attempts`). */
  entryRecovered: 'beat.entry.recovered',
  /**
   * Nobody has consumed a queue the schedule publishes to for consumers.unconsumedAfter (`queue`,
   * `reason`, `since`, `depth`, `entries`: how many entries publish to it); logged when found and
   * when its reason changes.
   */
  queueUnconsumed: 'beat.queue.unconsumed',
  /** A queue flagged unconsumed is consumed again (`queue`, `unconsumedForMs`), or no entry publishes to it any more. */
  queueConsumed: 'beat.queue.consumed',
  /** The leader could not ask the broker who consumes its queues (`err`); logged once per distinct error, asked again next time. */
  consumerCheckFailed: 'beat.queue.check_failed',
  brokerConnect: 'beat.broker.connect',
  brokerReconnect: 'beat.broker.reconnect',
  brokerError: 'beat.broker.error',
  /** One batch handed to the broker (debug): message, delivery and drop counts. */
  brokerPublish: 'beat.broker.publish',
  /** Messages failed by a channel the broker closed, sent again one at a time to find the one it closed it on (debug). */
  brokerIsolate: 'beat.broker.isolate',
  /** Queue bindings declared on a new connection (kombu's maybe_declare). */
  brokerDeclare: 'beat.broker.declare',
  /** Something about the broker connection an operator should fix, e.g. TLS without verification. */
  brokerWarning: 'beat.broker.warning',
  /**
   * SQS: the `sts_role_arn` role was assumed (`roleArn`, the new `accessKeyId`, when it `expires`
   * and when it will be assumed again, `refreshAt`).
   */
  brokerCredentials: 'beat.broker.credentials',
  /** RabbitMQ blocked (or unblocked) the connection: a resource alarm; publishes wait until it clears. */
  brokerBlocked: 'beat.broker.blocked',
  /**
   * AMQP: messages the broker confirmed but whose state could not be recorded (fence lost, Redis
   * down): another publish of the same slots, with the same task ids, may follow.
   */
  publishUnrecorded: 'beat.publish.unrecorded',
  /** A run was published: entry, task, queue, slot, task id. */
  fire: 'beat.fire',
  /**
   * A wake-up published more runs than DEFAULTS.fireLogSample: their count (`published`, `stale`),
   * slots and greatest lateness; only the first of them had a `beat.fire` line at info, all at debug.
   */
  burst: 'beat.burst',
  /** A due slot was passed over (catch-up policy, window), with the reason. */
  skip: 'beat.skip',
  /** Overlap "skip": due slots passed over because the entry's previous run (`previous`, its `state`) had not finished. */
  overlapSkip: 'beat.overlap.skip',
  /** Overlap "bufferOne": a due slot kept until the entry's previous run (`previous`) finishes. */
  overlapBuffer: 'beat.overlap.buffer',
  /** A buffered slot is published: the previous run finished or counts as lost; `passed` later slots are passed over. */
  overlapRelease: 'beat.overlap.release',
  /** A previous run older than overlapTimeout (`previous`, `ageMs`) counts as lost: the new slot runs. */
  overlapLost: 'beat.overlap.lost',
  /** Overlap "cancelOther"/"terminateOther": the previous run (`previous`) revoked through Celery's remote control (`terminate`, `signal`, `receivers`). */
  overlapRevoke: 'beat.overlap.revoke',
  /** The revoke broadcast could not be sent (`err`); the new run is published all the same. */
  overlapRevokeFailed: 'beat.overlap.revoke_failed',
  /** Overlap "bufferAll": more slots waited than overlapBuffer; the oldest (`dropped`) passed over, reported missed. */
  overlapBufferFull: 'beat.overlap.buffer_full',
  /** An entry's overlap policy has no effect: this instance does not follow run outcomes (no resultBackend). */
  overlapUntracked: 'beat.overlap.untracked',
  /** An overdue entry was fired once for several missed slots, or missed slots were replayed. */
  catchUp: 'beat.catch_up',
  /** A slot had already been published (by a previous leader, or a race): not published again. */
  stale: 'beat.stale',
  /** A runtime entry's runs were refused: it was edited, deleted or created again since the leader read it (read again). */
  superseded: 'beat.entry.superseded',
  /**
   * The leader was paused (it woke up much later than it meant to, or its pause watch saw it held
   * up: `pausedMs`): it reads its runtime entries before it publishes.
   */
  gapNoticed: 'beat.gap_noticed',
  /**
   * The runtime entries could not be read (or checked: ReadFirst.check) within
   * DEFAULTS.readFirstMaxMs before publishing (a source that does not answer, named in `origin`):
   * the leader publishes from what it last read.
   */
  entriesReadLate: 'beat.entries.read_late',
  /**
   * The stored state is missing, or older than the runs this instance saw published, for some
   * entries (Redis restarted without persistence, was flushed, or failed over to a replica that had
   * not caught up): they continue from the last runs this instance knew.
   */
  stateLost: 'beat.state.lost',
  /** This instance tried to publish without holding the fence: nothing was published. */
  fenced: 'beat.fenced',
  lockAcquired: 'beat.lock.acquired',
  lockLost: 'beat.lock.lost',
  lockReleased: 'beat.lock.released',
  lockRenewFailed: 'beat.lock.renew_failed',
  lockHandover: 'beat.lock.handover',
  lockError: 'beat.lock.error',
  /**
   * Starting or stopping the leader's session, or applying a reload, failed unexpectedly (`err` says
   * how); the changes queued after it still run, and a reload that failed reports false.
   */
  leadershipTransitionFailed: 'beat.leadership.transition_failed',
  /**
   * The lock key is not a tsbeat lock (no expiry, another type or value): no replica can lead until
   * it is deleted. Names the key and the command that clears it; `cleared: true` once it is gone.
   */
  lockBlocked: 'beat.lock.blocked',
  /**
   * A standby's config differs from the one the leader runs (entries it lacks or adds, or the same
   * entries defined differently): two deployments sharing a `name`, or a rolling update in progress.
   */
  configMismatch: 'beat.config.mismatch',
  redisConnect: 'beat.redis.connect',
  redisReconnect: 'beat.redis.reconnect',
  redisError: 'beat.redis.error',
  /**
   * A Redis server this process uses became unreachable (outages.ts): once per outage, naming what
   * waits for it (`waiting`: the roles of its connections) and the retry. Until `beat.redis.up`,
   * warnings whose error only says "not reachable" are logged at debug level.
   */
  redisDown: 'beat.redis.down',
  /** The server of a `beat.redis.down` is reachable again by every connection: `outageMs` is how long it was gone. */
  redisUp: 'beat.redis.up',
  /**
   * A Sentinel connection came back on another primary than before (a failover): writes the old
   * primary acknowledged just before may not have reached the new one.
   */
  redisFailover: 'beat.redis.failover',
  /** Start-up check: Redis has neither RDB snapshots (`save`) nor the append-only file. */
  redisNoPersistence: 'beat.redis.no_persistence',
  /**
   * Redis refused this instance for a reason retrying does not fix (`code`: a DB it lacks, a wrong
   * password, a missing ACL permission, out of memory, a read-only replica, a key of another type);
   * the message names the fix.
   */
  redisRefused: 'beat.redis.refused',
  /** An entry's stored state is not tsbeat's JSON (written by something else): the entry starts afresh. */
  stateUnreadable: 'beat.state.unreadable',
  /**
   * The schedule's stored state (or its paused set) could not be read when this instance began
   * leading (Redis failed or refused the read, e.g. a key of another type): it gives the lock back
   * and stands by.
   */
  stateLoadFailed: 'beat.state.load_failed',
  /** Start-up checks: Redis may evict keys, the local clock is off. */
  redisWarning: 'beat.redis.warning',
  /**
   * The local clock is further from the state Redis's than lock.maxClockSkew (at start, or measured
   * while running): this replica does not lead (a leader steps down) until it is back within.
   */
  clockSkew: 'beat.clock.skew',
  /** The local clock is back within lock.maxClockSkew of the Redis server's: this replica may lead again. */
  clockSynced: 'beat.clock.synced',
  /** The fenced script refused slots ahead of Redis's clock (the local clock stepped forward): nothing was published; stepping down. */
  clockAhead: 'beat.clock.ahead',
  start: 'beat.start',
  stop: 'beat.stop',
  /**
   * SIGTERM or SIGINT (`reason`) came before the service had started (`stage`: `config` while the
   * config loaded, `start` while connecting and starting): what had started is stopped, no lock was
   * taken, and the process exits 0.
   */
  stopBeforeStart: 'beat.stop.before_start',
  /** Stopped, yet something (named in `handles`) still held the process open; it exits anyway. */
  stopLingering: 'beat.stop.lingering',
  /**
   * Stopping (leadership lost or handed over, a reload, shutdown) gave up waiting for the publish in
   * flight after `waitedMs`; the fence still decides whether it lands.
   */
  stopUnsettled: 'beat.stop.unsettled',
  /**
   * One step of a shutdown (`step`: the part stopped, base/lifecycle.ts) failed (`err`) or did not
   * finish within `waitedMs`: the steps after it still run (the connections still close).
   */
  stopStepFailed: 'beat.stop.step_failed',
  standby: 'beat.standby',
  /** A manual run (`beat trigger`) was published. */
  trigger: 'beat.trigger',
  /** A slot's later attempt (retry) was published, or dropped because its entry is gone (issue 70). */
  retry: 'beat.retry',
  /**
   * A due run found its concurrency group full (`group`, `limit`, `running`): it waits its turn
   * (`whenFull` wait; `until`), or was passed over (skip), reported missed with reason `concurrency`.
   */
  concurrencyFull: 'beat.concurrency.full',
  /** A waiting run of a concurrency group was published (`waitedMs`), or dropped: past its wait (missed), its entry gone, or unreadable. */
  concurrencyRelease: 'beat.concurrency.release',
  /** A slot that failed for good went to the dead-letter list (issue 70), or its bound dropped the oldest. */
  deadLettered: 'beat.dead_letter',
  /** A backfill (`beat backfill`) was worked through by the leader, or refused: entry, request id, counts. */
  backfill: 'beat.backfill',
  /** The leader could not read the pause/resume/trigger requests from Redis (logged once per outage); it keeps looking. */
  controlError: 'beat.control.error',
  /** The heartbeat of the replicas registry could not be written (once per outage): `beat status` may not list this replica. */
  replicaHeartbeatFailed: 'beat.replica.heartbeat_failed',
  /** Runtime entries (store, RedBeat, django) were added, changed or removed while running: counts and examples. */
  entriesChanged: 'beat.entries.changed',
  /** A runtime entry is invalid (its problems are named) and does not run until it is fixed. */
  entriesInvalid: 'beat.entries.invalid',
  /** A runtime entry has the name of a config-file entry (or of another source's): the first one runs, this one does not. */
  entriesConflict: 'beat.entries.conflict',
  /** Reading a source of runtime entries failed: what is known keeps running; retried every maxInterval. */
  entriesSyncFailed: 'beat.entries.sync_failed',
  /**
   * The leader could not record the definition of the config it runs (Redis failed, or it is over
   * entryLimits.maxStoreBytes): `beat plan --config` has nothing current to compare with until it does.
   */
  definitionNotRecorded: 'beat.definition.not_recorded',
  /** The django database answers again after reads of it failed (those were beat.entries.sync_failed). */
  djangoReconnected: 'beat.django.reconnected',
  /** Runs are written back to the django database again after a write failed. */
  djangoWriteBack: 'beat.django.write_back',
  /** Writing last_run_at / total_run_count back to the django database failed (logged once per outage); kept and retried. */
  djangoWriteBackFailed: 'beat.django.write_back_failed',
  /** An alert (webhook) or ping was delivered: id, url (without its query), attempts. */
  alertSent: 'beat.alert.sent',
  /** An alert or ping delivery failed and will be retried (status or error, next attempt). */
  alertRetry: 'beat.alert.retry',
  /** An alert or ping was given up on after ALERT_MAX_ATTEMPTS (alerts/deliverer.ts), or its receiver refused it for good (4xx). */
  alertDropped: 'beat.alert.dropped',
  /** Sentry check-ins (in_progress, for runs of entries with monitor.sentry) were delivered: count, attempts (debug level). */
  sentrySent: 'beat.sentry.sent',
  /** Sending Sentry check-ins failed and will be retried (status or error, next attempt). */
  sentryRetry: 'beat.sentry.retry',
  /** Sentry check-ins were given up on: SENTRY_MAX_ATTEMPTS (alerts/sentry-checkins.ts) reached, Sentry refused them (4xx), or the queue overflowed. */
  sentryDropped: 'beat.sentry.dropped',
  /** Alerts could not be written to (or read from) the outbox in Redis; retried. */
  alertOutboxFailed: 'beat.alert.outbox_failed',
  /** An entry made its last run (`maxRuns`, `oneOff`): entry, runs. It leaves the schedule until maxRuns is raised. */
  entryFinished: 'beat.entry.finished',
  /** Writing RedBeat's meta and schedule after runs of RedBeat entries failed (logged once per outage); the runs went out. */
  redbeatWriteFailed: 'beat.redbeat.write_failed',
  /** RedBeat's meta and schedule written again after a write-back that failed. */
  redbeatWritten: 'beat.redbeat.written',
  /** RedBeat's lock is held by another process (a RedBeat beat?) while tsbeat leads: that process may publish too. */
  redbeatLockTaken: 'beat.redbeat.lock_taken',
  /** tsbeat holds RedBeat's lock again (or for the first time) while it leads. */
  redbeatLockHeld: 'beat.redbeat.lock_held',
  pause: 'beat.pause',
  /** An entry was paused by its pauseOnFailure (warn): entry, the failed run's task id, its exception. */
  pausedOnFailure: 'beat.pause.on_failure',
  resume: 'beat.resume',
  /**
   * The deployment-wide stop (`beat pause --all`): the leader saw it set (warn: `by`, `since`,
   * `note`; nothing is published until it is lifted) or lifted (`cleared`: each entry's catchUp
   * decides what of the slots that passed is published late).
   */
  deploymentStop: 'beat.deployment.stop',
  reload: 'beat.reload',
  reloadFailed: 'beat.reload.failed',
  /**
   * Run outcomes (resultBackend): reading results or writing the runs' histories failed (`err`); the
   * leader keeps the runs it tracks and tries again at the next poll. Logged once per outage.
   */
  outcomeError: 'beat.outcome.error',
  /** Slots that never ran could not be recorded for the dashboard's day strips (logged once a minute at most). */
  missedRecordFailed: 'beat.missed.record_failed',
  /** Passed-over slots could not be recorded for backfills (logged once a minute at most): a backfill skips them. */
  passedRecordFailed: 'beat.passed.record_failed',
  /** The leader listens to Celery's task events (`taskEvents`): the pattern (Redis) or the queue (RabbitMQ). Again after each reconnect. */
  taskEventsListening: 'beat.taskevents.listening',
  /** Task events could not be subscribed to, or one could not be read (logged once); outcomes still come from the result backend. */
  taskEventsError: 'beat.taskevents.error',
  /**
   * Task events read by default (no resultBackend, taskEvents unset) and none heard from any worker
   * within TASK_EVENTS_SILENCE_MS (service/outcomes-part.ts) of a publish: the runs are given up as `unknown`; once per leadership.
   */
  taskEventsSilent: 'beat.taskevents.silent',
  /**
   * Runs published while OUTCOME_MAX_PENDING runs were followed, all for less than
   * OUTCOME_FOLLOW_AT_LEAST_MS (outcomes/tracker.ts; a burst past it), were not followed (`runs`, `maxPending`): no history record. Logged after the burst.
   */
  outcomeNotFollowed: 'beat.outcome.not_followed',
  /** A run reached a final state (debug): entry, task id, state, runtime, exception. */
  outcomeFinished: 'beat.outcome.finished',
  /** A run STARTED on a worker that then stopped its heartbeats, or was started again, is lost (warn): entry, task id, worker. */
  outcomeWorkerLost: 'beat.outcome.worker_lost',
  /**
   * A run recorded REVOKED ended after all (debug): its SUCCESS or FAILURE was stored over the
   * REVOKED (Celery >= 5.6.2 stores REVOKED when the revoke arrives), and its history now says so.
   */
  outcomeOverwritten: 'beat.outcome.overwritten',
  /** Run spans are exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT set): endpoint and protocol. */
  tracingStart: 'beat.tracing.start',
  /**
   * The OpenTelemetry SDK warned (a collector that refuses or cannot be reached, spans dropped from
   * a full queue): logged at most once per DEFAULTS.traceWarnEveryMs, with how many were held back.
   */
  tracingWarning: 'beat.tracing.warning',
  httpListen: 'beat.http.listen',
  httpError: 'beat.http.error',
  /** A write through the entries API (PUT, DELETE /api/entries): the names, their outcomes and the client's address. */
  apiWrite: 'beat.api.write',
  /** The API refused a request for its credentials (401, 403): the path, the client's address and why; never the token. */
  apiRefused: 'beat.api.refused',
  /** SIGHUP read the tokens file again and took it: the names and their grants (`tokens`: NAME → GRANTS), never a token. */
  apiTokensReloaded: 'beat.api.tokens_reloaded',
  /**
   * SIGHUP found the tokens file unreadable or with a bad line (`reason` names the line and the fix,
   * never a token): the tokens and grants in force are kept until a reload that reads it.
   */
  apiTokensKept: 'beat.api.tokens_kept',
  /**
   * The worker thread that checks the entries of an API write (service/entry-check-pool.ts) overran the
   * write's time limit by DEFAULTS.writeCheckStopMs and was stopped (`overranMs`, `checked`, `items`): the
   * write is refused as one whose checks took too long; the next starts a new thread.
   */
  apiCheckStopped: 'beat.api.check_stopped',
  /** A dashboard login: succeeded or refused (a wrong token), with the client's address. */
  dashboardLogin: 'beat.dashboard.login',
  /** A single sign-on to the dashboard (auth.oidc): signed in (subject, e-mail, grants), or refused and why. */
  dashboardSignIn: 'beat.dashboard.sign_in',
  /**
   * The identity provider of auth.oidc could not be reached (discovery, the code's exchange, or a
   * signed-in session's recheck): sign-ins are refused meanwhile, and signed-in sessions may read but not write.
   */
  dashboardIssuerUnreachable: 'beat.dashboard.issuer_unreachable',
  /**
   * A signed-in session ended because the identity provider no longer stands by it (its access token
   * revoked or expired, the session ended there, auth.oidc removed), found at a recheck: `who`, `reason`.
   */
  dashboardSignInRevoked: 'beat.dashboard.sign_in_revoked',
  /**
   * A dashboard session ended because what it was opened with grants nothing now: its token removed
   * from the tokens file or given another secret, or the person's claim mapped to no grant by
   * auth.oidc.roles (a reload, a group left at the provider): `who`.
   */
  dashboardSessionEnded: 'beat.dashboard.session_ended',
  /** A change to an entry, as the audit trail records it: who, entry, action, the field diff, the note (redis/audit-log.ts). */
  audit: 'beat.audit',
  /** Changes seen from RedBeat or django could not be written to the audit trail (service/audit-reader.ts). */
  auditFailed: 'beat.audit.failed',
  /** What tsbeat kept of RedBeat/django entries deleted at their source could not be removed (service/service.ts). */
  sourceForgetFailed: 'beat.entries.forget_failed',
} as const;
