/**
 * Several specs per entry (issue 71): the union of their instants, checked against a brute-force
 * reference on random cases around the DST transitions of the zones the DST oracle uses
 * (cron-dst-oracle.test.ts). The reference knows nothing of unions: it walks each spec alone, one
 * instant per call (each form is checked against its own oracle elsewhere), counts an interval's
 * grid by arithmetic from 1970-01-01T00:00Z, merges, and drops what the exclusions cover, read
 * from the wall clock with Intl.
 *
 * The 10,000 cases are split in shards, one vitest file each (schedule-union-cases-*.test.ts), so
 * that the pool runs them side by side: one file of them all took ~190 s in CI, the last of its
 * group to end. Each shard's seed is fresh each run and printed in its title (UNION_SEED=... reruns
 * every shard's cases of that run).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { entryWindow } from '../../src/config/resolve.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { nextFires, planDue } from '../../src/core/schedule.js';
import { nextSolarEvent } from '../../src/core/solar.js';
import type { SolarEvent } from '../../src/core/types.js';
import { int, pick, prng } from './prng.js';
import type { Rand } from './prng.js';

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
/** The cases of all shards together (issue 71: at least 10,000). */
export const UNION_CASES = 10_000;
/** The shards: one vitest file each. */
export const UNION_SHARDS = 4;

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
      const at = centerMs + int(r, -18, 18) * HOUR;
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
  // A window of 7 to 37 hours around the center: each side long enough for a daily spec to meet the
  // change's day, short enough that 10,000 cases stay cheap (most of their time is the fires walked).
  const fromMs = center - int(r, 3, 18) * HOUR - int(r, 0, 59) * 60_000;
  const toMs = center + int(r, 3, 18) * HOUR;
  const excludeDates = r() < 0.3 ? [wall(zone, center + int(r, -18, 18) * HOUR).date] : [];
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

/**
 * Shard `shard` (0 to UNION_SHARDS - 1) of the union's property test: its share of UNION_CASES,
 * drawn from its own seed (the run's seed and the shard), 0 mismatches.
 */
export function unionCasesSuite(shard: number): void {
  const cases = Math.ceil(UNION_CASES / UNION_SHARDS);
  describe(`a union of specs against a brute-force reference, shard ${shard + 1} of ${UNION_SHARDS}`, () => {
    const seed = Number(process.env['UNION_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
    it(`${cases.toLocaleString('en-US')} random unions around DST changes in the DST oracle's zones: 0 mismatches (seed ${seed})`, () => {
      const r = prng(seed + shard * 0x3c6ef35f);
      let mismatches = 0;
      let shared = 0;
      let instants = 0;
      const first: string[] = [];
      for (let i = 0; i < cases; i += 1) {
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
          if (first.length < 3)
            first.push(JSON.stringify({ zone: c.zone, specs: c.specs.map((s) => s.input), from: c.fromMs, to: c.toMs }));
        }
      }
      expect(first, `first mismatches (seed ${seed}, shard ${shard + 1})`).toEqual([]);
      expect(mismatches).toBe(0);
      // The generator must make instants, and instants two specs share, or the comparison proves little.
      expect(instants).toBeGreaterThan(cases * 5);
      expect(shared).toBeGreaterThan(cases / 20);
    }, 600_000);
  });
}
