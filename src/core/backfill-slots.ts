/**
 * The slots of a backfill (`beat backfill ENTRY --from --to`): every slot of the schedule in
 * [from, to], both ends included, split into those that run and those the entry's `exclude` names
 * (which are not backfilled, as they are never run). Pure: the range and the grid anchor are arguments.
 */
import { nextFires } from './schedule.js';
import type { FireWindow } from './schedule.js';
import { isExcluded } from './exclusions.js';
import type { Schedule } from './types.js';

export interface BackfillSlots {
  /** The slots to backfill, ascending (none excluded). */
  readonly slots: number[];
  /** The excluded slots in the range, ascending. */
  readonly excluded: number[];
  /** True when the range holds more than `max` slots (run and excluded together): `slots` stops there. */
  readonly overLimit: boolean;
}

/** Slots asked of the schedule at a time. */
const BATCH = 1000;

/**
 * The grid anchor of an interval entry's backfill: its slots must be the ones its schedule had
 * (the same slot, the same task id), so the grid is the one through the entry's last scheduled
 * slot `storedSlotMs`, stepped back to before `fromMs`; without one, the grid starts at `fromMs`.
 * Undefined for the other forms (their slots do not depend on an anchor) and for relative
 * intervals (truncated to calendar units, their grid is not a fixed step: see `backfillRefusal`).
 */
export function backfillAnchor(schedule: Schedule, fromMs: number, storedSlotMs: number | undefined): number | undefined {
  if (schedule.kind !== 'interval' || schedule.relative) return undefined;
  const { everyMs } = schedule;
  if (storedSlotMs === undefined) return fromMs - everyMs;
  return storedSlotMs - (Math.floor((storedSlotMs - fromMs) / everyMs) + 1) * everyMs;
}

/** Why this schedule cannot be backfilled, or undefined when it can. */
export function backfillRefusal(schedule: Schedule): string | undefined {
  if (schedule.kind === 'interval' && schedule.relative)
    return 'a relative interval (its slots are truncated to calendar units, so past slots cannot be told exactly)';
  return undefined;
}

/**
 * The slots in [fromMs, toMs] of `schedule` in `zone` within the entry's window (startAt, endAt);
 * at most `max` (run and excluded together), then `overLimit`.
 */
export function backfillSlots(
  schedule: Schedule,
  zone: string,
  window: FireWindow | undefined,
  fromMs: number,
  toMs: number,
  max: number,
  anchorMs?: number,
): BackfillSlots {
  const exclude = window?.exclude;
  // The exclusions are told apart here, not by nextFires, so that the excluded slots can be counted.
  const bare = window === undefined ? undefined : { startMs: window.startMs, endMs: window.endMs };
  const slots: number[] = [];
  const excluded: number[] = [];
  let afterMs = fromMs - 1;
  for (;;) {
    const batch = nextFires(schedule, { zone, afterMs, window: bare, ...(anchorMs === undefined ? {} : { anchorMs }) }, BATCH);
    for (const slot of batch) {
      if (slot > toMs) return { slots, excluded, overLimit: false };
      if (slots.length + excluded.length === max) return { slots, excluded, overLimit: true };
      if (exclude !== undefined && isExcluded(exclude, zone, slot)) excluded.push(slot);
      else slots.push(slot);
    }
    if (batch.length < BATCH) return { slots, excluded, overLimit: false };
    afterMs = batch[batch.length - 1] as number;
  }
}
