/**
 * Several specs per entry (issue 71): the union of their instants, checked against a brute-force
 * reference on random cases around the DST transitions of the zones the DST oracle uses
 * (cron-dst-oracle.test.ts). The reference knows nothing of unions: it walks each spec alone, one
 * instant per call (each form is checked against its own oracle elsewhere), counts an interval's
 * grid by arithmetic from 1970-01-01T00:00Z, merges, and drops what the exclusions cover, read
 * from the wall clock with Intl. The seed is fresh each run and printed in the title
 * (UNION_SEED=... reruns one).
 */
import { describe, expect, it } from 'vitest';
import { currentEntryLimits, parseEntryDefinition, setEntryLimits } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { entryWindow } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { describeSchedule, nextFires, planDue } from '../../src/core/schedule.js';
import { nextSolarEvent } from '../../src/core/solar.js';
import type { SolarEvent } from '../../src/core/types.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { problemsOf } from '../support/config-problems.js';
import { int, pick, prng } from '../support/prng.js';
import type { Rand } from '../support/prng.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The zones of the DST oracle (cron-dst-oracle.test.ts). */
const ZONES = [
  'America/New_York',
  'Europe/London',
  'Europe/Berlin',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/Santiago',
  'America/Havana',
  'Antarctica/Troll',
  'Asia/Kolkata',
  'UTC',
];
const CASES = 10_000;

const formats = new Map<string, Intl.DateTimeFormat>();
/** The wall date and hour at `ms` in `zone`, read with Intl (not through src/time). */
function wall(zone: string, ms: number): { date: string; hour: number } {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
    });
    formats.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(ms).map((x) => [x.type, x.value]));
  return { date: `${p['year']}-${p['month']}-${p['day']}`, hour: Number(p['hour']) };
}

/** Instants where `zone`'s offset changes in (fromMs, toMs), found by scanning hourly then bisecting. */
function transitions(zone: string, fromMs: number, toMs: number): number[] {
  const offset = (ms: number): string => new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).format(ms);
  const out: number[] = [];
  for (let t = fromMs; t < toMs; t += 6 * HOUR) {
    if (offset(t) === offset(t + 6 * HOUR)) continue;
    let [lo, hi] = [t, t + 6 * HOUR];
    while (hi - lo > 60_000) {
      const mid = lo + Math.floor((hi - lo) / 2 / 60_000) * 60_000;
      if (offset(mid) === offset(lo)) lo = mid;
      else hi = mid;
    }
    out.push(hi);
  }
  return out;
}

const YEAR = [Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1)] as const;
const TRANSITIONS = new Map(ZONES.map((zone) => [zone, transitions(zone, YEAR[0], YEAR[1])]));

interface Spec {
  /** As a user writes it. */
  readonly input: unknown;
  /** For an interval: its length; the reference counts its grid by arithmetic. */
  readonly everyMs?: number;
  /** For a solar spec: its event, searched day by day. */
  readonly solar?: { readonly event: SolarEvent; readonly lat: number; readonly lon: number };
}

