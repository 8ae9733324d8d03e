import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeSolar, nextSolarEvent } from '../../src/core/solar.js';
import { SOLAR_EVENTS, type SolarEvent } from '../../src/core/types.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const iso = (ms: number | null): string => (ms === null ? 'null' : new Date(ms).toISOString());

// ---------------------------------------------------------------------------------------------
// Against Celery itself: /usr/bin/python3 with Debian's python3-celery and python3-ephem.
// ---------------------------------------------------------------------------------------------

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../support/solar_reference.py', import.meta.url));
const MISSING =
  'the Celery reference needs /usr/bin/python3 with celery and ephem: install python3-celery and python3-ephem (apt-get install python3-celery python3-ephem)';
/** The goal: within a minute of what Celery computes. */
const TOLERANCE_MS = MINUTE;
/** Events asked again, each after the previous one (last_run_at = the event instant). */
const CHAIN = 2;

const PLACES = {
  'equator at Greenwich': [0, 0],
  Quito: [-0.18, -78.47],
  Singapore: [1.35, 103.82],
  Honolulu: [21.31, -157.86],
  'New York': [40.71, -74.01],
  Berlin: [52.52, 13.4],
  Sydney: [-33.87, 151.21],
  Auckland: [-36.85, 174.76],
  'Punta Arenas': [-53.16, -70.91],
  Reykjavik: [64.15, -21.94],
  Tromsø: [69.65, 18.96],
  McMurdo: [-77.85, 166.67],
  'date line east': [10, 180],
  'date line west': [-10, -180],
} as const satisfies Record<string, readonly [number, number]>;
type Place = keyof typeof PLACES;

/** Instants across 2026–2027: solstices (polar day and night), equinoxes and ordinary days. */
const AFTERS = [
  '2026-01-15T00:00:00.000Z',
  '2026-03-20T12:34:56.789Z',
  '2026-06-21T06:00:00.000Z',
  '2026-09-23T18:00:00.000Z',
  '2026-12-21T03:00:00.000Z',
  '2027-04-10T09:15:00.000Z',
  '2027-07-04T21:30:00.000Z',
  '2027-11-02T15:45:00.000Z',
].map((s) => Date.parse(s));

interface Case {
  readonly place: Place;
  readonly event: SolarEvent;
  readonly lat: number;
  readonly lon: number;
  readonly after_ms: number;
  readonly chain: number;
}

interface Reference {
  /** `solar(...).remaining_estimate(last_run_at)` as an instant, the exception it raised, or a hang. */
  readonly celery: { readonly ms: number } | { readonly error: string } | { readonly hang: true };
  /** Celery's intent in the circumpolar case: retry a minute after each anti-transit until the event happens. */
  readonly intended: { readonly ms: number; readonly skips: number } | { readonly hang: true } | null;
  readonly chain: readonly number[];
  readonly installed_horizon: string;
}

const CASES: Case[] = Object.entries(PLACES).flatMap(([place, [lat, lon]]) =>
  SOLAR_EVENTS.flatMap((event) => AFTERS.map((after_ms) => ({ place: place as Place, event, lat, lon, after_ms, chain: CHAIN }))),
);

type Loaded = { readonly ok: true; readonly results: Map<Case, Reference> } | { readonly ok: false; readonly why: string };

