/**
 * RFC 5545 recurrence rules (`rrule` schedules). The rule itself — which wall times recur — is the
 * `rrule` package's (a port of Python's dateutil.rrule, which tests hold it to). It runs on
 * "floating" wall times: a JS Date whose UTC fields are the wall time, so it never sees a zone.
 * Turning wall times into instants is ours, by the same DST policy as crontabs (cron-semantics §4):
 * a rule of whole days or longer is a *fixed* job (a wall time in a gap runs once at the gap's end,
 * a repeated one in its first pass only), an hourly, minutely or secondly rule a *wildcard* one
 * (a wall time in a gap is skipped, a repeated one runs in both passes).
 *
 * The package walks every period from `dtstart`: after years of history, or for a rule that never
 * matches (February 30th), that is millions of steps, and it only stops at the year 9999. So a rule
 * without `count` is rebased: its defaults written out, `dtstart` moved forward by whole periods,
 * which leaves the recurrence unchanged; and a rule must recur within RECUR_WITHIN_YEARS.
 */
import type * as RRuleLib from 'rrule';
import { loadOnFirstUse } from '../base/load-on-first-use.js';
import { DAY_MS, daysInMonth, isLeapYear, zoneOffsets } from '../time/zone.js';
import { pushAll } from '../base/chunks.js';
import { spendSteps, withStepBudget } from '../base/step-budget.js';

const rruleLib = loadOnFirstUse<typeof RRuleLib>('rrule');

export const RRULE_FREQS = ['yearly', 'monthly', 'weekly', 'daily', 'hourly', 'minutely', 'secondly'] as const;
export type RRuleFreq = (typeof RRULE_FREQS)[number];

/** A weekday of the rule: 0 = Monday … 6 = Sunday (dateutil's numbering), `n` the nth in the month or year (-1 = last). */
export interface RRuleWeekday {
  readonly weekday: number;
  readonly n?: number | undefined;
}

/**
 * A compiled rule. Wall times are epoch-style milliseconds of the wall clock read as UTC
 * ("floating"): `dtstart` is where the recurrence starts in the entry's zone.
 */
export interface RRuleSpec {
  readonly freq: RRuleFreq;
  readonly interval: number;
  readonly dtstartWall: number;
  readonly untilWall?: number | undefined;
  readonly count?: number | undefined;
  readonly wkst?: number | undefined;
  readonly bysetpos?: readonly number[] | undefined;
  readonly bymonth?: readonly number[] | undefined;
  readonly bymonthday?: readonly number[] | undefined;
  readonly byyearday?: readonly number[] | undefined;
  readonly byweekno?: readonly number[] | undefined;
  readonly byweekday?: readonly RRuleWeekday[] | undefined;
  readonly byhour?: readonly number[] | undefined;
  readonly byminute?: readonly number[] | undefined;
  readonly bysecond?: readonly number[] | undefined;
}

/** Where a rule without `dtstart` starts (wall time): its phase (interval, count) and its time of day come from here. */
export const DEFAULT_DTSTART_WALL = Date.UTC(2000, 0, 1);

/** A rule must recur at least this often; one that does not (February 30th) is refused at load. */
export const RECUR_WITHIN_YEARS = 100;
/** dateutil's last year: the package stops there. */
const MAX_YEAR = 9999;
/** The last wall time the package knows (the end of MAX_YEAR). */
const END_WALL = Date.UTC(MAX_YEAR, 11, 31, 23, 59, 59);
const PERIOD_MS: Partial<Record<RRuleFreq, number>> = {
  secondly: 1000,
  minutely: 60_000,
  hourly: 3_600_000,
  daily: DAY_MS,
  weekly: 7 * DAY_MS,
};
const FREQ_INDEX: Readonly<Record<RRuleFreq, number>> = { yearly: 0, monthly: 1, weekly: 2, daily: 3, hourly: 4, minutely: 5, secondly: 6 };

/** Fixed jobs (daily and longer) run a wall time once; wildcard ones (hourly and shorter) follow the clock. */
export function rruleIsFixed(spec: RRuleSpec): boolean {
  return FREQ_INDEX[spec.freq] <= FREQ_INDEX.daily;
}

interface WallParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

