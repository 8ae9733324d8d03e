/**
 * The past of an entry as a strip of cells (the last day in quarters of an hour, or the last hour in
 * minutes), each coloured by what became of the slots in it: from its kept run history (succeeded,
 * failed, still running, outcome unknown; a run still PENDING while its queue is flagged unconsumed
 * waits unread, not running) and the leader's reports of slots that never ran (missed, skipped by
 * overlap, paused). Cells with neither are empty: nothing is recorded of them. Pure.
 */
import type { ResolvedEntry } from '../config/resolve.js';
import { nextFires } from '../core/schedule.js';
import type { RunRecord } from '../ports/outcomes.js';
import type { SlotKind, StripCellWire } from './wire.js';

/** A report of slots that never ran (src/redis/missed-slots-store.ts's MissedReport). */
export interface MissedSlotsReport {
  readonly firstSlotMs: number;
  readonly count: number;
  readonly reason: string;
}

/** The cell's colour: the gravest kind among its slots. */
const GRAVITY: readonly SlotKind[] = ['failed', 'missed', 'unconsumed', 'skipped', 'paused', 'running', 'unknown', 'succeeded'];

/** Most slots one report is spread over (a report of a long downtime of a frequent entry counts more). */
const REPORT_SLOTS_MAX = 5000;

export const STRIP_SPANS = {
  day: { cells: 96, bucketMs: 15 * 60_000 },
  hour: { cells: 60, bucketMs: 60_000 },
} as const;

/** The first instant of a strip of `cells` cells of `bucketMs` whose last cell holds `nowMs`. */
export function stripStart(nowMs: number, cells: number, bucketMs: number): number {
  return (Math.floor(nowMs / bucketMs) - cells + 1) * bucketMs;
}

function runKind(state: RunRecord['state'], unconsumed: boolean): SlotKind {
  switch (state) {
    case 'PENDING':
      // Published and not yet received: on a queue nobody reads it waits there, it does not run.
      return unconsumed ? 'unconsumed' : 'running';
    case 'SUCCESS':
      return 'succeeded';
    case 'FAILURE':
    case 'REVOKED':
      return 'failed';
    case 'unknown':
      return 'unknown';
    default:
      return 'running';
  }
}

export function missedKind(reason: string): SlotKind {
  return reason === 'overlap' ? 'skipped' : reason === 'paused' ? 'paused' : 'missed';
}

/** The slots of a report: its first, then the schedule's next ones from it. */
function reportSlots(entry: ResolvedEntry, report: MissedSlotsReport): number[] {
  const more = Math.min(Math.max(report.count - 1, 0), REPORT_SLOTS_MAX);
  const zone = entry.timezone;
  return [report.firstSlotMs, ...nextFires(entry.schedule, { zone, afterMs: report.firstSlotMs, anchorMs: report.firstSlotMs }, more)];
}

export function dayStrip(
  entry: ResolvedEntry,
  runs: readonly RunRecord[],
  missed: readonly MissedSlotsReport[],
  startMs: number,
  cells: number,
  bucketMs: number,
  /** The entry's queue is flagged unconsumed now (see docs/outcomes.md, "Runs nobody consumes"). */
  unconsumed = false,
): (StripCellWire | null)[] {
  const out: (StripCellWire | null)[] = new Array<StripCellWire | null>(cells).fill(null);
  const counts: Partial<Record<SlotKind, number>>[] = [];
  const add = (slotMs: number, kind: SlotKind): void => {
    const i = Math.floor((slotMs - startMs) / bucketMs);
    if (i < 0 || i >= cells) return;
    const c = (counts[i] ??= {});
    c[kind] = (c[kind] ?? 0) + 1;
  };
  for (const run of runs) add(run.slotMs, runKind(run.state, unconsumed));
  for (const report of missed) {
    const kind = missedKind(report.reason);
    for (const slot of reportSlots(entry, report)) add(slot, kind);
  }
  counts.forEach((c, i) => {
    if (c === undefined) return;
    const kind = GRAVITY.find((k) => (c[k] ?? 0) > 0);
    if (kind !== undefined) out[i] = { kind, counts: c };
  });
  return out;
}
