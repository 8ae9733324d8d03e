/**
 * The headers of a run of an entry with `monitor.sentry`, as sentry-python's Celery beat integration
 * (integrations/celery/beat.py with `_update_celery_task_headers`) puts them on the message: at the
 * top of the message headers, and again in a nested `headers` object, which Celery hands to the task
 * as `task.request.headers` and where the worker's integration reads them (`_get_headers`) to send
 * the run's `ok` or `error` check-in. Pure.
 */
import type { ResolvedSentryMonitor } from '../config/sentry-schema.js';
import { json } from './template-parts.js';

/** The constant parts of the headers, as JSON text, computed once per template. */
export interface SentryHeaderConstants {
  readonly slugJson: string;
  readonly configJson: string;
}

export const SENTRY_SLUG = 'sentry-monitor-slug';
export const SENTRY_CONFIG = 'sentry-monitor-config';
export const SENTRY_CHECK_IN_ID = 'sentry-monitor-check-in-id';
export const SENTRY_START = 'sentry-monitor-start-timestamp-s';

export function sentryHeaderConstants(monitor: ResolvedSentryMonitor): SentryHeaderConstants {
  return { slugJson: json(monitor.slug), configJson: json(monitor.config) };
}

/** `"%.9f" % time.time()` at publish, as sentry-python writes `sentry-monitor-start-timestamp-s`, as JSON text. */
export function sentryStartJson(nowMs: number): string {
  const us = Math.round(nowMs * 1000);
  return `"${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}000"`;
}

/** The nested `headers` object of a run, as JSON text (checkInId and start already JSON strings). */
export function sentryNestedHeadersJson(constants: SentryHeaderConstants, checkInIdJson: string, startJson: string): string {
  return (
    `{"${SENTRY_SLUG}":${constants.slugJson},"${SENTRY_CONFIG}":${constants.configJson},` +
    `"${SENTRY_CHECK_IN_ID}":${checkInIdJson},"${SENTRY_START}":${startJson}}`
  );
}
