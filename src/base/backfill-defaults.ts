/**
 * The defaults of backfills (`beat backfill`) and of the record of published slots they rely on,
 * part of DEFAULTS (defaults.ts), kept apart so that that file stays one screenful per subject.
 */
export const BACKFILL_DEFAULTS = {
  /**
   * Slots one backfill request may cover at most, unless `--limit` (or the API's `limit`) raises it
   * up to backfillLimitMax: a typo in --from (a year instead of a day) must not publish a year of
   * runs. Ten thousand is a week of an every-minute entry.
   */
  backfillLimit: 10_000,
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
   * Published slots kept per entry (the `published:<entry>` zset): the newest this many, trimmed
   * once per 100 runs of the entry (so up to 100 more between trims). A backfill
   * vouches for no slot older than the oldest kept (refused unless --unrecorded). Ten thousand is a
   * week of an every-minute entry, 2.8 hours of an every-second one, 14 months of an hourly one; a
   * full set takes about 1.1 MB of Redis memory (MEMORY USAGE of 10,000 slot-ms members on Redis 7.0: 1,109,400 bytes).
   */
  publishedSlotsKept: 10_000,
  /** Backfill requests the control loop reads per look; one is worked on at a time. */
  backfillsPerWake: 10,
  /**
   * A backfill request not begun by a leader within this long is discarded: `beat backfill` gave up
   * waiting long ago (it withdraws its request when it does, unless it was killed).
   */
  backfillMaxAgeMs: 15 * 60_000,
  /** How long `beat backfill` waits for the leader to finish by default, and at most (seconds). */
  backfillTimeoutS: 120,
  backfillTimeoutMaxS: 3600,
} as const;
