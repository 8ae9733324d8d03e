/**
 * Solar schedules: Celery's `solar(event, lat, lon)`, without PyEphem.
 *
 * What Celery computes (celery/schedules.py › solar, PyEphem 4.x): an observer at elevation 0 with
 * pressure 0 (so no refraction), the Sun's *topocentric* altitude, and
 * - dawn_* / dusk_*: the Sun's centre crossing −18° / −12° / −6° (rising / setting);
 * - sunrise / sunset: the upper limb crossing −0°34′, i.e. the centre at −(34′ + apparent radius);
 * - solar_noon: the meridian transit (hour angle 0), which happens every day, everywhere.
 * `dusk_astronomical` is −18°, as in Celery ≥ 5.6.3; Celery ≤ 5.6.2 had +18° (celery#10101), which
 * made it fire in the afternoon.
 *
 * How: positions come from astronomy-engine (VSOP87, nutation, aberration, topocentric). The day is
 * cut at the Sun's transits and anti-transits, where its altitude peaks and bottoms out; inside each
 * half-day the altitude is monotonic, so an event is a sign change of (altitude − target) between
 * two cut points, refined by a bracketed Newton iteration: about seven solar positions, 20–40 µs
 * a call. Agreement with Celery (test/unit/solar.test.ts runs it): under a second on ordinary days;
 * up to half a minute on the few days a year when the Sun only grazes the target altitude (near the
 * edge of a polar day or night), where the answer hangs on arcseconds between the two ephemerides.
 *
 * Polar day and night (no such event today): Celery means to "check again one minute after the
 * next anti-transit", but its code adds a `timedelta` to an `ephem.Date`: the TypeError escapes
 * `Scheduler.tick` and celery beat exits (every version up to main). We return the next day on
 * which the event really happens, i.e. what Celery intends, searching up to `SEARCH_DAYS` ahead
 * (the Sun's yearly cycle). `null` means the Sun never crosses that altitude there; with these nine
 * events that does not happen at any latitude (even at the poles each one happens once a year),
 * but callers must handle it. Days on which the Sun cannot reach the target are skipped in bulk,
 * so a search across a polar night costs about 0.1–0.2 ms.
 *
 * "After" is strict: an event within `SAME_INSTANT_MS` after `afterMs` is taken to be the one that
 * just fired, and the following one is returned (PyEphem does the same for risings and settings).
 */
import type * as Astronomy from 'astronomy-engine';
import { loadOnFirstUse } from '../base/load-on-first-use.js';
import type { SolarEvent } from './types.js';
import { spendSteps } from '../base/step-budget.js';

/** Loaded by the first solar schedule: most processes have none (~1 MB of heap, see load-on-first-use.ts). */
const astronomy = loadOnFirstUse<typeof Astronomy>('astronomy-engine');

type EventRule =
  | { readonly kind: 'transit' }
  | {
      readonly kind: 'crossing';
      /** +1: the Sun rises through the target altitude; −1: it sets through it. */
      readonly direction: 1 | -1;
      /** PyEphem's `horizon`, in degrees. */
      readonly horizonDeg: number;
      /** True when the horizon applies to the upper limb (Celery's `use_center=False`), not the centre. */
      readonly upperLimb: boolean;
    };

const SUNRISE_HORIZON_DEG = -34 / 60;

/** Celery's `_horizons`, `_methods` and `_use_center_l`, one line per event. */
const EVENT_RULES: Readonly<Record<SolarEvent, EventRule>> = {
  dawn_astronomical: { kind: 'crossing', direction: 1, horizonDeg: -18, upperLimb: false },
  dawn_nautical: { kind: 'crossing', direction: 1, horizonDeg: -12, upperLimb: false },
  dawn_civil: { kind: 'crossing', direction: 1, horizonDeg: -6, upperLimb: false },
  sunrise: { kind: 'crossing', direction: 1, horizonDeg: SUNRISE_HORIZON_DEG, upperLimb: true },
  solar_noon: { kind: 'transit' },
  sunset: { kind: 'crossing', direction: -1, horizonDeg: SUNRISE_HORIZON_DEG, upperLimb: true },
  dusk_civil: { kind: 'crossing', direction: -1, horizonDeg: -6, upperLimb: false },
  dusk_nautical: { kind: 'crossing', direction: -1, horizonDeg: -12, upperLimb: false },
  dusk_astronomical: { kind: 'crossing', direction: -1, horizonDeg: -18, upperLimb: false },
};

