/**
 * A django-celery-beat row as the database holds it, for the dashboard's "as written" view: the
 * PeriodicTask's fields under their Django names (args, kwargs and headers the JSON text they are
 * stored as), and the one schedule it uses (interval, crontab, solar or clocked) with that row's
 * fields. Nothing is mapped or defaulted here: that is the resolved view's job (row-entry.ts).
 */
import type { Row } from './db.js';
import type { Tables } from './tables.js';

/** The schedule's fields per kind: the column of taskSelect (tables.ts) for each model field. */
const SCHEDULE_FIELDS = {
  interval: { every: 'interval_every', period: 'interval_period' },
  crontab: {
    minute: 'cron_minute',
    hour: 'cron_hour',
    day_of_week: 'cron_day_of_week',
    day_of_month: 'cron_day_of_month',
    month_of_year: 'cron_month_of_year',
    timezone: 'cron_timezone',
  },
  solar: { event: 'solar_event', latitude: 'solar_latitude', longitude: 'solar_longitude' },
  clocked: { clocked_time: 'clocked_time' },
} as const;

/** PeriodicTask's own fields that the mapping reads, in the model's order. */
const TASK_FIELDS = [
  'name',
  'task',
  'args',
  'kwargs',
  'queue',
  'exchange',
  'routing_key',
  'headers',
  'priority',
  'expires',
  'expire_seconds',
  'one_off',
  'start_time',
  'enabled',
] as const;

/** A column's value as JSON shows it: dates as ISO instants, booleans stored as 0/1 (MySQL) as booleans. */
function shownValue(field: string, value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if ((field === 'one_off' || field === 'enabled') && (value === 0 || value === 1)) return value === 1;
  if (typeof value === 'bigint') return Number(value);
  return value ?? null;
}

/** The row (taskSelect's columns) as django-celery-beat stores it, with where. */
export function writtenRow(row: Row, t: Tables): { source: string; definition: Record<string, unknown> } {
  const definition: Record<string, unknown> = {};
  for (const field of TASK_FIELDS) definition[field] = shownValue(field, row[field]);
  const places = [`${t.task} id ${String(row.id)}`];
  for (const [kind, fields] of Object.entries(SCHEDULE_FIELDS)) {
    const id = row[`${kind}_id`];
    if (id === null || id === undefined) continue;
    definition[kind] = Object.fromEntries(Object.entries(fields).map(([field, column]) => [field, shownValue(field, row[column])]));
    places.push(`${t[kind as keyof typeof SCHEDULE_FIELDS]} id ${String(id)}`);
  }
  return { source: `django-celery-beat: ${places.join(', ')}`, definition };
}