function partsOf(wall: number): WallParts {
  const d = new Date(wall);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    // JS: 0 = Sunday; dateutil: 0 = Monday.
    weekday: (d.getUTCDay() + 6) % 7,
  };
}

/**
 * The defaults dateutil derives from `dtstart` (rrule.__init__), written out, so that moving
 * `dtstart` changes nothing else: the day of the month or week and the time of day a rule without
 * them takes from its start.
 */
function withDefaults(spec: RRuleSpec): RRuleSpec {
  const start = partsOf(spec.dtstartWall);
  const freq = FREQ_INDEX[spec.freq];
  const out: { -readonly [K in keyof RRuleSpec]: RRuleSpec[K] } = { ...spec };
  const noDay =
    spec.byweekno === undefined && spec.byyearday === undefined && spec.bymonthday === undefined && spec.byweekday === undefined;
  if (noDay) {
    if (spec.freq === 'yearly') {
      out.bymonth ??= [start.month];
      out.bymonthday = [start.day];
    } else if (spec.freq === 'monthly') out.bymonthday = [start.day];
    else if (spec.freq === 'weekly') out.byweekday = [{ weekday: start.weekday }];
  }
  if (freq < FREQ_INDEX.hourly) out.byhour ??= [start.hour];
  if (freq < FREQ_INDEX.minutely) out.byminute ??= [start.minute];
  if (freq < FREQ_INDEX.secondly) out.bysecond ??= [start.second];
  return out;
}

/**
 * `dtstart` moved forward by whole periods to the last period start at or before `targetWall`:
 * the recurrence from there on is the rule's own (the periods are counted from the original start).
 * Only for rules without `count` (which counts from the original start) and with defaults written out.
 */
function rebased(spec: RRuleSpec, targetWall: number): RRuleSpec {
  if (spec.count !== undefined || targetWall <= spec.dtstartWall) return spec;
  const period = PERIOD_MS[spec.freq];
  if (period !== undefined) {
    const k = Math.floor((targetWall - spec.dtstartWall) / (period * spec.interval));
    if (k <= 0) return spec;
    const moved = spec.dtstartWall + k * period * spec.interval;
    if (spec.freq !== 'weekly') return { ...spec, dtstartWall: moved };
    // A week is a period from its wkst on; the package starts the first one at dtstart itself,
    // so a moved start must be a week's first day, or bysetpos would pick from half a week.
    const back = (partsOf(moved).weekday - (spec.wkst ?? 0) + 7) % 7;
    return { ...spec, dtstartWall: Math.floor(moved / DAY_MS) * DAY_MS - back * DAY_MS };
  }
  const start = partsOf(spec.dtstartWall);
  const target = partsOf(targetWall);
  if (spec.freq === 'monthly') {
    const months = (target.year - start.year) * 12 + (target.month - start.month);
    const k = Math.floor(months / spec.interval);
    if (k <= 0) return spec;
    const m = start.year * 12 + (start.month - 1) + k * spec.interval;
    return { ...spec, dtstartWall: Date.UTC(Math.floor(m / 12), m % 12, 1) };
  }
  const k = Math.floor((target.year - start.year) / spec.interval);
  return k > 0 ? { ...spec, dtstartWall: Date.UTC(start.year + k * spec.interval, 0, 1) } : spec;
}

/** Ascending: the package builds a day's times in the order of byhour × byminute × bysecond as given (dateutil sorts them). */
const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

function toLibOptions(spec: RRuleSpec): Partial<RRuleLib.Options> {
  const { Weekday } = rruleLib();
  const options: Partial<RRuleLib.Options> = {
    freq: FREQ_INDEX[spec.freq],
    interval: spec.interval,
    dtstart: new Date(spec.dtstartWall),
  };
  if (spec.untilWall !== undefined) options.until = new Date(spec.untilWall);
  if (spec.count !== undefined) options.count = spec.count;
  if (spec.wkst !== undefined) options.wkst = spec.wkst;
  if (spec.bysetpos !== undefined) options.bysetpos = ascending(spec.bysetpos);
  if (spec.bymonth !== undefined) options.bymonth = ascending(spec.bymonth);
  if (spec.bymonthday !== undefined) options.bymonthday = ascending(spec.bymonthday);
  if (spec.byyearday !== undefined) options.byyearday = ascending(spec.byyearday);
  if (spec.byweekno !== undefined) options.byweekno = ascending(spec.byweekno);
  if (spec.byweekday !== undefined) options.byweekday = spec.byweekday.map((d) => new Weekday(d.weekday, d.n));
  if (spec.byhour !== undefined) options.byhour = ascending(spec.byhour);
  if (spec.byminute !== undefined) options.byminute = ascending(spec.byminute);
  if (spec.bysecond !== undefined) options.bysecond = ascending(spec.bysecond);
  return options;
}

