/**
 * Fire instants of a cron spec in a time zone, with the DST policy of cron-semantics.md §4
 * (cronie's behaviour, except that several slots in one gap merge into one run):
 *
 * | wall time           | fixed spec                              | wildcard spec        |
 * |---------------------|-----------------------------------------|----------------------|
 * | in a gap            | one run at the gap end (slots merge)    | skipped              |
 * | occurs twice        | first pass only                         | both passes          |
 *
 * Matching days are walked in local calendar order. On an ordinary day (the UTC offset is
 * constant from 26 h before its midnight to 26 h after its end) every wall time maps to exactly
 * one instant, `wall - offset`, monotonically, so the next slot is found with a few bit operations
 * on the spec's masks and nothing is expanded. Only days near a transition take the slow path,
 * which walks the day's constant-offset segments (transition instants exact to the second).
 */
import { BeatError, ErrorCode } from '../../base/errors.js';
import { DAY_MS, zoneOffsets, type ZoneOffsets } from '../../time/zone.js';
import { firstMatchingDay, type CronMasks, type CronSpec } from './spec.js';
import { spendSteps } from '../../base/step-budget.js';

/**
 * Two offsets of one zone differ by at most 26 h (-12:00 … +14:00), so a day whose offset is
 * constant over its local span widened by 26 h on each side owns every instant whose wall time
 * falls on it, and no other day's wall times (or gap ends) can land in that span.
 */
const MARGIN_MS = 26 * 3_600_000;
/** No zone's offset ever exceeded +16 h (historical LMT included): a lower bound for `wall - offset`. */
const MAX_OFFSET_MS = 16 * 3_600_000;
/** A full Gregorian cycle: if nothing fires in this many days, nothing ever will. */
const GIVE_UP_DAYS = 146_097 + 366;

/** Smallest value >= from in a 0-59 set held as two 32-bit masks, or -1. */
function nextIn60(low: number, high: number, from: number): number {
  if (from < 32) {
    const m = low & (-1 << from);
    if (m !== 0) return 31 - Math.clz32(m & -m);
    from = 32;
  }
  if (from < 60) {
    const m = high & (-1 << (from - 32));
    if (m !== 0) return 63 - Math.clz32(m & -m);
  }
  return -1;
}

function nextHour(hours: number, from: number): number {
  const m = from < 24 ? hours & (-1 << from) : 0;
  return m === 0 ? -1 : 31 - Math.clz32(m & -m);
}

/** The first slot (seconds after local midnight) at or after `sec`, or -1 if none is left today. */
function nextTimeOfDay(m: CronMasks, sec: number): number {
  if (sec >= 86_400) return -1;
  const h = Math.floor(sec / 3600);
  const min = Math.floor(sec / 60) % 60;
  let hour = nextHour(m.hours, h);
  if (hour < 0) return -1;
  if (hour === h) {
    let minute = nextIn60(m.minutesLow, m.minutesHigh, min);
    if (minute === min) {
      const second = nextIn60(m.secondsLow, m.secondsHigh, sec % 60);
      if (second >= 0) return h * 3600 + min * 60 + second;
      minute = nextIn60(m.minutesLow, m.minutesHigh, min + 1);
    }
    if (minute >= 0) return h * 3600 + minute * 60 + nextIn60(m.secondsLow, m.secondsHigh, 0);
    hour = nextHour(m.hours, h + 1);
    if (hour < 0) return -1;
  }
  return hour * 3600 + nextIn60(m.minutesLow, m.minutesHigh, 0) * 60 + nextIn60(m.secondsLow, m.secondsHigh, 0);
}

/**
 * Adds a candidate after `afterMs` (once) to `out`; true when `out` holds `count`. A function of its
 * own, not a closure made per call: the bundle names every closure it makes (esbuild's keepNames,
 * scripts/bundle.mjs), which was 3 % of a burst of 100,000 first runs.
 */
function pushFire(out: number[], t: number, afterMs: number, count: number): boolean {
  if (t > afterMs && out[out.length - 1] !== t) out.push(t);
  return out.length === count;
}

/**
 * The next `count` fire instants (epoch ms) strictly after `afterMs`, ascending, without
 * duplicates. Throws RangeError for an unknown zone and BeatError(SCHEDULE_IMPOSSIBLE) when the
 * spec never fires (parsers reject such specs, except the zone-dependent case where every
 * matching wall time falls in a DST gap).
 */
