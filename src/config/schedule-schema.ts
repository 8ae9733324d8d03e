/**
 * The `schedule` of an entry: what users write (a number, or an object with exactly one of
 * `timedelta`, `crontab`, `cron`, `solar`, `clocked`, `rrule`; or a list of them, issue 71) and its
 * compilation into a `ScheduleDraft`.
 * Crontab text is parsed here, once, so that every problem is reported with its path at load time.
 */
import * as z from 'zod';
import { CronParseError, checkHashedLine, isHashedLine, parseCeleryCrontab, parseCronLine, parseHashedLine } from '../core/cron/index.js';
import type { CronSpec } from '../core/cron/index.js';
import { SOLAR_EVENTS } from '../core/types.js';
import type { SolarEvent } from '../core/types.js';
import type { RRuleSpec } from '../core/rrule.js';
import { ISO_DATE_TIME, isShownInstant, parseIsoDateTime } from '../time/zone.js';
import { shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { INTERVAL_MAX_MS, INTERVAL_MIN_MS, grouped, rangeText } from './duration.js';
import { keyed } from './key-spelling.js';
import { rruleSchema } from './rrule-schema.js';

const SCHEDULE_FORMS = ['timedelta', 'crontab', 'cron', 'solar', 'clocked', 'rrule'] as const;

const nonNegative = (what: string) =>
  z.number({ error: `${what} must be a number` }).nonnegative({ error: `${what} must not be negative` });

export const timedeltaSchema = keyed({
  weeks: nonNegative('weeks').optional(),
  days: nonNegative('days').optional(),
  hours: nonNegative('hours').optional(),
  minutes: nonNegative('minutes').optional(),
  seconds: nonNegative('seconds').optional(),
  milliseconds: nonNegative('milliseconds').optional(),
});
export type TimedeltaInput = z.input<typeof timedeltaSchema>;

export function timedeltaMs(td: z.output<typeof timedeltaSchema>): number {
  return (
    ((((td.weeks ?? 0) * 7 + (td.days ?? 0)) * 24 + (td.hours ?? 0)) * 60 + (td.minutes ?? 0)) * 60_000 +
    (td.seconds ?? 0) * 1000 +
    (td.milliseconds ?? 0)
  );
}

const crontabField = z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))], {
  error: 'expected a number, a string such as "*/15" or "mon-fri", or an array of them',
});

const CRONTAB_FIELDS = ['minute', 'hour', 'dayOfWeek', 'dayOfMonth', 'monthOfYear'] as const;

export const crontabSchema = keyed({
  minute: crontabField.optional(),
  hour: crontabField.optional(),
  dayOfWeek: crontabField.optional(),
  dayOfMonth: crontabField.optional(),
  monthOfYear: crontabField.optional(),
});
export type CrontabInput = z.input<typeof crontabSchema>;

export const solarSchema = keyed({
  event: z.enum(SOLAR_EVENTS, { error: `expected one of ${SOLAR_EVENTS.join(', ')}` }),
  lat: z
    .number({ error: 'expected a latitude in degrees' })
    .min(-90, { error: 'latitude must be within -90..90' })
    .max(90, { error: 'latitude must be within -90..90' }),
  lon: z
    .number({ error: 'expected a longitude in degrees' })
    .min(-180, { error: 'longitude must be within -180..180' })
    .max(180, { error: 'longitude must be within -180..180' }),
});
export type SolarInput = z.input<typeof solarSchema>;

/**
 * `crontab:` as a schedule form: a crontab line given there (`{ crontab: "0 9 * * *" }`, the form
 * other schedulers name so) is pointed to `cron:`, where zod alone said "expected an object".
 */
const crontabForm = z.preprocess((value, ctx) => {
  if (typeof value === 'string') {
    ctx.issues.push({
      code: 'custom',
      message: `crontab takes Celery's fields, such as { minute: 0, hour: 9 }; use \`cron:\` for a crontab line: { cron: ${shown(value)} }`,
      input: value,
    });
  }
  return value;
}, crontabSchema) as unknown as typeof crontabSchema;

