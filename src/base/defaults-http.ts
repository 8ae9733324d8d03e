/**
 * The HTTP server and what it serves: health, metrics, the entries API, /status, the dashboard and
 * the audit trail.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const HTTP_DEFAULTS = {
  /**
   * Most entries with series of their own in /metrics (`metricsMaxEntries`): past it a new entry's
   * per-entry samples are left out (counted by tsbeat_entry_series_left_out_total), so that a
   * deployment's size does not set the number of series per metric.
   */
  metricsMaxEntries: 10_000,
  /**
   * Longest request target (path and query) the HTTP server takes: a longer one is refused with 414.
   * (Node refuses a request line and headers together over 16 KiB itself, with 431.)
   */
  httpMaxUrlBytes: 8192,
  /**
   * Entries per page of /status (its default `limit` and the most it takes): a request builds one
   * page on the scheduler's loop, never a reply the size of every entry; `next` says where the next starts.
   */
  statusPageMax: 1000,
  /** Entries per page of GET /api/entries when `limit` is not given, and the most a page may ask for. */
  apiPageDefault: 100,
  apiPageMax: 1000,
  /**
   * How long the TypeScript client connected with `api` waits for one answer of /api before it gives
   * up (REDIS_UNAVAILABLE, as an unreachable Redis on the other path): above a trigger's wait on the
   * server (dashboardTriggerWaitMs) and a large write's checks.
   */
  apiClientTimeoutMs: 30_000,
  /**
   * Items a long pass over every entry handles between two turns of the event loop (forEachSliced):
   * a few milliseconds, so that the lock renewal and SIGTERM never wait behind the dashboard.
   */
  loopSlice: 2000,
  /** Rows one page of the dashboard's entry list holds at most. */
  dashboardPageMax: 500,
  /** How long a trigger from the dashboard waits to see the run published before answering "requested". */
  dashboardTriggerWaitMs: 5000,
  /**
   * Events the audit trail keeps (`audit.maxEvents`): XADD's MAXLEN ~ trims whole stream nodes, so a
   * few more may stay. A hundred thousand changes is months of a busy deployment's edits, in tens of MB.
   */
  auditMaxEvents: 100_000,
  /** Events `beat audit` and `GET /api/audit` show by default, and at most. */
  auditPageDefault: 50,
  auditPageMax: 1000,
} as const;
