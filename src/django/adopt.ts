/**
 * Cut-over adoption of DatabaseScheduler's state (redis/seed-states.ts does the writing): a row's
 * last run as django-celery-beat's ModelEntry takes it (schedulers.py, ModelEntry.__init__):
 * `last_run_at`, else `date_changed` (2.8 and 2.9; 2.4 to 2.7 take their own clock at the read,
 * which is the row's change plus the up to 5 s DatabaseScheduler takes to read it). The count is
 * `total_run_count`: a `one_off` row that already ran and is still enabled (DatabaseScheduler
 * stopped before its next tick disabled it) is finished with it (maxRuns 1), not run again.
 * A never-run row's `date_changed` anchors its grid (its next slot is the first after it) without
 * counting as a run: a backfill still finds the slots before it never published.
 */
import { sourcedDefinition } from '../ports/entry-source.js';
import type { SeedState } from '../ports/seeds.js';
import type { TaskRow } from './row-entry.js';

/**
 * The seed of a row seen for the first time (per incarnation: its id), or re-enabled (`reEnabled`:
 * the source saw it disabled before). undefined when there is nothing to adopt.
 */
export function rowSeed(row: TaskRow, reEnabled = false): SeedState | undefined {
  // A disabled row runs nothing; its re-enable is seen as such and seeded then.
  if (!row.enabled) return undefined;
  const entry = sourcedDefinition(row.sourced);
  const common = {
    name: row.name,
    runCount: row.runCount,
    ...(row.sourced.incarnation === undefined ? {} : { incarnation: row.sourced.incarnation }),
    ...(entry === undefined ? {} : { entry }),
  };
  if (row.lastRunMs !== undefined) return { ...common, lastRunMs: row.lastRunMs, ...(reEnabled ? { reset: true } : {}) };
  // ModelEntry puts a never-run row with a start_time 30 years back, so that it runs at its start
  // time: tsbeat's startAt does that already (its first slot at or after it).
  if (row.startMs !== undefined || row.changedMs === undefined) return undefined;
  // PeriodicTask.save() of a disabled row cleared last_run_at: a re-enabled row's last run is its
  // re-enable (date_changed), and its next slot the first after it, not the slot missed meanwhile.
  if (reEnabled) return { ...common, lastRunMs: row.changedMs, reset: true };
  // A row never run counts from its date_changed: the grid's anchor, not a run (SeedState.anchor).
  return { ...common, lastRunMs: row.changedMs, anchor: true };
}