const scheduleObject = keyed({
  timedelta: timedeltaSchema.optional(),
  crontab: crontabForm.optional(),
  cron: z.string({ error: 'expected a crontab line such as "*/5 * * * *"' }).optional(),
  seconds: z.boolean({ error: 'seconds must be true or false: true says the cron line has 6 fields, seconds first' }).optional(),
  solar: solarSchema.optional(),
  clocked: z
    .string({ error: 'expected an ISO-8601 date-time such as "2027-01-01T09:00:00+01:00"' })
    .regex(ISO_DATE_TIME, { error: 'expected an ISO-8601 date-time such as "2027-01-01T09:00:00+01:00"' })
    .optional(),
  rrule: rruleSchema.optional(),
});

const INTERVAL_RANGE = `an interval must be ${rangeText(INTERVAL_MIN_MS, INTERVAL_MAX_MS)}`;

/** What a value that is no schedule form is told. */
function specError(input: unknown): string {
  // zod's number refuses NaN and Infinity (YAML's .nan and .inf) before the bounds see them.
  return typeof input === 'number'
    ? `${INTERVAL_RANGE}, got ${String(input)}`
    : `${input === undefined ? 'schedule is required: ' : 'expected '}a number of seconds, an object with one of: ${SCHEDULE_FORMS.join(', ')}, or a list of them`;
}

/** Within the interval bounds, judged before rounding to the millisecond; NaN is not. */
function isIntervalMs(ms: number): boolean {
  return ms >= INTERVAL_MIN_MS && ms <= INTERVAL_MAX_MS;
}

/** What one schedule form compiles to before the entry's time zone is known. */
export type SpecDraft =
  | { readonly kind: 'interval'; readonly everyMs: number }
  /**
   * `hashed`: a line with Jenkins' `H` as written, resolved per entry (resolve.ts); its `spec` then
   * has every H at its lowest value, for what reads only the line's shape (period, Sentry's check).
   */
  | { readonly kind: 'cron'; readonly spec: CronSpec; readonly hashed?: string }
  | { readonly kind: 'solar'; readonly event: SolarEvent; readonly lat: number; readonly lon: number }
  | { readonly kind: 'clocked'; readonly text: string }
  | { readonly kind: 'rrule'; readonly spec: RRuleSpec };

/** What an entry's schedule compiles to: one form, or a union of two or more (core/types.ts ScheduleUnion). */
export type ScheduleDraft = SpecDraft | { readonly kind: 'union'; readonly specs: readonly SpecDraft[] };

const specSchema = z
  .union([z.number(), scheduleObject], { error: (issue) => specError(issue.input) })
  .transform((input, ctx): SpecDraft => {
    // An unknown key was already reported (with a did-you-mean hint); "give one of" would repeat it.
    if (ctx.issues.length > 0) return z.NEVER;
    return typeof input === 'number' ? secondsDraft(input, ctx) : objectDraft(input, ctx);
  });

/**
 * Several specs (issue 71): the entry fires at the union of their instants. Each is checked as a
 * plain schedule is, at its index (`schedule[1].cron`), so a spec that can never fire is refused
 * where it stands, and a union that never fires (all of its specs) with it. A list of one is the
 * plain form.
 */
const specListSchema = z
  .array(specSchema)
  .min(1, { error: 'an empty list of schedules never fires: give at least one schedule, or remove the entry' })
  // The ceiling here; the deployment's own entryLimits.maxSpecs where its setting is known (the
  // config's refinement, and entry-definition.ts for runtime entries), with the same message.
  .max(DEFAULTS.maxSpecsCeiling, {
    error: (issue) =>
      tooManySpecsMessage(Array.isArray(issue.input) ? issue.input.length : DEFAULTS.maxSpecsCeiling + 1, DEFAULTS.maxSpecsCeiling),
  })
  .transform((specs): ScheduleDraft => (specs.length === 1 ? (specs[0] as SpecDraft) : { kind: 'union', specs }));

/** The refusal of a schedule list of `count` specs, more than `max` (the setting entryLimits.maxSpecs). */
export function tooManySpecsMessage(count: number, max: number): string {
  const fix =
    max < DEFAULTS.maxSpecsCeiling
      ? `split the entry, say the instants with one rrule, or raise entryLimits.maxSpecs (up to ${DEFAULTS.maxSpecsCeiling})`
      : 'split the entry, or say the instants with one rrule';
  return `a schedule may list at most ${max} specs (entryLimits.maxSpecs), got ${count}: ${fix}`;
}

/** Whether a schedule as written is a list longer than `max` specs, and so refused. */
export function specCountOver(schedule: unknown, max: number): number | undefined {
  return Array.isArray(schedule) && schedule.length > max ? schedule.length : undefined;
}

