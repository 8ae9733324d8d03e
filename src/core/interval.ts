/**
 * Interval schedules. Slots sit on a fixed grid: each slot is the previous *scheduled* slot plus the
 * interval (never "time sent plus interval"), so a late send does not push later runs back and the
 * schedule never drifts. Intervals measure real elapsed time, also across DST changes (Celery adds
 * wall-clock time instead, so its 1 h interval lasts 2 h at fall-back: a deliberate difference).
 */
import { DateTime } from 'luxon';
import type { IntervalSchedule } from './types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

type Unit = 'day' | 'hour' | 'minute';

/** Celery's `delta_resolution`: the unit a relative interval is truncated to. */
function relativeUnit(everyMs: number): Unit | undefined {
  if (everyMs >= DAY) return 'day';
  if (everyMs >= HOUR) return 'hour';
  if (everyMs >= MINUTE) return 'minute';
  return undefined;
}

/**
 * The slot after `slotMs`. Relative intervals (Celery's `relative=True`) are truncated to their unit
 * in the entry's zone; whole days are added on the calendar so that a daily relative entry stays
 * at local midnight across DST changes.
 */
export function followingSlot(schedule: IntervalSchedule, zone: string, slotMs: number): number {
  const unit = schedule.relative ? relativeUnit(schedule.everyMs) : undefined;
  if (unit === undefined) return slotMs + schedule.everyMs;
  const start = DateTime.fromMillis(slotMs, { zone });
  const days = Math.floor(schedule.everyMs / DAY);
  const next = start.plus({ days }).plus({ milliseconds: schedule.everyMs - days * DAY }).startOf(unit).toMillis();
  // Truncation can fall back onto the current slot (a 25-hour day, say); a slot must move forward.
  return next > slotMs ? next : start.plus({ [`${unit}s`]: 1 }).startOf(unit).toMillis();
}

/**
 * The next `count` slots strictly after `afterMs`, on the grid through `anchorMs` (the last slot
 * that ran, or, for an entry with no history, the moment it was first seen: as in Celery, a new
 * entry waits one full interval).
 */
export function nextIntervalFires(schedule: IntervalSchedule, zone: string, anchorMs: number, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let slot = anchorMs;
  if (!schedule.relative && afterMs > anchorMs) {
    // Jump straight to the last grid point at or before `after` instead of walking there.
    slot = anchorMs + Math.floor((afterMs - anchorMs) / schedule.everyMs) * schedule.everyMs;
  } else if (schedule.relative && afterMs - anchorMs > 2 * schedule.everyMs) {
    // Relative slots realign to their unit each step; restarting from just before `after` is the same grid.
    slot = anchorMs + (Math.floor((afterMs - anchorMs) / schedule.everyMs) - 1) * schedule.everyMs;
  }
  while (out.length < count) {
    slot = followingSlot(schedule, zone, slot);
    if (slot > afterMs) out.push(slot);
  }
  return out;
}

/**
 * "every 30s", "every 1h 30m", "every 1d, aligned to the day". An interval is a whole number of
 * milliseconds, at least one (the config keeps it to 100 ms - 100 years); anything else is an
 * error, never a blank or "every Infinityd".
 */
export function describeInterval(schedule: IntervalSchedule): string {
  if (!Number.isSafeInteger(schedule.everyMs) || schedule.everyMs < 1) {
    throw new RangeError(`an interval of ${String(schedule.everyMs)} ms cannot be described: intervals are whole milliseconds from 1`);
  }
  const parts: string[] = [];
  let rest = schedule.everyMs;
  for (const [unitMs, suffix] of [
    [DAY, 'd'],
    [HOUR, 'h'],
    [MINUTE, 'm'],
    [1000, 's'],
    [1, 'ms'],
  ] as const) {
    const n = Math.floor(rest / unitMs);
    if (n > 0) {
      parts.push(`${n}${suffix}`);
      rest -= n * unitMs;
    }
  }
  const unit = schedule.relative ? relativeUnit(schedule.everyMs) : undefined;
  return `every ${parts.join(' ')}${unit ? `, aligned to the ${unit}` : ''}`;
}
