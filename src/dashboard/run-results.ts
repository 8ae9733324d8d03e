/**
 * What the dashboard says of an entry's runs, derived in this one place: each slot of the kept
 * history (`beat history`, control/slot-view.ts) as a row of the entry page's table, and the entry's results for the list
 * and the entry page. The last finished run, the last success and the last failure come from the
 * finished hash (run-history.lua keeps it across failovers, after the history list has moved on);
 * the success rate, since when it fails and whether a run is in flight from the kept history. Pure:
 * the routes read both and hand them in.
 */
import { slotTaskId } from '../celery/task-id.js';
import { slotView, slotsOf } from '../control/slot-view.js';
import { isFinal } from '../ports/outcomes.js';
import type { FinishedRuns, RunRecord } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';
import type { ResultWire, RunWire, SlotWire } from './wire.js';

const ORIGINS: ReadonlySet<string> = new Set(['schedule', 'trigger', 'backfill']);

/** What made a run: its record's `origin` when the history codec wrote one, else told by its task id. */
export function runOrigin(record: RunRecord, deployment: string, entry: string): RunWire['by'] {
  const origin = (record as { readonly origin?: unknown }).origin;
  if (typeof origin === 'string' && ORIGINS.has(origin)) return origin as RunWire['by'];
  // A scheduled run's id is its slot's (celery/task-id.ts); a manual run's is random.
  return record.taskId === slotTaskId(deployment, entry, record.slotMs) ? 'schedule' : 'trigger';
}

/**
 * The kept history of `entry` (of deployment `deployment`; newest first) as the history table shows
 * it: a row a slot, with its attempts; `maxAttempts`, its retry policy's.
 */
export function slotWires(
  records: readonly RunRecord[],
  deployment: string,
  entry: string,
  zone: string,
  maxAttempts: number | undefined,
): SlotWire[] {
  return slotsOf(records).map((runs) => {
    const last = runs[runs.length - 1]!;
    return {
      ...slotView(runs, zone, maxAttempts),
      slotMs: last.slotMs,
      finishedAtMs: last.finishedAtMs ?? null,
      // How the slot was published is its own run's.
      by: runOrigin(runs[0]!, deployment, entry),
    };
  });
}

/**
 * The entry's results: `finished` (its summary in the finished hash, if any) for the last finished
 * run and the last success and failure, `records` (its kept history, newest first) for the rest
 * and for all of it when there is no summary (a history written before the finished hash was).
 */
export function resultOf(records: readonly RunRecord[], zone: string, finished?: FinishedRuns): ResultWire {
  const at = (ms: number | undefined): string | null => (ms === undefined ? null : formatInstant(ms, zone));
  const kept = records.filter((r) => isFinal(r.state));
  const newest = finished?.last ?? kept[0];
  const keptSuccess = kept.find((r) => r.state === 'SUCCESS');
  const keptFailure = kept.find((r) => r.state === 'FAILURE');
  let since: RunRecord | undefined;
  for (const r of kept) {
    if (r.state !== 'FAILURE') break;
    since = r;
  }
  const successes = kept.filter((r) => r.state === 'SUCCESS').length;
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
    lastSuccess: finished === undefined ? at(keptSuccess?.finishedAtMs ?? keptSuccess?.publishedAtMs) : at(finished.lastSuccessMs),
    lastFailure: finished === undefined ? at(keptFailure?.finishedAtMs ?? keptFailure?.publishedAtMs) : at(finished.lastFailureMs),
    failingSince: newest?.state === 'FAILURE' ? at(since?.finishedAtMs ?? since?.publishedAtMs) : null,
    successRate: kept.length === 0 ? null : successes / kept.length,
    finished: kept.length,
    kept: records.length,
    running: records.some((r) => !isFinal(r.state)),
    failureStreak: finished === undefined ? null : finished.failureStreak,
  };
}

/** The result column's order: failures first, then revoked, unknown, succeeded, none yet; the newest finish first among equals. */
const RANK: Readonly<Record<string, number>> = { FAILURE: 0, REVOKED: 1, unknown: 2, SUCCESS: 3 };

/** An entry's newest finished run as the result sort reads it (from the finished hash of every entry). */
export interface LastState {
  readonly state: string;
  readonly atMs: number | undefined;
}

export function compareResults(a: LastState | undefined, b: LastState | undefined): number {
  const ra = a === undefined ? 4 : (RANK[a.state] ?? 4);
  const rb = b === undefined ? 4 : (RANK[b.state] ?? 4);
  if (ra !== rb) return ra - rb;
  return (b?.atMs ?? 0) - (a?.atMs ?? 0);
}
