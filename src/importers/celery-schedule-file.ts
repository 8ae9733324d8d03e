/**
 * celery beat's own state at cut-over: what the dump script read of its schedule file
 * (PersistentScheduler's shelve, `celerybeat-schedule`), as the last run of each imported entry,
 * for the deployment's state to adopt (src/redis/seed-states.ts) so that the first slot tsbeat
 * publishes is the one celery beat would have published next.
 *
 * celery beat stamps an entry's `last_run_at` with the time it sent it (ScheduleEntry._next_instance:
 * app.now()), and gives an entry it has not sent yet the time it first saw it (its constructor's
 * default), with `total_run_count` 0; it sends next at `last_run_at + run_every` for an interval,
 * at the crontab's or solar event's first fire after `last_run_at` otherwise (is_due). So a sent
 * entry's last run is taken as a run, an unsent one's as the anchor of its grid.
 */
import type { ImportNote } from './celery-entries.js';

/** The schedule file as the dump script describes it. */
export interface ScheduleFileDump {
  /** celery's __version__ that wrote it. */
  readonly version?: unknown;
  readonly tz?: unknown;
  /** Why celery beat would start the file afresh (another timezone or enable_utc, an old layout); null when it would not. */
  readonly reset?: string | null;
  /** Each entry's last_run_at (epoch seconds, read as is_due reads it) and total_run_count. */
  readonly entries?: Record<string, { readonly last_run_at?: unknown; readonly total_run_count?: unknown }>;
}

/** celery beat's last run of an entry: a send (`runCount` > 0), or the instant it first saw it. */
export interface CeleryLastRun {
  readonly name: string;
  /** epoch ms */
  readonly lastRunMs: number;
  readonly runCount: number;
  /** Never sent: `lastRunMs` anchors the schedule's grid, it is no run. */
  readonly anchor: boolean;
}

/**
 * The last runs of the `imported` entries (the names the config carries over), and a note for each
 * that has none; `path` names the file in the notes. A file celery beat would reset gives none.
 */
export function lastRunsOf(
  file: ScheduleFileDump,
  imported: readonly string[],
  path: string,
): { runs: CeleryLastRun[]; notes: ImportNote[] } {
  const where = `schedule file ${JSON.stringify(path)}`;
  if (typeof file.reset === 'string') {
    return { runs: [], notes: [{ where, message: `${file.reset}; no last run is carried over, every entry starts afresh` }] };
  }
  const runs: CeleryLastRun[] = [];
  const notes: ImportNote[] = [];
  const stored = file.entries ?? {};
  for (const name of imported) {
    const record = Object.hasOwn(stored, name) ? stored[name] : undefined;
    const seconds = record?.last_run_at;
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
      notes.push({ where: `${where}: ${JSON.stringify(name)}`, message: 'no last run there (celery beat never saw it): it starts afresh' });
      continue;
    }
    const count = record?.total_run_count;
    const runCount = typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 0;
    runs.push({ name, lastRunMs: Math.round(seconds * 1000), runCount, anchor: runCount === 0 });
  }
  return { runs, notes };
}
