/**
 * Interval schedules. Slots sit on a fixed grid: each slot is the previous *scheduled* slot plus the
 * interval (never "time sent plus interval"), so a late send does not push later runs back and the
 * schedule never drifts. Intervals measure real elapsed time, also across DST changes (Celery adds
 * wall-clock time instead, so its 1 h interval lasts 2 h at fall-back: a deliberate difference).
 */
import { DateTime } from 'luxon';
import type { IntervalSchedule } from './types.js';
import { zoneOffsets } from '../time/zone.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How far one jump looks for offset changes: a year and a bit covers every zone's DST cycle. */
const MAX_JUMP_SPAN_MS = 400 * DAY;

type Unit = 'day' | 'hour' | 'minute';
const UNIT_MS: Readonly<Record<Unit, number>> = { day: DAY, hour: HOUR, minute: MINUTE };

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
  const next = start
    .plus({ days })
    .plus({ milliseconds: schedule.everyMs - days * DAY })
    .startOf(unit)
    .toMillis();
  // Truncation can fall back onto the current slot (a 25-hour day, say); a slot must move forward.
  return next > slotMs
    ? next
    : start
        .plus({ [`${unit}s`]: 1 })
        .startOf(unit)
        .toMillis();
}

/**
 * The next `count` slots strictly after `afterMs`, on the grid through `anchorMs` (the last slot
 * that ran, or, for an entry with no history, the moment it was first seen: as in Celery, a new
 * entry waits one full interval).
 */
export function nextIntervalFires(schedule: IntervalSchedule, zone: string, anchorMs: number, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let slot = afterMs > anchorMs ? lastSlotAtOrBefore(schedule, zone, anchorMs, afterMs) : anchorMs;
  while (out.length < count) {
    slot = followingSlot(schedule, zone, slot);
    if (slot > afterMs) out.push(slot);
  }
  return out;
}

/**
 * The last slot at or before `untilMs` of the walk `anchorMs`, followingSlot(anchorMs), …, or the
 * anchor itself when the first step already passes `untilMs`. Equal to walking the slots one by one
 * (a property test holds it to that), without walking them: after downtime that can be millions.
 */
function lastSlotAtOrBefore(schedule: IntervalSchedule, zone: string, anchorMs: number, untilMs: number): number {
  const { everyMs } = schedule;
  const unit = schedule.relative ? relativeUnit(everyMs) : undefined;
  if (unit === undefined) return anchorMs + Math.floor((untilMs - anchorMs) / everyMs) * everyMs;
  // A relative slot is truncated to its unit, so once on the unit's grid it advances by the whole
  // units of the interval (a 2.5 h interval steps 2 h) — but only while the zone's offset stays
  // the same: a DST change moves the grid or the length of a day. So the walk jumps across each
  // stretch of constant offset and takes the steps that meet a change one at a time.
  const unitMs = UNIT_MS[unit];
  const step = Math.floor(everyMs / unitMs) * unitMs;
  const offsets = zoneOffsets(zone);
  let slot = anchorMs;
  // The anchor (a first-seen instant) may be off the grid; every slot after the first step is on it.
  let onGrid = false;
  for (;;) {
    if (onGrid) {
      const horizon = slot + Math.min(untilMs - slot + everyMs, MAX_JUMP_SPAN_MS);
      const pieces = offsets.segments(slot, horizon);
      // The step from s is plain arithmetic when the offset is constant over [s, s + every].
      const constantUntil = pieces.length > 1 ? (pieces[1] as { start: number }).start - 1 : horizon;
      const byOffset = constantUntil - everyMs - slot >= 0 ? Math.floor((constantUntil - everyMs - slot) / step) + 1 : 0;
      const jump = Math.min(byOffset, Math.floor((untilMs - slot) / step));
      if (jump > 0) slot += jump * step;
    }
    const next = followingSlot(schedule, zone, slot);
    if (next > untilMs) return slot;
    slot = next;
    onGrid = true;
  }
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
