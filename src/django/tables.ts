/**
 * django-celery-beat's tables as SQL: a periodic task joined with its schedule (each row names at
 * most one of interval, crontab, solar, clocked), the change marker, and the write-back. Names
 * are the models' db tables under the configured prefix (the app label and "_").
 */
import type { DjangoDb } from './db.js';

export interface Tables {
  readonly task: string;
  readonly changes: string;
  readonly interval: string;
  readonly crontab: string;
  readonly solar: string;
  readonly clocked: string;
}

/** The tables under `prefix`, in `schema` when given (django-tenants: one schema per tenant, PostgreSQL). */
export function tables(db: DjangoDb, prefix: string, schema?: string): Tables {
  const q = (name: string): string => `${schema === undefined ? '' : `${db.quote(schema)}.`}${db.quote(`${prefix}${name}`)}`;
  return {
    task: q('periodictask'),
    changes: q('periodictasks'),
    interval: q('intervalschedule'),
    crontab: q('crontabschedule'),
    solar: q('solarschedule'),
    clocked: q('clockedschedule'),
  };
}

/** Every column the mapping reads, tasks joined with their schedules; append a WHERE clause. */
export function taskSelect(t: Tables): string {
  return `SELECT p.id, p.name, p.task, p.args, p.kwargs, p.queue, p.exchange, p.routing_key, p.priority, p.headers,
  p.expires, p.expire_seconds, p.one_off, p.start_time, p.enabled, p.date_changed, p.last_run_at, p.total_run_count,
  p.interval_id, i.every AS interval_every, i.period AS interval_period,
  p.crontab_id, c.minute AS cron_minute, c.hour AS cron_hour, c.day_of_week AS cron_day_of_week,
  c.day_of_month AS cron_day_of_month, c.month_of_year AS cron_month_of_year, c.timezone AS cron_timezone,
  p.solar_id, s.event AS solar_event, s.latitude AS solar_latitude, s.longitude AS solar_longitude,
  p.clocked_id, k.clocked_time AS clocked_time
FROM ${t.task} p
LEFT JOIN ${t.interval} i ON i.id = p.interval_id
LEFT JOIN ${t.crontab} c ON c.id = p.crontab_id
LEFT JOIN ${t.solar} s ON s.id = p.solar_id
LEFT JOIN ${t.clocked} k ON k.id = p.clocked_id`;
}

/** The schedule tables, whole: small (schedules are shared by tasks), compared row by row for changes. */
export function scheduleSelects(t: Tables): Readonly<Record<'interval' | 'crontab' | 'solar' | 'clocked', string>> {
  return {
    interval: `SELECT * FROM ${t.interval}`,
    crontab: `SELECT * FROM ${t.crontab}`,
    solar: `SELECT * FROM ${t.solar}`,
    clocked: `SELECT * FROM ${t.clocked}`,
  };
}

export const SCHEDULE_KINDS = ['interval', 'crontab', 'solar', 'clocked'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];
