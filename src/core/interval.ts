/**
 * Interval schedules. Slots sit on a fixed grid: each slot is the previous *scheduled* slot plus the
 * interval (never "time sent plus interval"), so a late send does not push later runs back and the
 * schedule never drifts. Intervals measure real elapsed time, also across DST changes (Celery adds
 * wall-clock time instead, so its 1 h interval lasts 2 h at fall-back: a deliberate difference).
 */
import type { IntervalSchedule } from './types.js';
import { zoneOffsets } from '../time/zone.js';
import type { ZoneOffsets } from '../time/zone.js';
import { mustAdvance, spendSteps, withStepBudget } from '../base/step-budget.js';

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
 * The slot after `slotMs`. A plain interval adds it: exactly one interval of elapsed time later.
 *
 * A relative one (Celery's `relative=True`) is truncated to its unit (day, hour or minute) on the
 * zone's wall clock. The rule (docs/schedules.md, "Relative intervals"):
 *
 * - the target is the slot plus the interval, whole days added on the calendar (so a daily entry
 *   stays at local midnight across DST changes) and the rest in elapsed time;
 * - the next slot is the first *start of a unit* strictly after the slot that is at or after the
 *   target truncated to its unit, that is, the latest unit start at or before the target when that
 *   is after the slot, and otherwise the first unit start after the slot.
 *
 * A unit starts where the wall clock reads a whole unit (01:00:00 for an hour, each time it reads
 * it: both passes of a repeated hour), or at the end of a DST gap that skipped the unit's first
 * instant (02:30 when 02:00 never happens). Truncation alone can fall back onto the slot itself
 * (a 30-minute fall-back repeats half an hour: 01:00+11:00 plus an hour is 01:30+10:30, truncated
 * to 01:00+11:00), which is why the rule asks for a start after the slot: a slot always moves on.
 */
export function followingSlot(schedule: IntervalSchedule, zone: string, slotMs: number): number {
  const unit = schedule.relative ? relativeUnit(schedule.everyMs) : undefined;
  if (unit === undefined) return slotMs + schedule.everyMs;
  const offsets = zoneOffsets(zone);
  const unitMs = UNIT_MS[unit];
  const days = Math.floor(schedule.everyMs / DAY);
  const rest = schedule.everyMs - days * DAY;
  const target = (days === 0 ? slotMs : plusCalendarDays(offsets, slotMs, days)) + rest;
  const truncated = lastUnitStartAtOrBefore(offsets, unitMs, target);
  return truncated > slotMs ? truncated : firstUnitStartAfter(offsets, unitMs, slotMs);
}

const mod = (a: number, m: number): number => ((a % m) + m) % m;

/**
 * `days` calendar days after `ms`: the same wall time that many days later (Celery adds wall-clock
 * days). A wall time that happens twice takes the pass with the slot's offset if it has one, else
 * the first; one in a gap the end of the gap.
 */
function plusCalendarDays(offsets: ZoneOffsets, ms: number, days: number): number {
  const wall = ms + offsets.offsetMs(ms) + days * DAY;
  const instants = offsets.instantsOfWall(wall);
  if (instants.length === 0) return offsets.gapEndOfWall(wall);
  const same = instants.find((t) => offsets.offsetMs(t) === offsets.offsetMs(ms));
  return same ?? (instants[0] as number);
}

/** True when a unit starts at `t` (see followingSlot): the wall clock reads a whole unit, or `t` ends a gap that skipped one. */
function isUnitStart(offsets: ZoneOffsets, unitMs: number, t: number): boolean {
  const offset = offsets.offsetMs(t);
  const wall = t + offset;
  if (mod(wall, unitMs) === 0) return true;
  const before = offsets.offsetMs(t - 1);
  // The clock jumped at t from wall t - 1 + before to wall t + offset: the wall times in between
  // never happen, and the unit that t is in started among them when its whole-unit time did.
  return before < offset && wall - mod(wall, unitMs) >= t + before;
}

/** How far the searches below look at once: a unit (a day at most) and any DST change fit in it. */
const UNIT_SEARCH_SPAN_MS = 3 * DAY;

/** The first unit start strictly after `afterMs`. */
function firstUnitStartAfter(offsets: ZoneOffsets, unitMs: number, afterMs: number): number {
  for (let from = afterMs + 1; ; from += UNIT_SEARCH_SPAN_MS) {
    spendSteps();
    const to = from + UNIT_SEARCH_SPAN_MS;
    const pieces = offsets.segments(from, to);
    for (let i = 0; i < pieces.length; i++) {
      const { start, offset } = pieces[i] as { start: number; offset: number };
      const end = i + 1 < pieces.length ? (pieces[i + 1] as { start: number }).start : to + 1;
      if (isUnitStart(offsets, unitMs, start)) return start;
      // The first whole-unit wall time in the piece, read with its offset.
      const grid = start + offset + mod(-(start + offset), unitMs) - offset;
      if (grid < end) return grid;
    }
  }
}

/** The last unit start at or before `ms`. */
function lastUnitStartAtOrBefore(offsets: ZoneOffsets, unitMs: number, ms: number): number {
  for (let to = ms; ; to -= UNIT_SEARCH_SPAN_MS) {
    spendSteps();
    const from = to - UNIT_SEARCH_SPAN_MS;
    const pieces = offsets.segments(from, to);
    for (let i = pieces.length - 1; i >= 0; i--) {
      const { start, offset } = pieces[i] as { start: number; offset: number };
      const last = i + 1 < pieces.length ? (pieces[i + 1] as { start: number }).start - 1 : to;
      const grid = last + offset - mod(last + offset, unitMs) - offset;
      if (grid >= start) return grid;
      if (isUnitStart(offsets, unitMs, start)) return start;
    }
  }
}

/**
 * The next `count` slots strictly after `afterMs`, on the grid through `anchorMs` (the last slot
 * that ran, or, for an entry with no history, the moment it was first seen: as in Celery, a new
 * entry waits one full interval). Each slot is checked to be after the one before (mustAdvance):
 * a slot that does not move on is an error, never a loop.
 */
export function nextIntervalFires(schedule: IntervalSchedule, zone: string, anchorMs: number, afterMs: number, count: number): number[] {
  return withStepBudget(
    () => `the next runs of ${describeInterval(schedule)} in ${zone}`,
    () => {
      const out: number[] = [];
      let slot = afterMs > anchorMs ? lastSlotAtOrBefore(schedule, zone, anchorMs, afterMs) : anchorMs;
      // Each turn gives a slot (the first may be at or before afterMs): `count` bounds them.
      while (out.length < count) {
        const next = followingSlot(schedule, zone, slot);
        mustAdvance(next, slot, () => `${describeInterval(schedule)} in ${zone}`);
        slot = next;
        if (slot > afterMs) out.push(slot);
      }
      return out;
    },
  );
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
  // A slot on the unit's wall grid advances by the whole units of the interval (a 2.5 h interval
  // steps 2 h) — but only while the zone's offset stays the same: a DST change moves the grid or the
  // length of a day. So the walk jumps across each stretch of constant offset and takes the steps
  // that meet a change one at a time. A slot off the wall grid (the anchor, or a unit that starts at
  // the end of a DST gap, 02:30 for a skipped 02:00) takes its step one at a time too.
  const unitMs = UNIT_MS[unit];
  const step = Math.floor(everyMs / unitMs) * unitMs;
  const offsets = zoneOffsets(zone);
  let slot = anchorMs;
  for (;;) {
    spendSteps();
    if (mod(slot + offsets.offsetMs(slot), unitMs) === 0) {
      const horizon = slot + Math.min(untilMs - slot + everyMs, MAX_JUMP_SPAN_MS);
      const pieces = offsets.segments(slot, horizon);
      // The step from s is plain arithmetic when the offset is constant over [s, s + every].
      const constantUntil = pieces.length > 1 ? (pieces[1] as { start: number }).start - 1 : horizon;
      const byOffset = constantUntil - everyMs - slot >= 0 ? Math.floor((constantUntil - everyMs - slot) / step) + 1 : 0;
      const jump = Math.min(byOffset, Math.floor((untilMs - slot) / step));
      if (jump > 0) slot += jump * step;
    }
    const next = followingSlot(schedule, zone, slot);
    mustAdvance(next, slot, () => `${describeInterval(schedule)} in ${zone}`);
    if (next > untilMs) return slot;
    slot = next;
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
