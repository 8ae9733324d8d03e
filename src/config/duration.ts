/**
 * Durations in the config: a number of seconds (as Celery writes them), or a string with units such
 * as "500ms", "10s", "5m", "1h30m", "2d".
 */
import * as z from 'zod';
import { shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';

const DAY_MS = 86_400_000;
/** A Julian year, 365.25 days: what "100 years" means in the bounds below. */
const YEAR_MS = 365.25 * DAY_MS;

/**
 * Bounds of an interval schedule (number or timedelta form), in milliseconds. Below 100 ms a
 * schedule is a busy loop rather than a period; beyond 100 years its instants leave the years an
 * ISO-8601 date (and Python's datetime) can hold within a few hops. Intervals are kept to the whole
 * millisecond (Celery keeps microseconds).
 */
export const INTERVAL_MIN_MS = 100;
export const INTERVAL_MAX_MS = 100 * YEAR_MS;
/** Longest duration setting that offsets an instant (jitter, catchUpWindow, expires, countdown…): the interval ceiling. */
export const DURATION_MAX_MS = INTERVAL_MAX_MS;
/**
 * Longest duration setting that becomes a Node timer (maxInterval, lock timings, socket timeouts):
 * Node fires a timer of more than 2^31-1 ms (24.8 days) after 1 ms instead, which would turn a long
 * sleep into a busy loop. A day is far beyond any useful value and well inside that.
 */
export const TIMER_MAX_MS = DAY_MS;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!DURATION.test(compact)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of compact.matchAll(PART)) ms += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
  return ms;
}

/** A duration setting, in milliseconds once parsed; `min` and `max` are in milliseconds. */
export function durationSchema(what: string, min = 0, max = DURATION_MAX_MS) {
  const message = `${what} must be a number of seconds or a duration such as "500ms", "10s", "5m", "1h30m"`;
  return z.union([z.number(), z.string()], { error: message }).transform((input, ctx): number => {
    const ms = typeof input === 'number' ? input * 1000 : parseDuration(input);
    const given = typeof input === 'number' ? String(input) : shown(input);
    if (ms === undefined || Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: `${message}, got ${given}`, input });
      return z.NEVER;
    }
    if (!(ms >= min && ms <= max)) {
      ctx.addIssue({ code: 'custom', message: `${what} must be ${rangeText(min, max)}, got ${given}`, input });
      return z.NEVER;
    }
    return ms;
  });
}

/** "between 0.1 s and 100 years (3,155,760,000 s)". */
export function rangeText(minMs: number, maxMs: number): string {
  return `between ${boundText(minMs)} and ${boundText(maxMs)}`;
}

/** A bound in words: "0.1 s", "10 s", "1 day (86,400 s)", "100 years (3,155,760,000 s)". */
export function boundText(ms: number): string {
  const seconds = `${grouped(ms / 1000)} s`;
  if (ms >= YEAR_MS && ms % YEAR_MS === 0) return `${ms / YEAR_MS} year${ms === YEAR_MS ? '' : 's'} (${seconds})`;
  if (ms >= DAY_MS && ms % DAY_MS === 0) return `${ms / DAY_MS} day${ms === DAY_MS ? '' : 's'} (${seconds})`;
  return seconds;
}

/** Thousands separated by commas, so that a bound of ten digits can be read at a glance. */
export function grouped(n: number): string {
  const [whole = '', fraction] = String(n).split('.');
  const withCommas = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return fraction === undefined ? withCommas : `${withCommas}.${fraction}`;
}

/** The windows a load may be counted over: a minute (its unit) to DEFAULTS.loadHorizonMaxMs. */
const HORIZON_MIN_MS = 60_000;
/** The window a load may be counted over, in words, for a refusal: "between 60 s and 7 days (604,800 s)". */
export const LOAD_HORIZON_RANGE = rangeText(HORIZON_MIN_MS, DEFAULTS.loadHorizonMaxMs);

/** A load's window as written ("24h", "7d": `--horizon`, POST /api/plan's `horizon`), ms; undefined when it is out of LOAD_HORIZON_RANGE. */
export function loadHorizonOf(text: string): number | undefined {
  const ms = parseDuration(text);
  return ms === undefined || ms < HORIZON_MIN_MS || ms > DEFAULTS.loadHorizonMaxMs ? undefined : ms;
}
