/**
 * An entry's `exclude:` and the config's named `calendars:`: dates, date ranges, cron lines and
 * crontab objects at which the entry's slots do not exist, read in the entry's zone. What users
 * write, its compilation into drafts (zone not yet known), and their resolution into the core's
 * `Exclusions` once the entry's zone is.
 */
import * as z from 'zod';
import { CronParseError, describeCron, parseCeleryCrontab, parseCronLine } from '../core/cron/index.js';
import { mergeSpans } from '../core/exclusions.js';
import type { CronExclusion, Exclusions } from '../core/exclusions.js';
import { shown } from '../base/errors.js';
import { DAY_MS, ISO_DATE_TIME, daysFromCivil, isShownInstant, parseIsoDateTime, zoneOffsets } from '../time/zone.js';
import { keyed } from './key-spelling.js';
import { crontabSchema, cronLineProblem, secondsWithoutCron } from './schedule-schema.js';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Calendar names start with a letter, so none reads as a date; no spaces, so none reads as a cron line. */
export const CALENDAR_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const CALENDAR_NAME_RULE = 'a calendar name is 1-64 letters, digits, ".", "_" or "-", starting with a letter';

/** One exclusion, checked, before the entry's zone is known. */
export type ExclusionDraft =
  /** From and to as written: a date (`to` includes its whole day) or an ISO date-time (`to` excluded). */
  | { readonly kind: 'span'; readonly from: string; readonly to: string }
  | { readonly kind: 'cron'; readonly spec: CronExclusion['spec']; readonly bySecond: boolean }
  | { readonly kind: 'calendar'; readonly name: string };

const BOUND =
  'a date such as "2026-12-24" or an ISO date-time such as "2026-12-24T18:00" (without an offset: a wall time in the entry\'s zone)';

const rangeObject = keyed({
  from: z.string({ error: `from must be ${BOUND}` }).optional(),
  to: z.string({ error: `to must be ${BOUND}` }).optional(),
  calendar: z.string({ error: "calendar must be the name of one of the config's calendars" }).optional(),
  cron: z.string({ error: 'cron must be a crontab line such as "* * * * sat,sun"' }).optional(),
  seconds: z.boolean({ error: 'seconds must be true or false: true says the cron line has 6 fields, seconds first' }).optional(),
  crontab: crontabSchema.optional(),
});

const ITEM_HELP =
  'an exclusion is a date ("2026-12-25"), a range ({from: "2026-12-24", to: "2026-12-26"}), a crontab line ("* * * * sat,sun"), {cron: LINE} ({cron: LINE, seconds: true} for 6 fields, seconds first), {crontab: {...}} or a calendar name ({calendar: NAME})';

/** The wall-clock milliseconds of a date or date-time text, or undefined when it is neither or not real. */
function boundWall(text: string): number | undefined {
  const date = DATE.exec(text);
  if (date !== null) {
    const ms = parseIsoDateTime(`${text}T00:00:00Z`, 'UTC');
    return ms === undefined ? undefined : daysFromCivil(Number(date[1]), Number(date[2]), Number(date[3])) * DAY_MS;
  }
  if (!ISO_DATE_TIME.test(text)) return undefined;
  const ms = parseIsoDateTime(text, 'UTC');
  return ms !== undefined && isShownInstant(ms) ? ms : undefined;
}

function cronDraft(
  parse: () => CronExclusion['spec'],
  bySecond: boolean,
  path: PropertyKey[],
  ctx: z.RefinementCtx,
  prefix = '',
): ExclusionDraft {
  try {
    return { kind: 'cron', spec: parse(), bySecond };
  } catch (error) {
    if (!(error instanceof CronParseError)) throw error;
    const where = path[0] === 'crontab' && error.field !== undefined ? [...path, error.field] : path;
    ctx.addIssue({ code: 'custom', path: where, message: prefix + error.message, input: undefined });
    return z.NEVER;
  }
}

