/**
 * The defaults of backfills (`beat backfill`) and of the record of passed-over slots they rely on,
 * with the reason for each value.
 * Part of DEFAULTS (defaults.ts), which is where the rest of the code reads them.
 */
export const BACKFILL_DEFAULTS = {
  /**
   * Slots one backfill request may cover at most, unless `--limit` (or the API's `limit`) raises it
   * up to backfillLimitMax: a typo in --from (a year instead of a day) must not publish a year of
   * runs. Ten thousand is a week of an every-minute entry.
   */
  backfillLimit: 10_000,
  /**
   * Slots (run and excluded together) one dry-run reply of the API holds at most; the reply's `next`
   * asks for the page after it. A page is some 35 KB and a few milliseconds to plan, whatever the
   * range and the limit (four concurrent dry runs of a million slots each once built 32 MB replies).
   */
  backfillDryRunPage: 1000,
  /** The highest `--limit` accepted: a request's slots are enumerated in memory by the leader. */
  backfillLimitMax: 1_000_000,
  /**
   * Slots the leader publishes per fenced script call of a backfill: each call is atomic (its slots
   * and their record), so a leader killed in between leaves no half-published call, and the next
   * leader goes on from the last call's end. A hundred keeps each call's arguments small (about a
   * hundred messages) and lets scheduled runs go out between calls.
   */
  backfillChunk: 100,
  /**
   * Ranges of passed-over slots kept per entry (the `passed:<entry>` zset): the newest this many.
   * A range is written only when the leader passes slots over (a catch-up, an overlap skip, a
   * pause), so a thousand is a thousand such incidents; when older ones are trimmed the entry's
   * floor moves past them and a backfill counts slots below it unrecorded. Each range is one
   * member of about 27 bytes.
   */
  passedRangesKept: 1_000,
  /** How long `beat backfill` waits for the leader to finish by default (seconds; `--timeout`). */
  backfillTimeoutS: 120,
} as const;