/**
 * A list or one spec, told apart by the input's type: a z.union would try both and, both failing,
 * say only that neither fits, where a list's problems belong to its items (`schedule[1].cron`).
 */
export const scheduleSchema = z.unknown().transform((input, ctx): ScheduleDraft => {
  const result = Array.isArray(input)
    ? specListSchema.safeParse(input, { reportInput: true })
    : specSchema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.issues.push(issue as (typeof ctx.issues)[number]);
  return z.NEVER;
});
export type ScheduleInput = z.input<typeof scheduleSchema>;

/** A number of seconds: an interval. */
function secondsDraft(input: number, ctx: z.RefinementCtx): SpecDraft {
  if (!isIntervalMs(input * 1000)) {
    ctx.addIssue({ code: 'custom', message: `${INTERVAL_RANGE}, got ${String(input)}`, input });
    return z.NEVER;
  }
  return { kind: 'interval', everyMs: Math.round(input * 1000) };
}

/** An object with exactly one of the forms, compiled by its form. */
function objectDraft(input: z.output<typeof scheduleObject>, ctx: z.RefinementCtx): SpecDraft {
  const given = SCHEDULE_FORMS.filter((form) => input[form] !== undefined);
  if (given.length !== 1) {
    ctx.addIssue({
      code: 'custom',
      message:
        given.length === 0
          ? `give one of: ${SCHEDULE_FORMS.join(', ')}`
          : `give only one of ${given.join(', ')}; a schedule has exactly one form`,
      input,
    });
    return z.NEVER;
  }
  if (secondsWithoutCron(input, ctx)) return z.NEVER;
  if (input.timedelta !== undefined) return timedeltaDraft(input.timedelta, input, ctx);
  if (input.crontab !== undefined) return crontabDraft(input.crontab, ctx);
  if (input.cron !== undefined) return cronDraft(input.cron, input.seconds === true, ctx);
  if (input.solar !== undefined) return { kind: 'solar', ...input.solar };
  if (input.rrule !== undefined) return { kind: 'rrule', spec: input.rrule };
  return clockedDraft(input.clocked ?? '', ctx);
}

/** `timedelta`: an interval, within the bounds before rounding (the issue's input: the whole schedule). */
function timedeltaDraft(timedelta: z.output<typeof timedeltaSchema>, input: unknown, ctx: z.RefinementCtx): SpecDraft {
  const everyMs = timedeltaMs(timedelta);
  if (!isIntervalMs(everyMs)) {
    ctx.addIssue({
      code: 'custom',
      path: ['timedelta'],
      message: `${INTERVAL_RANGE}, got ${Number.isFinite(everyMs) ? `${grouped(everyMs / 1000)} s` : 'more than can be counted'} in all`,
      input,
    });
    return z.NEVER;
  }
  return { kind: 'interval', everyMs: Math.round(everyMs) };
}

/** `crontab` (Celery's fields): parsed once per text; every bad field reported, not only the first. */
function crontabDraft(crontab: z.output<typeof crontabSchema>, ctx: z.RefinementCtx): SpecDraft {
  try {
    return { kind: 'cron', spec: memoised(`crontab:${JSON.stringify(crontab)}`, () => parseCeleryCrontab(crontab)) };
  } catch (error) {
    // The parser stops at the first bad field; parse the others alone so all are reported.
    for (const field of CRONTAB_FIELDS) {
      if (crontab[field] === undefined) continue;
      try {
        parseCeleryCrontab({ [field]: crontab[field] });
      } catch (fieldError) {
        if (fieldError instanceof CronParseError && fieldError.field !== (error as CronParseError).field) {
          reportCronError(fieldError, ['crontab'], ctx);
        }
      }
    }
    return reportCronError(error, ['crontab'], ctx);
  }
}

/** `cron`: a crontab line, parsed once per text; 6 fields only with `seconds: true` (cronLineProblem). */
function cronDraft(line: string, seconds: boolean, ctx: z.RefinementCtx): SpecDraft {
  const problem = cronLineProblem(line, seconds, `{ cron: "${line.trim()}", seconds: true }`);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', path: [problem.key], message: problem.message, input: undefined });
    return z.NEVER;
  }
  try {
    if (isHashedLine(line)) {
      // Checked for every name at once; each entry's own values come when it is resolved.
      const shape = memoised(`hashed:${line}`, () => {
        checkHashedLine(line);
        return parseHashedLine(line, () => 0);
      });
      return { kind: 'cron', spec: shape, hashed: line.trim() };
    }
    return { kind: 'cron', spec: memoised(`cron:${line}`, () => parseCronLine(line)) };
  } catch (error) {
    return reportCronError(error, ['cron'], ctx);
  }
}

