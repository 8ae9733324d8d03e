/**
 * The leader's control loop: pause, resume and manual-run (`beat trigger`) requests.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const CONTROL_DEFAULTS = {
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
   * How often the leader's control loop looks for pause, resume and trigger requests without being
   * told (a CLI announces each on the events channel; this catches a missed announcement), and at
   * most every maxInterval.
   */
  controlIntervalMs: 1000,
} as const;