function spec(r: Rand, zone: string, centerMs: number): Spec {
  const two = (n: number): string => String(n).padStart(2, '0');
  switch (int(r, 0, 9)) {
    case 0:
      return { input: { cron: `${int(r, 0, 59)} ${int(r, 0, 23)} * * *` } };
    case 1:
      // The hazards: the hour the spring change skips and the autumn one repeats, in most zones.
      return { input: { cron: `${pick(r, [0, 15, 30, 45])} ${pick(r, [0, 1, 2, 3])} * * *` } };
    case 2:
      return { input: { cron: `${int(r, 0, 59)} */${int(r, 1, 6)} * * *` } };
    case 3:
      return {
        input: {
          crontab: {
            minute: pick(r, [0, 30]),
            hour: `${int(r, 0, 11)}-${int(r, 12, 23)}`,
            dayOfWeek: pick(r, ['mon-fri', 'sat,sun', '*']),
          },
        },
      };
    case 4:
    case 5: {
      const everyMs = pick(r, [15, 30, 60, 90, int(r, 7, 600)]) * 60_000;
      return { input: { timedelta: { minutes: everyMs / 60_000 } }, everyMs };
    }
    case 6:
      return { input: { rrule: `FREQ=DAILY;BYHOUR=${int(r, 0, 23)};BYMINUTE=${pick(r, [0, 20, 40])}` } };
    case 7: {
      // An instant in the window, as a wall time of the entry's zone (one in a gap moves to its end).
      const at = centerMs + int(r, -30, 30) * HOUR;
      const w = wall(zone, at);
      return { input: { clocked: `${w.date}T${two(w.hour)}:${two(int(r, 0, 59))}:00` } };
    }
    case 8: {
      const solar = { event: pick(r, ['sunrise', 'sunset', 'solar_noon'] as const), lat: int(r, -50, 50), lon: int(r, -170, 170) };
      return { input: { solar }, solar };
    }
    default:
      // The same instants twice over: a repeated spec, or an hourly cron beside an hourly interval.
      return pick(r, [{ input: { cron: '0 * * * *' } }, { input: 3600, everyMs: HOUR }]);
  }
}

interface Case {
  readonly zone: string;
  readonly specs: readonly Spec[];
  readonly excludeDates: readonly string[];
  readonly fromMs: number;
  readonly toMs: number;
}

function makeCase(r: Rand): Case {
  const zone = pick(r, ZONES);
  const found = TRANSITIONS.get(zone) ?? [];
  const center = found.length > 0 && r() < 0.85 ? pick(r, found) : YEAR[0] + int(r, 0, 364) * DAY;
  const specs = Array.from({ length: int(r, 2, 4) }, () => spec(r, zone, center));
  const fromMs = center - int(r, 6, 30) * HOUR - int(r, 0, 59) * 60_000;
  const toMs = center + int(r, 6, 30) * HOUR;
  const excludeDates = r() < 0.3 ? [wall(zone, center + int(r, -30, 30) * HOUR).date] : [];
  return { zone, specs, excludeDates, fromMs, toMs };
}

function entryOf(c: Case): ResolvedEntry {
  // Whole days only: an hour excluded could leave a spec no instant ever, and the union none after
  // the window, which nextFires rightly refuses after its step budget (schedule-cost.ts).
  const exclude = c.excludeDates;
  const config = parseConfig(
    {
      timezone: c.zone,
      beatSchedule: { e: { task: 't', schedule: c.specs.map((s) => s.input), ...(exclude.length > 0 ? { exclude } : {}) } },
    },
    'test',
  );
  return config.entries[0] as ResolvedEntry;
}

/** One spec alone, one instant per call, in (fromMs, toMs]. */
function walkAlone(s: Spec, zone: string, fromMs: number, toMs: number): number[] {
  const out: number[] = [];
  if (s.everyMs !== undefined) {
    for (let t = (Math.floor(fromMs / s.everyMs) + 1) * s.everyMs; t <= toMs; t += s.everyMs) out.push(t);
    return out;
  }
  if (s.solar !== undefined) {
    // A solar spec in a union searches each event from the start of its UTC day (docs/schedules.md).
    const { event, lat, lon } = s.solar;
    for (let day = Math.floor(fromMs / DAY) * DAY; day <= toMs; day += DAY) {
      for (let t = nextSolarEvent(event, lat, lon, day - 1); t !== null && t < day + DAY; t = nextSolarEvent(event, lat, lon, t))
        if (t > fromMs && t <= toMs) out.push(t);
    }
    return out;
  }
  const config = parseConfig({ timezone: zone, beatSchedule: { e: { task: 't', schedule: s.input } } }, 'test');
  const schedule = (config.entries[0] as ResolvedEntry).schedule;
  for (let after = fromMs; ;) {
    const next = nextFires(schedule, { zone, afterMs: after }, 1)[0];
    if (next === undefined || next > toMs) return out;
    out.push(next);
    after = next;
  }
}

