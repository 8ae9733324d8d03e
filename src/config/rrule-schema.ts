/**
 * The `rrule` schedule form: an RFC 5545 recurrence rule, written as its text
 * (`"FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9"`, optionally with a `DTSTART:20260105T090000` line) or as an
 * object with the same parts in lower case (`{ freq: weekly, byweekday: [MO, FR], byhour: 9 }`).
 * Both become one RRuleSpec, checked part by part with the allowed range in each message.
 */
import * as z from 'zod';
import { DEFAULT_DTSTART_WALL, RECUR_WITHIN_YEARS, RRULE_FREQS, rruleRecurs } from '../core/rrule.js';
import type { RRuleSpec, RRuleWeekday } from '../core/rrule.js';
import { keyed } from './key-spelling.js';

const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'] as const;

const intList = (what: string, lo: number, hi: number, nonZero = false) =>
  z
    .union([z.number(), z.array(z.number()).min(1, { error: `${what} must not be an empty list` })], {
      error: `${what} must be a whole number or a list of them`,
    })
    .transform((value) => (Array.isArray(value) ? value : [value]))
    .superRefine((values, ctx) => {
      for (const [i, v] of values.entries()) {
        if (!Number.isInteger(v) || v < lo || v > hi || (nonZero && v === 0)) {
          ctx.addIssue({
            code: 'custom',
            path: values.length > 1 ? [i] : [],
            message: `${what} must be a whole number within ${lo}..${hi}${nonZero ? ', not 0' : ''}, got ${v}`,
            input: v,
          });
        }
      }
    });

const WEEKDAY_TEXT = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/i;
const weekdayHelp = 'a weekday is "MO".."SU", with an optional nth such as "1MO" or "-1FR", 0 (Monday)..6 (Sunday), or { weekday, n }';

const weekdayItem = z
  .union([z.string(), z.number(), keyed({ weekday: z.union([z.string(), z.number()]), n: z.number().optional() })], { error: weekdayHelp })
  .transform((value, ctx): RRuleWeekday => {
    let weekday: number | undefined;
    let n: number | undefined;
    if (typeof value === 'string') {
      const m = WEEKDAY_TEXT.exec(value.trim());
      if (m !== null) {
        weekday = WEEKDAYS.indexOf((m[2] as string).toUpperCase() as (typeof WEEKDAYS)[number]);
        n = m[1] === undefined ? undefined : Number(m[1]);
      }
    } else if (typeof value === 'number') weekday = value;
    else {
      const w = value.weekday;
      weekday = typeof w === 'number' ? w : WEEKDAYS.indexOf(w.trim().toUpperCase() as (typeof WEEKDAYS)[number]);
      n = value.n;
    }
    if (weekday === undefined || !Number.isInteger(weekday) || weekday < 0 || weekday > 6) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)}: ${weekdayHelp}`, input: value });
      return z.NEVER;
    }
    if (n !== undefined && (!Number.isInteger(n) || n === 0 || n < -53 || n > 53)) {
      ctx.addIssue({ code: 'custom', message: `the nth of a weekday must be within -53..53, not 0, got ${n}`, input: value });
      return z.NEVER;
    }
    return n === undefined ? { weekday } : { weekday, n };
  });

/** A wall time in the entry's zone: no offset, because the zone is the entry's `timezone`. */
const WALL_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

const wallTime = (what: string) =>
  z.string({ error: `${what} must be a date-time such as "2026-01-05T09:00:00"` }).transform((text, ctx) => {
    const wall = parseWall(text.trim());
    if (typeof wall === 'string') {
      ctx.addIssue({ code: 'custom', message: `${what} ${JSON.stringify(text)}: ${wall}`, input: text });
      return z.NEVER;
    }
    return wall;
  });

/** Wall-as-UTC milliseconds, or why the text is not a wall time. */
function parseWall(text: string): number | string {
  const compact = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?$/.exec(text);
  const m = compact ?? WALL_TIME.exec(text);
  if (m === null) {
    if (/(Z|[+-]\d{2}:?\d{2})$/i.test(text))
      return "give a wall time without an offset: it is read in the entry's timezone (set `timezone` on the entry for another zone)";
    return 'expected a date-time such as "2026-01-05T09:00:00" (or RFC 5545\'s 20260105T090000)';
  }
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => (v === undefined ? 0 : Number(v))) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  const real =
    d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
  if (!real || year < 1900 || year > 9000) return 'not a real date and time between the years 1900 and 9000';
  return ms;
}

export const rruleObjectSchema = keyed(
  {
    freq: z
      .string({ error: `freq is required: one of ${RRULE_FREQS.join(', ')}` })
      .transform((s) => s.trim().toLowerCase())
      .pipe(z.enum(RRULE_FREQS, { error: `freq must be one of ${RRULE_FREQS.join(', ')}` })),
    interval: z
      .number()
      .int({ error: 'interval must be a whole number' })
      .min(1, { error: 'interval must be at least 1' })
      .max(100_000, { error: 'interval must be at most 100000' })
      .default(1),
    count: z
      .number()
      .int({ error: 'count must be a whole number' })
      .min(1, { error: 'count must be at least 1' })
      .max(1_000_000, { error: 'count must be at most 1000000' })
      .optional(),
    dtstart: wallTime('dtstart').optional(),
    until: wallTime('until').optional(),
    wkst: weekdayItem.optional(),
    bysetpos: intList('bysetpos', -366, 366, true).optional(),
    bymonth: intList('bymonth', 1, 12).optional(),
    bymonthday: intList('bymonthday', -31, 31, true).optional(),
    byyearday: intList('byyearday', -366, 366, true).optional(),
    byweekno: intList('byweekno', -53, 53, true).optional(),
    // A list, or one weekday alone (a union of the two would hide the item's message behind "Invalid input").
    byweekday: z
      .preprocess(
        (v): unknown => (Array.isArray(v) ? v : [v]),
        z.array(weekdayItem).min(1, { error: 'byweekday must not be an empty list' }),
      )
      .optional(),
    byhour: intList('byhour', 0, 23).optional(),
    byminute: intList('byminute', 0, 59).optional(),
    bysecond: intList('bysecond', 0, 59).optional(),
  },
  { byday: 'byweekday' },
);

/** RFC 5545 text → the object form (names lower-cased, lists split), checked by the same schema. */
function textToObject(text: string): Record<string, unknown> | string {
  const object: Record<string, unknown> = {};
  for (const line of text.split(/\s*[\r\n]+\s*|\s+(?=RRULE:|DTSTART)/i).filter((l) => l !== '')) {
    const dtstart = /^DTSTART(;[^:]*)?:(.*)$/i.exec(line);
    if (dtstart !== null) {
      if (dtstart[1] !== undefined)
        return `DTSTART${dtstart[1]}: give DTSTART as a wall time without TZID: it is read in the entry's timezone`;
      object['dtstart'] = (dtstart[2] as string).trim();
      continue;
    }
    const rule = line.replace(/^RRULE:/i, '');
    for (const part of rule.split(';').filter((p) => p !== '')) {
      const eq = part.indexOf('=');
      if (eq < 1) return `${JSON.stringify(part)} is not NAME=VALUE`;
      const name = part.slice(0, eq).trim().toLowerCase();
      const value = part.slice(eq + 1).trim();
      if (name in object) return `${name.toUpperCase()} is given twice`;
      if (name === 'freq' || name === 'until' || name === 'wkst') object[name] = value;
      else if (name === 'byday' || name === 'byweekday') object['byweekday'] = value.split(',');
      else object[name] = value.includes(',') ? value.split(',').map(Number) : Number(value);
    }
  }
  return object;
}