/**
 * The rule's wall times at or after `fromWall`, at most `limit` of them, none past `toWall`.
 * Rebased first, so the search starts near `fromWall` rather than at the original `dtstart`.
 */
export function rruleWallTimes(spec: RRuleSpec, fromWall: number, toWall: number, limit: number): number[] {
  return wallTimesSeen(spec, fromWall, toWall, limit).walls;
}

/**
 * rruleWallTimes, and how many wall times the rule gave from its start through the last one looked
 * at (`seen`: for a rule with `count`, which the package walks from its start, equal to `count` once
 * it has run out). The package is told to stop at `toWall` (its `until`): it examines every period
 * up to where it stops, matching or not, so a bounded `toWall` is what bounds its work.
 */
function wallTimesSeen(spec: RRuleSpec, fromWall: number, toWall: number, limit: number): { walls: number[]; seen: number } {
  const full = withDefaults(spec);
  if (!rruleIsFixed(full)) return { walls: subDailyWallTimes(full, fromWall, toWall, limit), seen: 0 };
  const { RRule } = rruleLib();
  const options = toLibOptions(rebased(full, fromWall));
  if (toWall < END_WALL && (spec.untilWall === undefined || toWall < spec.untilWall)) options.until = new Date(toWall);
  // noCache: the package would otherwise keep every answer of every rule.
  const rule = new RRule(options, true);
  const out: number[] = [];
  let seen = 0;
  rule.all((date) => {
    const wall = date.getTime();
    if (wall > toWall) return false;
    seen += 1;
    if (wall >= fromWall) out.push(wall);
    return out.length < limit;
  });
  return { walls: out, seen };
}

/**
 * The days from `fromDay` (a wall midnight) on that a rule's day filters accept (bymonth,
 * bymonthday, byyearday, byweekno, byweekday), at most `limit`: the package's, as a daily rule
 * (dayTest's where a day's date answers them). Without day filters every day is. A window at a time
 * (ACCEPT_WINDOW_DAYS) until a window gives some, each paid from the open budget, so a filter that
 * accepts a day once in decades (February 29th on a Monday) costs its budget, not minutes.
 */
function acceptedDays(spec: RRuleSpec, fromDay: number, limit: number): number[] {
  const out: number[] = [];
  if (
    spec.bymonth === undefined &&
    spec.bymonthday === undefined &&
    spec.byyearday === undefined &&
    spec.byweekno === undefined &&
    spec.byweekday === undefined
  ) {
    for (let day = fromDay; out.length < limit && day <= END_WALL; day += DAY_MS) out.push(day);
    return out;
  }
  const accepts = dayTest(spec);
  for (let from = fromDay; from <= END_WALL && out.length === 0; from += ACCEPT_WINDOW_DAYS * DAY_MS) {
    const windowEnd = Math.min(END_WALL, from + ACCEPT_WINDOW_DAYS * DAY_MS - 1);
    if (accepts === undefined) acceptedByPackage(spec, from, windowEnd, limit, out);
    else {
      for (let day = from; day <= windowEnd && out.length < limit; day += DAY_MS) {
        if (accepts(day)) out.push(day);
      }
    }
    // The days it examined: up to the limit-th it accepted, or the whole window. Paid as the package's
    // search is, on either path, so that what the budget accepts does not depend on which one answered.
    const examined = out.length === limit ? ((out[limit - 1] as number) - from) / DAY_MS + 1 : ACCEPT_WINDOW_DAYS;
    spendSteps(LIB_CALL_STEPS + Math.ceil(examined));
  }
  return out;
}

