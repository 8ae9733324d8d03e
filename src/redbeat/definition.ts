/**
 * A RedBeat entry's `definition` (redbeat/schedulers.py RedBeatSchedulerEntry.save: name, task,
 * args, kwargs, options, schedule, enabled, in RedBeat's typed JSON, redbeat/decoder.py) as the
 * entry a tsbeat config file would hold, checked by the config's own entry schema. What tsbeat
 * cannot express becomes a problem of the entry, with its path; nothing is dropped silently.
 *
 * Schedules (RedBeatJSONEncoder.default):
 *   interval  { every: seconds, relative }             → schedule: seconds, relative
 *   crontab   { minute, hour, day_of_week, day_of_month, month_of_year } (Celery's _orig_ fields)
 *                                                       → { crontab: {…} }, read as Celery reads them
 *   rrule     { freq: 0..6, interval, wkst, count, bysetpos, bymonth, bymonthday, byyearday,
 *               byeaster, byweekno, byweekday, byhour, byminute, bysecond,
 *               dtstart/until: epoch seconds, dtstart_tz/until_tz: UTC offset in minutes }
 *                                                       → { rrule: {…} } with dtstart/until as wall
 *               times in a fixed-offset zone (Etc/GMT±h): RedBeat's decoder gives dateutil a
 *               fixed-offset dtstart, so the rule's wall times never follow DST
 * Other `__type__`s (a custom schedule class) and typed values in args/kwargs/options other than
 * a datetime `expires` are problems.
 */
import type { ConfigProblem } from '../base/errors.js';
import { entryNameProblems, parseEntryDefinition } from '../config/entry-definition.js';
import type { SourcedEntry } from '../ports/entry-source.js';
import { decodeDatetime, typeOf, wallText } from './typed-json.js';

/** dateutil's frequency constants (YEARLY = 0 … SECONDLY = 6), as RedBeat stores them. */
const FREQS = ['yearly', 'monthly', 'weekly', 'daily', 'hourly', 'minutely', 'secondly'] as const;

const RRULE_LISTS = ['bysetpos', 'bymonth', 'bymonthday', 'byyearday', 'byweekno', 'byhour', 'byminute', 'bysecond'] as const;

/** A tsbeat entry (JSON, before the schema) made of a RedBeat definition, and what could not be carried over. */
export interface RedBeatMapping {
  readonly entry: Record<string, unknown> | undefined;
  readonly problems: readonly ConfigProblem[];
}

/**
 * The one place where RedBeat's definition becomes a tsbeat entry: fields tsbeat adds later (a run
 * limit, an end) map here.
 */
export function mapRedBeatDefinition(definition: unknown): RedBeatMapping {
  if (definition === null || typeof definition !== 'object' || Array.isArray(definition))
    return { entry: undefined, problems: [{ path: '', message: 'the RedBeat definition is not a JSON object' }] };
  const d = definition as Record<string, unknown>;
  const problems: ConfigProblem[] = [];
  const entry: Record<string, unknown> = { task: d['task'] };
  mapSchedule(d['schedule'], entry, problems);
  // Celery's ScheduleEntry turns a missing (None) args, kwargs or options into an empty one.
  entry['args'] = plain(d['args'] ?? [], 'args', problems);
  entry['kwargs'] = plain(d['kwargs'] ?? {}, 'kwargs', problems);
  entry['options'] = mapOptions(d['options'] ?? {}, problems);
  // Older RedBeat versions wrote no `enabled`: such entries run.
  entry['enabled'] = d['enabled'] ?? true;
  return { entry, problems };
}

/** A RedBeat hash's `definition` text as a sourced entry: valid, or with every problem found. */
export function sourcedRedBeatEntry(name: string, text: string): SourcedEntry {
  // The name rule of the API's names (no control, separator or bidi characters): such an entry is
  // shown with its problem and not run, never passed on to logs and terminals as it is.
  const named = entryNameProblems(name);
  if (named.length > 0)
    return {
      name,
      problems: named.map((p) => ({ ...p, message: `${p.message}; rename the entry where Python saves it (RedBeatSchedulerEntry)` })),
    };
  let definition: unknown;
  try {
    definition = JSON.parse(text);
  } catch {
    return { name, problems: [{ path: '', message: 'the RedBeat definition is not JSON; save the entry again from Python' }] };
  }
  const mapped = mapRedBeatDefinition(definition);
  if (mapped.entry === undefined) return { name, problems: mapped.problems };
  const parsed = parseEntryDefinition(mapped.entry);
  const problems = [...mapped.problems, ...(parsed.ok ? [] : beyond(parsed.problems, mapped.problems))];
  if (problems.length > 0 || !parsed.ok) return { name, problems };
  return { name, entry: parsed.entry };
}

/** The schema's problems outside the fields the mapping already reported (a schedule it could not map is also "missing"). */
export function beyond(schema: readonly ConfigProblem[], mapping: readonly ConfigProblem[]): ConfigProblem[] {
  const fields = new Set(mapping.map((p) => topField(p.path)));
  return schema.filter((p) => !fields.has(topField(p.path)));
}

