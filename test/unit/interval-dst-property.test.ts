/**
 * Issue 54: every interval's next slot is strictly after the slot before it, in every zone Intl
 * knows, around every UTC-offset change from 1970 to 2037. A plain interval is exactly one interval
 * of elapsed time; a relative one (truncated to its unit on the wall clock) follows the rule of
 * docs/schedules.md ("Intervals across DST changes"): the first unit start after the slot that is at
 * or after the truncated target, so at most the interval plus the DST shifts crossed later.
 *
 * Intervals: 1 s, 1,800 s, 3,600 s, 3,601 s, 5,400 s and 86,400 s in every zone, and two more per
 * zone drawn (seeded, log-uniform) from 1 s to 2 days; each relative and not. Each walk starts off
 * the grid two intervals (or units) before the change and runs until two past it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { followingSlot, nextIntervalFires } from '../../src/core/interval.js';
import type { IntervalSchedule } from '../../src/core/types.js';
import { nextFires } from '../../src/core/schedule.js';
import { formatInstant, zoneOffsets } from '../../src/time/zone.js';
import { prng } from '../support/prng.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const FROM = Date.UTC(1970, 0, 1);
const TO = Date.UTC(2038, 0, 1);
/** No zone has two offset changes within 4 days (src/time/zone.ts): probing every 3 days sees each one. */
const PROBE_MS = 3 * D;
const LISTED_S = [1, 1800, 3600, 3601, 5400, 86_400];

/**
 * The system's tz database (TZif, 64-bit section) as a map of the zone's changes: each transition
 * with the UT offset after it, ms. Only a fast guide: Intl's (ICU's) own data decides (below).
 */
function tzifChanges(zone: string): { at: number; offset: number }[] | undefined {
  let data: Buffer;
  try {
    data = readFileSync(join('/usr/share/zoneinfo', zone));
  } catch {
    return undefined;
  }
  if (data.toString('latin1', 0, 4) !== 'TZif' || data[4] === 0) return undefined;
  const counts = (at: number) =>
    [0, 1, 2, 3, 4, 5].map((k) => data.readUInt32BE(at + 20 + 4 * k)) as [number, number, number, number, number, number];
  const [isut, isstd, leap, time, type, chars] = counts(0);
  const v2 = 44 + time * 5 + type * 6 + chars + leap * 8 + isstd + isut;
  const [, , , time2, type2] = counts(v2);
  const times = v2 + 44;
  const idx = times + time2 * 8;
  const types = idx + time2;
  const out: { at: number; offset: number }[] = [];
  for (let i = 0; i < time2; i++) {
    const at = Number(data.readBigInt64BE(times + 8 * i)) * 1000;
    const t = data[idx + i] as number;
    if (t < type2) out.push({ at, offset: data.readInt32BE(types + 6 * t) * 1000 });
  }
  return out;
}

/**
 * The instants where the zone's offset changes in [FROM, TO), exact to the second, as Intl has them
 * (zoneOffsets). Probing Intl every 3 days (no zone has two changes within 4 days, src/time/zone.ts)
 * costs seconds per zone, so the system's tz database guides it: Intl is probed every COARSE_MS and
 * around each change the database names, and every 3 days only through a stretch where the two
 * disagree (a zone the database lacks, or a tzdata release apart).
 */
function offsetChanges(zone: string): number[] {
  const offsets = zoneOffsets(zone);
  const found = new Set<number>();
  const scan = (from: number, to: number): void => {
    let before = offsets.offsetMs(from);
    for (let t = from; t < to; t += PROBE_MS) {
      const after = offsets.offsetMs(t + PROBE_MS);
      if (after !== before) for (const piece of offsets.segments(t, t + PROBE_MS).slice(1)) found.add(piece.start);
      before = after;
    }
  };
  const guide = tzifChanges(zone);
  if (guide === undefined) scan(FROM, TO);
  else {
    for (const { at } of guide)
      if (at >= FROM - PROBE_MS && at < TO + PROBE_MS)
        for (const piece of offsets.segments(at - PROBE_MS, at + PROBE_MS).slice(1)) found.add(piece.start);
    const expected = (t: number): number | undefined => {
      let offset: number | undefined;
      for (const { at, offset: o } of guide) if (at <= t) offset = o;
      return offset;
    };
    for (let t = FROM; t < TO; t += COARSE_MS) {
      const db = expected(t + COARSE_MS);
      if (db === undefined || db !== offsets.offsetMs(t + COARSE_MS)) scan(t, t + COARSE_MS);
    }
  }
  return [...found].filter((t) => t >= FROM && t < TO).sort((a, b) => a - b);
}
const COARSE_MS = 15 * D;

/** The unit a relative interval is truncated to (Celery's delta_resolution), none under a minute. */
function unitOf(everyMs: number): number | undefined {
  return everyMs >= D ? D : everyMs >= H ? H : everyMs >= MIN ? MIN : undefined;
}