function loadReference(): Loaded {
  const probe = spawnSync(PYTHON, [SCRIPT, '--probe'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    return {
      ok: false,
      why: `${MISSING} (${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1) ?? 'exit ' + String(probe.status)})`,
    };
  }
  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(CASES), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (exit ${String(run.status)}): ${run.stderr}`);
  const answers = JSON.parse(run.stdout) as Reference[];
  expect(answers).toHaveLength(CASES.length);
  return { ok: true, results: new Map(CASES.map((c, i) => [c, answers[i] as Reference])) };
}

describe('nextSolarEvent against Celery (celery.schedules.solar with PyEphem)', () => {
  let loaded: Loaded = { ok: false, why: 'not loaded' };
  beforeAll(() => {
    loaded = loadReference();
  });

  function reference(skip: (note: string) => never): Map<Case, Reference> {
    if (loaded.ok) return loaded.results;
    if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(loaded.why);
    return skip(loaded.why);
  }

  for (const [place, [lat, lon]] of Object.entries(PLACES)) {
    for (const event of SOLAR_EVENTS) {
      it(`${event} at ${place} (${lat}, ${lon}) is within a minute of Celery's, also when last_run_at is the event itself`, (ctx) => {
        const results = reference((note) => ctx.skip(note));
        const problems: string[] = [];
        for (const c of CASES.filter((x) => x.place === place && x.event === event)) {
          const ref = results.get(c);
          if (ref === undefined) throw new Error('no reference answer');
          const ours = nextSolarEvent(event, lat, lon, c.after_ms);
          const where = `after ${iso(c.after_ms)}:`;
          if ('hang' in ref.celery || (ref.intended !== null && 'hang' in ref.intended)) {
            // PyEphem's rise/set iteration can loop forever close to the poles; no reference there.
            problems.push(`${where} PyEphem did not finish (ours ${iso(ours)}); pick another case`);
            continue;
          }
          if ('ms' in ref.celery) {
            // An ordinary day: Celery answers directly (its retry loop is not involved).
            expect(ref.intended?.skips).toBe(0);
            expect(Math.abs((ref.intended?.ms ?? 0) - ref.celery.ms)).toBeLessThan(1);
          } else {
            // Polar day or night: Celery's circumpolar branch adds a timedelta to an ephem.Date and
            // raises, which stops celery beat. We answer the next day on which the event happens.
            expect(ref.celery.error).toBe("TypeError: unsupported operand type(s) for +: 'ephem.Date' and 'datetime.timedelta'");
            expect(ref.intended?.skips).toBeGreaterThan(0);
          }
          if (ref.intended === null) {
            if (ours !== null) problems.push(`${where} Celery finds no event, ours ${iso(ours)}`);
            continue;
          }
          const expected = [ref.intended.ms, ...ref.chain.slice(1)];
          let after = c.after_ms;
          for (const want of expected) {
            const got = nextSolarEvent(event, lat, lon, after);
            if (got === null || Math.abs(got - want) > TOLERANCE_MS) {
              problems.push(
                `${where} Celery ${iso(want)}, ours ${iso(got)} (${got === null ? '' : ((got - want) / 1000).toFixed(1) + ' s'})`,
              );
              break;
            }
            after = got;
          }
          if (ours !== null && ours <= c.after_ms) problems.push(`${where} ours ${iso(ours)} is not after it`);
        }
        expect(problems.join('\n')).toBe('');
      });
    }
  }

  it('covers polar days and nights (Celery raises there) as well as ordinary days', (ctx) => {
    const results = [...reference((note) => ctx.skip(note)).values()];
    const polar = results.filter((r) => 'error' in r.celery).length;
    expect(polar).toBeGreaterThan(50);
    expect(results.length - polar).toBeGreaterThan(800);
  });
});

// ---------------------------------------------------------------------------------------------
// Pure behaviour.
// ---------------------------------------------------------------------------------------------

const BERLIN = PLACES.Berlin;

/** Local mean midnight at `lon` on the UTC date of `dayIso`. */
function localMidnight(dayIso: string, lon: number): number {
  return Date.parse(`${dayIso}T00:00:00Z`) - (lon / 360) * DAY;
}