/** The union's instants in (fromMs, toMs] less the excluded days, and how many instants two specs shared. */
function reference(c: Case): { expected: number[]; shared: number } {
  const alone = c.specs.map((s) => walkAlone(s, c.zone, c.fromMs, c.toMs));
  const all = new Set(alone.flat());
  const expected = [...all].filter((t) => !c.excludeDates.includes(wall(c.zone, t).date)).sort((a, b) => a - b);
  return { expected, shared: alone.flat().length - all.size };
}

/** The union's instants in (fromMs, toMs], asked in batches of `batch` with `anchorMs` as the runner passes its cursor. */
function enumerate(entry: ResolvedEntry, fromMs: number, toMs: number, batch: number, anchorMs: number): number[] {
  const out: number[] = [];
  for (let after = fromMs; ;) {
    const fires = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs, window: entryWindow(entry) }, batch);
    for (const t of fires) {
      if (t > toMs) return out;
      out.push(t);
    }
    const last = fires[fires.length - 1];
    if (last === undefined || fires.length < batch) return out;
    after = last;
  }
}

describe('a union of specs against a brute-force reference', () => {
  const seed = Number(process.env['UNION_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  it(`${CASES.toLocaleString('en-US')} random unions around DST changes in the DST oracle's zones: 0 mismatches (seed ${seed})`, () => {
    const r = prng(seed);
    let mismatches = 0;
    let shared = 0;
    let instants = 0;
    const first: string[] = [];
    for (let i = 0; i < CASES; i += 1) {
      const c = makeCase(r);
      const entry = entryOf(c);
      const { expected, shared: sharedHere } = reference(c);
      // The instants two specs share: the cases must have some for "one run" to be tested.
      shared += sharedHere;
      instants += expected.length;
      // Any anchor: the union's instants do not depend on which spec ran last.
      const anchor = pick(r, [c.fromMs, expected[0] ?? c.fromMs, c.fromMs - int(r, 1, 10_000_000)]);
      const got = enumerate(entry, c.fromMs, c.toMs, pick(r, [1, 2, 3, 7, 256]), anchor);
      // After downtime with catchUp "all", exactly those slots run, once each.
      const plan = planDue(
        { schedule: entry.schedule, zone: entry.timezone, catchUp: 'all', catchUpWindowMs: undefined, window: entryWindow(entry) },
        c.fromMs,
        c.toMs,
        { graceMs: 0, maxSlots: 1_000_000 },
      );
      if (JSON.stringify(got) !== JSON.stringify(expected) || JSON.stringify(plan.slots) !== JSON.stringify(expected)) {
        mismatches += 1;
        if (first.length < 3) first.push(JSON.stringify({ zone: c.zone, specs: c.specs.map((s) => s.input), from: c.fromMs, to: c.toMs }));
      }
    }
    expect(first, `first mismatches (seed ${seed})`).toEqual([]);
    expect(mismatches).toBe(0);
    // The generator must make instants, and instants two specs share, or the comparison proves little.
    expect(instants).toBeGreaterThan(CASES * 5);
    expect(shared).toBeGreaterThan(CASES / 20);
  }, 600_000);
});

/** One entry `e` with this schedule, in Europe/Berlin. */
const berlin = (schedule: unknown): ResolvedEntry =>
  parseConfig({ timezone: 'Europe/Berlin', beatSchedule: { e: { task: 't', schedule } } }, 'test').entries[0] as ResolvedEntry;
const refused = (schedule: unknown): string[] => problemsOf({ beatSchedule: { e: { task: 't', schedule } } });
const WEEKDAYS_AND_WEEKENDS = [{ cron: '0 9 * * mon-fri' }, { crontab: { minute: 0, hour: 12, dayOfWeek: 'sat,sun' } }];

describe('several specs per entry', () => {
  it('weekdays at 09:00 and weekends at 12:00 are one entry, described spec by spec', () => {
    const entry = berlin(WEEKDAYS_AND_WEEKENDS);
    expect(entry.schedule.kind).toBe('union');
    expect(describeSchedule(entry.schedule, entry.timezone)).toMatchInlineSnapshot(`"at 09:00 on Mon–Fri; at 12:00 on Sat and Sun"`);
    // Friday 2026-11-27 to Monday 2026-11-30, Berlin (UTC+1).
    const fires = nextFires(entry.schedule, { zone: entry.timezone, afterMs: Date.UTC(2026, 10, 27, 0) }, 4);
    expect(fires.map((t) => new Date(t).toISOString())).toEqual([
      '2026-11-27T08:00:00.000Z',
      '2026-11-28T11:00:00.000Z',
      '2026-11-29T11:00:00.000Z',
      '2026-11-30T08:00:00.000Z',
    ]);
  });

  it('two specs that fire at the same instant make one run, once due', () => {
    const entry = berlin([{ cron: '0 9 * * *' }, { cron: '0 9 * * mon-fri' }, { cron: '0 9 27 11 *' }]);
    const nine = Date.UTC(2026, 10, 27, 8);
    const plan = planDue(
      { schedule: entry.schedule, zone: entry.timezone, catchUp: 'all', catchUpWindowMs: undefined },
      nine - HOUR,
      nine + 1000,
      {
        graceMs: 2000,
        maxSlots: 100,
      },
    );
    expect(plan.slots).toEqual([nine]);
    expect(plan.nextSlotMs).toBe(nine + DAY);
  });

  it('an interval in a list runs on its grid from 1970, whichever spec ran last', () => {
    const entry = berlin([{ timedelta: { minutes: 90 } }, { cron: '10 * * * *' }]);
    const after = Date.UTC(2026, 10, 27, 0, 0);
    const fromCron = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs: after + 10 * 60_000 }, 4);
    const fromOld = nextFires(entry.schedule, { zone: entry.timezone, afterMs: after, anchorMs: 12_345 }, 4);
    expect(fromCron).toEqual(fromOld);
    expect(fromCron.map((t) => new Date(t).toISOString().slice(11, 16))).toEqual(['00:10', '01:10', '01:30', '02:10']);
  });

  it('a list of one is the plain form', () => {
    expect(berlin([{ cron: '0 9 * * *' }]).schedule).toEqual(berlin({ cron: '0 9 * * *' }).schedule);
    expect(berlin([300]).schedule).toEqual(berlin(300).schedule);
  });

  it('refuses an empty list, naming the place and the fix', () => {
    expect(refused([])).toEqual([
      'beatSchedule.e.schedule: an empty list of schedules never fires: give at least one schedule, or remove the entry',
    ]);
  });

  it(`refuses a list of more than entryLimits.maxSpecs (default ${DEFAULTS.maxSpecs}) specs, naming the setting`, () => {
    const many = (n: number): unknown[] => Array.from({ length: n }, (_, i) => ({ cron: `${i % 60} ${Math.floor(i / 60) % 24} * * *` }));
    expect(berlin(many(DEFAULTS.maxSpecs)).schedule.kind).toBe('union');
    expect(refused(many(DEFAULTS.maxSpecs + 1))).toEqual([
      `beatSchedule.e.schedule: a schedule may list at most ${DEFAULTS.maxSpecs} specs (entryLimits.maxSpecs), got ${DEFAULTS.maxSpecs + 1}: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to ${DEFAULTS.maxSpecsCeiling})`,
    ]);
    // The setting lowers and raises it, up to its ceiling.
    const withMax = (maxSpecs: number, n: number): unknown => ({
      entryLimits: { maxSpecs },
      beatSchedule: { e: { task: 't', schedule: many(n) } },
    });
    expect(problemsOf(withMax(2, 3))).toEqual([
      'beatSchedule.e.schedule: a schedule may list at most 2 specs (entryLimits.maxSpecs), got 3: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to 256)',
    ]);
    expect(parseConfig(withMax(40, 40), 'test').entries[0]?.schedule.kind).toBe('union');
    expect(problemsOf(withMax(DEFAULTS.maxSpecsCeiling, DEFAULTS.maxSpecsCeiling + 1))).toEqual([
      'beatSchedule.e.schedule: a schedule may list at most 256 specs (entryLimits.maxSpecs), got 257: split the entry, or say the instants with one rrule',
    ]);
    for (const bad of [0, 2.5, DEFAULTS.maxSpecsCeiling + 1, '4']) {
      expect(problemsOf({ entryLimits: { maxSpecs: bad }, beatSchedule: {} })).toEqual([
        'entryLimits.maxSpecs: entryLimits.maxSpecs must be a whole number of specs from 1 to 256',
      ]);
    }
  });

  it('refuses a runtime entry whose list is longer than the limits set (setEntryLimits), at its schedule', () => {
    const before = currentEntryLimits();
    try {
      setEntryLimits({ ...before, maxSpecs: 2 });
      const three = { task: 't', schedule: [{ cron: '0 9 * * *' }, { cron: '0 12 * * *' }, { cron: '0 15 * * *' }] };
      expect(parseEntryDefinition(three)).toEqual({
        ok: false,
        problems: [
          {
            path: 'schedule',
            message:
              'a schedule may list at most 2 specs (entryLimits.maxSpecs), got 3: split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to 256)',
          },
        ],
      });
      setEntryLimits({ ...before, maxSpecs: 3 });
      expect(parseEntryDefinition(three).ok).toBe(true);
    } finally {
      setEntryLimits(before);
    }
  });

  it('refuses a spec that never fires at its index, so a union that never fires is refused', () => {
    expect(refused([{ cron: '0 9 30 2 *' }, { rrule: { freq: 'yearly', bymonth: 2, bymonthday: 30 } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[0].cron: can never run: February has no day 30",
        "beatSchedule.e.schedule[1].rrule: this rule never fires, or less often than once in 100 years (check its by… parts against each other, and against interval and dtstart)",
      ]
    `);
    expect(refused([{ cron: '0 9 * * *' }, { crontab: { dayOfMonth: 31, monthOfYear: 'feb' } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1].crontab.dayOfMonth: can never run: February has no day 31",
      ]
    `);
  });

  it('refuses a bad spec in a list at its index, and what is no list and no schedule as before', () => {
    expect(refused([{ cron: '0 9 * * *' }, 'daily'])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1]: expected a number of seconds, an object with one of: timedelta, crontab, cron, solar, clocked, rrule, or a list of them",
      ]
    `);
    expect(refused([{ cron: '0 9 * * *' }, { cron: '0 9 * * *', crontab: { hour: 9 } }])).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule[1]: give only one of crontab, cron; a schedule has exactly one form",
      ]
    `);
    expect(refused('daily')).toMatchInlineSnapshot(`
      [
        "beatSchedule.e.schedule: expected a number of seconds, an object with one of: timedelta, crontab, cron, solar, clocked, rrule, or a list of them",
      ]
    `);
  });

  it('refuses relative: true with an interval in a list, pointing to a cron line', () => {
    expect(
      problemsOf({ beatSchedule: { e: { task: 't', relative: true, schedule: [{ timedelta: { hours: 2 } }, { cron: '0 9 * * *' }] } } }),
    ).toEqual([
      'beatSchedule.e.relative: relative: true truncates an interval to its unit, which an interval in a list of schedules cannot be: say the instants with a cron line instead ({ cron: "0 */2 * * *" } for every 2 hours on the hour), or drop relative',
    ]);
    expect(
      parseConfig({ beatSchedule: { e: { task: 't', relative: true, schedule: [{ cron: '0 9 * * *' }, { cron: '0 12 * * *' }] } } }, 'test')
        .entries[0]?.schedule.kind,
    ).toBe('union');
  });
});