function topField(path: string): string {
  return /^[^.[]*/.exec(path)?.[0] ?? path;
}

function mapSchedule(schedule: unknown, entry: Record<string, unknown>, problems: ConfigProblem[]): void {
  const type = typeOf(schedule);
  const s = schedule as Record<string, unknown>;
  if (type === 'interval') {
    entry['schedule'] = s['every'];
    entry['relative'] = s['relative'] ?? false;
    return;
  }
  if (type === 'crontab') {
    entry['schedule'] = {
      crontab: {
        minute: s['minute'] ?? '*',
        hour: s['hour'] ?? '*',
        dayOfWeek: s['day_of_week'] ?? '*',
        dayOfMonth: s['day_of_month'] ?? '*',
        monthOfYear: s['month_of_year'] ?? '*',
      },
    };
    return;
  }
  if (type === 'rrule') {
    mapRRule(s, entry, problems);
    return;
  }
  problems.push({
    path: 'schedule',
    message:
      type === undefined
        ? 'the RedBeat schedule is not a typed value (interval, crontab or rrule)'
        : `RedBeat schedule type ${JSON.stringify(type)} has no tsbeat equivalent (interval, crontab and rrule do)`,
  });
}

function mapRRule(s: Record<string, unknown>, entry: Record<string, unknown>, problems: ConfigProblem[]): void {
  const freq = typeof s['freq'] === 'number' ? FREQS[s['freq']] : typeof s['freq'] === 'string' ? s['freq'].toLowerCase() : undefined;
  if (freq === undefined) {
    problems.push({
      path: 'schedule.rrule.freq',
      message: `freq ${JSON.stringify(s['freq'])} is not one of dateutil's 0 (YEARLY) … 6 (SECONDLY)`,
    });
    return;
  }
  const rule: Record<string, unknown> = { freq };
  if (s['interval'] !== undefined && s['interval'] !== null) rule['interval'] = s['interval'];
  if (s['count'] !== undefined && s['count'] !== null) rule['count'] = s['count'];
  for (const key of RRULE_LISTS) if (s[key] !== undefined && s[key] !== null) rule[key] = s[key];
  if (s['byeaster'] !== undefined && s['byeaster'] !== null)
    problems.push({ path: 'schedule.rrule.byeaster', message: "byeaster (dateutil's extension to RFC 5545) is not supported by tsbeat" });
  if (s['wkst'] !== undefined && s['wkst'] !== null) rule['wkst'] = weekday(s['wkst']);
  if (s['byweekday'] !== undefined && s['byweekday'] !== null)
    rule['byweekday'] = Array.isArray(s['byweekday']) ? s['byweekday'].map(weekday) : weekday(s['byweekday']);
  // RedBeat's rrule always has a dtstart (its constructor sets now() when none is given).
  const offsetMin = typeof s['dtstart_tz'] === 'number' ? s['dtstart_tz'] : 0;
  const zone = fixedZone(offsetMin);
  if (zone === undefined) {
    problems.push({
      path: 'schedule.rrule.dtstart_tz',
      message: `dtstart's UTC offset of ${offsetMin} minutes is not a whole number of hours; tsbeat reads a rule's wall times in an IANA zone (Etc/GMT±h)`,
    });
    return;
  }
  if (typeof s['dtstart'] === 'number') rule['dtstart'] = wallText(s['dtstart'] * 1000 + offsetMin * 60_000);
  // dateutil compares until as an instant: shown in dtstart's offset, it is the same instant.
  if (typeof s['until'] === 'number') rule['until'] = wallText(s['until'] * 1000 + offsetMin * 60_000);
  entry['schedule'] = { rrule: rule };
  entry['timezone'] = zone;
}

/** A weekday as RedBeat writes it ({ __type__: weekday, wkday }, or a plain 0-6); the nth is not stored by RedBeat. */
function weekday(value: unknown): unknown {
  return typeOf(value) === 'weekday' ? (value as Record<string, unknown>)['wkday'] : value;
}

/** The IANA name of a fixed UTC offset of whole hours (Etc/GMT's sign is the POSIX one, inverted). */
function fixedZone(offsetMin: number): string | undefined {
  if (offsetMin === 0) return 'UTC';
  if (!Number.isInteger(offsetMin / 60) || Math.abs(offsetMin) > 14 * 60) return undefined;
  const hours = offsetMin / 60;
  return `Etc/GMT${hours > 0 ? '-' : '+'}${Math.abs(hours)}`;
}

function mapOptions(options: unknown, problems: ConfigProblem[]): unknown {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'expires' && typeOf(value) === 'datetime') {
      const ms = decodeDatetime(value);
      if (typeof ms === 'string') problems.push({ path: 'options.expires', message: ms });
      else out[key] = new Date(ms).toISOString();
      continue;
    }
    out[key] = plain(value, `options.${key}`, problems);
  }
  return out;
}

/** A value without typed parts, as it is; a typed part (a Python object) is a problem at its path. */
function plain(value: unknown, path: string, problems: ConfigProblem[]): unknown {
  const type = typeOf(value);
  if (type !== undefined) {
    problems.push({ path, message: `a RedBeat ${type} value cannot be sent by tsbeat here; store plain JSON values` });
    return undefined;
  }
  if (Array.isArray(value)) value.forEach((v, i) => plain(v, `${path}[${i}]`, problems));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) plain(v, `${path}.${k}`, problems);
  return value;
}