describe('nextSolarEvent', () => {
  it.each(SOLAR_EVENTS)('%s: after = an event instant gives the next day’s, a second before it gives that instant', (event) => {
    // Within 0.1 s after `afterMs` counts as the same instant (so a recomputed event never repeats).
    const [lat, lon] = BERLIN;
    const first = nextSolarEvent(event, lat, lon, Date.parse('2026-03-01T00:00:00Z'));
    if (first === null) throw new Error('no event');
    const next = nextSolarEvent(event, lat, lon, first);
    if (next === null) throw new Error('no next event');
    expect(next - first).toBeGreaterThan(DAY - 10 * MINUTE);
    expect(next - first).toBeLessThan(DAY + 10 * MINUTE);
    expect(Math.abs((nextSolarEvent(event, lat, lon, first - 1000) ?? 0) - first)).toBeLessThanOrEqual(2);
    expect(nextSolarEvent(event, lat, lon, first - 50)).toBe(next);
    expect(nextSolarEvent(event, lat, lon, first + 1)).toBe(next);
  });

  it.each([
    ['Berlin', 52.52, 13.4],
    ['New York', 40.71, -74.01],
    ['Sydney', -33.87, 151.21],
    ['Singapore', 1.35, 103.82],
  ] as const)('orders dawn < sunrise < noon < sunset < dusk on an ordinary day at %s', (_name, lat, lon) => {
    const midnight = localMidnight('2026-03-10', lon);
    const times = SOLAR_EVENTS.map((event) => nextSolarEvent(event, lat, lon, midnight));
    for (const t of times) expect(t).not.toBeNull();
    const ms = times as number[];
    expect([...ms].sort((a, b) => a - b)).toEqual(ms);
    expect((ms.at(-1) ?? 0) - (ms[0] ?? 0)).toBeLessThan(DAY);
    // Civil twilight and the upper limb's 34' put sunrise-to-sunset a little over 12 h near the equinox.
    const [sunrise, sunset] = [ms[3] ?? 0, ms[5] ?? 0];
    expect(sunset - sunrise).toBeGreaterThan(11 * HOUR);
    expect(sunset - sunrise).toBeLessThan(13 * HOUR);
    // Solar noon halves the day.
    expect(Math.abs((ms[4] ?? 0) - (sunrise + sunset) / 2)).toBeLessThan(MINUTE);
  });

  it('puts dusk_astronomical 18° below the horizon (Celery ≤ 5.6.2 had +18°, celery#10101)', () => {
    const [lat, lon] = BERLIN;
    const after = localMidnight('2026-03-10', lon);
    const sunset = nextSolarEvent('sunset', lat, lon, after) ?? 0;
    const dusk = nextSolarEvent('dusk_astronomical', lat, lon, after) ?? 0;
    expect(dusk - sunset).toBeGreaterThan(90 * MINUTE);
    expect(dusk - sunset).toBeLessThan(3 * HOUR);
  });

  it('rejects coordinates outside the globe and a NaN instant instead of searching forever', () => {
    expect(() => nextSolarEvent('sunrise', 90.5, 0, 0)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: solar sunrise: latitude 90.5 is outside -90..90]`,
    );
    expect(() => nextSolarEvent('solar_noon', 0, -180.1, 0)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: solar solar_noon: longitude -180.1 is outside -180..180]`,
    );
    expect(() => nextSolarEvent('solar_noon', Number.NaN, 0, 0)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: solar solar_noon: latitude NaN is outside -90..90]`,
    );
    expect(() => nextSolarEvent('solar_noon', 0, 0, Number.NaN)).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: solar solar_noon: cannot search after NaN: not an instant]`,
    );
  });

  it('longitude 180 and -180 are the same meridian', () => {
    const after = Date.parse('2026-05-01T00:00:00Z');
    for (const event of SOLAR_EVENTS) {
      const east = nextSolarEvent(event, -15, 180, after);
      const west = nextSolarEvent(event, -15, -180, after);
      expect(Math.abs((east ?? 0) - (west ?? 0))).toBeLessThanOrEqual(2);
    }
  });

  it('solar noon on the Greenwich meridian is 12:00 UTC minus the equation of time', () => {
    // Early November the equation of time is about +16.4 min; mid-February about −14.2 min.
    const nov = nextSolarEvent('solar_noon', 0, 0, Date.parse('2026-11-03T00:00:00Z')) ?? 0;
    expect(nov - Date.parse('2026-11-03T12:00:00Z')).toBeCloseTo(-16.4 * MINUTE, -4);
    const feb = nextSolarEvent('solar_noon', 0, 0, Date.parse('2026-02-11T00:00:00Z')) ?? 0;
    expect(feb - Date.parse('2026-02-11T12:00:00Z')).toBeCloseTo(14.2 * MINUTE, -4);
  });

  it('skips a polar day to the first sunset after it (Tromsø: the midnight sun ends late in July)', () => {
    const [lat, lon] = PLACES.Tromsø;
    const sunset = nextSolarEvent('sunset', lat, lon, Date.parse('2026-06-01T00:00:00Z'));
    expect(iso(sunset).slice(0, 10)).toBe('2026-07-25');
    const sunrise = nextSolarEvent('sunrise', lat, lon, Date.parse('2026-06-01T00:00:00Z'));
    expect(iso(sunrise).slice(0, 10)).toBe('2026-07-25');
    // The polar night ends in mid-January; civil dawn happens every day of it.
    expect(iso(nextSolarEvent('sunrise', lat, lon, Date.parse('2026-12-10T00:00:00Z'))).slice(0, 10)).toBe('2027-01-15');
    const dawn = nextSolarEvent('dawn_civil', lat, lon, Date.parse('2026-12-21T00:00:00Z')) ?? 0;
    expect(dawn - Date.parse('2026-12-21T00:00:00Z')).toBeLessThan(DAY);
  });

  it('works at the poles: the Sun rises and sets once a year, and transits daily', () => {
    const after = Date.parse('2026-01-01T00:00:00Z');
    expect(iso(nextSolarEvent('sunrise', 90, 0, after)).slice(0, 7)).toBe('2026-03');
    expect(iso(nextSolarEvent('sunset', 90, 0, after)).slice(0, 7)).toBe('2026-09');
    expect(iso(nextSolarEvent('sunset', -90, 0, after)).slice(0, 7)).toBe('2026-03');
    expect(iso(nextSolarEvent('sunrise', -90, 0, after)).slice(0, 7)).toBe('2026-09');
    const noon = nextSolarEvent('solar_noon', 90, 0, after) ?? 0;
    expect((nextSolarEvent('solar_noon', 90, 0, noon) ?? 0) - noon).toBeCloseTo(DAY, -5);
    for (const event of SOLAR_EVENTS) {
      expect(nextSolarEvent(event, 90, 123, after)).not.toBeNull();
      expect(nextSolarEvent(event, -90, -45, after)).not.toBeNull();
    }
  });
});

describe('describeSolar', () => {
  it('names the event and the place', () => {
    expect(describeSolar('sunrise', 52.52, 13.4)).toBe('at sunrise (52.52, 13.40)');
    expect(describeSolar('dusk_civil', -33.8688, 151.2093)).toBe('at dusk_civil (-33.8688, 151.2093)');
    expect(describeSolar('solar_noon', 0, -180)).toBe('at solar_noon (0.00, -180.00)');
  });
});
