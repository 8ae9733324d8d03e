/**
 * rrule schedules. The recurrence against Python's dateutil.rrule (the reference the `rrule` package
 * ports), on seeded random rules written as RFC 5545 text, parsed by our config schema: the wall
 * times after a random instant must be dateutil's, also years after dtstart (where tsbeat moves the
 * start forward instead of walking there). Then the DST policy, the named hazards, and the rules
 * refused at load.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { rruleSchema } from '../../src/config/rrule-schema.js';
import { parseConfig } from '../../src/config/load.js';
import { RRule, Weekday } from 'rrule';
import { dayTest, nextRRuleFires, rruleWallTimes } from '../../src/core/rrule.js';
import type { RRuleSpec } from '../../src/core/rrule.js';
import { formatInstant } from '../../src/time/zone.js';
import { int, pick, prng } from '../support/prng.js';
import type { Rand } from '../support/prng.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../support/rrule_reference.py', import.meta.url));

const some = (r: Rand, lo: number, hi: number, max: number, signed = false): number[] => {
  const out = new Set<number>();
  for (let i = int(r, 1, max); i > 0; i--) out.add((signed && r() < 0.3 ? -1 : 1) * int(r, lo, hi));
  return [...out];
};

const FREQS = ['YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY'] as const;
const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;
const iso = (ms: number): string => new Date(ms).toISOString().slice(0, 19);

interface Case {
  readonly rule: string;
  readonly dtstart: string;
  readonly after: string;
  readonly count: number;
}

/** A random rule in RFC 5545 text, built here (not by the code under test). */
function randomCase(r: Rand): Case {
  const freq = pick(r, r() < 0.75 ? FREQS.slice(0, 4) : FREQS);
  const parts = [`FREQ=${freq}`];
  if (r() < 0.4) parts.push(`INTERVAL=${int(r, 2, freq === 'SECONDLY' || freq === 'MINUTELY' ? 90 : 5)}`);
  if (r() < 0.1) parts.push(`COUNT=${int(r, 5, 400)}`);
  if (r() < 0.2) parts.push(`WKST=${pick(r, DAYS)}`);
  if ((freq === 'YEARLY' || freq === 'MONTHLY') && r() < 0.5) parts.push(`BYMONTH=${some(r, 1, 12, 4).join(',')}`);
  if (r() < 0.35) parts.push(`BYMONTHDAY=${some(r, 1, 28, 3, true).join(',')}`);
  else if (r() < 0.4) {
    const nth = freq === 'YEARLY' || freq === 'MONTHLY';
    parts.push(
      `BYDAY=${some(r, 0, 6, 3)
        .map((d) => `${nth && r() < 0.4 ? pick(r, [1, 2, -1, 3]) : ''}${DAYS[d]}`)
        .join(',')}`,
    );
  } else if (freq === 'YEARLY' && r() < 0.3) parts.push(`BYYEARDAY=${some(r, 1, 365, 3, true).join(',')}`);
  // eslint-disable-next-line no-dupe-else-if -- r() draws again: a second, independent chance
  else if (freq === 'YEARLY' && r() < 0.3) parts.push(`BYWEEKNO=${some(r, 1, 52, 2, true).join(',')}`);
  if (r() < 0.5) parts.push(`BYHOUR=${some(r, 0, 23, 3).join(',')}`);
  if (r() < 0.5) parts.push(`BYMINUTE=${some(r, 0, 59, 2).join(',')}`);
  if (r() < 0.2) parts.push(`BYSECOND=${some(r, 0, 59, 2).join(',')}`);
  if (r() < 0.1 && (freq === 'MONTHLY' || freq === 'WEEKLY' || freq === 'YEARLY')) parts.push(`BYSETPOS=${pick(r, [1, -1, 2])}`);
  const start = Date.UTC(2018, 0, 1) + int(r, 0, 8 * 365) * 86_400_000 + int(r, 0, 86_399) * 1000;
  // Mostly long after the start (tsbeat moves the start forward), sometimes just after it. dateutil
  // walks every period from the start, so short periods get a shorter reach (it must answer in 1 s).
  const reachDays = { SECONDLY: 1, MINUTELY: 30, HOURLY: 2 * 365 }[freq as string] ?? 12 * 365;
  const after = start + int(r, 0, (r() < 0.8 ? reachDays : Math.min(reachDays, 40)) * 86_400) * 1000;
  return { rule: parts.join(';'), dtstart: iso(start), after: iso(after), count: 6 };
}

type Reference = { readonly walls: string[] } | { readonly error: string } | { readonly hang: true };

const r = prng(0x7217e);
const CASES: Case[] = Array.from({ length: 400 }, () => randomCase(r));
let answers: Reference[] = [];

