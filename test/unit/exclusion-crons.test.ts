/**
 * The cron lines of an entry's `exclude` compiled into one matcher (core/exclusion-crons.ts, issue
 * 66): the same answers as reading each line in turn (the reading before the matcher, kept here as
 * the oracle), on random lines of every form (6-field, L, LW, nW, w#n, wL, both day rules) and
 * random wall times; and thousands of lines cost what they weigh: a scan over them spends its step
 * budget within milliseconds, where it took tens of seconds when every slot read every line.
 */
import { describe, expect, it } from 'vitest';
import { ScheduleError, stepsSpent, withStepBudget } from '../../src/base/step-budget.js';
import { parseCronLine } from '../../src/core/cron/parse-line.js';
import { monthMask } from '../../src/core/cron/spec.js';
import { CronExclusionSet } from '../../src/core/exclusion-crons.js';
import type { CronExclusion } from '../../src/core/exclusion-crons.js';
import { isExcluded } from '../../src/core/exclusions.js';
import type { Exclusions } from '../../src/core/exclusions.js';
import { nextFires } from '../../src/core/schedule.js';
import { civilFromDays, DAY_MS } from '../../src/time/zone.js';
import { prng } from '../support/prng.js';
import { problemsOf } from '../support/config-problems.js';
import { parseConfig } from '../../src/config/load.js';
import { entryWindow } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';

/** The reading of one line at a wall time, field by field, as exclusions.ts read every line before. */
function lineMatches(line: CronExclusion, wall: number): boolean {
  const m = line.spec.masks;
  const days = Math.floor(wall / DAY_MS);
  const tod = wall - days * DAY_MS;
  const hour = Math.floor(tod / 3_600_000);
  if (((m.hours >>> hour) & 1) === 0) return false;
  const minute = Math.floor(tod / 60_000) % 60;
  if (((minute < 32 ? m.minutesLow >>> minute : m.minutesHigh >>> (minute - 32)) & 1) === 0) return false;
  if (line.bySecond) {
    const second = Math.floor(tod / 1000) % 60;
    if (((second < 32 ? m.secondsLow >>> second : m.secondsHigh >>> (second - 32)) & 1) === 0) return false;
  }
  const { year, month, day } = civilFromDays(days);
  return ((monthMask(line.spec, year, month) >>> (day - 1)) & 1) === 1;
}

function randomLine(rand: () => number): CronExclusion {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const field = (lo: number, hi: number): string =>
    pick([
      '*',
      String(int(lo, hi)),
      `${int(lo, hi)}-${hi}`,
      `*/${int(2, 7)}`,
      `${int(lo, hi)},${int(lo, hi)}`,
      `${int(lo, Math.floor((lo + hi) / 2))}-${hi}/${int(2, 5)}`,
    ]);
  const dom = pick([field(1, 31), 'L', 'LW', `${int(1, 31)}W`, '*', '?']);
  const dow = pick([field(0, 6), `${int(0, 6)}#${int(1, 5)}`, `${int(0, 6)}L`, '*', 'mon-fri']);
  const bySecond = rand() < 0.4;
  const line = `${bySecond ? `${field(0, 59)} ` : ''}${field(0, 59)} ${field(0, 23)} ${dom} ${field(1, 12)} ${dow}`;
  try {
    return { spec: parseCronLine(line), bySecond };
  } catch {
    // A line that can never run is refused at parse time; draw another.
    return randomLine(rand);
  }
}

