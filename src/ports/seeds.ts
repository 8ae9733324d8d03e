/**
 * Cut-over adoption's port: what a source tells of another scheduler's last run of an entry
 * (RedBeat's meta, a django row's last_run_at), written into tsbeat's state by
 * src/redis/seed-states.ts where it is newer by slot.
 */
import type { ParsedEntry } from '../config/schema.js';

/** What another scheduler recorded of an entry's last run. */
export interface SeedState {
  readonly name: string;
  /**
   * The other scheduler's last run (its publish time), epoch ms; with `anchor`, the instant it
   * counts from instead (ModelEntry's stand-in for a never-run row: its date_changed).
   */
  readonly lastRunMs: number;
  /** Its run count (RedBeat's total_run_count, the row's total_run_count). */
  readonly runCount: number;
  /** The incarnation the record is of (its state's `g`). */
  readonly incarnation?: string;
  /** The entry's definition, to compare by slot; without one (a definition with problems) only written where there is no state. */
  readonly entry?: ParsedEntry;
  /**
   * The record resets the entry's last run (a django row re-enabled: DatabaseScheduler's last run is
   * the re-enable): it replaces any older stored slot, not only one that a newer fire separates.
   */
  readonly reset?: boolean;
  /**
   * `lastRunMs` is no run but the anchor of the schedule's grid (a django row without last_run_at:
   * its date_changed): where tsbeat has no state of the incarnation, written as tsbeat's first
   * sighting (`seen`), not as a published slot, so that a backfill still counts the slots before it
   * as never published; against a slot of tsbeat's, compared as a run.
   */
  readonly anchor?: boolean;
}
