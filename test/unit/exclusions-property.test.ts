/**
 * Exclusions held to an independent enumeration: every slot of the schedule minus those whose
 * local date, wall time or weekday (read with Intl.DateTimeFormat, not src/time/) an exclusion
 * names. Random schedules, zones with DST (Lord Howe's half hour, Chatham's 45-minute offset,
 * Sao Paulo's former midnight transitions), random dates, ranges, cron patterns and calendars,
 * from a seeded generator (the seed is in the test name, so a failure can be replayed).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { entryWindow } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { nextFires, planDue } from '../../src/core/schedule.js';
import { ScheduleError } from '../../src/base/step-budget.js';
import { problemsOf } from '../support/config-problems.js';
import { prng } from '../support/prng.js';

const DAY = 86_400_000;
const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/Sao_Paulo', 'Asia/Kolkata', 'UTC'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

interface Local {
  date: string;
  wall: string;
  hour: number;
  weekday: number;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function local(zone: string, ms: number): Local {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    });
    formats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  const date = `${p['year']}-${p['month']}-${p['day']}`;
  return { date, wall: `${date}T${p['hour']}:${p['minute']}`, hour: Number(p['hour']), weekday: WEEKDAYS.indexOf(p['weekday'] ?? '') };
}

/** A UTC date text `days` after 1970-01-01. */
const dayText = (days: number): string => new Date(days * DAY).toISOString().slice(0, 10);

interface Case {
  zone: string;
  schedule: unknown;
  exclude: unknown[];
  calendar: string[];
  /** The oracle's view of each exclusion. */
  dates: Set<string>;
  dateRanges: Array<[string, string]>;
  wallRanges: Array<[string, string]>;
  cron: { hours: Set<number>; weekdays: Set<number> } | undefined;
  fromMs: number;
  toMs: number;
}

function makeCase(rand: () => number): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const zone = pick(ZONES);
  const schedules: Array<() => unknown> = [
    () => ({ cron: `${int(0, 59)} ${int(0, 23)} * * *` }),
    () => ({ cron: `30 2 * * *` }),
    () => ({ cron: `*/${pick([7, 15, 30])} * * * *` }),
    () => ({ cron: `${int(0, 59)} */${pick([2, 3, 5])} * * *` }),
    () => ({ timedelta: { minutes: int(13, 180) } }),
  ];
  const schedule = pick(schedules)();
  // Around the year's transitions (March/April, September to November) more often than not.
  const firstDay = Math.floor(Date.UTC(2026, 0, 1) / DAY) + pick([int(0, 330), int(60, 100), int(250, 310)]);
  const spanDays = int(10, 40);
  const inSpan = (): number => firstDay + int(-1, spanDays + 1);
  const dates = new Set<string>();
  const dateRanges: Array<[string, string]> = [];
  const wallRanges: Array<[string, string]> = [];
  const exclude: unknown[] = [];
  const calendar: string[] = [];
  for (let i = int(0, 4); i > 0; i -= 1) {
    const d = dayText(inSpan());
    dates.add(d);
    exclude.push(d);
  }
  for (let i = int(0, 3); i > 0; i -= 1) {
    const d = dayText(inSpan());
    dates.add(d);
    calendar.push(d);
  }
  if (calendar.length > 0) exclude.push(rand() < 0.5 ? 'days-off' : { calendar: 'days-off' });
  for (let i = int(0, 2); i > 0; i -= 1) {
    const from = inSpan();
    const to = from + int(0, 4);
    dateRanges.push([dayText(from), dayText(to)]);
    exclude.push({ from: dayText(from), to: dayText(to) });
  }
  if (rand() < 0.5) {
    const day = dayText(inSpan());
    const h1 = int(0, 22);
    const from = `${day}T${String(h1).padStart(2, '0')}:${pick(['00', '30'])}`;
    const to = `${dayText(Date.parse(`${day}T00:00Z`) / DAY + int(0, 2))}T${String(int(h1 + 1, 23)).padStart(2, '0')}:15`;
    wallRanges.push([from, to]);
    exclude.push({ from, to });
  }
  let cron: Case['cron'];
  if (rand() < 0.5) {
    const h1 = int(0, 20);
    const h2 = int(h1, 23);
    const days = [int(0, 6), int(0, 6)];
    cron = { hours: new Set(Array.from({ length: h2 - h1 + 1 }, (_, k) => h1 + k)), weekdays: new Set(days) };
    const line = `* ${h1}-${h2} * * ${days.join(',')}`;
    exclude.push(rand() < 0.5 ? line : { cron: line });
  }
  return {
    zone,
    schedule,
    exclude,
    calendar,
    dates,
    dateRanges,
    wallRanges,
    cron,
    fromMs: firstDay * DAY,
    toMs: (firstDay + spanDays) * DAY,
  };
}

function excludedByOracle(c: Case, ms: number): boolean {
  const at = local(c.zone, ms);
  if (c.dates.has(at.date)) return true;
  if (c.dateRanges.some(([from, to]) => at.date >= from && at.date <= to)) return true;
  if (c.wallRanges.some(([from, to]) => at.wall >= from && at.wall < to)) return true;
  return c.cron !== undefined && c.cron.hours.has(at.hour) && c.cron.weekdays.has(at.weekday);
}