export const rruleSchema = z
  .union([z.string(), z.looseObject({})], {
    error: 'expected an RFC 5545 rule such as "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9" or an object { freq, byweekday, … }',
  })
  .transform((input, ctx) => {
    if (typeof input !== 'string') return input;
    const object = textToObject(input);
    if (typeof object === 'string') {
      ctx.addIssue({ code: 'custom', message: object, input });
      return z.NEVER;
    }
    return object;
  })
  .pipe(rruleObjectSchema)
  .transform((rule, ctx): RRuleSpec => {
    const dtstartWall = rule.dtstart ?? DEFAULT_DTSTART_WALL;
    const spec: RRuleSpec = {
      freq: rule.freq,
      interval: rule.interval,
      dtstartWall,
      untilWall: rule.until,
      count: rule.count,
      wkst: rule.wkst?.weekday,
      bysetpos: rule.bysetpos,
      bymonth: rule.bymonth,
      bymonthday: rule.bymonthday,
      byyearday: rule.byyearday,
      byweekno: rule.byweekno,
      byweekday: rule.byweekday,
      byhour: rule.byhour,
      byminute: rule.byminute,
      bysecond: rule.bysecond,
    };
    if (rule.until !== undefined && rule.until < dtstartWall) {
      ctx.addIssue({ code: 'custom', path: ['until'], message: 'until is before dtstart: the rule would never fire', input: rule.until });
      return z.NEVER;
    }
    // Refused now rather than found out later (the rule package would search to the year 9999).
    if (!rruleRecurs(spec)) {
      ctx.addIssue({
        code: 'custom',
        message: `this rule never fires, or less often than once in ${RECUR_WITHIN_YEARS} years (check its by… parts against each other, and against interval and dtstart)`,
        input: undefined,
      });
      return z.NEVER;
    }
    return spec;
  });
