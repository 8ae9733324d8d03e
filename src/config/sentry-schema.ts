/**
 * Sentry Crons: `sentry` in the config (the DSN check-ins go to, the environment they
 * belong to) and `monitor.sentry` on an entry. What an entry's monitor sends is what sentry-python's
 * Celery beat integration (`CeleryIntegration(monitor_beat_tasks=True)`, integrations/celery/beat.py)
 * sends for the same entry: the slug is the entry's name, and the monitor config upserted with each
 * check-in is `{schedule: {type: crontab, value} | {type: interval, value, unit}, timezone}`, plus the
 * thresholds given here. Pure: the DSN is parsed, never contacted.
 */
import * as z from 'zod';
import { uuidV5OfBytes } from '../base/uuid-v5.js';
import { shown } from '../base/errors.js';
import type { CronSpec } from '../core/cron/index.js';
import { durationSchema } from './duration.js';
import { keyed } from './key-spelling.js';

/** Sentry's own bounds (src/sentry/monitors/validators.py): margins and runtimes in minutes, up to 28 days. */
const MAX_MINUTES = 40_320;
const MAX_THRESHOLD = 720;
/** Sentry keeps a monitor slug of at most this many characters (after slugifying it). */
const MAX_SLUG_LENGTH = 50;

/** A DSN taken apart: where envelopes go and the key that authorizes them. */
export interface SentryDsn {
  /** `<scheme>://<host>[:port]<path>api/<project>/envelope/`, as sentry-python's `Auth.get_api_url`. */
  readonly envelopeUrl: string;
  readonly publicKey: string;
  readonly secretKey: string | undefined;
  readonly projectId: string;
}

/**
 * A DSN as sentry-python's `Dsn` reads it (http or https, a public key as the user name, the project
 * id as the last path segment), or the reason it is not one.
 */
export function parseSentryDsn(text: string): SentryDsn | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `is not a URL; a DSN looks like "https://<key>@o0.ingest.sentry.io/<project id>"`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `must be http:// or https://, got ${url.protocol}//`;
  if (url.hostname === '') return 'has no host';
  if (url.username === '') return 'has no public key (the part before "@")';
  const segments = url.pathname.split('/');
  const projectId = segments.pop() ?? '';
  if (!/^\d+$/.test(projectId)) return `must end in the project id (a number), got ${shown(projectId)}`;
  const path = `${segments.join('/')}/`;
  return {
    envelopeUrl: `${url.protocol}//${url.host}${path}api/${projectId}/envelope/`,
    publicKey: decodeURIComponent(url.username),
    secretKey: url.password === '' ? undefined : decodeURIComponent(url.password),
    projectId,
  };
}

const dsnSchema = z
  .string({ error: 'sentry.dsn must be a Sentry DSN such as "https://<key>@o0.ingest.sentry.io/<project id>"' })
  .superRefine((text, ctx) => {
    // An empty DSN disables sentry-python; here it counts as unset ($SENTRY_DSN may still give one).
    if (text === '') return;
    const parsed = parseSentryDsn(text);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: `sentry.dsn ${parsed}`, input: text });
  });

/** `sentry` in the config. */
export const sentrySettingsSchema = keyed({
  /** The project's DSN (sentry_sdk.init's `dsn`); $SENTRY_DSN replaces it. */
  dsn: dsnSchema.optional(),
  /** The environment check-ins belong to; it must be the workers' (sentry-python: $SENTRY_ENVIRONMENT, else "production"). */
  environment: z
    .string({ error: 'sentry.environment must be a string' })
    .min(1, { error: 'sentry.environment must not be empty' })
    .optional(),
  /** The release check-ins name (sentry-python: $SENTRY_RELEASE). */
  release: z.string({ error: 'sentry.release must be a string' }).min(1, { error: 'sentry.release must not be empty' }).optional(),
});
export type ParsedSentrySettings = z.output<typeof sentrySettingsSchema>;

/** The settings the check-in sender runs with. */
export interface SentrySettings {
  readonly dsn: SentryDsn;
  readonly environment: string;
  readonly release: string | undefined;
}