const DEG = Math.PI / 180;
const TAU = 2 * Math.PI;
const DAY_MS = 86_400_000;
/** astronomy-engine counts time in days of UT from 2000-01-01T12:00Z. */
const J2000_MS = Date.UTC(2000, 0, 1, 12);
/** PyEphem's (libastro's) solar radius in AU: the Sun's apparent radius is this over its distance. */
const SUN_RADIUS_AU = 4.65242e-3;
/** How far ahead to look for an event that does not happen today: the Sun's whole yearly cycle. */
const SEARCH_DAYS = 370;
/** An event this close after `afterMs` is the one that just happened. */
const SAME_INSTANT_MS = 100;
/** Upper bound of the Sun's declination change (the real maximum is about 0.40° a day). */
const MAX_DECLINATION_RATE = 0.5 * DEG;
/** Hour-angle rate used to predict where the Sun will be: one turn per (mean solar) day. */
const HOUR_ANGLE_RATE = TAU;
/** Roots are refined until the Newton step is below this (about 1 ms). */
const ROOT_TOLERANCE_DAYS = 1e-8;
/** A cut point closer than this (about 2 minutes) is skipped for the one after it. */
const MIN_CUT_STEP = 0.01;

interface Site {
  readonly observer: Astronomy.Observer;
  readonly latRad: number;
  readonly lonHours: number;
  readonly sinLat: number;
  readonly cosLat: number;
}

/** The Sun as seen from the site at `ut`: hour angle in (−π, π], declination and radius (radians). */
interface SunState {
  readonly ut: number;
  readonly ha: number;
  readonly dec: number;
  readonly radius: number;
}

function siteOf(lat: number, lon: number): Site {
  const latRad = lat * DEG;
  return {
    observer: new (astronomy().Observer)(lat, lon, 0),
    latRad,
    lonHours: lon / 15,
    sinLat: Math.sin(latRad),
    cosLat: Math.cos(latRad),
  };
}

/** `x` reduced to (−π, π]. */
function wrapPi(x: number): number {
  const r = x - TAU * Math.floor(x / TAU);
  return r > Math.PI ? r - TAU : r;
}

/** `x` reduced to [0, 2π). */
function wrapTau(x: number): number {
  return x - TAU * Math.floor(x / TAU);
}

function sunAt(site: Site, ut: number): SunState {
  const { Body, Equator, MakeTime, SiderealTime } = astronomy();
  const time = MakeTime(ut);
  const eq = Equator(Body.Sun, time, site.observer, true, true);
  const ha = wrapPi((SiderealTime(time) + site.lonHours - eq.ra) * (Math.PI / 12));
  return { ut, ha, dec: eq.dec * DEG, radius: SUN_RADIUS_AU / eq.dist };
}

function sinAltitude(site: Site, s: SunState): number {
  return site.sinLat * Math.sin(s.dec) + site.cosLat * Math.cos(s.dec) * Math.cos(s.ha);
}

type CrossingRule = Extract<EventRule, { kind: 'crossing' }>;

/** The altitude the Sun's centre must reach, in radians. */
function targetAltitude(rule: CrossingRule, s: SunState): number {
  return rule.horizonDeg * DEG - (rule.upperLimb ? s.radius : 0);
}

/** How far the Sun's centre is above its target altitude, in radians. */
function excess(site: Site, rule: CrossingRule, s: SunState): number {
  return Math.asin(Math.max(-1, Math.min(1, sinAltitude(site, s)))) - targetAltitude(rule, s);
}

/**
 * Whole days during which the Sun cannot reach the target: with declination δ its altitude stays
 * within [|φ+δ| − 90°, 90° − |φ−δ|], bounds that move no faster than δ does.
 */
function quietDays(site: Site, rule: CrossingRule, s: SunState): number {
  const target = targetAltitude(rule, s);
  const highest = Math.PI / 2 - Math.abs(site.latRad - s.dec);
  const lowest = Math.abs(site.latRad + s.dec) - Math.PI / 2;
  const margin = target > highest ? target - highest : target < lowest ? lowest - target : 0;
  return Math.floor(margin / MAX_DECLINATION_RATE);
}

/** The next transit or anti-transit after `s` (to within seconds: only used to cut days in halves). */
function nextCutUt(s: SunState): number {
  let step = s.ha < 0 ? -s.ha : Math.PI - s.ha;
  if (step < MIN_CUT_STEP) step += Math.PI;
  return s.ut + step / HOUR_ANGLE_RATE;
}

/** d(excess)/dt in radians per day, with the declination rate estimated over the bracket. */
function excessRate(site: Site, s: SunState, decRate: number): number {
  const sinAlt = sinAltitude(site, s);
  const cosAlt = Math.sqrt(Math.max(1e-12, 1 - sinAlt * sinAlt));
  const sinDec = Math.sin(s.dec);
  const cosDec = Math.cos(s.dec);
  const viaDec = (site.sinLat * cosDec - site.cosLat * sinDec * Math.cos(s.ha)) * decRate;
  const viaHourAngle = -site.cosLat * cosDec * Math.sin(s.ha) * HOUR_ANGLE_RATE;
  return (viaDec + viaHourAngle) / cosAlt;
}

