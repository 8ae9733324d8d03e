/**
 * An independent brute-force oracle for the §4 DST policy, compared with nextCronFires.
 *
 * The oracle steps through real time minute by minute (UTC) and reads the local wall clock with
 * luxon directly (not through src/core/zone.ts). A wildcard spec fires at every instant whose wall
 * time matches. A fixed spec fires at a matching wall time only at its first real occurrence, and,
 * when the clock jumps forward, once at the jump instant if any skipped wall minute matched.
 * Transition days are found by scanning offsets, so the test follows the tz database.
 */
import { IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { nextCronFires, parseCeleryCrontab, parseCronLine } from '../../src/core/cron/index.js';
import type { CronSpec } from '../../src/core/cron/index.js';
import { formatInstant, gapEnd, isValidZone, localParts, offsetMinutes, wallToInstants } from '../../src/time/zone.js';
import type { WallTime } from '../../src/time/zone.js';

const MIN = 60_000;
const HOUR = 3_600_000;

// ---- a tiny matcher of its own (numbers, *, ranges, steps, lists), so the oracle shares no parsing code

interface OracleSpec {
  label: string;
  fixed: boolean;
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  dayOr: boolean;
  spec: CronSpec;
}

function expand(text: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [base = '', stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    let [lo, hi] = base === '*' ? [min, max] : base.split('-').map(Number);
    if (lo === undefined) throw new Error(`bad field ${text}`);
    if (hi === undefined) hi = stepText === undefined ? lo : max;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function fromLine(line: string): OracleSpec {
  const [m = '', h = '', dom = '', mon = '', dow = ''] = line.split(' ');
  return {
    label: `"${line}"`,
    fixed: !m.startsWith('*') && !h.startsWith('*'),
    minute: expand(m, 0, 59),
    hour: expand(h, 0, 23),
    dom: expand(dom, 1, 31),
    month: expand(mon, 1, 12),
    dow: new Set([...expand(dow, 0, 7)].map((d) => d % 7)),
    dayOr: !dom.startsWith('*') && !dow.startsWith('*'),
    spec: parseCronLine(line),
  };
}

function fromCelery(fields: Record<string, string | number>): OracleSpec {
  const f = (k: string): string => String(fields[k] ?? '*');
  const o = fromLine(`${f('minute')} ${f('hour')} ${f('dayOfMonth')} ${f('monthOfYear')} ${f('dayOfWeek')}`);
  const wild = (k: string): boolean => fields[k] === undefined || (typeof fields[k] === 'string' && f(k).startsWith('*'));
  return {
    ...o,
    label: `crontab(${JSON.stringify(fields)})`,
    fixed: !wild('minute') && !wild('hour'),
    dayOr: false,
    spec: parseCeleryCrontab(fields),
  };
}

/** Wall minutes since the epoch ("wall-as-UTC" / 60 000). */
function wallKey(zone: IANAZone, t: number): number {
  return Math.round((t + zone.offset(t) * MIN) / MIN);
}

function matches(o: OracleSpec, key: number): boolean {
  const d = new Date(key * MIN);
  const domOk = o.dom.has(d.getUTCDate());
  const dowOk = o.dow.has(d.getUTCDay());
  return (
    o.minute.has(d.getUTCMinutes()) &&
    o.hour.has(d.getUTCHours()) &&
    o.month.has(d.getUTCMonth() + 1) &&
    (o.dayOr ? domOk || dowOk : domOk && dowOk)
  );
}

interface Window {
  zone: string;
  start: number;
  end: number;
  /** Wall key of every minute in [start - 1 min, end). */
  keys: number[];
}

interface OracleRun {
  fires: number[];
  gapMatched: boolean;
  repeatMatched: boolean;
}

function runOracle(o: OracleSpec, w: Window): OracleRun {
  const fires: number[] = [];
  let gapMatched = false;
  let repeatMatched = false;
  let prev = w.keys[0] as number;
  let maxSeen = prev;
  for (let i = 1; i < w.keys.length; i++) {
    const t = w.start + (i - 1) * MIN;
    const key = w.keys[i] as number;
    let fire = false;
    for (let k = prev + 1; k < key; k++) {
      if (matches(o, k)) {
        gapMatched = true;
        if (o.fixed) fire = true;
      }
    }
    if (matches(o, key)) {
      if (key <= maxSeen) repeatMatched = true;
      if (!o.fixed || key > maxSeen) fire = true;
    }
    if (fire) fires.push(t);
    prev = key;
    if (key > maxSeen) maxSeen = key;
  }
  return { fires, gapMatched, repeatMatched };
}

/** Reads the wall clock with luxon at every minute of [start - 1 min, end). */
function makeWindow(zoneName: string, start: number, end: number): Window {
  const zone = IANAZone.create(zoneName);
  const keys: number[] = [];
  for (let t = start - MIN; t < end; t += MIN) keys.push(wallKey(zone, t));
  return { zone: zoneName, start, end, keys };
}

/**
 * The same from a known single transition (a window of ±12 h holds at most one: transitions are
 * days apart); used for the all-zones sweep, where reading luxon every minute would take seconds.
 */
function windowAround(zoneName: string, tr: Transition, half: number): Window {
  const keys: number[] = [];
  for (let t = tr.at - half - MIN; t < tr.at + half; t += MIN) keys.push(Math.round(t / MIN) + (t < tr.at ? tr.before : tr.after));
  return { zone: zoneName, start: tr.at - half, end: tr.at + half, keys };
}

/**
 * Compares nextCronFires with the oracle for `after` instants every `afterStep` across the window,
 * and at, just before and a minute before every fire within `near` of the transition.
 */
function compare(o: OracleSpec, w: Window, run: OracleRun, afterStep: number, center: number, near: number): void {
  const afters = new Set<number>();
  for (let t = w.start + 4 * HOUR; t < w.end - 4 * HOUR; t += afterStep) afters.add(t);
  for (const f of run.fires) if (Math.abs(f - center) <= near) [f, f - 1, f - MIN].forEach((a) => afters.add(a));
  const problems: string[] = [];
  for (const after of afters) {
    const expected = run.fires.filter((f) => f > after).slice(0, 4);
    const got = nextCronFires(o.spec, w.zone, after, 4);
    // Both ways: every fire the oracle has must be there (a missing fire, or none at all, fails),
    // and every fire returned inside the window must be the oracle's.
    for (let i = 0; i < Math.max(got.length, expected.length); i++) {
      const want = expected[i];
      const have = got[i];
      // Beyond the oracle's window only check that nothing was invented inside it.
      if (want === undefined ? have !== undefined && have < w.end : have !== want) {
        const show = (t: number | undefined): string => (t === undefined ? 'nothing' : new Date(t).toISOString());
        problems.push(`after ${show(after)} #${i}: got ${show(have)}, oracle ${show(want)}`);
      }
      if (want === undefined) break;
    }
  }
  // One assertion per window: vitest's expect() is too slow to call per instant.
  expect(problems.slice(0, 5), `${o.label} in ${w.zone}`).toEqual([]);
}

interface Transition {
  at: number;
  before: number;
  after: number;
}

/**
 * Offset changes in [from, to), found by a scan in `step`s and bisection to the minute. A day is
 * safe step: no zone has had two transitions within four days (tzdata 2025b, all TZif files).
 */
function transitions(zoneName: string, from: number, to: number, step = 6 * HOUR): Transition[] {
  const zone = IANAZone.create(zoneName);
  const out: Transition[] = [];
  for (let t = from; t < to; t += step) {
    const a = zone.offset(t);
    const b = zone.offset(t + step);
    if (a === b) continue;
    let lo = t;
    let hi = t + step;
    while (hi - lo > MIN) {
      const mid = lo + Math.floor((hi - lo) / 2 / MIN) * MIN;
      if (zone.offset(mid) === a) lo = mid;
      else hi = mid;
    }
    out.push({ at: hi, before: a, after: b });
  }
  return out;
}

/** Minutes of the day (any integer, wrapped into 0-1439) as HH:MM. */
const hhmm = (minutes: number): string => {
  const m = ((minutes % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
};

function hazard(o: OracleSpec, tr: Transition | undefined, run: OracleRun): string {
  if (tr === undefined) return 'matches wall time one to one (no DST)';
  const wallAt = (((Math.round(tr.at / MIN) + tr.before) % 1440) + 1440) % 1440;
  const shift = `${tr.after > tr.before ? 'gap' : 'overlap'} ${hhmm(wallAt)}→${hhmm(wallAt + tr.after - tr.before)}`;
  if (tr.after > tr.before) {
    if (!run.gapMatched) return `${shift}: keeps its wall times, none of which is skipped`;
    return o.fixed
      ? `${shift}: fires once at the gap end for the slots that do not exist`
      : `${shift}: skips the slots that do not exist, keeps the others`;
  }
  if (!run.repeatMatched) return `${shift}: keeps its wall times, none of which repeats`;
  return o.fixed ? `${shift}: runs only the first pass of the repeated wall time` : `${shift}: runs both passes of the repeated wall time`;
}

const YEAR_START = Date.UTC(2026, 0, 1);
const YEAR_END = Date.UTC(2027, 0, 1);

const LINES = [
  '30 2 * * *',
  '0,30 2 * * *',
  '*/15 * * * *',
  '*/20 1 * * *',
  '0 * * * *',
  '45 * * * *',
  '0 0 * * *',
  '*/30 0 * * *',
  '15 2 * * *',
  '*/10 1-4 * * *',
  '30 1 * * *',
  '0 2 * * 0',
  '30 23 * * *',
  '*/15 23 * * *',
  '0 1,2,3 * * *',
  '50 2 * * *',
  '0 3 * * *',
  '45 2 * * *',
  '15 0 * * *',
  '*/5 2 * * *',
  '0 0 1-7 * 0',
];
const CELERY: Record<string, string | number>[] = [
  { minute: '30', hour: '2' },
  { minute: '*/20', hour: '1' },
  { minute: 0, hour: '0-3' },
  { minute: '*/15', hour: '0,1,2', dayOfWeek: 0 },
];
const SPECS = [...LINES.map(fromLine), ...CELERY.map(fromCelery)];

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

describe('§4 DST policy against a brute-force oracle (2026 transitions)', () => {
  for (const zone of ZONES) {
    const found = transitions(zone, YEAR_START, YEAR_END);
    const cases: Array<Transition | undefined> = found.length > 0 ? found : [undefined];
    describe(zone, () => {
      if (['Asia/Kolkata', 'UTC'].includes(zone)) it('has no transitions in 2026', () => expect(found).toEqual([]));
      else it('has two transitions in 2026', () => expect(found).toHaveLength(2));
      for (const tr of cases) {
        const center = tr?.at ?? Date.UTC(2026, 5, 15);
        const window = makeWindow(zone, center - 30 * HOUR, center + 30 * HOUR);
        // The local date of the transition (its UTC date can be the day before, east of Greenwich).
        const date = new Date(center + (tr?.before ?? 0) * MIN).toISOString().slice(0, 10);
        for (const o of SPECS) {
          const run = runOracle(o, window);
          it(`${o.label} on ${date}: ${hazard(o, tr, run)}`, () => compare(o, window, run, 13 * MIN, center, 6 * HOUR));
        }
      }
    });
  }
});

describe('§4 DST policy in every IANA zone (2026 transitions, slots placed at the transition)', () => {
  const zones = Intl.supportedValuesOf('timeZone');
  it('checks every zone with a transition in 2026', () => {
    let checked = 0;
    for (const zone of zones) {
      for (const tr of transitions(zone, YEAR_START, YEAR_END, 48 * HOUR)) {
        checked++;
        const window = windowAround(zone, tr, 12 * HOUR);
        // Wall minute (of day) just before the jump, and the first and last wall minute it skips or repeats.
        const wallBefore = (((Math.round(tr.at / MIN) + tr.before) % 1440) + 1440) % 1440;
        const lo = Math.min(wallBefore, wallBefore + tr.after - tr.before);
        const hi = Math.max(wallBefore, wallBefore + tr.after - tr.before) - 1;
        const at = (m: number): string => `${((m % 60) + 60) % 60} ${Math.floor((((m % 1440) + 1440) % 1440) / 60)} * * *`;
        const specs = [at(lo), at(hi), at(lo - 1), at(hi + 1), '*/5 * * * *', '0 * * * *'].map(fromLine);
        for (const o of specs) compare(o, window, runOracle(o, window), 37 * MIN, tr.at, 2 * HOUR);
      }
    }
    expect(checked).toBeGreaterThan(100);
  });
});

/** Wall fields of a wall-as-UTC millisecond value. */
function wallAt(wallMs: number): WallTime {
  const d = new Date(wallMs);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
  };
}

describe('zone primitives at the odd transitions', () => {
  const odd = ['America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Antarctica/Troll', 'America/Santiago', 'America/Havana'];
  for (const zone of odd) {
    const [first, second] = transitions(zone, YEAR_START, YEAR_END);
    for (const tr of [first, second]) {
      if (tr === undefined) throw new Error(`${zone}: expected two transitions in 2026`);
      const jump = (tr.after - tr.before) * MIN;
      const wallBefore = tr.at + tr.before * MIN; // the wall time the clock leaves at the transition
      if (jump > 0) {
        it(`${zone} ${new Date(wallBefore).toISOString().slice(0, 10)}: gapEnd is the jump instant, to the second, for every wall time in the ${jump / MIN}-minute gap`, () => {
          for (const w of [wallBefore, wallBefore + jump / 2, wallBefore + jump - 1000]) {
            expect(wallToInstants(zone, wallAt(w))).toEqual([]);
            expect(gapEnd(zone, wallAt(w))).toBe(tr.at);
          }
          expect(wallToInstants(zone, wallAt(wallBefore - 1000))).toEqual([tr.at - 1000]);
          expect(wallToInstants(zone, wallAt(wallBefore + jump))).toEqual([tr.at]);
          expect(() => gapEnd(zone, wallAt(wallBefore + jump))).toThrow(RangeError);
        });
      } else {
        it(`${zone} ${new Date(wallBefore).toISOString().slice(0, 10)}: a wall time in the ${-jump / MIN}-minute overlap has two instants, ascending`, () => {
          const w = wallBefore + jump; // first repeated wall time
          expect(wallToInstants(zone, wallAt(w))).toEqual([tr.at + jump, tr.at]);
          expect(wallToInstants(zone, wallAt(wallBefore - 1000))).toEqual([tr.at - 1000, tr.at - jump - 1000]);
          expect(wallToInstants(zone, wallAt(wallBefore))).toEqual([tr.at - jump]);
          expect(offsetMinutes(zone, tr.at - 1)).toBe(tr.before);
          expect(offsetMinutes(zone, tr.at)).toBe(tr.after);
        });
      }
    }
  }

  it('offsetMinutes matches luxon at random instants 1850-2100, LMT included (cache correctness)', () => {
    const zones = [
      'America/New_York',
      'Europe/Amsterdam',
      'Asia/Kolkata',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'Pacific/Apia',
      'America/Metlakatla',
      'Africa/Casablanca',
      'Antarctica/Troll',
      'America/Santiago',
      'Asia/Tehran',
      'Europe/Dublin',
    ];
    let seed = 12345;
    const rand = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
    const bad: string[] = [];
    for (const zone of zones) {
      const lux = IANAZone.create(zone);
      for (let i = 0; i < 300; i++) {
        const t = Date.UTC(1850, 0, 1) + Math.floor(rand() * 250 * 365.25 * 86_400_000);
        if (Math.abs(offsetMinutes(zone, t) - lux.offset(t)) > 1e-9) bad.push(`${zone} ${new Date(t).toISOString()}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('Samoa skipped 2011-12-30: a wall time that day lies in a 24-hour gap ending at 31 December 00:00', () => {
    const end = gapEnd('Pacific/Apia', { year: 2011, month: 12, day: 30, hour: 12, minute: 0, second: 0 });
    expect(formatInstant(end, 'Pacific/Apia')).toBe('2011-12-31T00:00:00+14:00');
  });
});

describe('formatInstant and localParts', () => {
  it('always writes ±HH:MM, +00:00 for UTC, milliseconds only when non-zero', () => {
    const t = Date.UTC(2026, 2, 8, 7, 0, 0);
    expect(formatInstant(t, 'America/New_York')).toBe('2026-03-08T03:00:00-04:00');
    expect(formatInstant(t, 'UTC')).toBe('2026-03-08T07:00:00+00:00');
    expect(formatInstant(t + 5, 'UTC')).toBe('2026-03-08T07:00:00.005+00:00');
    expect(formatInstant(t, 'Asia/Kolkata')).toBe('2026-03-08T12:30:00+05:30');
    expect(formatInstant(t, 'Pacific/Chatham')).toBe('2026-03-08T20:45:00+13:45');
    // Liberia kept a seconds offset until 1972; an ISO offset rounded to minutes would name another instant.
    expect(formatInstant(Date.UTC(1970, 0, 1), 'Africa/Monrovia')).toBe('1969-12-31T23:15:30-00:44:30');
  });

  it('gives wall fields with weekday 0 = Sunday', () => {
    expect(localParts('Australia/Sydney', Date.UTC(2026, 9, 3, 16, 30, 15, 250))).toEqual({
      year: 2026,
      month: 10,
      day: 4,
      hour: 3,
      minute: 30,
      second: 15,
      millisecond: 250,
      weekday: 0,
    });
  });

  it('validates zone names', () => {
    expect(isValidZone('Europe/Berlin')).toBe(true);
    expect(isValidZone('UTC')).toBe(true);
    expect(isValidZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidZone('')).toBe(false);
    expect(() => nextCronFires(parseCronLine('* * * * *'), 'Mars/Olympus_Mons', 0, 1)).toThrow('unknown time zone "Mars/Olympus_Mons"');
  });
});

describe('bounds', () => {
  it('throws a clear error when every matching wall time falls in a DST gap (wildcard spec)', () => {
    // New York springs forward on the second Sunday of March at 02:00. Celery ANDs the day fields,
    // so this is exactly that hour; */15 is wildcard, the gap slots are skipped, nothing is left.
    const wildcard = parseCeleryCrontab({ minute: '*/15', hour: 2, dayOfMonth: '8-14', monthOfYear: 3, dayOfWeek: 0 });
    expect(() => nextCronFires(wildcard, 'America/New_York', Date.UTC(2026, 0, 1), 1)).toThrow(
      "schedule crontab(minute='*/15', hour=2, day_of_week=0, day_of_month='8-14', month_of_year=3) never fires in America/New_York: " +
        'every matching wall time falls in a DST gap, and it is not a fixed-time schedule',
    );
    // The fixed version fires at the gap end.
    const fixed = parseCeleryCrontab({ minute: 30, hour: 2, dayOfMonth: '8-14', monthOfYear: 3, dayOfWeek: 0 });
    expect(nextCronFires(fixed, 'America/New_York', Date.UTC(2026, 0, 1), 2).map((t) => formatInstant(t, 'America/New_York'))).toEqual([
      '2026-03-08T03:00:00-04:00',
      '2027-03-14T03:00:00-04:00',
    ]);
  });

  it('returns [] for count 0 and rejects a bad count or instant', () => {
    const spec = parseCronLine('* * * * *');
    expect(nextCronFires(spec, 'UTC', 0, 0)).toEqual([]);
    expect(() => nextCronFires(spec, 'UTC', 0, -1)).toThrow(RangeError);
    expect(() => nextCronFires(spec, 'UTC', Number.NaN, 1)).toThrow(RangeError);
  });

  it('returns many consecutive fires in order without duplicates', () => {
    const fires = nextCronFires(parseCronLine('*/10 * * * * *'), 'Pacific/Chatham', Date.UTC(2026, 3, 4, 12), 3000);
    expect(fires).toHaveLength(3000);
    for (let i = 1; i < fires.length; i++) expect((fires[i] as number) > (fires[i - 1] as number)).toBe(true);
  });
});