/** acceptedDays' search of one window (`from` through `windowEnd`) by the package, as a daily rule: the days it accepts pushed to `out`, up to `limit`. */
function acceptedByPackage(spec: RRuleSpec, from: number, windowEnd: number, limit: number, out: number[]): void {
  const { RRule } = rruleLib();
  const days: RRuleSpec = {
    freq: 'daily',
    interval: 1,
    dtstartWall: from,
    wkst: spec.wkst,
    bymonth: spec.bymonth,
    bymonthday: spec.bymonthday,
    byyearday: spec.byyearday,
    byweekno: spec.byweekno,
    byweekday: spec.byweekday,
    byhour: [0],
    byminute: [0],
    bysecond: [0],
  };
  const options = toLibOptions(days);
  options.until = new Date(windowEnd);
  new RRule(options, true).all((date) => out.push(date.getTime()) < limit);
}

/**
 * A rule's day filters as a test of one day (a wall midnight), when the day's own date answers
 * them: bymonth, bymonthday, byyearday and byweekday, each a day's month, day of the month (or
 * from its end), day of the year (or from its end) and weekday, all of them at once, as dateutil's
 * iteration tests a day of a daily rule (whose weekdays ignore an nth: rrule.__init__ for
 * freq > MONTHLY). Undefined with byweekno, whose weeks start at wkst: the package answers that.
 * wkst and bysetpos do not choose days (bysetpos picks among a period's times, later).
 * Tens of nanoseconds a day where the package's search costs milliseconds a window (its set-up
 * and a date object per day): a leader computes the next runs of such rules on its event loop,
 * and a rule whose days are rare held its slots up by 20–130 ms each time.
 */
export function dayTest(spec: RRuleSpec): ((day: number) => boolean) | undefined {
  if (spec.byweekno !== undefined) return undefined;
  const months = spec.bymonth === undefined ? undefined : new Set(spec.bymonth);
  const monthDays = spec.bymonthday === undefined ? undefined : new Set(spec.bymonthday);
  const yearDays = spec.byyearday === undefined ? undefined : new Set(spec.byyearday);
  const weekdays = spec.byweekday === undefined ? undefined : new Set(spec.byweekday.map((d) => d.weekday));
  // The first day of the year last asked: days come in order, so it is computed once a year.
  let newYearOf = Number.NaN;
  let newYearMs = 0;
  return (day) => {
    const { year, month, day: monthDay, weekday } = partsOf(day);
    if (months !== undefined && !months.has(month)) return false;
    if (weekdays !== undefined && !weekdays.has(weekday)) return false;
    if (monthDays !== undefined && !monthDays.has(monthDay) && !monthDays.has(monthDay - daysInMonth(year, month) - 1)) return false;
    if (yearDays !== undefined) {
      if (year !== newYearOf) {
        const newYear = new Date(0);
        newYear.setUTCFullYear(year, 0, 1);
        newYearOf = year;
        newYearMs = newYear.getTime();
      }
      const yearDay = Math.round((day - newYearMs) / DAY_MS) + 1;
      if (!yearDays.has(yearDay) && !yearDays.has(yearDay - (isLeapYear(year) ? 366 : 365) - 1)) return false;
    }
    return true;
  };
}

/** Days the package examines per call of acceptedDays: four years, so that every February 29th is in one. */
const ACCEPT_WINDOW_DAYS = 4 * 366;

/**
 * Budget steps one search by the package costs on top of a step per period it examines: with day
 * filters its set-up costs about as much as thousands of the days it then examines, whatever its span.
 */
const LIB_CALL_STEPS = 5000;

/**
 * Hourly, minutely and secondly rules, enumerated here: the package loops for ever on some of them
 * (a minutely rule with byhour, or a secondly one with byminute, whenever a step carries past the
 * hour or minute: it retries the carry itself as the step, which may never meet the filter),
 * where dateutil does not. The same rule as dateutil's: periods of `interval` units from the unit
 * `dtstart` falls in; a period counts on the days the day filters accept and when its own hour
 * (minute, second) passes byhour (byminute, bysecond); its wall times are the period's start
 * expanded by the finer by-parts, then picked by bysetpos; count and until as always.
 */