describe('cron exclusions compiled into one matcher', () => {
  const seed = Number(process.env['EXCLUSIONS_SEED'] ?? 66_2026);
  it(`answers as reading every line does, on random lines and wall times (seed ${seed})`, () => {
    const rand = prng(seed);
    let compared = 0;
    let matched = 0;
    for (let round = 0; round < 40; round += 1) {
      const lines = Array.from({ length: 1 + Math.floor(rand() * 8) }, () => randomLine(rand));
      const set = new CronExclusionSet(lines);
      // Days apart and within one day, forwards and back, months and years apart: each compiles anew or reuses.
      let wall = Date.UTC(2024 + Math.floor(rand() * 6), Math.floor(rand() * 12), 1 + Math.floor(rand() * 28));
      for (let i = 0; i < 400; i += 1) {
        const step = rand();
        wall +=
          step < 0.6 ? Math.floor(rand() * 600_000) : step < 0.9 ? Math.floor(rand() * 40 * DAY_MS) : -Math.floor(rand() * 400 * DAY_MS);
        const expected = lines.find((line) => lineMatches(line, wall));
        const until = withStepBudget(
          () => 'the test',
          () => set.excludedUntil(wall),
        );
        const label = `${lines.map((l) => l.spec.source).join(' | ')} at ${new Date(wall).toISOString()}`;
        expect(until !== undefined, label).toBe(expected !== undefined);
        if (until !== undefined) {
          // The end of the minute a 5-field line names, else of the second a 6-field line does.
          const byMinute = lines.some((line) => !line.bySecond && lineMatches(line, wall));
          expect(until, label).toBe(byMinute ? wall - (wall % 60_000) + 60_000 : wall - (wall % 1000) + 1000);
          matched += 1;
        }
        compared += 1;
      }
    }
    // Both answers must be common, or the comparison proves little.
    expect(matched).toBeGreaterThan(compared / 40);
    expect(matched).toBeLessThan(compared * 0.9);
  });

  it('charges the steps of each day it compiles by the lines it reads, not once per slot', () => {
    const lines = (n: number): CronExclusion[] =>
      Array.from({ length: n }, (_, i) => ({ spec: parseCronLine(`${i % 60} 3 29 2 *`), bySecond: false }));
    const spent = (set: CronExclusionSet, walls: number[]): number => {
      const before = stepsSpent();
      for (const wall of walls) set.excludedUntil(wall);
      return stepsSpent() - before;
    };
    const day = Date.UTC(2026, 10, 26);
    const minutes = Array.from({ length: 600 }, (_, i) => day + i * 60_000);
    const few = spent(new CronExclusionSet(lines(160)), minutes);
    const many = spent(new CronExclusionSet(lines(16_000)), minutes);
    // One day, compiled once: ten times the steps for a hundred times the lines, whatever the slots.
    expect(many).toBeGreaterThanOrEqual(few * 90);
    expect(spent(new CronExclusionSet(lines(16_000)), [day, day + 1000])).toBe(many);
  });

  it('a scan over 36,000 lines that exclude every slot but the next two minutes stops at its budget within milliseconds (it took tens of seconds)', () => {
    const now = Date.UTC(2026, 10, 26, 9, 0);
    // Lines that never meet the scan (February 29th), then three that leave the next two minutes only.
    const crons: CronExclusion[] = Array.from({ length: 36_000 }, (_, i) => ({
      spec: parseCronLine(`${i % 60} ${Math.floor(i / 60) % 24} 29 2 *`),
      bySecond: false,
    }));
    for (const line of ['* * 1-25,27-31 * *', '* 0-8,10-23 26 * *', '0,3-59 9 26 * *'])
      crons.push({ spec: parseCronLine(line), bySecond: false });
    const exclude: Exclusions = { spans: [], crons, words: ['36,003 lines'] };
    expect(isExcluded(exclude, 'UTC', now + 60_000)).toBe(false);
    expect(isExcluded(exclude, 'UTC', now + 120_000)).toBe(false);
    const schedule = { kind: 'cron', spec: parseCronLine('* * * * *') } as const;
    const started = performance.now();
    expect(nextFires(schedule, { zone: 'UTC', afterMs: now, window: { exclude } }, 2)).toEqual([now + 60_000, now + 120_000]);
    let caught: unknown;
    try {
      nextFires(schedule, { zone: 'UTC', afterMs: now + 120_000, window: { exclude } }, 1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ScheduleError);
    expect((caught as ScheduleError).code).toBe('SCHEDULE_BUDGET');
    // Some tens of milliseconds here; a wide margin for a loaded machine (it took 35-55 s).
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe("exclude's bound", () => {
  it('refuses an exclude or a calendar of more than 1,000 items, naming the place, the count and the fix; a calendar named twice counts once', () => {
    const lines = (n: number): string[] => Array.from({ length: n }, (_, i) => `${i % 60} ${Math.floor(i / 60) % 24} 29 2 *`);
    const fix =
      'at most 1,000 are allowed: join lines into one ("0 9 * * sat,sun" for two), a run of dates into a range, or name a calendar';
    expect(
      problemsOf({
        calendars: { big: lines(1001) },
        beatSchedule: { a: { task: 't', schedule: 60, exclude: lines(36_000) } },
      }),
    ).toEqual([`calendars.big: a calendar holds 1,001 items; ${fix}`, `beatSchedule.a.exclude: exclude holds 36,000 items; ${fix}`]);
    expect(() => parseConfig({ beatSchedule: { a: { task: 't', schedule: 60, exclude: lines(1000) } } }, 'test')).not.toThrow();
    const config = parseConfig(
      {
        calendars: { ok: lines(1000) },
        beatSchedule: { a: { task: 't', schedule: 60, exclude: ['ok', { calendar: 'ok' }, 'ok', '* 3 * * *'] } },
      },
      'test',
    );
    expect(entryWindow(config.entries[0] as ResolvedEntry)?.exclude?.crons).toHaveLength(1001);
  });
});