/** The sum of the offset changes' sizes in (fromMs, toMs]. */
function shiftsBetween(zone: string, fromMs: number, toMs: number): number {
  const pieces = zoneOffsets(zone).segments(fromMs, toMs);
  let sum = 0;
  for (let i = 1; i < pieces.length; i++)
    sum += Math.abs((pieces[i] as { offset: number }).offset - (pieces[i - 1] as { offset: number }).offset);
  return sum;
}

const zones = ['UTC', ...Intl.supportedValuesOf('timeZone')];

describe('interval slots around every offset change, every zone, 1970-2037', () => {
  it(`covers every zone Intl knows (${zones.length}) and finds their changes`, () => {
    expect(zones.length).toBeGreaterThan(300);
    // Lord Howe's 30-minute shifts are there: the case of issue 54.
    expect(offsetChanges('Australia/Lord_Howe')).toContain(Date.parse('2025-04-05T15:00:00Z'));
  });

  it.each(zones.map((zone, i) => [zone, i] as const))(
    '%s: each next slot is after the last, one interval (or the rule) away',
    (zone, i) => {
      const r = prng(0x54_0000 + i);
      const drawn = [0, 1].map(() => Math.max(1, Math.round(Math.exp(r() * Math.log(2 * 86_400)))));
      const everies = [...LISTED_S, ...drawn].map((s) => s * S);
      const changes = offsetChanges(zone);
      let checked = 0;
      for (const change of changes)
        for (const everyMs of everies)
          for (const relative of [false, true]) {
            const schedule: IntervalSchedule = { kind: 'interval', everyMs, relative };
            const reach = 2 * Math.max(everyMs, (relative ? unitOf(everyMs) : undefined) ?? 0);
            // Off the grid on purpose: a first-seen anchor is anywhere.
            let slot = change - reach - Math.floor(r() * everyMs) - 1;
            while (slot <= change + reach) {
              const next = followingSlot(schedule, zone, slot);
              const label = `${zone} every ${everyMs / S} s${relative ? ' relative' : ''} from ${formatInstant(slot, zone)}: ${formatInstant(next, zone)}`;
              if (next <= slot) expect.fail(`${label} is not later`);
              if (!relative || unitOf(everyMs) === undefined) {
                if (next - slot !== everyMs) expect.fail(`${label} is not one interval later`);
              } else if (next - slot > everyMs + shiftsBetween(zone, slot, next)) {
                expect.fail(`${label} is more than the interval and the shifts between later`);
              }
              slot = next;
              checked += 1;
            }
          }
      expect(checked).toBeGreaterThanOrEqual(changes.length * everies.length * 2);
    },
  );
});

describe('Australia/Lord_Howe: the night DST ends (2025-04-06, clocks back 30 minutes at 02:00+11:00)', () => {
  const zone = 'Australia/Lord_Howe';
  const after = Date.parse('2025-04-05T12:30:00Z');
  const shown = (fires: number[]) => fires.map((ms) => formatInstant(ms, zone));

  it.each([3600, 3601])('a relative %i s interval moves on from 01:00+11:00 to 02:00+10:30, 1.5 h later (as Celery)', (seconds) => {
    const schedule: IntervalSchedule = { kind: 'interval', everyMs: seconds * S, relative: true };
    const fires = nextFires(schedule, { zone, afterMs: after }, 4);
    expect(shown(fires)).toEqual([
      '2025-04-06T00:00:00+11:00',
      '2025-04-06T01:00:00+11:00',
      '2025-04-06T02:00:00+10:30',
      '2025-04-06T03:00:00+10:30',
    ]);
  });

  it('after downtime across the change, the shortcut lands on the walked grid (lastSlotAtOrBefore equals the walk)', () => {
    const schedule: IntervalSchedule = { kind: 'interval', everyMs: 3600 * S, relative: true };
    const anchor = Date.parse('2025-03-01T00:17:00Z');
    const walked: number[] = [];
    for (let slot = anchor; walked.length < 3;) {
      slot = followingSlot(schedule, zone, slot);
      if (slot > Date.parse('2025-04-05T14:30:00Z')) walked.push(slot);
    }
    expect(shown(nextIntervalFires(schedule, zone, anchor, Date.parse('2025-04-05T14:30:00Z'), 3))).toEqual(shown(walked));
    expect(shown(walked)).toEqual(['2025-04-06T02:00:00+10:30', '2025-04-06T03:00:00+10:30', '2025-04-06T04:00:00+10:30']);
  });

  it('spring forward (2025-10-05, 02:00+10:30 to 02:30+11:00): the hour starts at the end of the gap, one real hour after 01:00', () => {
    const schedule: IntervalSchedule = { kind: 'interval', everyMs: 3600 * S, relative: true };
    const fires = nextFires(schedule, { zone, afterMs: Date.parse('2025-10-04T13:30:00Z') }, 3);
    expect(shown(fires)).toEqual(['2025-10-05T01:00:00+10:30', '2025-10-05T02:30:00+11:00', '2025-10-05T03:00:00+11:00']);
  });
});
