/**
 * One row of django-celery-beat's PeriodicTask (joined with its schedule) as a tsbeat entry, read
 * as DatabaseScheduler's ModelEntry reads it (schedulers.py): the task, one of four schedules
 * (a crontab in its own time zone), args and kwargs as JSON text, queue, exchange, routing_key,
 * priority, the headers with `periodic_task_name` added, expires or expire_seconds as the message's
 * expiry (and `expires` as the end of the schedule), start_time as its start, one_off as one run,
 * enabled. The entry is then checked by the config's own entry schema; whatever cannot be
 * expressed is a problem of that entry, shown by status and the log, never silently dropped.
 */
import type { ConfigProblem } from '../base/errors.js';
import { entryNameProblems } from '../config/entry-definition.js';
import { incarnationRevision } from '../ports/entry-source.js';
import type { SourcedEntry } from '../ports/entry-source.js';
import { formatInstant } from '../time/zone.js';
import type { DjangoDb, Row } from './db.js';
import { namedEntry } from './row-shapes.js';
import type { RowShapes } from './row-shapes.js';

/** A task row as the source keeps it: its id (for the write-back), what it maps to, and its marks. */
export interface TaskRow {
  readonly id: number;
  readonly name: string;
  /** PeriodicTask.date_changed, epoch ms. */
  readonly changedMs: number | undefined;
  readonly oneOff: boolean;
  readonly enabled: boolean;
  /** PeriodicTask.last_run_at, epoch ms: the last run DatabaseScheduler (or tsbeat's write-back) recorded. */
  readonly lastRunMs: number | undefined;
  /** PeriodicTask.total_run_count. */
  readonly runCount: number;
  /** PeriodicTask.start_time, epoch ms. */
  readonly startMs: number | undefined;
  /** PeriodicTask.expires, epoch ms. */
  readonly expiresMs: number | undefined;
  readonly sourced: SourcedEntry;
  /** The entry's definition but for its name (or its problems) as text: for one name, equal texts, same entry. */
  readonly key: string;
  /**
   * The definition as a config file writes it (`beat import django`), when the row maps to one:
   * without the header `periodic_task_name`, which every entry's messages carry anyway.
   */
  readonly definition?: Readonly<Record<string, unknown>>;
}

/** IntervalSchedule.period → the timedelta key and the factor to it (microseconds have none). */
const PERIODS: Readonly<Record<string, readonly [string, number]>> = {
  days: ['days', 1],
  hours: ['hours', 1],
  minutes: ['minutes', 1],
  seconds: ['seconds', 1],
  microseconds: ['milliseconds', 1 / 1000],
};

const text = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value));
/** A nullable CharField: Django's save() stores "" as NULL for queue, exchange and routing_key. */
const optionalName = (value: unknown): string | undefined => {
  const s = text(value);
  return s === undefined || s === '' ? undefined : s;
};
const truthy = (value: unknown): boolean => value === true || value === 1 || value === '1' || value === 't';

/**
 * `shapes`: the definitions checked so far (rows that differ only in their names share one);
 * `namePrefix`: "<schema>:" for a django-tenants schema; the header keeps the row's own name.
 */
