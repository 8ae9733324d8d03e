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
} as const;