function minutesSchema(what: string) {
  const message = `monitor.sentry.${what} is in whole minutes (Sentry's unit), from "1m" to "28d"`;
  return durationSchema(`monitor.sentry.${what}`, 0, MAX_MINUTES * 60_000).superRefine((ms, ctx) => {
    if (ms % 60_000 !== 0 || ms === 0) ctx.addIssue({ code: 'custom', message: `${message}, got ${ms / 1000} s`, input: ms });
  });
}

function thresholdSchema(what: string) {
  const message = `monitor.sentry.${what} must be a whole number from 1 to ${MAX_THRESHOLD}`;
  return z.number({ error: message }).int({ error: message }).min(1, { error: message }).max(MAX_THRESHOLD, { error: message });
}

const monitorOptionsSchema = keyed({
  /** The monitor's slug; default the entry's name, as sentry-python's beat sends it. */
  slug: z.string({ error: 'monitor.sentry.slug must be a string' }).optional(),
  /** Sentry's `checkin_margin`: how late a check-in may be before it counts as missed. */
  checkinMargin: minutesSchema('checkinMargin').optional(),
  /** Sentry's `max_runtime`: how long a run may stay in progress before it counts as timed out. */
  maxRuntime: minutesSchema('maxRuntime').optional(),
  /** Sentry's `failure_issue_threshold`: failed check-ins in a row before an issue is opened. */
  failureIssueThreshold: thresholdSchema('failureIssueThreshold').optional(),
  /** Sentry's `recovery_threshold`: successful check-ins in a row before the issue is resolved. */
  recoveryThreshold: thresholdSchema('recoveryThreshold').optional(),
  /** Sentry's `owner`: "user:<id>" or "team:<id>". */
  owner: z.string({ error: 'monitor.sentry.owner must be a string such as "team:1"' }).optional(),
});

/** `monitor` on an entry. */
export const monitorSchema = keyed({
  /** `true`, or the monitor's settings: check-ins in Sentry Crons for this entry's runs. */
  sentry: z
    .union([z.literal(true), monitorOptionsSchema], {
      error:
        'monitor.sentry must be true or an object with slug, checkinMargin, maxRuntime, failureIssueThreshold, recoveryThreshold, owner',
    })
    .optional(),
});
export type ParsedMonitor = z.output<typeof monitorSchema>;

/** Sentry's `MonitorConfig`, with the keys sentry-python writes (snake_case: it is sent as is). */
export interface SentryMonitorConfig {
  readonly schedule:
    { readonly type: 'crontab'; readonly value: string } | { readonly type: 'interval'; readonly value: number; readonly unit: string };
  readonly timezone: string;
  readonly checkin_margin?: number;
  readonly max_runtime?: number;
  readonly failure_issue_threshold?: number;
  readonly recovery_threshold?: number;
  readonly owner?: string;
}

/** An entry's monitor, resolved: the slug and the config every check-in of it carries. */
export interface ResolvedSentryMonitor {
  readonly slug: string;
  readonly config: SentryMonitorConfig;
}

/** The schedule forms Sentry can follow (what a draft or a resolved schedule holds for them). */
export type MonitoredSchedule =
  | { readonly kind: 'interval'; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly spec: CronSpec }
  | { readonly kind: 'solar' | 'clocked' | 'rrule' | 'union' };

const UNITS = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
] as const;

/**
 * The `schedule` of a monitor config, or why Sentry cannot follow this one. An interval takes the
 * largest of day, hour, minute that divides it (sentry-python truncates instead: 90 minutes would be
 * "1 hour", and Sentry would then expect runs that never come); a crontab is written out from its
 * parsed fields, so names, aliases and Celery's objects all become the five numeric fields.
 */