export function taskRow(row: Row, db: DjangoDb, shapes: RowShapes, namePrefix = ''): TaskRow {
  const id = Number(row.id);
  const rowName = String(row.name);
  const name = `${namePrefix}${rowName}`;
  const problems: ConfigProblem[] = [];
  // The name rule of the API's names (no control, separator or bidi characters): such a row is
  // shown with its problem and not run, never passed on to logs and terminals as it is.
  for (const p of entryNameProblems(name)) problems.push({ ...p, message: `${p.message}; rename the periodic task in the Django admin` });
  const definition: Record<string, unknown> = { task: text(row.task) ?? '' };

  const schedule = scheduleOf(row, db, problems);
  if (schedule !== undefined) definition.schedule = schedule.schedule;
  if (schedule?.timezone !== undefined) definition.timezone = schedule.timezone;

  // kombu's loads(model.args or '[]'): an empty text is the default.
  definition.args = jsonColumn(row.args, '[]', 'args', problems);
  definition.kwargs = jsonColumn(row.kwargs, '{}', 'kwargs', problems);
  const options: Record<string, unknown> = {};
  const queue = optionalName(row.queue);
  const exchange = optionalName(row.exchange);
  const routingKey = optionalName(row.routing_key);
  if (queue !== undefined) options.queue = queue;
  if (exchange !== undefined) options.exchange = exchange;
  if (routingKey !== undefined) options.routingKey = routingKey;
  if (row.priority !== null && row.priority !== undefined) options.priority = Number(row.priority);
  // model.expires_ = expires or expire_seconds, taken only when truthy (expire_seconds 0 is none).
  const expiresMs = db.instant(row.expires);
  if (expiresMs !== undefined) options.expires = formatInstant(expiresMs, 'UTC');
  else if (row.expire_seconds !== null && row.expire_seconds !== undefined && Number(row.expire_seconds) > 0)
    options.expires = Number(row.expire_seconds);
  const headers = jsonColumn(row.headers, '{}', 'headers', problems);
  if (headers !== undefined && (headers === null || typeof headers !== 'object' || Array.isArray(headers))) {
    problems.push({ path: 'headers', message: 'the headers column must hold a JSON object' });
  } else if (headers !== undefined) {
    // django-celery-beat >= 2.5 sends the entry's name as a header (django-celery-results stores
    // it), whatever the column says: so does every message of tsbeat's (see below).
    const { periodic_task_name: _own, ...others } = headers as Record<string, unknown>;
    options.headers = others;
  }
  definition.options = options;
  definition.enabled = truthy(row.enabled);

  const oneOff = truthy(row.one_off);
  // ModelEntry.is_due: nothing before start_time; a one-off task stops after its run (maxRuns 1).
  const startMs = db.instant(row.start_time);
  if (startMs !== undefined) definition.startAt = formatInstant(startMs, 'UTC');
  if (oneOff) definition.oneOff = true;
  // django-celery-beat >= 2.9 also stops scheduling at `expires` (2.4 kept sending messages that
  // workers revoke as expired): no run at or after it, in both cases nothing executes then.
  if (expiresMs !== undefined) definition.endAt = formatInstant(expiresMs, 'UTC');

  const changedMs = db.instant(row.date_changed);
  const count = Number(row.total_run_count);
  const marks = {
    id,
    name,
    changedMs,
    oneOff,
    enabled: definition.enabled === true,
    lastRunMs: db.instant(row.last_run_at),
    runCount: Number.isSafeInteger(count) && count > 0 ? count : 0,
    startMs,
    expiresMs,
  };
  // The row's id is its incarnation: a row deleted and created again under its name has a new id
  // (an auto-increment column never hands out an id again), and its state starts afresh.
  const incarnation = `d${String(id)}`;
  const fence = { incarnation, revision: incarnationRevision(incarnation) };
  if (problems.length > 0) {
    return { ...marks, sourced: { name, problems, ...fence }, key: JSON.stringify(['problems', problems]) };
  }
  const shape = shapes.shapeOf(definition);
  if (!shape.parsed.ok) {
    const { problems: refused } = shape.parsed;
    return { ...marks, sourced: { name, problems: refused, ...fence }, key: shape.key };
  }
  // Every message carries its entry's name as periodic_task_name: a tenant's row (`<schema>:<name>`)
  // says its own name instead; the other rows share the shape's entry whole.
  const entry = name === rowName ? shape.parsed.entry : namedEntry(shape.parsed.entry, rowName);
  const sourced: SourcedEntry = { name, entry, ...fence };
  return { ...marks, sourced, key: shape.key, definition: shape.definition };
}

interface MappedSchedule {
  readonly schedule: Record<string, unknown>;
  readonly timezone?: string;
}

function scheduleOf(row: Row, db: DjangoDb, problems: ConfigProblem[]): MappedSchedule | undefined {
  const set = (['interval', 'crontab', 'solar', 'clocked'] as const).filter(
    (kind) => row[`${kind}_id`] !== null && row[`${kind}_id`] !== undefined,
  );
  if (set.length !== 1) {
    problems.push({
      path: 'schedule',
      message:
        set.length === 0
          ? 'the row names no schedule: set one of interval, crontab, solar, clocked'
          : `the row names ${set.join(' and ')}: set only one of interval, crontab, solar, clocked`,
    });
    return undefined;
  }
  const kind = set[0];
  switch (kind) {
    case 'interval': {
      const period = PERIODS[String(row.interval_period)];
      if (period === undefined) {
        problems.push({
          path: 'interval.period',
          message: `unknown period ${JSON.stringify(row.interval_period)}; use days, hours, minutes, seconds or microseconds`,
        });
        return undefined;
      }
      return { schedule: { timedelta: { [period[0]]: Number(row.interval_every) * period[1] } } };
    }
    case 'crontab':
      return {
        schedule: {
          crontab: {
            minute: text(row.cron_minute) ?? '*',
            hour: text(row.cron_hour) ?? '*',
            dayOfWeek: text(row.cron_day_of_week) ?? '*',
            dayOfMonth: text(row.cron_day_of_month) ?? '*',
            monthOfYear: text(row.cron_month_of_year) ?? '*',
          },
        },
        // TzAwareCrontab (DJANGO_CELERY_BEAT_TZ_AWARE, the default): the crontab's own zone.
        timezone: text(row.cron_timezone) ?? 'UTC',
      };
    case 'solar':
      return { schedule: { solar: { event: text(row.solar_event), lat: Number(row.solar_latitude), lon: Number(row.solar_longitude) } } };
    case 'clocked': {
      const atMs = db.instant(row.clocked_time);
      if (atMs === undefined) {
        problems.push({ path: 'clocked.clocked_time', message: `not a date and time: ${JSON.stringify(row.clocked_time)}` });
        return undefined;
      }
      return { schedule: { clocked: formatInstant(atMs, 'UTC') } };
    }
    default:
      return undefined;
  }
}

function jsonColumn(value: unknown, empty: string, column: string, problems: ConfigProblem[]): unknown {
  const raw = text(value);
  const source = raw === undefined || raw === '' ? empty : raw;
  try {
    return JSON.parse(source) as unknown;
  } catch (error) {
    problems.push({
      path: column,
      message: `not JSON (${error instanceof Error ? error.message : String(error)}): ${JSON.stringify(source.slice(0, 60))}`,
    });
    return undefined;
  }
}
