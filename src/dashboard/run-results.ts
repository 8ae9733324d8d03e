/**
 * What the dashboard says of an entry's runs, derived in this one place from the run history the
 * deployment keeps in Redis (`beat history`): each run as a row of the entry page's table, and the
 * entry's results (the last finished run, the last success and failure, the success rate and since
 * when it fails) for the list and the entry page. Pure: the routes read the histories and hand them in.
 */
import { slotTaskId } from '../celery/task-id.js';
import { runView } from '../control/run-view.js';
import { isFinal } from '../ports/outcomes.js';
import type { RunRecord } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';
import type { ResultWire, RunWire } from './wire.js';

/** A run of `entry` (of deployment `deployment`) as the history table shows it. */
export function runWire(record: RunRecord, deployment: string, entry: string, zone: string): RunWire {
  const view = runView(record, zone);
  return {
    ...view,
    slotMs: record.slotMs,
    finishedAtMs: record.finishedAtMs ?? null,
    // A scheduled run's id is its slot's (celery/task-id.ts); a manual run's is random.
    by: record.taskId === slotTaskId(deployment, entry, record.slotMs) ? 'schedule' : 'trigger',
  };
}

/** The entry's results over `records` (its history, newest first). */
export function resultOf(records: readonly RunRecord[], zone: string): ResultWire {
  const at = (ms: number | undefined): string | null => (ms === undefined ? null : formatInstant(ms, zone));
  const finished = records.filter((r) => isFinal(r.state));
  const newest = finished[0];
  const lastSuccess = finished.find((r) => r.state === 'SUCCESS');
  const lastFailure = finished.find((r) => r.state === 'FAILURE');
  let since: RunRecord | undefined;
  for (const r of finished) {
    if (r.state !== 'FAILURE') break;
    since = r;
  }
  const successes = finished.filter((r) => r.state === 'SUCCESS').length;
  return {
    last:
      newest === undefined
        ? null
        : {
            state: newest.state,
            at: at(newest.finishedAtMs),
            atMs: newest.finishedAtMs ?? null,
            runtimeSeconds: newest.runtimeMs === undefined || newest.state === 'unknown' ? null : newest.runtimeMs / 1000,
            exception: newest.exception ?? null,
          },
    lastSuccess: at(lastSuccess?.finishedAtMs ?? lastSuccess?.publishedAtMs),
    lastFailure: at(lastFailure?.finishedAtMs ?? lastFailure?.publishedAtMs),
    failingSince: at(since?.finishedAtMs ?? since?.publishedAtMs),
    successRate: finished.length === 0 ? null : successes / finished.length,
    finished: finished.length,
    kept: records.length,
    running: records.some((r) => !isFinal(r.state)),
  };
}

/** Whether the newest finished run failed. */
export const isFailing = (result: ResultWire | undefined): boolean => result?.last?.state === 'FAILURE';

/** The result column's order: failures first, then revoked, unknown, succeeded, none yet; the newest finish first among equals. */
const RANK: Readonly<Record<string, number>> = { FAILURE: 0, REVOKED: 1, unknown: 2, SUCCESS: 3 };

export function compareResults(a: ResultWire | undefined, b: ResultWire | undefined): number {
  const ra = a?.last === null || a === undefined ? 4 : (RANK[a.last.state] ?? 4);
  const rb = b?.last === null || b === undefined ? 4 : (RANK[b.last.state] ?? 4);
  if (ra !== rb) return ra - rb;
  return (b?.last?.atMs ?? 0) - (a?.last?.atMs ?? 0);
}