export function sentrySchedule(schedule: MonitoredSchedule): SentryMonitorConfig['schedule'] | string {
  if (schedule.kind === 'interval') {
    for (const [unit, ms] of UNITS) {
      if (schedule.everyMs % ms === 0) return { type: 'interval', value: schedule.everyMs / ms, unit };
    }
    return `Sentry Crons follows intervals of whole minutes, and this one is ${schedule.everyMs / 1000} s; make it a whole number of minutes`;
  }
  // A monitor has one schedule: Sentry cannot expect the runs of a list of them.
  if (schedule.kind !== 'cron')
    return `Sentry Crons follows crontab and interval schedules only, not ${schedule.kind === 'union' ? 'a list of schedules' : schedule.kind}`;
  const spec = schedule.spec;
  if (spec.seconds.length !== 1 || spec.seconds[0] !== 0)
    return 'Sentry Crons follows five-field crontabs: a seconds field has no equivalent there';
  if (spec.masks.dayExtras) return 'Sentry Crons cannot follow L, W or # in a crontab';
  const fields = [
    cronField(spec.minutes, 0, 59),
    cronField(spec.hours, 0, 23),
    cronField(spec.daysOfMonth, 1, 31),
    cronField(spec.months, 1, 12),
    cronField(spec.daysOfWeek, 0, 6),
  ];
  return { type: 'crontab', value: fields.join(' ') };
}

/** A sorted set of values as a crontab field: `*`, `*\/15`, or ranges and values (`1-5,10`). */
function cronField(values: readonly number[], min: number, max: number): string {
  if (values.length === max - min + 1) return '*';
  const step = (values[1] ?? 0) - (values[0] ?? 0);
  if (values[0] === min && step > 1 && values.every((v, i) => v === min + i * step) && (values.at(-1) ?? 0) + step > max)
    return `*/${step}`;
  const out: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === (values[j] ?? 0) + 1) j += 1;
    out.push(j - i >= 2 ? `${values[i]}-${values[j]}` : values.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return out.join(',');
}