function subDailyWallTimes(spec: RRuleSpec, fromWall: number, toWall: number, limit: number): number[] {
  const unitMs = 1000 * (SUBDAILY_UNIT_S[spec.freq] as number);
  const step = unitMs * spec.interval;
  const firstPeriod = Math.floor(spec.dtstartWall / unitMs) * unitMs;
  const offsets = periodOffsets(spec);
  const counting = spec.count !== undefined;
  let remaining = spec.count ?? Number.POSITIVE_INFINITY;
  // A rule that counts must be walked from its start; any other from where the answer begins.
  const searchFrom = counting ? spec.dtstartWall : Math.max(spec.dtstartWall, fromWall);
  const out: number[] = [];
  let day = Math.floor(searchFrom / DAY_MS) * DAY_MS;
  for (;;) {
    const days = acceptedDays(spec, day, 64);
    if (days.length === 0) return out;
    for (const d of days) {
      spendSteps();
      let k = Math.max(0, Math.ceil((Math.max(d, searchFrom - unitMs + 1) - firstPeriod) / step));
      const lastK = Math.floor((d + DAY_MS - 1 - firstPeriod) / step);
      while (k <= lastK) {
        const start = firstPeriod + k * step;
        const skipTo = failedFilterEnd(spec, start - d);
        if (skipTo !== undefined) {
          // A period that gives nothing costs a step; one that gives wall times is bounded by `limit`.
          spendSteps();
          // The hour (minute) of this period fails: no period before the next hour (minute) can pass.
          k = Math.max(k + 1, Math.ceil((d + skipTo - firstPeriod) / step));
          continue;
        }
        for (const offset of offsets) {
          const wall = start + offset;
          if (wall < spec.dtstartWall) continue;
          if ((spec.untilWall !== undefined && wall > spec.untilWall) || wall > toWall) return out;
          remaining -= 1;
          if (wall >= fromWall && out.push(wall) >= limit) return out;
          if (remaining === 0) return out;
        }
        k += 1;
      }
    }
    day = (days[days.length - 1] as number) + DAY_MS;
  }
}

/** The wall times of one period, as offsets from its start: the finer by-parts, then bysetpos. */
function periodOffsets(spec: RRuleSpec): number[] {
  let offsets = [0];
  if (spec.freq === 'hourly') offsets = (spec.byminute ?? [0]).flatMap((m) => (spec.bysecond ?? [0]).map((s) => (m * 60 + s) * 1000));
  else if (spec.freq === 'minutely') offsets = (spec.bysecond ?? [0]).map((s) => s * 1000);
  offsets = [...new Set(offsets)].sort((a, b) => a - b);
  if (spec.bysetpos === undefined) return offsets;
  const picked = spec.bysetpos.map((pos) => offsets[pos > 0 ? pos - 1 : offsets.length + pos]).filter((o): o is number => o !== undefined);
  return [...new Set(picked)].sort((a, b) => a - b);
}

/**
 * For a period starting `timeOfDay` ms into its day: undefined when its hour, minute and second
 * pass the rule's filters (as far as its frequency filters them), otherwise the time of day of the
 * next hour or minute boundary, before which nothing can pass.
 */
function failedFilterEnd(spec: RRuleSpec, timeOfDay: number): number | undefined {
  const hour = Math.floor(timeOfDay / 3_600_000);
  if (spec.byhour !== undefined && !spec.byhour.includes(hour)) return (hour + 1) * 3_600_000;
  if (spec.freq === 'hourly') return undefined;
  const minute = Math.floor(timeOfDay / 60_000);
  if (spec.byminute !== undefined && !spec.byminute.includes(minute % 60)) return (minute + 1) * 60_000;
  if (spec.freq === 'minutely') return undefined;
  const second = Math.floor(timeOfDay / 1000) % 60;
  return spec.bysecond !== undefined && !spec.bysecond.includes(second) ? timeOfDay + 1 : undefined;
}

/** Whether the pattern has a wall time in the last `days` days the package knows (where a search that finds none ends). */
function recursNearTheEnd(pattern: RRuleSpec, days: number): boolean {
  return rruleWallTimes({ ...pattern, count: undefined, untilWall: undefined }, END_WALL - days * DAY_MS, END_WALL, 1).length > 0;
}

