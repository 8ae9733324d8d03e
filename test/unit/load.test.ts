/**
 * The load a schedule makes (core/load.ts, control/entries-load.ts): runs per minute and per second
 * over a window, the busiest of each, and a bound on the work whatever the entries say.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { LoadCount } from '../../src/core/load-count.js';
import { entriesLoad, loadEntryOf, loadReport } from '../../src/control/entries-load.js';

const NOW = Date.parse('2026-11-25T10:00:30Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function entriesOf(beatSchedule: Record<string, unknown>, timezone = 'UTC') {
  return parseConfig({ timezone, beatSchedule }, 'load.test').entries.map((entry) => ({ entry }));
}

/** `count` entries of the same schedule, or of the schedule `of(i)` gives. */
function many(count: number, of: (i: number) => unknown): Record<string, unknown> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`e${i}`, { task: 't', schedule: of(i) }]));
}

describe('the load of entries', () => {
  it('3,000 entries at midnight make a peak of 3,000 in one second, and 3,000 spread over the day a peak under 10', async () => {
    const stacked = await entriesLoad(entriesOf(many(3000, () => ({ cron: '0 0 * * *' }))), NOW, DAY);
    expect(stacked.total).toBe(3000);
    expect(stacked.peakSecond).toEqual({ atMs: Date.parse('2026-11-26T00:00:00Z'), runs: 3000 });
    expect(stacked.peakMinute).toEqual({ atMs: Date.parse('2026-11-26T00:00:00Z'), runs: 3000 });
    // Distinct minutes and hours, as `H H * * *` hashes them: 1,440 minutes hold 3,000 runs at most 3 deep.
    const spread = await entriesLoad(entriesOf(many(3000, (i) => ({ cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *` }))), NOW, DAY);
    expect(spread.total).toBe(3000);
    expect(spread.peakSecond.runs).toBeLessThan(10);
    expect(spread.peakMinute.runs).toBeLessThan(10);
  });

  it('counts per minute from the minute of the window start, runs strictly after it and before its end', async () => {
    // Every 10 s, its grid counted from now (as beat next does): 10:00:40, 10:00:50, 10:01:00, …
    const load = await entriesLoad(entriesOf({ a: { task: 't', schedule: 10 } }), NOW, 5 * 60_000);
    expect(load.startMs).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(load.endMs).toBe(NOW + 5 * 60_000);
    // The first minute holds 10:00:40 and :50; the last, up to 10:05:30 exclusive, :00 :10 :20.
    expect(load.perMinute).toEqual([2, 6, 6, 6, 6, 3]);
    expect(load.total).toBe(29);
    expect(load.peakMinute).toEqual({ atMs: Date.parse('2026-11-25T10:01:00Z'), runs: 6 });
    expect(load.peakSecond).toEqual({ atMs: Date.parse('2026-11-25T10:00:40Z'), runs: 1 });
  });

  it('the horizon decides what is counted: an hourly entry makes 24 runs in a day and 168 in a week', async () => {
    const hourly = entriesOf({ a: { task: 't', schedule: { cron: '0 * * * *' } }, b: { task: 't', schedule: { cron: '0 0 * * 1' } } });
    const day = await entriesLoad(hourly, NOW, DAY);
    const week = await entriesLoad(hourly, NOW, 7 * DAY);
    expect(day.total).toBe(24);
    expect(day.perMinute).toHaveLength(24 * 60 + 1);
    expect(week.total).toBe(168 + 1);
    // Monday 2026-11-30 00:00: the weekly one beside the hourly one.
    expect(week.peakSecond).toEqual({ atMs: Date.parse('2026-11-30T00:00:00Z'), runs: 2 });
  });

  it("reads wall times in each entry's zone: midnight in Berlin and in New York are two peaks, not one", async () => {
    const entries = [
      ...entriesOf(
        many(5, () => ({ cron: '0 0 * * *' })),
        'Europe/Berlin',
      ),
      ...entriesOf(
        many(3, () => ({ cron: '0 0 * * *' })),
        'America/New_York',
      ),
    ];
    const load = await entriesLoad(entries, NOW, DAY);
    expect(load.peakSecond).toEqual({ atMs: Date.parse('2026-11-25T23:00:00Z'), runs: 5 });
    expect(load.total).toBe(8);
  });

  it('leaves out disabled entries, and counts an entry with maxRuns no further than its limit, without capping it', async () => {
    const entries = entriesOf({
      off: { task: 't', schedule: 60, enabled: false },
      three: { task: 't', schedule: 60, maxRuns: 3 },
    });
    expect(loadEntryOf(entries[0]!.entry)).toBeUndefined();
    const load = await entriesLoad(entries, NOW, HOUR);
    expect(load.total).toBe(3);
    expect(load.capped).toBe(0);
  });

  it('stops at its budget of fires whatever the entries say, and names the entries it capped', () => {
    const entries = entriesOf(many(10, () => 1));
    const count = new LoadCount(NOW, NOW + DAY, 100_000);
    for (const { entry } of entries) count.add(loadEntryOf(entry)!);
    const load = count.result();
    // 86,400 fires a day each: the first takes them all, the second the rest of the budget, eight are not counted.
    expect(load.total).toBe(100_000);
    expect(load.capped).toBe(9);
  });

  it('nothing to count: no runs, the peaks at the start with 0', async () => {
    const load = await entriesLoad([], NOW, HOUR);
    expect(loadReport(load)).toMatchObject({
      from: '2026-11-25T10:00:00.000Z',
      to: '2026-11-25T11:00:30.000Z',
      total: 0,
      peakMinute: { at: '2026-11-25T10:00:00.000Z', runs: 0 },
      peakSecond: { at: '2026-11-25T10:00:00.000Z', runs: 0 },
      capped: 0,
    });
  });
});

describe("the load from the runner's next runs", () => {
  it('counts the next run the runner holds and the fires on its grid after it, not the grid from now', async () => {
    const [every] = entriesOf({ a: { task: 't', schedule: 600 } });
    // Its runner's next run is 10:07:00: then 10:17, 10:27, … (a grid from now would be 10:10:30, 10:20:30, …).
    const load = await entriesLoad([{ entry: every!.entry, nextMs: Date.parse('2026-11-25T10:07:00Z') }], NOW, HOUR);
    expect(load.total).toBe(6);
    expect(load.perMinute[7]).toBe(1);
    expect(load.perMinute[17]).toBe(1);
    expect(load.perMinute[10]).toBe(0);
    // A next run past the window's end: nothing in it.
    const later = await entriesLoad([{ entry: every!.entry, nextMs: NOW + 2 * HOUR }], NOW, HOUR);
    expect(later.total).toBe(0);
  });
});