/** Django's slugify, as Sentry applies it to a slug it receives: lowercase ASCII words joined by "-". */
export function sentrySlugified(slug: string): string {
  return slug
    .normalize('NFKD')
    .replace(/[^\x00-\x7f]/g, '')
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .replace(/[-\s]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
}

/** Why Sentry cannot follow this entry's schedule (path under the entry), or undefined. */
export function monitorScheduleProblem(
  monitor: ParsedMonitor | undefined,
  schedule: MonitoredSchedule,
): { path: string[]; message: string } | undefined {
  if (monitor?.sentry === undefined) return undefined;
  const scheduled = sentrySchedule(schedule);
  if (typeof scheduled !== 'string') return undefined;
  return { path: ['monitor', 'sentry'], message: `${scheduled}, or leave monitor.sentry out for this entry` };
}

/** Why the monitor's slug (its own, else the entry's name) would not do in Sentry (path under the entry), or undefined. */
export function monitorSlugProblem(name: string, monitor: ParsedMonitor | undefined): { path: string[]; message: string } | undefined {
  const sentry = monitor?.sentry;
  if (sentry === undefined) return undefined;
  const own = sentry === true ? undefined : sentry.slug;
  const slug = own ?? name;
  const slugified = sentrySlugified(slug);
  if (slugified !== '' && slugified.length <= MAX_SLUG_LENGTH) return undefined;
  return {
    path: own === undefined ? ['monitor', 'sentry'] : ['monitor', 'sentry', 'slug'],
    message: `the Sentry monitor slug ${shown(slug)} becomes ${slugified === '' ? 'empty' : `${slugified.length} characters long`} in Sentry, which keeps 1 to ${MAX_SLUG_LENGTH}; give monitor.sentry.slug`,
  };
}

/** An entry's monitor resolved; undefined without `monitor.sentry` (the schema refused one Sentry cannot follow). */
export function resolveSentryMonitor(
  name: string,
  monitor: ParsedMonitor | undefined,
  schedule: MonitoredSchedule,
  timezone: string,
): ResolvedSentryMonitor | undefined {
  const sentry = monitor?.sentry;
  if (sentry === undefined) return undefined;
  const scheduled = sentrySchedule(schedule);
  if (typeof scheduled === 'string') return undefined;
  const options = sentry === true ? {} : sentry;
  const config: SentryMonitorConfig = {
    schedule: scheduled,
    timezone,
    ...(options.checkinMargin === undefined ? {} : { checkin_margin: options.checkinMargin / 60_000 }),
    ...(options.maxRuntime === undefined ? {} : { max_runtime: options.maxRuntime / 60_000 }),
    ...(options.failureIssueThreshold === undefined ? {} : { failure_issue_threshold: options.failureIssueThreshold }),
    ...(options.recoveryThreshold === undefined ? {} : { recovery_threshold: options.recoveryThreshold }),
    ...(options.owner === undefined ? {} : { owner: options.owner }),
  };
  return { slug: options.slug ?? name, config };
}

/** sentry-python's environment variables, as it reads them when `init` is not given the value. */
export interface SentryEnv {
  readonly dsn?: string | undefined;
  readonly environment?: string | undefined;
  readonly release?: string | undefined;
}

const given = (text: string | undefined): string | undefined => (text === undefined || text === '' ? undefined : text);

/**
 * Settings that are valid alone but not together, paths as the schema's: a DSN in `$SENTRY_DSN`
 * that is not one, and entries with `monitor.sentry` but no DSN anywhere (one problem, at the first).
 */
export function sentryConfigProblems(
  file: ParsedSentrySettings | undefined,
  entries: Readonly<Record<string, { readonly monitor?: ParsedMonitor | undefined }>>,
  env: SentryEnv,
  envDsnName: string,
): { path: string[]; message: string }[] {
  const envDsn = given(env.dsn);
  if (envDsn !== undefined) {
    const parsed = parseSentryDsn(envDsn);
    return typeof parsed === 'string' ? [{ path: [envDsnName], message: `${envDsnName} ${parsed}` }] : [];
  }
  if (given(file?.dsn) !== undefined) return [];
  const monitored: string[] = [];
  for (const name in entries) if (entries[name]?.monitor?.sentry !== undefined) monitored.push(name);
  const first = monitored[0];
  if (first === undefined) return [];
  const others = monitored.length - 1;
  const more = others > 0 ? ` (so do ${others} more ${others === 1 ? 'entry' : 'entries'} with monitor.sentry)` : '';
  return [
    {
      path: ['beatSchedule', first, 'monitor', 'sentry'],
      message: `Sentry check-ins need a DSN${more}: set sentry.dsn in the config or $${envDsnName} (the DSN your workers' sentry_sdk.init uses), or leave monitor.sentry out`,
    },
  ];
}

/**
 * The sender's settings: `$SENTRY_DSN` over `sentry.dsn` (as tsbeat's other URLs from the
 * environment); the environment and release as configured, else sentry-python's variables, else
 * its default environment "production" (check-ins of one monitor in two environments are two
 * monitors in Sentry, so it must be the workers'). Undefined without a DSN; the DSN was checked.
 */
export function sentrySettingsFrom(file: ParsedSentrySettings | undefined, env: SentryEnv): SentrySettings | undefined {
  const text = given(env.dsn) ?? given(file?.dsn);
  if (text === undefined) return undefined;
  const dsn = parseSentryDsn(text);
  if (typeof dsn === 'string') return undefined;
  return {
    dsn,
    environment: file?.environment ?? given(env.environment) ?? 'production',
    release: file?.release ?? given(env.release),
  };
}

/**
 * A run's check-in id: its task id's 32 hex digits (`uuid.UUID(task.request.id).hex`), as
 * sentry-python writes ids (`uuid4().hex`). Derived, not random, so a run published again after a
 * failover, and the check-in a new leader sends for it, keep one id and Sentry one check-in. An id of
 * another shape (given to `beat trigger`) takes the version-5 UUID of its UTF-8 bytes (no namespace).
 */
export function sentryCheckInId(taskId: string): string {
  const hex = taskId.replace(/-/g, '');
  if (/^[0-9a-f]{32}$/.test(hex) && taskId.length === 36) return hex;
  return uuidV5OfBytes(Buffer.from(taskId, 'utf8')).replace(/-/g, '');
}