/** A 6-field line names seconds (said with `seconds: true`); 5 fields and the @ macros name minutes. */
function lineDraft(line: string, seconds: boolean, path: PropertyKey[], ctx: z.RefinementCtx, prefix = ''): ExclusionDraft {
  const problem = cronLineProblem(line, seconds, `{ cron: "${line.trim()}", seconds: true }`);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', path: path.length === 0 ? [] : [problem.key], message: problem.message, input: undefined });
    return z.NEVER;
  }
  return cronDraft(() => parseCronLine(line), seconds, path, ctx, prefix);
}

export const exclusionSchema = z.union([z.string(), rangeObject], { error: ITEM_HELP }).transform((input, ctx): ExclusionDraft => {
  if (ctx.issues.length > 0) return z.NEVER;
  if (typeof input === 'string') {
    if (DATE.test(input)) {
      if (boundWall(input) === undefined) {
        ctx.addIssue({ code: 'custom', message: `${shown(input)} is not a real date`, input });
        return z.NEVER;
      }
      return { kind: 'span', from: input, to: input };
    }
    if (CALENDAR_NAME.test(input)) return { kind: 'calendar', name: input };
    const prefix = `${shown(input)} is not a date (YYYY-MM-DD), a calendar name or a crontab line: `;
    return lineDraft(input, false, [], ctx, prefix);
  }
  const forms = (['calendar', 'cron', 'crontab'] as const).filter((k) => input[k] !== undefined);
  const isRange = input.from !== undefined || input.to !== undefined;
  if (forms.length + (isRange ? 1 : 0) !== 1) {
    ctx.addIssue({ code: 'custom', message: `give exactly one form: ${ITEM_HELP}`, input });
    return z.NEVER;
  }
  if (input.calendar !== undefined) {
    if (!CALENDAR_NAME.test(input.calendar)) {
      ctx.addIssue({ code: 'custom', path: ['calendar'], message: `${shown(input.calendar)}: ${CALENDAR_NAME_RULE}`, input });
      return z.NEVER;
    }
    return { kind: 'calendar', name: input.calendar };
  }
  if (secondsWithoutCron(input, ctx)) return z.NEVER;
  if (input.cron !== undefined) return lineDraft(input.cron, input.seconds === true, ['cron'], ctx);
  if (input.crontab !== undefined) {
    const fields = input.crontab;
    return cronDraft(() => parseCeleryCrontab(fields), false, ['crontab'], ctx);
  }
  const { from, to } = input;
  if (from === undefined || to === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a range needs both from and to', input });
    return z.NEVER;
  }
  let ok = true;
  for (const [key, text] of [
    ['from', from],
    ['to', to],
  ] as const) {
    if (boundWall(text) === undefined) {
      ctx.addIssue({ code: 'custom', path: [key], message: `${key} ${shown(text)} must be ${BOUND}`, input: text });
      ok = false;
    }
  }
  if (!ok) return z.NEVER;
  const span = { kind: 'span', from, to } as const;
  // Judged on the wall clock; a bound with an offset is judged in UTC here and again in the zone at resolve.
  const [start, end] = spanWalls(span, 'UTC');
  if (end <= start) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: `to ${shown(to)} must be after from ${shown(from)}`, input: to });
    return z.NEVER;
  }
  return span;
});

/**
 * Most items an entry's `exclude` or a calendar holds (issue 66). Every slot an entry's scan meets
 * is read against its cron lines (compiled a day at a time, charged to the step budget by the lines
 * read: core/exclusion-crons.ts), and a definition is parsed wherever it is read: a bound on what
 * one entry can ask of both. Counted before the items are parsed, so a longer list costs nothing.
 */
export const EXCLUDE_MAX_ITEMS = 1000;

/** A list of at most EXCLUDE_MAX_ITEMS exclusions, `what` naming it in the refusal. */
function exclusionList(what: string) {
  return z
    .array(z.unknown(), { error: `${what} must be a list; ${ITEM_HELP}` })
    .max(EXCLUDE_MAX_ITEMS, {
      error: (issue) =>
        `${what} holds ${Array.isArray(issue.input) ? issue.input.length.toLocaleString('en-US') : 'more than 1,000'} items; at most ` +
        `${EXCLUDE_MAX_ITEMS.toLocaleString('en-US')} are allowed: join lines into one ("0 9 * * sat,sun" for two), a run of dates into a range, or name a calendar`,
    })
    .pipe(z.array(exclusionSchema));
}

