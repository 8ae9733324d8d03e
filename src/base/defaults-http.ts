/**
 * The HTTP server and what it serves: health, metrics, the entries API, /status, the dashboard and
 * the audit trail.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const HTTP_DEFAULTS = {
  /**
   * Most entries with series of their own in /metrics (`metricsMaxEntries`): past it a new entry's
   * per-entry samples are left out (counted by tsbeat_entry_series_left_out_total), so that a
   * deployment of a million entries does not export a million series per metric.
   */
  metricsMaxEntries: 10_000,
  /**
   * Most label keys `metricsLabelKeys` may name: each becomes a label of tsbeat_entry_labels, and a
   * label's values multiply its series, so the count is kept small.
   */
  metricsLabelKeysMax: 10,
  /**
   * Resolution of the event-loop lag metrics (nodejs_eventloop_lag_*). prom-client's 10 ms default
   * wakes the process 100 times a second: about half of an idle scheduler's CPU (bench: idle).
   * Lag that matters to a scheduler is milliseconds to seconds long and still shows at 100 ms.
   */
  eventLoopMonitoringMs: 100,
  /**
   * /healthz reports a leader whose scheduler loop has not woken for this long, or for this many of
   * its loop intervals (maxInterval) if that is longer, as stalled: the loop wakes at least once per
   * interval, so a longer silence is a blocked event loop or a hung loop, not a quiet schedule.
   */
  healthStallMs: 5000,
  healthStallIntervals: 5,
  /**
   * Largest request body the entries API reads (PUT /api/entries[/NAME]); a larger one is refused
   * with 413 before it is parsed. An entry is a few hundred bytes: this takes a bulk PUT of ~10,000.
   */
  apiBodyMaxBytes: 4 * 1024 * 1024,
  /**
   * Characters of a request body's text scanned (its depth, its keys) between two turns of the
   * event loop: about 10 ms on an idle core. A 3.7 MB body's scans held the loop 80-130 ms each in
   * one piece (issue 66), and a probe's slot or /healthz that fell in one waited for it.
   */
  bodyScanSliceChars: 256 * 1024,
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
   * Entries per page of /status (its default `limit` and the most it takes): a request builds one
   * page on the scheduler's loop, never a reply the size of every entry; `next` says where the next starts.
   */
  statusPageMax: 1000,
  /** Entries per page of GET /api/entries when `limit` is not given, and the most a page may ask for. */
  apiPageDefault: 100,
  apiPageMax: 1000,
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