/**
 * A 6-field line means two things, depending on the tool it was written for: seconds first
 * (croner, Quartz, node-cron, Spring), or a year last (AWS EventBridge, some Quartz lines). Read
 * silently as seconds first, `30 2 * * 1 *` ("02:30 on Mondays", year last) ran hourly in January.
 * So it is refused unless the entry says which (`seconds: true`), naming both readings and the
 * fixes; `seconds: true` on a line without 6 fields is refused too (it says the line is not what
 * its writer thought). `how` is how the line is written with `seconds: true` where it appears.
 */
export function cronLineProblem(line: string, seconds: boolean, how: string): { key: 'cron' | 'seconds'; message: string } | undefined {
  const fields = line.trim().startsWith('@') ? 1 : line.trim().split(/\s+/).length;
  if (seconds) {
    return fields === 6
      ? undefined
      : {
          key: 'seconds',
          message: `seconds: true says the cron line has 6 fields, seconds first; ${shown(line)} has ${fields === 1 ? 'a nickname' : `${fields}`}`,
        };
  }
  if (fields !== 6) return undefined;
  const parts = line.trim().split(/\s+/);
  const named = (labels: readonly string[], values: readonly string[]): string =>
    labels.map((label, i) => `${label} ${values[i] ?? ''}`).join(', ');
  const year = parts[5] ?? '';
  const fiveFields = parts.slice(0, 5).join(' ');
  return {
    key: 'cron',
    message:
      `${shown(line)} has 6 fields, which tools read two ways: seconds first (` +
      named(['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'], parts) +
      '; croner, Quartz, node-cron) or a year last (' +
      named(['minute', 'hour', 'day-of-month', 'month', 'day-of-week', 'year'], parts) +
      `; AWS EventBridge). For seconds first, say so: ${how}; for a year last, drop the year: "${fiveFields}"` +
      (year === '*' || year === '?' ? '' : ' (tsbeat has no year field: startAt and endAt bound an entry in time)'),
  };
}

/** `clocked`: one instant, a real date and time in the years 0001-9999. */
function clockedDraft(text: string, ctx: z.RefinementCtx): SpecDraft {
  // Reject dates that look right but do not exist (2027-02-30) now, not when the entry is due.
  const atMs = parseIsoDateTime(text, 'UTC');
  if (atMs === undefined || !isShownInstant(atMs)) {
    const why = atMs === undefined ? 'is not a real date and time' : 'must be in the years 0001-9999';
    ctx.addIssue({ code: 'custom', path: ['clocked'], message: `${shown(text)} ${why}`, input: text });
    return z.NEVER;
  }
  return { kind: 'clocked', text };
}

/**
 * Specs are immutable, and large configs repeat the same few expressions thousands of times: parse
 * each text once. Bounded, so that a config of a million distinct expressions cannot grow it forever.
 */
const specCache = new Map<string, CronSpec>();
const SPEC_CACHE_MAX = 50_000;

function memoised(key: string, parse: () => CronSpec): CronSpec {
  const cached = specCache.get(key);
  if (cached !== undefined) return cached;
  const spec = parse();
  if (specCache.size >= SPEC_CACHE_MAX) specCache.clear();
  specCache.set(key, spec);
  return spec;
}

function reportCronError(error: unknown, path: string[], ctx: z.RefinementCtx): never {
  if (!(error instanceof CronParseError)) throw error;
  // A Celery crontab names its field in the path; a crontab line names it in the message.
  const where = path[0] === 'crontab' && error.field !== undefined ? [...path, error.field] : path;
  ctx.addIssue({ code: 'custom', path: where, message: error.message, input: undefined });
  return z.NEVER;
}

/** `seconds` set on anything but a cron line (a schedule's or an exclusion's): reported at `seconds`; true when so. */
export function secondsWithoutCron(input: { readonly seconds?: unknown; readonly cron?: unknown }, ctx: z.RefinementCtx): boolean {
  if (input.seconds === undefined || input.cron !== undefined) return false;
  ctx.addIssue({ code: 'custom', path: ['seconds'], message: 'seconds goes with a cron line ({ cron: LINE, seconds: true }) only', input });
  return true;
}
