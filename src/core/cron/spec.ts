/**
 * The parsed form of a cron schedule, shared by both input dialects (crontab lines and Celery
 * `crontab(...)` objects), and the day-matching rules that both parsers and the enumerator use.
 *
 * A CronSpec holds expanded, sorted value sets rather than text, so that evaluation never
 * re-parses; the text survives only in `source`, for messages.
 */
import { civilFromDays, daysFromCivil, daysInMonth, weekdayOfDays } from '../../time/zone.js';

/** `w#n`: the n-th (1-5) weekday w (0 = Sunday) of the month. */
export interface NthWeekday {
  readonly weekday: number;
  readonly nth: number;
}

export interface CronSpec {
  /** `cron`: a crontab line (Vixie/cronie rules); `celery`: a Celery `crontab(...)` object. */
  readonly dialect: 'cron' | 'celery';
  /** The schedule as the user wrote it, for messages; a hashed line's with its `H` resolved (`37 14 * * *`). */
  readonly source: string;
  /** A line with Jenkins' `H` (hashed.ts) as written (`H H * * *`); undefined for any other. */
  readonly hashedFrom?: string;
  /**
   * §4 DST class. Fixed (neither minute nor hour text starts with `*`): a slot in a DST gap runs
   * once at the gap end; a repeated slot runs on its first pass only. Otherwise wildcard: gap
   * slots are skipped, repeated slots run on both passes. A seconds field does not count: §4
   * (cronie's MIN_STAR|HR_STAR test) looks at minute and hour only.
   */
  readonly fixed: boolean;
  /** Sorted, unique. `[0]` for 5-field lines and Celery objects. */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  /** Plain days of month 1-31 (all 31 for `*`). A day beyond the month's length never matches. */
  readonly daysOfMonth: readonly number[];
  /** `L` in day-of-month: the last day of each month. */
  readonly lastDayOfMonth: boolean;
  /** `LW`: the last Monday-Friday of each month. */
  readonly lastWeekdayOfMonth: boolean;
  /** `nW`: the Monday-Friday nearest to day n, staying inside the month. */
  readonly nearestWeekdays: readonly number[];
  /** 1-12. */
  readonly months: readonly number[];
  /** Plain weekdays 0-6, Sunday = 0 (cron's 7 is folded into 0). */
  readonly daysOfWeek: readonly number[];
  /** `w#n` entries. */
  readonly nthDaysOfWeek: readonly NthWeekday[];
  /** `wL`: the last weekday w of the month, as weekday numbers 0-6. */
  readonly lastDaysOfWeek: readonly number[];
  /**
   * How the day-of-month part and the day-of-week part combine. Celery always ANDs; cron ORs
   * them when both fields are restricted (neither text starts with `*` or `?`).
   */
  readonly dayRule: 'and' | 'or';
  /** The same sets as bit masks, derived by the parser; the enumerator's hot path reads only these. */
  readonly masks: CronMasks;
}

/** Bit v set when value v is in the set (day of month d and month m: bit d-1, m-1). */
export interface CronMasks {
  /** Seconds 0-31 and 32-59 (bit v - 32); likewise minutes. */
  readonly secondsLow: number;
  readonly secondsHigh: number;
  readonly minutesLow: number;
  readonly minutesHigh: number;
  readonly hours: number;
  readonly daysOfMonth: number;
  readonly months: number;
  readonly daysOfWeek: number;
  /** Whether any of L, LW, nW, w#n, wL is used (they are read from the arrays). */
  readonly dayExtras: boolean;
}

/**
 * A schedule text or object that cannot be used. `field` names the field at fault when there is
 * one: `second minute hour dayOfMonth month dayOfWeek` for crontab lines, the camelCase Celery
 * field name (`monthOfYear` …) for Celery objects. Crontab-line messages name the field in their
 * text (`hour field "25": 25 is out of range 0-23`) because a line has no other locator; Celery
 * messages don't (`25 is out of range 0-23`), since the config path already ends in the field.
 */
export class CronParseError extends Error {
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'CronParseError';
    if (field !== undefined) this.field = field;
  }
}

export const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
] as const;
export const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

/**
 * A set of small integers (0-63) as two 32-bit masks: the parsers collect field values here,
 * which is several times cheaper than Set + sort when 100,000 schedules are parsed at start-up.
 */
export class ValueBits {
  /** Values 0-31 as bits 0-31. */
  low = 0;
  /** Values 32-63 as bits 0-31. */
  high = 0;

  add(v: number): void {
    if (v < 32) this.low |= 1 << v;
    else this.high |= 1 << (v - 32);
  }

  /**
   * The values, ascending, as a frozen array shared between specs with the same set: 100,000
   * parsed schedules are mostly `*` and a few common lists, and sharing keeps them out of the
   * garbage collector's way.
   */
  toArray(): readonly number[] {
    const key = `${this.low}:${this.high}`;
    let values = interned.get(key);
    if (values === undefined) {
      const out: number[] = [];
      for (let m = this.low; m !== 0; m &= m - 1) out.push(31 - Math.clz32(m & -m));
      for (let m = this.high; m !== 0; m &= m - 1) out.push(63 - Math.clz32(m & -m));
      values = Object.freeze(out);
      if (interned.size >= 50_000) interned.clear();
      interned.set(key, values);
    }
    return values;
  }
}

const interned = new Map<string, readonly number[]>();

/** The empty list, shared. */
export const NONE: readonly never[] = Object.freeze([]);