const SUBDAILY_UNIT_S: Partial<Record<RRuleFreq, number>> = { hourly: 3600, minutely: 60, secondly: 1 };

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * For an hourly, minutely or secondly rule: whether stepping by its interval from its start ever
 * reaches a time of day its filters accept (byhour; byminute from minutely; bysecond from
 * secondly — coarser rules expand those instead). The package steps until it finds one, for ever
 * when there is none (dateutil refuses such a rule: "Invalid rrule byxxx generates an empty set").
 * The times of day reached repeat after a day's worth of units divided by gcd(interval, that).
 */
function reachesItsTimesOfDay(pattern: RRuleSpec): boolean {
  const unit = SUBDAILY_UNIT_S[pattern.freq];
  if (unit === undefined) return true;
  const perDay = 86_400 / unit;
  const start = partsOf(pattern.dtstartWall);
  const t0 = Math.floor((start.hour * 3600 + start.minute * 60 + start.second) / unit);
  const steps = perDay / gcd(pattern.interval % perDay || perDay, perDay);
  for (let k = 0; k < steps; k++) {
    const s = ((((t0 + k * pattern.interval) % perDay) + perDay) % perDay) * unit;
    const hourOk = pattern.byhour === undefined || pattern.byhour.includes(Math.floor(s / 3600));
    const minuteOk = unit > 60 || pattern.byminute === undefined || pattern.byminute.includes(Math.floor(s / 60) % 60);
    const secondOk = unit > 1 || pattern.bysecond === undefined || pattern.bysecond.includes(s % 60);
    if (hourOk && minuteOk && secondOk) return true;
  }
  return false;
}

/**
 * Whether the rule's pattern recurs at all (ignoring `count` and `until`); a rule that does not is
 * refused at load. The package searches a rule that never matches until the year 9999 (seconds to
 * minutes of work), or for ever (see reachesItsTimesOfDay). So the search is made on the last
 * RECUR_WITHIN_YEARS years it knows, where it ends: the pattern is the same there, the start moving
 * by whole periods. A rule of whole days or longer is tried whole; an hourly, minutely or secondly
 * one, which would take millions of steps over those years, in its two halves: its days (its day
 * filters on a daily rule) and its times of day (arithmetic). What that leaves unseen — an hourly
 * rule whose interval is a whole number of weeks, with a weekday filter its start never meets —
 * costs one search to the year 9999 (seconds) and then has no next fire.
 */
export function rruleRecurs(spec: RRuleSpec): boolean {
  const pattern = withDefaults(spec);
  const years = RECUR_WITHIN_YEARS * 366;
  if (rruleIsFixed(pattern)) return recursNearTheEnd(pattern, years);
  if (!reachesItsTimesOfDay(pattern)) return false;
  const days: RRuleSpec = {
    freq: 'daily',
    interval: 1,
    dtstartWall: pattern.dtstartWall,
    bymonth: pattern.bymonth,
    bymonthday: pattern.bymonthday,
    byyearday: pattern.byyearday,
    byweekno: pattern.byweekno,
    byweekday: pattern.byweekday,
    wkst: pattern.wkst,
    byhour: [0],
    byminute: [0],
    bysecond: [0],
  };
  return recursNearTheEnd(days, years);
}

/**
 * The next `count` fire instants strictly after `afterMs`, in `zone`. Wall times are mapped to
 * instants by the DST policy above; a rule that has run out (count, until) gives fewer. A rule of
 * whole days or longer is searched a window at a time (FIXED_WINDOW_MS), each search and each
 * period it examines paid from the budget: the package examines every period of a window, matching or not.
 */