beforeAll(() => {
  const probe = spawnSync(PYTHON, [SCRIPT, '--probe'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    throw new Error(`${SCRIPT} needs Python's dateutil: apt-get install python3-dateutil (bash .ci/run installs it). ${probe.stderr}`);
  }
  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(CASES), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (exit ${String(run.status)}): ${run.stderr}`);
  answers = JSON.parse(run.stdout) as Reference[];
  expect(answers).toHaveLength(CASES.length);
});

describe('rrule recurrence against dateutil.rrule', () => {
  it("gives dateutil's wall times after a random instant for 400 random rules, or refuses the rule at load when dateutil finds none", () => {
    const problems: string[] = [];
    let compared = 0;
    CASES.forEach((c, i) => {
      const ref = answers[i] as Reference;
      const parsed = rruleSchema.safeParse(`DTSTART:${c.dtstart.replace(/[-:]/g, '')}\nRRULE:${c.rule}`);
      const label = `${c.rule} from ${c.dtstart} after ${c.after}`;
      if (!parsed.success) {
        // Refused at load: dateutil must refuse it too, or find nothing.
        const none = 'error' in ref || 'hang' in ref || ref.walls.length === 0;
        if (!none) problems.push(`${label}: refused (${parsed.error.issues[0]?.message}), dateutil has ${JSON.stringify(ref)}`);
        return;
      }
      if (!('walls' in ref)) {
        problems.push(`${label}: accepted, dateutil has ${JSON.stringify(ref)}`);
        return;
      }
      const ours = rruleWallTimes(parsed.data, Date.parse(`${c.after}Z`) + 1, Number.MAX_SAFE_INTEGER, c.count).map(iso);
      compared += 1;
      if (JSON.stringify(ours) !== JSON.stringify(ref.walls))
        problems.push(`${label}: ours ${ours.join(' ')} | dateutil ${ref.walls.join(' ')}`);
    });
    expect(problems.slice(0, 5)).toEqual([]);
    // Most generated rules are valid: the comparison is not vacuous.
    expect(compared).toBeGreaterThan(300);
  });
});

type DayFilters = { -readonly [K in keyof RRuleSpec]?: RRuleSpec[K] };

/** The days from `from` through `to` that dayTest accepts, and those the package's daily rule gives, as ISO dates (undefined: no day test). */
function daysBoth(filters: DayFilters, from: Date, to: number): { ours: string[]; theirs: string[] } | undefined {
  const accepts = dayTest({ freq: 'hourly', interval: 1, dtstartWall: from.getTime(), ...filters });
  if (accepts === undefined) return undefined;
  const ours: string[] = [];
  for (let day = from.getTime(); day <= to; day += 86_400_000) if (accepts(day)) ours.push(new Date(day).toISOString().slice(0, 10));
  const theirs = new RRule(
    {
      freq: RRule.DAILY,
      dtstart: from,
      until: new Date(to),
      ...(filters.bymonth === undefined ? {} : { bymonth: filters.bymonth as number[] }),
      ...(filters.bymonthday === undefined ? {} : { bymonthday: filters.bymonthday as number[] }),
      ...(filters.byyearday === undefined ? {} : { byyearday: filters.byyearday as number[] }),
      ...(filters.byweekday === undefined ? {} : { byweekday: filters.byweekday.map((d) => new Weekday(d.weekday, d.n)) }),
    },
    true,
  )
    .all()
    .map((d) => d.toISOString().slice(0, 10));
  return { ours, theirs };
}

describe("an hourly, minutely or secondly rule's days, tested one by one", () => {
  it("accepts exactly the days the package's daily rule gives, for 60 random day filters over random spans of up to two years (the package takes ~0.1 s a span)", () => {
    const r = prng(0xda7);
    const problems: string[] = [];
    let accepted = 0;
    for (let i = 0; i < 60; i++) {
      const filters: DayFilters = {};
      // Filters that some day meets: the package searches one that none does until the year 9999
      // (seconds). So a day of the month is at most 28 when the months are chosen, and a day of the
      // year goes without months.
      if (r() < 0.5) filters.bymonth = some(r, 1, 12, 4);
      if (r() < 0.5) filters.bymonthday = some(r, 1, filters.bymonth === undefined ? 31 : 28, 3, true);
      else if (filters.bymonth === undefined && r() < 0.6) filters.byyearday = some(r, 1, 365, 3, true);
      // An nth weekday counts as its weekday in a daily rule, as dateutil's does (freq > MONTHLY).
      if (r() < 0.5) filters.byweekday = some(r, 0, 6, 3).map((weekday) => (r() < 0.3 ? { weekday, n: pick(r, [1, -1, 2]) } : { weekday }));
      if (Object.keys(filters).length === 0) filters.bymonthday = [int(r, -31, -1)];
      const from = new Date(0);
      from.setUTCFullYear(int(r, 1970, 2100), int(r, 0, 11), int(r, 1, 28));
      const to = Math.min(from.getTime() + int(r, 30, 2 * 366) * 86_400_000, Date.UTC(9999, 11, 31));
      const both = daysBoth(filters, from, to);
      if (both === undefined) {
        problems.push(`${JSON.stringify(filters)}: no day test`);
        continue;
      }
      accepted += both.ours.length;
      if (JSON.stringify(both.ours) !== JSON.stringify(both.theirs))
        problems.push(
          `${JSON.stringify(filters)} from ${from.toISOString()}: ours ${both.ours.slice(0, 6).join(' ')} | package ${both.theirs.slice(0, 6).join(' ')}`,
        );
    }
    expect(problems.slice(0, 5)).toEqual([]);
    expect(accepted).toBeGreaterThan(200);
  });

  // The edges a random draw rarely meets: the first and last days of leap and common years (2000 is
  // a leap year, 1900 and 2100 are not), the days of February from its end, a span before 1970
  // (negative times) and one that ends on the last day the schedules reach.
  it.each([
    ['the first and last days of the year, around 2000', { byyearday: [1, -1, 366, -366] }, '1999-06-01', '2001-07-01'],
    ['the first and last days of the year, around 2100', { byyearday: [1, -1, 366, -366] }, '2099-06-01', '2101-07-01'],
    ['February from both ends, 1900 (common)', { bymonth: [2], bymonthday: [28, 29, -1, -28, -29] }, '1899-12-01', '1900-04-01'],
    ['February from both ends, 2000 (leap)', { bymonth: [2], bymonthday: [28, 29, -1, -28, -29] }, '1999-12-01', '2000-04-01'],
    ['February from both ends, 2100 (common)', { bymonth: [2], bymonthday: [28, 29, -1, -28, -29] }, '2099-12-01', '2100-04-01'],
    ['Mondays on the 13th, before 1970', { bymonthday: [13], byweekday: [{ weekday: 0 }] }, '1960-01-01', '1969-12-31'],
    ['the last day of each month, to the end of 9999', { bymonthday: [-1] }, '9998-01-01', '9999-12-31'],
  ] as const)("accepts the package's days: %s", (_label, filters, fromDate, toDate) => {
    const both = daysBoth(filters, new Date(`${fromDate}T00:00:00Z`), Date.parse(`${toDate}T00:00:00Z`));
    expect(both?.ours.length).toBeGreaterThan(0);
    expect(both?.ours).toEqual(both?.theirs);
  });

  it('leaves a week-number filter to the package', () => {
    expect(dayTest({ freq: 'hourly', interval: 1, dtstartWall: 0, byweekno: [1] })).toBeUndefined();
  });
});

const spec = (text: string): RRuleSpec => rruleSchema.parse(text);
const fires = (text: string, zone: string, after: string, count: number): string[] =>
  nextRRuleFires(spec(text), zone, Date.parse(after), count).map((t) => formatInstant(t, zone));

describe('rrule wall times in a zone: the crontab DST policy', () => {
  it('a daily 02:30 runs once at 03:00 on the day 02:30 does not exist (fixed job, Europe/Berlin spring forward)', () => {
    expect(fires('FREQ=DAILY;BYHOUR=2;BYMINUTE=30', 'Europe/Berlin', '2027-03-27T00:00:00Z', 3)).toEqual([
      '2027-03-27T02:30:00+01:00',
      '2027-03-28T03:00:00+02:00',
      '2027-03-29T02:30:00+02:00',
    ]);
  });

  it('a daily 02:30 runs once, in the first pass, on the day 02:30 happens twice (fixed job, fall back)', () => {
    expect(fires('FREQ=DAILY;BYHOUR=2;BYMINUTE=30', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T02:30:00+02:00',
      '2026-10-26T02:30:00+01:00',
    ]);
  });

  it('two daily wall times in one gap merge into one run at the gap end', () => {
    expect(fires('FREQ=DAILY;BYHOUR=2;BYMINUTE=15,45', 'Europe/Berlin', '2027-03-28T00:00:00Z', 2)).toEqual([
      '2027-03-28T03:00:00+02:00',
      '2027-03-29T02:15:00+02:00',
    ]);
  });

  it('every 15 minutes skips the wall times that do not exist and runs the repeated ones in both passes (wildcard job)', () => {
    expect(fires('FREQ=MINUTELY;INTERVAL=15', 'Europe/Berlin', '2027-03-28T00:40:00Z', 3)).toEqual([
      '2027-03-28T01:45:00+01:00',
      '2027-03-28T03:00:00+02:00',
      '2027-03-28T03:15:00+02:00',
    ]);
    expect(fires('FREQ=MINUTELY;INTERVAL=30', 'Europe/Berlin', '2026-10-25T00:10:00Z', 4)).toEqual([
      '2026-10-25T02:30:00+02:00',
      '2026-10-25T02:00:00+01:00',
      '2026-10-25T02:30:00+01:00',
      '2026-10-25T03:00:00+01:00',
    ]);
  });

  it('reads the wall times in the zone: the last Friday of the month at 17:00 in New York', () => {
    expect(
      fires('DTSTART:20260101T000000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=17', 'America/New_York', '2026-11-01T00:00:00Z', 2),
    ).toEqual(['2026-11-27T17:00:00-05:00', '2026-12-25T17:00:00-05:00']);
  });

  it('runs out after COUNT occurrences and after UNTIL', () => {
    expect(fires('DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;COUNT=3', 'UTC', '2026-01-01T00:00:00Z', 5)).toEqual([
      '2026-01-05T09:00:00+00:00',
      '2026-01-12T09:00:00+00:00',
      '2026-01-19T09:00:00+00:00',
    ]);
    expect(fires('DTSTART:20260105T090000\nRRULE:FREQ=DAILY;UNTIL=20260107T090000', 'UTC', '2026-01-05T12:00:00Z', 5)).toEqual([
      '2026-01-06T09:00:00+00:00',
      '2026-01-07T09:00:00+00:00',
    ]);
  });
});

describe('rrule schedules in a config', () => {
  const problems = (schedule: unknown): string[] => {
    try {
      parseConfig({ beatSchedule: { e: { task: 't', schedule } } }, 'rrule.test');
      return [];
    } catch (error) {
      return (error as { problems: { path: string; message: string }[] }).problems.map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('accepts the text and the object form alike', () => {
    const a = parseConfig({ beatSchedule: { e: { task: 't', schedule: { rrule: 'FREQ=WEEKLY;BYDAY=MO,-1FR;BYHOUR=9' } } } }, 'rrule.test');
    const b = parseConfig(
      { beatSchedule: { e: { task: 't', schedule: { rrule: { freq: 'weekly', byday: ['MO', { weekday: 'FR', n: -1 }], byhour: 9 } } } } },
      'rrule.test',
    );
    expect(a.entries[0]?.schedule).toEqual(b.entries[0]?.schedule);
  });

  it('refuses rules that never fire instead of searching for ever: February 30th, an interval that never meets its weekday or its hours', () => {
    expect(problems({ rrule: { freq: 'yearly', bymonth: 2, bymonthday: 30 } })).toEqual([
      expect.stringMatching(/^beatSchedule\.e\.schedule\.rrule: this rule never fires/),
    ]);
    expect(problems({ rrule: { freq: 'daily', interval: 7, dtstart: '2026-01-05', byweekday: 'TU' } })).toHaveLength(1);
    expect(problems({ rrule: 'FREQ=HOURLY;INTERVAL=2;BYHOUR=1,3' })).toHaveLength(1);
    expect(problems({ rrule: 'FREQ=SECONDLY;INTERVAL=60;BYSECOND=30' })).toHaveLength(1);
  });

  it('names each bad part with its path and the allowed values', () => {
    expect(problems({ rrule: 'FREQ=FORTNIGHTLY;BYHOUR=25' })).toEqual([
      'beatSchedule.e.schedule.rrule.freq: freq must be one of yearly, monthly, weekly, daily, hourly, minutely, secondly',
      'beatSchedule.e.schedule.rrule.byhour: byhour must be a whole number within 0..23, got 25',
    ]);
    expect(problems({ rrule: { freq: 'daily', dtstart: '2026-01-01T09:00:00Z' } })).toEqual([
      'beatSchedule.e.schedule.rrule.dtstart: dtstart "2026-01-01T09:00:00Z": give a wall time without an offset: it is read in the entry\'s timezone (set `timezone` on the entry for another zone)',
    ]);
    expect(problems({ rrule: { freq: 'daily', byday: ['MO', 'XX'] } })).toEqual([
      expect.stringMatching(/^beatSchedule\.e\.schedule\.rrule\.byweekday\[1\]: "XX": a weekday is/),
    ]);
    expect(problems({ rrule: { freq: 'daily', dtstart: '2026-02-30' } })).toEqual([
      expect.stringMatching(/dtstart "2026-02-30": not a real date/),
    ]);
    expect(problems({ rrule: { freq: 'daily', dtstart: '2026-03-01', until: '2026-02-01' } })).toEqual([
      'beatSchedule.e.schedule.rrule.until: until is before dtstart: the rule would never fire',
    ]);
  });
});