export const excludeSchema = exclusionList('exclude');

/** A calendar holds the same items as an entry's exclude, except references to other calendars. */
export const calendarsSchema = z
  .record(z.string().regex(CALENDAR_NAME, { error: CALENDAR_NAME_RULE }), exclusionList('a calendar'), {
    error: 'calendars must map calendar names to lists of exclusions',
  })
  .superRefine((calendars, ctx) => {
    for (const [name, items] of Object.entries(calendars)) {
      items.forEach((item, i) => {
        if (item.kind === 'calendar') {
          ctx.addIssue({
            code: 'custom',
            path: [name, i],
            message: `a calendar cannot name another calendar (${shown(item.name)}); list its dates here, or name both in the entry's exclude`,
            input: item.name,
          });
        }
      });
    }
  });
export type CalendarDrafts = Readonly<Record<string, readonly ExclusionDraft[]>>;

/** The calendars an exclude names that the config does not define. */
export function unknownCalendars(exclude: readonly ExclusionDraft[] | undefined, calendars: CalendarDrafts | undefined): string[] {
  const out: string[] = [];
  for (const item of exclude ?? []) if (item.kind === 'calendar' && calendars?.[item.name] === undefined) out.push(item.name);
  return out;
}

/** The message for an unknown calendar, naming the ones there are. */
export function unknownCalendarMessage(name: string, calendars: CalendarDrafts | undefined): string {
  const known = Object.keys(calendars ?? {});
  return `unknown calendar ${shown(name)}; ${known.length === 0 ? "define it under the config's top-level calendars:" : `the config's calendars are ${known.join(', ')}`}`;
}

function wallOf(text: string, zone: string): number {
  const date = DATE.exec(text);
  if (date !== null) return daysFromCivil(Number(date[1]), Number(date[2]), Number(date[3])) * DAY_MS;
  const ms = parseIsoDateTime(text, 'UTC') ?? Number.NaN;
  // With an offset the text is an instant: its wall time in the zone. Without one it already is a wall time.
  return /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text) ? ms + zoneOffsets(zone).offsetMs(ms) : ms;
}

function spanWalls(span: { readonly from: string; readonly to: string }, zone: string): [number, number] {
  const start = wallOf(span.from, zone);
  // A date as `to` includes its whole day.
  const end = DATE.test(span.to) ? wallOf(span.to, zone) + DAY_MS : wallOf(span.to, zone);
  return [start, end];
}

function draftWords(item: ExclusionDraft, calendars: CalendarDrafts | undefined): string {
  switch (item.kind) {
    case 'span':
      return item.from === item.to ? item.from : `${item.from} to ${item.to}`;
    case 'cron':
      return `times matching ${shown(item.spec.source)} (${describeCron(item.spec)})`;
    case 'calendar': {
      const n = calendars?.[item.name]?.length ?? 0;
      return `calendar ${item.name} (${n} exclusion${n === 1 ? '' : 's'})`;
    }
  }
}

/**
 * The core's exclusions of an entry in its zone, calendars expanded; undefined when it has none. A
 * calendar the config does not define is left out here: the config's check (or the runtime catalog)
 * has already refused the entry.
 */
export function resolveExclusions(
  exclude: readonly ExclusionDraft[] | undefined,
  zone: string,
  calendars: CalendarDrafts | undefined,
): Exclusions | undefined {
  if (exclude === undefined || exclude.length === 0) return undefined;
  const pairs: Array<[number, number]> = [];
  const crons: CronExclusion[] = [];
  // A calendar named twice adds nothing the second time (nor would its lines, read once per entry).
  const named = new Set<string>();
  const add = (item: ExclusionDraft): void => {
    if (item.kind === 'span') pairs.push(spanWalls(item, zone));
    else if (item.kind === 'cron') crons.push({ spec: item.spec, bySecond: item.bySecond });
    else if (!named.has(item.name)) {
      named.add(item.name);
      for (const inner of calendars?.[item.name] ?? []) if (inner.kind !== 'calendar') add(inner);
    }
  };
  for (const item of exclude) add(item);
  return { spans: mergeSpans(pairs), crons, words: exclude.map((item) => draftWords(item, calendars)) };
}