export function nextCronFires(spec: CronSpec, zone: string, afterMs: number, count: number): number[] {
  if (!Number.isFinite(afterMs)) throw new RangeError(`afterMs must be a finite number, got ${afterMs}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a whole number >= 0, got ${count}`);
  const out: number[] = [];
  if (count === 0) return out;
  const m = spec.masks;
  const z = zoneOffsets(zone);
  /** Slow-day candidates, sorted; they may interleave across neighbouring slow days. */
  const pending: number[] = [];
  // Start a day early: after a backward jump, wall times of the previous day can still lie ahead.
  let day = Math.floor((afterMs + z.offsetMs(afterMs)) / DAY_MS) - 1;
  let progressDay = day;
  let found = 0;
  for (;;) {
    spendSteps();
    const next = firstMatchingDay(spec, day);
    if (next === undefined) throw never(spec, zone, 'no calendar day matches it');
    day = next;
    const s = day * DAY_MS; // local midnight, as wall-as-UTC ms
    // Nothing from this day or later can precede s - MAX_OFFSET_MS: those candidates are final.
    let flushed = 0;
    while (flushed < pending.length && (pending[flushed] as number) < s - MAX_OFFSET_MS) {
      if (pushFire(out, pending[flushed++] as number, afterMs, count)) return out;
    }
    pending.splice(0, flushed);
    const o = z.offsetMs(s - z.offsetMs(s));
    if (z.isConstant(s - o - MARGIN_MS, s + DAY_MS - o + MARGIN_MS)) {
      // Ordinary day: all earlier candidates precede it, all later ones follow it.
      for (const t of pending) if (pushFire(out, t, afterMs, count)) return out;
      pending.length = 0;
      const from = afterMs - (s - o);
      for (let t = nextTimeOfDay(m, from < 0 ? 0 : Math.floor(from / 1000) + 1); t >= 0; t = nextTimeOfDay(m, t + 1)) {
        if (pushFire(out, s + t * 1000 - o, afterMs, count)) return out;
      }
    } else {
      transitionDay(m, spec.fixed, z, s, afterMs, count - out.length, pending);
    }
    if (out.length + pending.length > found) {
      found = out.length + pending.length;
      progressDay = day;
    } else if (day - progressDay > GIVE_UP_DAYS) {
      throw never(spec, zone, 'every matching wall time falls in a DST gap, and it is not a fixed-time schedule');
    }
    day++;
  }
}

/**
 * A day near a UTC-offset transition: its window is cut into constant-offset segments, walked in
 * real-time order. Within a segment, wall time and real time move together; at a forward jump a
 * fixed spec fires at the jump instant if any of the day's skipped wall times is a slot; after a
 * backward jump a fixed spec ignores wall times it has already passed. Candidates come out in
 * increasing order, so the walk stops once they can no longer be among the next `need`.
 */
function transitionDay(m: CronMasks, fixed: boolean, z: ZoneOffsets, s: number, afterMs: number, need: number, pending: number[]): void {
  const windowEnd = s + DAY_MS + MARGIN_MS;
  const segments = z.segments(s - MARGIN_MS, windowEnd);
  const dayEnd = s + DAY_MS;
  /** Walls below this have been shown by the clock already (exclusive bound). */
  let seenUpTo = -Infinity;
  const full = (t: number): boolean => pending.length >= need && t > (pending[need - 1] as number);
  for (let i = 0; i < segments.length; i++) {
    const { start, offset } = segments[i] as { start: number; offset: number };
    const end = segments[i + 1]?.start ?? windowEnd;
    const prev = segments[i - 1];
    if (fixed && prev !== undefined && offset > prev.offset) {
      // Forward jump at `start`: walls [start + prev.offset, start + offset) never show.
      const lo = Math.max(start + prev.offset, s);
      const hi = Math.min(start + offset, dayEnd);
      if (lo < hi) {
        const slot = nextTimeOfDay(m, Math.ceil((lo - s) / 1000));
        if (slot >= 0 && s + slot * 1000 < hi) {
          if (full(start)) return;
          insert(pending, start, afterMs);
        }
      }
    }
    const lo = Math.max(start + offset, s, fixed ? seenUpTo : -Infinity);
    const hi = Math.min(end + offset, dayEnd);
    // Instants must be > afterMs: wall - offset > afterMs.
    const firstSec = Math.max(Math.ceil((lo - s) / 1000), Math.floor((afterMs + offset - s) / 1000) + 1);
    for (let t = nextTimeOfDay(m, firstSec < 0 ? 0 : firstSec); t >= 0 && s + t * 1000 < hi; t = nextTimeOfDay(m, t + 1)) {
      const instant = s + t * 1000 - offset;
      if (full(instant)) return;
      insert(pending, instant, afterMs);
    }
    if (end + offset > seenUpTo) seenUpTo = end + offset;
  }
}

function insert(sorted: number[], t: number, afterMs: number): void {
  if (t <= afterMs) return;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  if (sorted[lo] !== t) sorted.splice(lo, 0, t);
}

function never(spec: CronSpec, zone: string, why: string): BeatError {
  return new BeatError(ErrorCode.ScheduleImpossible, `schedule ${spec.source} never fires in ${zone}: ${why}`);
}