function entryOf(c: Case, withExclusions: boolean): ResolvedEntry {
  const config = parseConfig(
    {
      timezone: c.zone,
      calendars: c.calendar.length > 0 ? { 'days-off': c.calendar } : {},
      beatSchedule: { e: { task: 't', schedule: c.schedule, ...(withExclusions ? { exclude: c.exclude } : {}) } },
    },
    'test',
  );
  return config.entries[0] as ResolvedEntry;
}

/** Every fire in (fromMs, toMs], asked in small batches as the runner does. */
function enumerate(entry: ResolvedEntry, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  let after = fromMs;
  for (;;) {
    const batch = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs: fromMs, window: entryWindow(entry) }, 3);
    for (const t of batch) {
      if (t > toMs) return out;
      out.push(t);
    }
    const last = batch[batch.length - 1];
    if (last === undefined) return out;
    after = last;
  }
}

describe('exclusions against an independent enumeration', () => {
  const seed = Number(process.env['EXCLUSIONS_SEED'] ?? 36_2026);
  it(`random schedules, zones and exclusions (seed ${seed})`, () => {
    const rand = prng(seed);
    let compared = 0;
    let removed = 0;
    for (let i = 0; i < 60; i += 1) {
      const c = makeCase(rand);
      const all = enumerate(entryOf(c, false), c.fromMs, c.toMs);
      const expected = all.filter((t) => !excludedByOracle(c, t));
      const entry = entryOf(c, true);
      const label = JSON.stringify({ zone: c.zone, schedule: c.schedule, exclude: c.exclude, calendar: c.calendar, from: c.fromMs });
      expect(enumerate(entry, c.fromMs, c.toMs), label).toEqual(expected);
      // After downtime with catchUp "all": exactly the same slots run, and none counts as missed.
      const plan = planDue(
        { schedule: entry.schedule, zone: entry.timezone, catchUp: 'all', catchUpWindowMs: undefined, window: entryWindow(entry) },
        c.fromMs,
        c.toMs,
        { graceMs: 0, maxSlots: 1_000_000 },
      );
      expect(plan.slots, label).toEqual(expected);
      expect(plan.missed, label).toBe(0);
      compared += all.length;
      removed += all.length - expected.length;
    }
    // The generator must actually exclude something, or the comparison proves nothing.
    expect(removed).toBeGreaterThan(compared / 50);
  });

  it('a range that starts inside the hour the clock turns back over keeps the repeated slots before its start', () => {
    const c: Case = {
      zone: 'Europe/Berlin',
      schedule: { cron: '*/5 * * * *' },
      exclude: [{ from: '2026-10-25T02:15', to: '2026-10-25T04:00' }],
      calendar: [],
      dates: new Set(),
      dateRanges: [],
      wallRanges: [['2026-10-25T02:15', '2026-10-25T04:00']],
      cron: undefined,
      fromMs: Date.parse('2026-10-24T23:00:00Z'),
      toMs: Date.parse('2026-10-25T04:00:00Z'),
    };
    const expected = enumerate(entryOf(c, false), c.fromMs, c.toMs).filter((t) => !excludedByOracle(c, t));
    // 02:00, 02:05 and 02:10 twice (CEST, then CET), with nothing else between 02:10 CEST and 04:00 CET.
    expect(expected.filter((t) => local(c.zone, t).hour === 2)).toHaveLength(6);
    expect(enumerate(entryOf(c, true), c.fromMs, c.toMs)).toEqual(expected);
  });

  it("an exclusion that covers every slot spends the call's step budget and says so (SCHEDULE_BUDGET) instead of looping", () => {
    const config = parseConfig({ beatSchedule: { e: { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['* * * * *'] } } }, 'test');
    const entry = config.entries[0] as ResolvedEntry;
    const started = performance.now();
    let caught: unknown;
    try {
      nextFires(entry.schedule, { zone: 'UTC', afterMs: 0, window: entryWindow(entry) }, 1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ScheduleError);
    expect((caught as ScheduleError).code).toBe('SCHEDULE_BUDGET');
    expect((caught as ScheduleError).message).toMatch(/at 09:00 every day.*took more than 25,000 steps/);
    // Bounded: well under the seconds the scan took before it had a budget (CI machines are slow: a wide margin).
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('exclude and calendars: refusals', () => {
  it('names the place and the fix', () => {
    const problems = problemsOf({
      calendars: { 'holidays-de': ['2026-12-25', 'other'] },
      beatSchedule: {
        a: {
          task: 't',
          schedule: 60,
          exclude: ['2026-02-30', { from: '2026-01-02', to: '2026-01-01' }, '1 2 3', { cron: '* * * * *', from: '2026-01-01' }],
        },
      },
    });
    expect(problems).toEqual([
      expect.stringMatching(/^calendars\.holidays-de\[1\]: a calendar cannot name another calendar/),
      'beatSchedule.a.exclude[0]: "2026-02-30" is not a real date',
      'beatSchedule.a.exclude[1].to: to "2026-01-01" must be after from "2026-01-02"',
      expect.stringMatching(/^beatSchedule\.a\.exclude\[2\]: "1 2 3" is not a date \(YYYY-MM-DD\), a calendar name or a crontab line: /),
      expect.stringMatching(/^beatSchedule\.a\.exclude\[3\]: give exactly one form/),
    ]);
    expect(
      problemsOf({ calendars: { ok: ['2026-12-25'] }, beatSchedule: { a: { task: 't', schedule: 60, exclude: ['holidays'] } } }),
    ).toEqual(['beatSchedule.a.exclude[0]: unknown calendar "holidays"; the config\'s calendars are ok']);
  });
});