/** The masks of a spec from the parser's value sets (day of month and month are 1-based). */
export function masksOf(
  f: Readonly<Record<'seconds' | 'minutes' | 'hours' | 'daysOfMonth' | 'months' | 'daysOfWeek', ValueBits>>,
  dayExtras: boolean,
): CronMasks {
  return {
    secondsLow: f.seconds.low,
    secondsHigh: f.seconds.high,
    minutesLow: f.minutes.low,
    minutesHigh: f.minutes.high,
    hours: f.hours.low,
    daysOfMonth: f.daysOfMonth.low >>> 1,
    months: f.months.low >>> 1,
    daysOfWeek: f.daysOfWeek.low,
    dayExtras,
  };
}

/** Sorted unique copy of small integers (0-63). */
export function uniqueSorted(values: Iterable<number>): readonly number[] {
  const bits = new ValueBits();
  for (const v of values) bits.add(v);
  return bits.toArray();
}

/** Days of (year, month) that match the spec's day and month fields: bit d-1 set when day d matches. */
export function monthMask(spec: CronSpec, year: number, month: number): number {
  const m = spec.masks;
  if (((m.months >> (month - 1)) & 1) === 0) return 0;
  const dim = daysInMonth(year, month);
  const valid = dim === 31 ? 0x7fffffff : (1 << dim) - 1;
  const first = weekdayOfDays(daysFromCivil(year, month, 1));
  // Day d falls on weekday (first + d - 1) % 7: rotate the weekday set by `first`, repeat weekly.
  const week = ((m.daysOfWeek >> first) | (m.daysOfWeek << (7 - first))) & 0x7f;
  let dow = week | (week << 7) | (week << 14) | (week << 21) | (week << 28);
  let dom = m.daysOfMonth;
  if (m.dayExtras) {
    const lastWd = (first + dim - 1) % 7;
    if (spec.lastDayOfMonth) dom |= 1 << (dim - 1);
    if (spec.lastWeekdayOfMonth) dom |= 1 << (dim - 1 - (lastWd === 6 ? 1 : lastWd === 0 ? 2 : 0));
    for (const n of spec.nearestWeekdays) {
      if (n > dim) continue; // the 31st of a 30-day month has no nearest weekday
      const wd = (first + n - 1) % 7;
      const d = wd === 6 ? (n === 1 ? 3 : n - 1) : wd === 0 ? (n === dim ? n - 2 : n + 1) : n;
      dom |= 1 << (d - 1);
    }
    for (const { weekday, nth } of spec.nthDaysOfWeek) {
      const d = 1 + ((weekday - first + 7) % 7) + 7 * (nth - 1);
      if (d <= dim) dow |= 1 << (d - 1);
    }
    for (const w of spec.lastDaysOfWeek) dow |= 1 << (dim - 1 - ((lastWd - w + 7) % 7));
  }
  return (spec.dayRule === 'or' ? dom | dow : dom & dow) & valid;
}

/**
 * The first matching day number (days since 1970-01-01) at or after `fromDay`, or undefined if
 * none within `maxMonths` months. 4812 months cover the 400-year Gregorian cycle, after which
 * weekdays and leap years repeat, so "none in 4812 months" means "never".
 */
export function firstMatchingDay(spec: CronSpec, fromDay: number, maxMonths = 4812): number | undefined {
  let { year, month, day } = civilFromDays(fromDay);
  let mask = monthMask(spec, year, month) & (-1 << (day - 1));
  for (let i = 0; mask === 0;) {
    if (++i > maxMonths) return undefined;
    if (++month > 12) {
      month = 1;
      year++;
    }
    mask = monthMask(spec, year, month);
  }
  return daysFromCivil(year, month, 1) + 31 - Math.clz32(mask & -mask);
}

/** Texts of the day fields, for the "can never run" message, with the dialect's field names. */
export interface DayFieldTexts {
  readonly dayOfMonth: readonly [label: string, text: string];
  readonly month: readonly [label: string, text: string];
  readonly dayOfWeek: readonly [label: string, text: string];
}

const EPOCH_2000 = daysFromCivil(2000, 1, 1);

/**
 * Freezes a spec after rejecting schedules that can never run. Typical specs match a day in the
 * first month scanned, so the check is cheap; impossible ones cost one 400-year scan (~5k months).
 */
export function finishSpec(spec: CronSpec, texts: () => DayFieldTexts): CronSpec {
  if (firstMatchingDay(spec, EPOCH_2000) === undefined) {
    throw new CronParseError(`can never run: ${impossibleReason(spec, texts())}`, 'dayOfMonth');
  }
  return Object.freeze(spec);
}

function impossibleReason(spec: CronSpec, texts: DayFieldTexts): string {
  const longest = (m: number): number => (m === 2 ? 29 : daysInMonth(2001, m));
  const monthLimit = Math.max(...spec.months.map(longest));
  const days = [...spec.daysOfMonth, ...spec.nearestWeekdays];
  const domOnly = spec.dayRule === 'and' && !spec.lastDayOfMonth && !spec.lastWeekdayOfMonth;
  if (domOnly && days.every((d) => d > monthLimit)) {
    const names = spec.months.map((m) => MONTH_NAMES[m - 1] as string);
    const verb = names.length === 1 ? 'has' : 'have';
    return `${joinWords(names, 'and')} ${verb} no day ${joinWords(uniqueSorted(days).map(String), 'or')}`;
  }
  const [dom, month, dow] = [texts.dayOfMonth, texts.month, texts.dayOfWeek];
  return `no date matches ${dom[0]} "${dom[1]}", ${month[0]} "${month[1]}" and ${dow[0]} "${dow[1]}" together`;
}

/** ["a"] → "a"; ["a","b"] → "a and b"; ["a","b","c"] → "a, b and c". */
export function joinWords(words: readonly string[], conjunction: string): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1] as string}`;
}
