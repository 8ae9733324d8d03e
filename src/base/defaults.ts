/**
 * Every default tsbeat applies, in one place, with the reason for its value.
 * The config schema, the CLI help and the docs (docs/configuration.md) read them from here.
 */
import { BACKFILL_DEFAULTS } from './backfill-defaults.js';
import { BROKER_DEFAULTS } from './broker-defaults.js';
import { SOURCE_DEFAULTS } from './source-defaults.js';

export const DEFAULTS = {
  ...BACKFILL_DEFAULTS,
  /** The runtime entries' sources and the reads before a publish, in their own file (source-defaults.ts). */
  ...SOURCE_DEFAULTS,
  /** Celery's `timezone` when unset with `enable_utc=True`. */
  timezone: 'UTC',
  /** Celery's `task_default_queue`. */
  taskDefaultQueue: 'celery',
  /** Celery's `task_protocol`: 2 since Celery 4. */
  taskProtocol: 2,
  /** Celery's `broker_url` default, on the local Redis. */
  brokerUrl: 'redis://127.0.0.1:6379/0',
  /** kombu's Redis `priority_steps`. */
  prioritySteps: [0, 3, 6, 9] as readonly number[],
  /** kombu's Redis separator between a queue name and its priority step (bytes 0x06 0x16). */
  prioritySep: '\x06\x16',
  /** Celery's `argsrepr_maxsize` / `kwargsrepr_maxsize`. */
  reprMaxSize: 1024,
  /**
   * Encoded EVALSHA buffers the Redis broker connection keeps for reuse (each up to 64 MB): enough
   * for the dispatches in flight, a staged one and the rehearsals, so that a burst's batches reuse
   * them instead of allocating a buffer of their size each.
   */
  scriptBuffersKept: 8,
  /**
   * The scheduler's fenced publish calls (one Lua script each) in flight at once during a burst:
   * two let Redis run one batch while the next is encoded and sent. More only queue on Redis.
   */
  dispatchMaxInFlight: 2,
  /** Runs of one wake-up logged one by one at info (`beat.fire`); the rest at debug, and a `beat.burst` line. */
  fireLogSample: 1000,
  /**
   * Published batches waiting to be recorded before a burst records them as it goes: a burst of up
   * to this many batches is recorded after its last (its messages first); a longer one keeps no more.
   */
  dispatchRecordBacklog: 40,
  /**
   * Loading the states of at most this many entries reads them by name (HMGET); more, the whole
   * state hash at once (HGETALL), which is quicker than naming most of its fields.
   */
  stateReadByNameMax: 1000,
  /** The state hash is read HSCAN … COUNT this at a time, decoded as it comes (the lock renews meanwhile). */
  stateScanCount: 10_000,
  /** A session fills its book this many entries at a time, serving the event loop (the lock's renewals) between. */
  bookLoadSlice: 10_000,
  /** Entry names per record-seen script call at start-up (a few milliseconds of Redis each). */
  stateSeenChunk: 5000,
  /**
   * Most elements handed to one call or Redis command by base/chunks.ts (HMGET of many names, say):
   * far below the ~45,000 arguments at which a spread overflows the stack, and small enough that
   * one command does not hold Redis up.
   */
  ioChunk: 10_000,
  /**
   * Most entries with series of their own in /metrics (`metricsMaxEntries`): past it a new entry's
   * per-entry samples are left out (counted by tsbeat_entry_series_left_out_total), so that a
   * deployment of a million entries does not export a million series per metric.
   */
  metricsMaxEntries: 10_000,
  /**
   * ioredis `maxRetriesPerRequest` for the broker connection: a publish fails after one reconnection
   * attempt instead of waiting through twenty, and the scheduler decides what to retry.
   */
  brokerMaxRetriesPerRequest: 1,
  /** AMQP and SQS, in their own file (broker-defaults.ts) to keep this one readable. */
  ...BROKER_DEFAULTS,
  /** Deployment name: replicas with the same name share state and one lock. */
  deploymentName: 'default',
  /** Prefix of every Redis key tsbeat writes for its own state. */
  statePrefix: 'tsbeat',
  /** RedBeat's `redbeat_key_prefix` default (redbeat/schedulers.py RedBeatConfig). */
  redbeatKeyPrefix: 'redbeat:',
  /** RedBeat's write-back after a failed write (Redis gone): tries again after this, doubled per failure... */
  redbeatWriteRetryMinMs: 500,
  /** ...up to this. */
  redbeatWriteRetryMaxMs: 30_000,
  /** RedBeat's write-back: a call without a reply this long is given up on and tried again. */
  redbeatWriteTimeoutMs: 3000,
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
  /** Celery's `control_exchange`: remote-control commands go to the fanout exchange `<this>.pidbox`. */
  controlExchange: 'celery',
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
  /**
   * Runs per dispatcher call (one Lua script invocation on Redis). Small enough that the batches in
   * flight (their messages and envelopes) stay a few megabytes, since every young-generation
   * collection copies what is live; large enough that the script's fixed cost per call is noise.
   */
  dispatchBatchRuns: 500,
  /** Most slots replayed per entry per wake-up with catchUp "all"; the rest come on the next wake-up. */
  maxSlotsPerTick: 10_000,
  /**
   * After a failed publish, the scheduler waits this long before trying the runs it kept due again
   * (not capped by maxInterval): a retry at once would spin for as long as Redis or the broker is down.
   */
  publishRetryMs: 1000,
  /**
   * A run refused because its entry changed since it was read (RunOutcome 'superseded') is tried
   * again this much later if the runtime entries have not been read again by then.
   */
  supersededRetryMs: 1000,
  /**
   * An entry whose runs are refused because of the entry itself (its queue key holds another Redis
   * type, its exchange does not exist…) is retried after this long, doubled at each refusal up to
   * entryRetryMaxMs; the other entries are not held back.
   */
  entryRetryMinMs: 1000,
  entryRetryMaxMs: 30_000,
  /** Most runs staged (or rehearsed) just before an instant; when more are due they go the usual way. */
  stageMaxRuns: 8,
  /**
   * How late after its instant a staged dispatch may still be sent. Its runs were planned for the
   * instant; this close to it, planning again would find the same slots (a slot that came due
   * meanwhile is planned by the usual path, after the staged runs).
   */
  stagedValidMs: 50,
  /**
   * Longest wait, when a leader stops, for the publish in flight. A healthy publish takes
   * milliseconds; one on a black-holed connection may never settle, and stopping must not wait for it
   * (the fence and the per-slot check still decide if it reaches Redis later).
   */
  stopPublishWaitMs: 5000,
  /** Longest wait for one step of a shutdown (base/lifecycle.ts; the leader's takes stopPublishWaitMs + alertTimeoutMs at worst), under Kubernetes' 30 s grace. */
  stopStepMs: 20_000,
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
  /**
   * A manual-run request for an entry this replica does not know is kept this long before it is
   * discarded: a runtime entry created just before its `beat trigger` reaches the catalog within a
   * second or two.
   */
  triggerUnknownGraceMs: 5000,
  /** Manual-run requests (`beat trigger`) read per look of the control loop; the rest wait for the next look. */
  triggersPerWake: 100,
  /**
   * A manual-run request older than this is discarded, not published. `beat trigger` waits at most
   * 300 s and then withdraws its request, but a CLI killed while waiting (Ctrl-C with no leader up)
   * never does, and the next leader, maybe days later, must not publish it. The margin over 300 s
   * absorbs clock skew between the CLI's machine and the leader.
   */
  triggerMaxAgeMs: 15 * 60_000,
  /**
   * Resolution of the event-loop lag metrics (nodejs_eventloop_lag_*). prom-client's 10 ms default
   * wakes the process 100 times a second: about half of an idle scheduler's CPU (bench: idle).
   * Lag that matters to a scheduler is milliseconds to seconds long and still shows at 100 ms.
   */
  eventLoopMonitoringMs: 100,
  /** Lock lifetime without renewal: the failover time after a leader dies. */
  lockTtlMs: 10_000,
  /** Partitions of a deployment's entries (`partitions`): one is the deployment itself, today's keys. */
  partitions: 1,
  /** The most partitions a deployment may have. */
  partitionsMax: 1024,
  /** How often a standby tries to take the lock. */
  lockRetryMs: 1000,
  /**
   * How far the local clock may be from the state Redis's (its TIME) for a replica to lead, and how
   * far ahead of Redis's clock a published slot may be. Schedules fire by the local clock: an
   * NTP-synchronised host is within milliseconds, and a second early or late is still on time for a
   * scheduler that fires whole seconds; beyond it runs go out visibly early or late, and slots
   * recorded ahead of the others' clocks stop them publishing until their clocks get there.
   */
  maxClockSkewMs: 1000,
  /**
   * The leader publishes its entry names with its record (so that a CLI or replica with another
   * config can name the entries that differ) up to this many; beyond, only their hash and count,
   * which keeps the record small for standbys that read it every retry.
   */
  fingerprintMaxNames: 10_000,
  /**
   * /healthz reports a leader whose scheduler loop has not woken for this long, or for this many of
   * its loop intervals (maxInterval) if that is longer, as stalled: the loop wakes at least once per
   * interval, so a longer silence is a blocked event loop or a hung loop, not a quiet schedule.
   */
  healthStallMs: 5000,
  healthStallIntervals: 5,
  /**
   * How often the leader's control loop looks for pause, resume and trigger requests without being
   * told (a CLI announces each on the events channel; this catches a missed announcement), and at
   * most every maxInterval.
   */
  controlIntervalMs: 1000,
  /**
   * How often every `beat run` (leader or standby) writes its heartbeat to the replicas registry
   * (one short script call), and at most a third of lock.ttl: its record counts for lock.ttl after
   * each heartbeat, so a replica killed without stopping leaves the listings within lock.ttl.
   */
  replicaHeartbeatMs: 2000,
  /**
   * After `beat run` has stopped (state saved, lock released, connections closed), the process exits
   * at the latest this long after: a socket or timer of a library that failed to close must not keep
   * a stopped scheduler alive until the orchestrator's SIGKILL.
   */
  exitGraceMs: 1000,
  /**
   * How long a closing Redis socket may take to say goodbye before it is destroyed (ioredis's default
   * is 2 s). After an outage ioredis still holds the dead socket and waits this long for a 'close'
   * that already happened, which held a stopped process open.
   */
  redisDisconnectTimeoutMs: 200,
  /**
   * How long a write of runtime entries keeps its reply: ioredis sends a command again when its
   * connection died before the reply (a large write past redisSocketTimeoutMs under load), and the
   * second sending must answer "created", not "unchanged", for what the first one wrote.
   */
  entriesReceiptMs: 60_000,
  /** A Redis connection silent this long is destroyed and reconnected (black-holed networks). */
  redisSocketTimeoutMs: 5000,
  /** Reconnecting to Redis backs off exponentially from 100 ms up to this, plus up to 100 ms of jitter; it never gives up. */
  redisReconnectMaxBackoffMs: 5000,
  /** How often a leader that stepped down retries giving its lock back while Redis does not answer. */
  lockReleaseRetryMs: 100,
  /** `beat import celery`: how long the team's app may take to import before the dump is given up. */
  importPythonTimeoutMs: 120_000,
  /**
   * Largest request body the entries API reads (PUT /api/entries[/NAME]); a larger one is refused
   * with 413 before it is parsed. An entry is a few hundred bytes: this takes a bulk PUT of ~10,000.
   */
  apiBodyMaxBytes: 4 * 1024 * 1024,
  /**
   * Longest request target (path and query) the HTTP server takes: a longer one is refused with 414.
   * (Node refuses a request line and headers together over 16 KiB itself, with 431.)
   */
  httpMaxUrlBytes: 8192,
  /** After answering a request it could not parse, the HTTP server reads and drops what the client still sends this long before closing. */
  httpLingerMs: 2000,
  /** The Retry-After (seconds) of a 503: Redis or the broker is unreachable for now. */
  httpRetryAfterSeconds: 2,
  /**
   * How deep a runtime entry's args and kwargs may nest, and how large they may be (their JSON, in
   * bytes), unless the config's `entryLimits` says otherwise: measured without recursion before
   * anything else walks them, so that a hostile entry is refused, not run (a message is rendered on
   * the scheduler's loop at every run). A request body may nest entryMaxDepth + 4 levels (the bulk
   * PUT's name, the entry, its field).
   */
  entryMaxDepth: 32,
  entryMaxArgsBytes: 256 * 1024,
  /**
   * Entries per page of /status (its default `limit` and the most it takes): a request builds one
   * page on the scheduler's loop, never a reply the size of every entry; `next` says where the next starts.
   */
  statusPageMax: 1000,
  /** Entries per page of GET /api/entries when `limit` is not given, and the most a page may ask for. */
  apiPageDefault: 100,
  apiPageMax: 1000,
  /** `beat next`: how many instants per entry. */
  nextCount: 5,
  /** Names of the config files looked for when neither --config nor BEAT_CONFIG is given, in order. */
  configFileNames: [
    'beat.config.ts',
    'beat.config.mts',
    'beat.config.js',
    'beat.config.mjs',
    'beat.config.json',
    'beat.config.yaml',
    'beat.config.yml',
  ] as readonly string[],
  /** Folders searched for those names, relative to the working directory, in order. */
  configSearchDirs: ['.', 'schedules'] as readonly string[],
  /**
   * YAML aliases may make the document this many times larger than what is written (merge keys
   * reuse a block of defaults in every entry), and always up to yamlExpandedValuesFloor values. A
   * "billion laughs" document of nine lines expands to millions: it is refused before validation
   * walks it.
   */
  yamlAliasExpansion: 10,
  yamlExpandedValuesFloor: 1_000_000,

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
  /** Runs waiting to be recorded in their histories are written after this pause (a burst is written once, after it). */
  outcomeRecordDelayMs: 50,
  /**
   * Task events of tasks the leader does not follow (yet) are kept this long, for this many tasks
   * at most: a worker can start a run before the broker's confirm of its publish reaches the leader.
   */
  taskEventsEarlyMs: 60_000,
  taskEventsEarlyMax: 10_000,
  /** A dashboard login lasts this long after its last use (sliding), then the page asks for the token again. */
  dashboardSessionTtlMs: 8 * 3_600_000,
  /** Dashboard sessions one process holds at most; past it the oldest goes (each login needs the token anyway). */
  dashboardMaxSessions: 1000,
  /**
   * The dashboard's reads of every entry (the failures hash, the finished summaries, the run columns
   * of the next/last/runs sorts) are kept this long: a page load and its live refresh read them once.
   * The list's own rows are kept until the entries change.
   */
  dashboardAllReadsCacheMs: 2000,
  /**
   * Items a long pass over every entry handles between two turns of the event loop (forEachSliced):
   * a few milliseconds, so that the lock renewal and SIGTERM never wait behind the dashboard.
   */
  loopSlice: 2000,
  /** Next fires an entry's page lists at first; its full list (`?fires=N`) holds at most dashboardFiresMax. */
  dashboardFires: 20,
  dashboardFiresMax: 1000,
  /** Rows one page of the dashboard's entry list holds at most. */
  dashboardPageMax: 500,
  /** The list's sort by success rate reads every entry's kept history: offered up to this many entries. */
  dashboardSuccessSortMax: 10_000,
  /** How long a trigger from the dashboard waits to see the run published before answering "requested". */
  dashboardTriggerWaitMs: 5000,
  /** Largest request body the dashboard reads (a login, an entry definition). */
  dashboardBodyMaxBytes: 256 * 1024,
  /**
   * Events the audit trail keeps (`audit.maxEvents`): XADD's MAXLEN ~ trims whole stream nodes, so a
   * few more may stay. A hundred thousand changes is months of a busy deployment's edits, in tens of MB.
   */
  auditMaxEvents: 100_000,
  /** Events `beat audit` and `GET /api/audit` show by default, and at most. */
  auditPageDefault: 50,
  auditPageMax: 1000,
} as const;