/** Where the excess changes sign between `a` and `b`: Newton's method, kept inside the bracket. */
function solveCrossing(site: Site, rule: CrossingRule, a: SunState, fa: number, b: SunState): number {
  const decRate = (b.dec - a.dec) / (b.ut - a.ut);
  let lo = a.ut;
  let hi = b.ut;
  // First guess: the hour angle at which the Sun reaches the target, with a's declination.
  const cosH = (Math.sin(targetAltitude(rule, a)) - site.sinLat * Math.sin(a.dec)) / (site.cosLat * Math.cos(a.dec));
  let t = (lo + hi) / 2;
  if (Math.abs(cosH) <= 1) {
    const hourAngle = rule.direction * -Math.acos(cosH);
    const guess = a.ut + wrapTau(hourAngle - a.ha) / HOUR_ANGLE_RATE;
    if (guess > lo && guess < hi) t = guess;
  }
  for (let i = 0; i < 60; i++) {
    const s = sunAt(site, t);
    const f = excess(site, rule, s);
    if (f === 0) return t;
    if (Math.sign(f) === Math.sign(fa)) lo = t;
    else hi = t;
    let next = t - f / excessRate(site, s, decRate);
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) < ROOT_TOLERANCE_DAYS || hi - lo < ROOT_TOLERANCE_DAYS) return next;
    t = next;
  }
  return t;
}

function nextCrossing(rule: CrossingRule, lat: number, lon: number, afterUt: number): number | null {
  const site = siteOf(lat, lon);
  const sameInstant = SAME_INSTANT_MS / DAY_MS;
  const limit = afterUt + SEARCH_DAYS;
  let a = sunAt(site, afterUt);
  let fa = excess(site, rule, a);
  while (a.ut < limit) {
    spendSteps();
    const quiet = quietDays(site, rule, a);
    if (quiet >= 1) {
      // Whole days keep the phase: `a` stays at the same hour angle, on the same side of the target.
      a = sunAt(site, a.ut + quiet);
      fa = excess(site, rule, a);
      continue;
    }
    const b = sunAt(site, nextCutUt(a));
    const fb = excess(site, rule, b);
    if (rule.direction * fa < 0 && rule.direction * fb >= 0) {
      const t = solveCrossing(site, rule, a, fa, b);
      if (t - afterUt > sameInstant) return t;
    }
    a = b;
    fa = fb;
  }
  return null;
}

/** The next meridian transit: every day, at every latitude. */
function nextTransit(lat: number, lon: number, afterUt: number): number {
  const site = siteOf(lat, lon);
  let start = afterUt;
  for (;;) {
    spendSteps();
    let t = start + wrapTau(-sunAt(site, start).ha) / HOUR_ANGLE_RATE;
    for (let i = 0; i < 8; i++) {
      const step = wrapPi(-sunAt(site, t).ha) / HOUR_ANGLE_RATE;
      t += step;
      if (Math.abs(step) < ROOT_TOLERANCE_DAYS) break;
    }
    if (t - afterUt > SAME_INSTANT_MS / DAY_MS) return t;
    start = t + 0.5; // `afterUt` was at this transit: the next one is a day later.
  }
}

/**
 * The first instant (epoch ms) strictly after `afterMs` at which `event` happens at (lat, lon), or
 * `null` when it does not happen within a year (the Sun never crosses that altitude there).
 * Pure. Throws a RangeError for coordinates outside the globe or a non-finite instant.
 */
export function nextSolarEvent(event: SolarEvent, lat: number, lon: number, afterMs: number): number | null {
  // The config schema validates coordinates; this only keeps a NaN from turning into an endless search.
  if (!(Math.abs(lat) <= 90)) throw new RangeError(`solar ${event}: latitude ${lat} is outside -90..90`);
  if (!(Math.abs(lon) <= 180)) throw new RangeError(`solar ${event}: longitude ${lon} is outside -180..180`);
  if (!Number.isFinite(afterMs)) throw new RangeError(`solar ${event}: cannot search after ${afterMs}: not an instant`);
  const rule = EVENT_RULES[event];
  const afterUt = (afterMs - J2000_MS) / DAY_MS;
  const ut = rule.kind === 'transit' ? nextTransit(lat, lon, afterUt) : nextCrossing(rule, lat, lon, afterUt);
  return ut === null ? null : Math.round(J2000_MS + ut * DAY_MS);
}

/** At least two decimals (as users write coordinates), at most four (about 10 m). */
function formatDegrees(x: number): string {
  const short = String(Number(x.toFixed(4)));
  const decimals = short.split('.')[1]?.length ?? 0;
  return decimals >= 2 ? short : x.toFixed(2);
}

/** "at sunrise (52.52, 13.40)": the event as configured, then latitude and longitude in degrees. */
export function describeSolar(event: SolarEvent, lat: number, lon: number): string {
  return `at ${event} (${formatDegrees(lat)}, ${formatDegrees(lon)})`;
}
