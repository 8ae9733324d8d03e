/**
 * nextIntervalFires after a gap (downtime, a long pause) against the definition: walking the slots
 * one by one with followingSlot from the anchor. Relative intervals are the hard case: each slot is
 * truncated to its unit in the entry's zone, so the shortcut must land on the walked grid, also
 * across DST changes, 30-minute shifts and zones off the hour.
 */
import { describe, expect, it } from 'vitest';
import { followingSlot, nextIntervalFires } from '../../src/core/interval.js';
import type { IntervalSchedule } from '../../src/core/types.js';
import { prng } from '../support/prng.js';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;

/** The definition: every slot from the anchor on, the first `count` of them after `afterMs`. */
function walked(schedule: IntervalSchedule, zone: string, anchorMs: number, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let slot = anchorMs;
  while (out.length < count) {
    slot = followingSlot(schedule, zone, slot);
    if (slot > afterMs) out.push(slot);
  }
  return out;
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('relative intervals keep their phase after downtime', () => {
  it('a 2.5 h relative interval anchored at 12:00 UTC fires at 18:00, 20:00, 22:00 after 17:30:01 (not 19, 21, 23)', () => {
    const schedule: IntervalSchedule = { kind: 'interval', everyMs: 9000 * S, relative: true };
    const anchor = Date.parse('2026-03-02T12:00:00Z');
    const fires = nextIntervalFires(schedule, 'UTC', anchor, Date.parse('2026-03-02T17:30:01Z'), 3);
    expect(fires.map(iso)).toEqual(['2026-03-02T18:00:00.000Z', '2026-03-02T20:00:00.000Z', '2026-03-02T22:00:00.000Z']);
  });

  const zones = [
    'UTC',
    'Europe/Berlin',
    'America/New_York',
    'Australia/Lord_Howe',
    'Asia/Kolkata',
    'Pacific/Chatham',
    'Antarctica/Troll',
    'America/Santiago',
    'Asia/Kathmandu',
  ];
  const everies = [
    // minute unit: 1 min to just under 1 h, whole and not
    () => MIN * (1 + Math.floor(r() * 59)) + (r() < 0.6 ? Math.floor(r() * MIN) : 0),
    // hour unit: 1 h to just under a day
    () => H * (1 + Math.floor(r() * 23)) + (r() < 0.6 ? Math.floor(r() * H) : 0),
    // day unit: 1 to 9 days, whole and not
    () => D * (1 + Math.floor(r() * 9)) + (r() < 0.6 ? Math.floor(r() * D) : 0),
    // sub-minute: no truncation
    () => S * (1 + Math.floor(r() * 59)) + Math.floor(r() * S),
  ];
  const r = prng(0x5eed19);

  it.each(Array.from({ length: 300 }, (_, i) => i))('random case %i equals the walk, relative and not', (i) => {
    const zone = zones[i % zones.length] as string;
    const everyMs = (everies[Math.floor(r() * everies.length)] as () => number)();
    const relative = r() < 0.8;
    const schedule: IntervalSchedule = { kind: 'interval', everyMs, relative };
    // Anchors across 2020-2030 (DST rules changed in some zones), off the grid on purpose.
    const anchor = Date.parse('2020-01-01T00:00:00Z') + Math.floor(r() * 10 * 365 * D);
    // Up to 600 slots of downtime, so the walk stays cheap.
    const after = anchor + Math.floor(r() * 600 * everyMs);
    const label = `${zone} every ${everyMs} ms${relative ? ' relative' : ''} anchor ${iso(anchor)} after ${iso(after)}`;
    expect(nextIntervalFires(schedule, zone, anchor, after, 4).map(iso), label).toEqual(walked(schedule, zone, anchor, after, 4).map(iso));
  });
});