export function nextRRuleFires(spec: RRuleSpec, zone: string, afterMs: number, count: number): number[] {
  if (count <= 0) return [];
  return withStepBudget(
    () => `the next runs of ${rruleText(spec)} in ${zone}`,
    () => {
      const offsets = zoneOffsets(zone);
      const fixed = rruleIsFixed(spec);
      // Offsets are within a day of UTC, so a wall time more than two days before `afterMs` read as
      // UTC cannot be after it, and one more than two days past the count-th instant cannot come before it.
      let fromWall = afterMs - 2 * DAY_MS;
      const found: number[] = [];
      const periodMs = (PERIOD_MS[spec.freq] ?? (spec.freq === 'monthly' ? 31 : 366) * DAY_MS) * spec.interval;
      const windowMs = Math.max(FIXED_WINDOW_MS, FIXED_WINDOW_PERIODS * periodMs);
      let batch = Math.max(8, 2 * count);
      for (;;) {
        const toWall = fixed ? Math.min(END_WALL, fromWall + windowMs) : Number.MAX_SAFE_INTEGER;
        const { walls, seen } = wallTimesSeen(spec, fromWall, toWall, batch);
        const last = walls[walls.length - 1];
        const full = walls.length === batch;
        // One search by the package, and the periods it examined: to the last wall time it gave, or the whole window.
        const end = full || (spec.count !== undefined && seen >= spec.count) ? (last as number) : toWall;
        if (fixed) spendSteps(LIB_CALL_STEPS + Math.ceil(Math.max(0, end - fromWall) / periodMs));
        for (const wall of walls) {
          const instants = offsets.instantsOfWall(wall);
          if (instants.length === 0) {
            if (fixed) found.push(offsets.gapEndOfWall(wall));
          } else if (fixed || instants.length === 1) found.push(instants[0] as number);
          else pushAll(found, instants);
        }
        const after = [...new Set(found.filter((t) => t > afterMs))].sort((a, b) => a - b);
        // Run out: past its until or the package's last year, its count reached, or (sub-daily) fewer than asked.
        const exhausted =
          !full &&
          (!fixed ||
            toWall >= END_WALL ||
            (spec.untilWall !== undefined && toWall >= spec.untilWall) ||
            (spec.count !== undefined && seen >= spec.count));
        if (exhausted || (after.length >= count && last !== undefined && last > (after[count - 1] as number) + 2 * DAY_MS)) {
          return after.slice(0, count);
        }
        // Go on from just after the last wall time seen (or the window searched); `found` keeps what was mapped so far.
        if (full) {
          fromWall = (last as number) + 1;
          batch *= 2;
        } else fromWall = toWall + 1;
      }
    },
  );
}

/** What a rule of whole days or longer is searched by per window (see nextRRuleFires): four years, or 64 of its periods if longer. */
const FIXED_WINDOW_MS = 4 * 366 * DAY_MS;
const FIXED_WINDOW_PERIODS = 64;

const WEEKDAY_NAMES = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;

function wallText(wall: number): string {
  return new Date(wall).toISOString().slice(0, 19).replace(/[-:]/g, '');
}

/** The rule in RFC 5545 text (DTSTART as a floating wall time), as `beat check` and `beat next` show it. */
export function rruleText(spec: RRuleSpec): string {
  const parts = [`FREQ=${spec.freq.toUpperCase()}`];
  if (spec.interval !== 1) parts.push(`INTERVAL=${spec.interval}`);
  if (spec.count !== undefined) parts.push(`COUNT=${spec.count}`);
  if (spec.untilWall !== undefined) parts.push(`UNTIL=${wallText(spec.untilWall)}`);
  if (spec.wkst !== undefined) parts.push(`WKST=${WEEKDAY_NAMES[spec.wkst] ?? spec.wkst}`);
  const list = (name: string, values: readonly number[] | undefined): void => {
    if (values !== undefined) parts.push(`${name}=${values.join(',')}`);
  };
  list('BYSETPOS', spec.bysetpos);
  list('BYMONTH', spec.bymonth);
  list('BYMONTHDAY', spec.bymonthday);
  list('BYYEARDAY', spec.byyearday);
  list('BYWEEKNO', spec.byweekno);
  if (spec.byweekday !== undefined)
    parts.push(`BYDAY=${spec.byweekday.map((d) => `${d.n ?? ''}${WEEKDAY_NAMES[d.weekday] ?? d.weekday}`).join(',')}`);
  list('BYHOUR', spec.byhour);
  list('BYMINUTE', spec.byminute);
  list('BYSECOND', spec.bysecond);
  const rule = `RRULE:${parts.join(';')}`;
  return spec.dtstartWall === DEFAULT_DTSTART_WALL ? rule : `DTSTART:${wallText(spec.dtstartWall)} ${rule}`;
}
