/**
 * Sentry Crons wired: with a DSN (`sentry.dsn` or $SENTRY_DSN), the leader sends the
 * in_progress check-in of each published run of an entry with `monitor.sentry`. The run's message
 * carries the headers either way (celery/sentry-headers.ts), so the worker's sentry-python closes it.
 */
import type { Logger } from '../base/log.js';
import { SentryCheckIns } from '../alerts/sentry-checkins.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { LeaderTask } from './supervisor.js';

export interface SentryWiring {
  /** Publishes of monitored entries, for the scheduler's sink. */
  readonly events: SchedulerEvents;
  /** The leader's sender, started and stopped with each session. */
  readonly sender: LeaderTask;
}

/** Undefined without a DSN: nothing is sent, and no timer runs. The DSN is read at start (a reload keeps it). */
export function startSentryCheckIns(config: ResolvedConfig, logger: Logger, now: () => number): SentryWiring | undefined {
  if (config.sentry === undefined) return undefined;
  const checkIns = new SentryCheckIns({ settings: config.sentry, logger, now });
  return {
    events: { ...NO_EVENTS, published: (run) => checkIns.published(run) },
    sender: { start: () => checkIns.start(), stop: () => checkIns.stop() },
  };
}
