/**
 * The leader's sender of Sentry Crons check-ins: for each published run of an entry with
 * `monitor.sentry`, the `in_progress` check-in that sentry-python's beat sends before it publishes
 * (`capture_checkin(..., status=IN_PROGRESS)` with the monitor config, which upserts the monitor).
 * The worker's integration sends the run's `ok` or `error` with the same id from the message headers.
 *
 * Never on the publish path: `published` only queues (bounded; the oldest go first), and a timer sends
 * the queue as envelopes of up to SENTRY_BATCH check-ins (one `check_in` item each, which Sentry's relay
 * takes one by one) to the DSN's envelope endpoint, as sentry-python's transport does. An envelope
 * that gets no 2xx is retried with a backoff, given up after SENTRY_MAX_ATTEMPTS or on a 4xx other than
 * 408/429 (Sentry will not take it), and a 429 waits for its Retry-After. Check-in ids are the runs'
 * (derived from task ids), so a check-in sent twice (a retry whose answer was lost) stays one.
 */
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { PokedLoop } from '../base/poked-loop.js';
import { maskUrl } from '../base/redact.js';
import { VERSION } from '../base/version.js';
import type { PublishedRun } from '../ports/events.js';
import { sentryCheckInId } from '../config/sentry-schema.js';
import type { SentrySettings } from '../config/sentry-schema.js';
import { doublingBackoffMs } from './deliverer.js';

/** Sentry check-ins: how soon after a publish the leader sends what is queued (a worker may finish a quick run first: Sentry keeps its ok). */
const SENTRY_FLUSH_MS = 250;
/** Check-ins per envelope (Sentry takes each item on its own). */
const SENTRY_BATCH = 100;
/** Check-ins waiting to be sent at most; past it the oldest go (a run's ok or error check-in from the worker still records it). */
const SENTRY_QUEUE_MAX = 10_000;
/** Retries of an envelope that could not be delivered wait 1 s, 2 s, 4 s… up to this, and stop after SENTRY_MAX_ATTEMPTS. */
const SENTRY_BACKOFF_MAX_MS = 60_000;
const SENTRY_MAX_ATTEMPTS = 8;
/** One POST to Sentry's envelope endpoint gives up after this. */
const SENTRY_TIMEOUT_MS = 5000;

/** One POST: resolves with the status and the Retry-After header, rejects when there was no answer. */
export type SendEnvelope = (
  url: string,
  headers: Readonly<Record<string, string>>,
  body: string,
  timeoutMs: number,
) => Promise<{ status: number; retryAfter: string | null }>;

export const httpSendEnvelope: SendEnvelope = async (url, headers, body, timeoutMs) => {
  const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) });
  // The body is not needed; reading it frees the connection.
  await response.arrayBuffer().catch(() => undefined);
  return { status: response.status, retryAfter: response.headers.get('retry-after') };
};

export interface SentryCheckInsOptions {
  readonly settings: SentrySettings;
  readonly logger: Logger;
  readonly now: () => number;
  readonly send?: SendEnvelope;
}

/** sentry-python's `Auth.to_header()`. */
export function sentryAuthHeader(settings: SentrySettings): string {
  const { publicKey, secretKey } = settings.dsn;
  return `Sentry sentry_key=${publicKey}, sentry_version=7, sentry_client=tsbeat/${VERSION}${secretKey === undefined ? '' : `, sentry_secret=${secretKey}`}`;
}

/** The in_progress check-in of a run, as sentry-python's `_create_check_in_event` makes it (JSON text). */
export function inProgressCheckIn(run: PublishedRun, settings: SentrySettings): string | undefined {
  const monitor = run.entry.sentry;
  if (monitor === undefined) return undefined;
  return JSON.stringify({
    type: 'check_in',
    check_in_id: sentryCheckInId(run.id),
    monitor_slug: monitor.slug,
    status: 'in_progress',
    environment: settings.environment,
    ...(settings.release === undefined ? {} : { release: settings.release }),
    monitor_config: monitor.config,
  });
}

/** An envelope of check-ins (JSON text each): a header line, then per item its header line and payload. */
export function checkInEnvelope(checkIns: readonly string[], nowMs: number): string {
  const lines = [JSON.stringify({ sent_at: new Date(nowMs).toISOString(), sdk: { name: 'tsbeat', version: VERSION } })];
  for (const payload of checkIns) {
    lines.push(`{"type":"check_in","content_type":"application/json","length":${Buffer.byteLength(payload, 'utf8')}}`, payload);
  }
  return `${lines.join('\n')}\n`;
}

export class SentryCheckIns {
  private queue: string[] = [];
  /** Attempts made at the batch at the head of the queue, and when the next may go. */
  private attempts = 0;
  private notBeforeMs = 0;
  /** How many at the head of the queue are being sent: an overflow drops the oldest after them. */
  private inFlight = 0;
  private readonly loop: PokedLoop;
  private readonly send: SendEnvelope;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(private readonly options: SentryCheckInsOptions) {
    this.send = options.send ?? httpSendEnvelope;
    this.headers = {
      'content-type': 'application/x-sentry-envelope',
      'user-agent': `tsbeat/${VERSION}`,
      'x-sentry-auth': sentryAuthHeader(options.settings),
    };
    this.loop = new PokedLoop({ intervalMs: SENTRY_FLUSH_MS, run: () => this.sendDue(), runAtStart: true, unref: true });
  }

  /** SchedulerEvents.published: queues the run's in_progress check-in (returns at once). */
  published(run: PublishedRun): void {
    const checkIn = inProgressCheckIn(run, this.options.settings);
    if (checkIn === undefined) return;
    this.queue.push(checkIn);
    if (this.queue.length > SENTRY_QUEUE_MAX) {
      const dropped = this.queue.length - SENTRY_QUEUE_MAX;
      this.queue.splice(this.inFlight, dropped);
      this.options.logger.warn(
        { event: EVENTS.sentryDropped, count: dropped },
        `Sentry check-ins waiting exceed ${SENTRY_QUEUE_MAX}: the oldest ${dropped} were dropped`,
      );
    }
  }

  /** Starts sending (this instance leads). */
  start(): void {
    this.loop.start();
  }

  /** Stops, after one last try at what is queued (a run published just before a shutdown keeps its check-in). */
  async stop(): Promise<void> {
    await this.loop.stop();
    this.notBeforeMs = 0;
    if (this.queue.length > 0 && this.attempts < SENTRY_MAX_ATTEMPTS) await this.sendDue();
  }

  private async sendDue(): Promise<void> {
    const { logger, now, settings } = this.options;
    const nowMs = now();
    if (this.queue.length === 0 || nowMs < this.notBeforeMs) return;
    const batch = this.queue.slice(0, SENTRY_BATCH);
    const url = settings.dsn.envelopeUrl;
    let status: number | undefined;
    let retryAfter: string | null = null;
    let failure: string;
    this.inFlight = batch.length;
    try {
      ({ status, retryAfter } = await this.send(url, this.headers, checkInEnvelope(batch, nowMs), SENTRY_TIMEOUT_MS));
      failure = `HTTP ${status}`;
    } catch (error) {
      failure = errorMessage(error);
    }
    this.inFlight = 0;
    const attempts = this.attempts + 1;
    const fields = { url: maskUrl(url), count: batch.length, attempts };
    if (status !== undefined && status >= 200 && status < 300) {
      this.settle(batch.length);
      logger.debug({ event: EVENTS.sentrySent, ...fields, status }, 'Sentry check-ins sent');
      // A full batch: more may be waiting.
      if (this.queue.length > 0) this.loop.runAgain();
      return;
    }
    const refused = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    if (refused || attempts >= SENTRY_MAX_ATTEMPTS) {
      this.settle(batch.length);
      logger.error(
        { event: EVENTS.sentryDropped, ...fields, failure },
        refused
          ? `Sentry refused the check-ins (${failure}); not sent again`
          : `giving up on the check-ins after ${attempts} attempts (${failure})`,
      );
      return;
    }
    // A 429 says how long to wait (seconds); otherwise the backoff.
    const asked = status === 429 && retryAfter !== null ? Number(retryAfter) * 1000 : Number.NaN;
    const delay = Number.isFinite(asked) && asked > 0 ? asked : doublingBackoffMs(attempts, SENTRY_BACKOFF_MAX_MS);
    this.attempts = attempts;
    this.notBeforeMs = nowMs + delay;
    logger.warn(
      { event: EVENTS.sentryRetry, ...fields, failure, retryInMs: delay },
      `Sentry check-ins not delivered (${failure}); retrying`,
    );
  }

  /** The batch at the head is done with (sent or given up). */
  private settle(count: number): void {
    this.queue.splice(0, count);
    this.attempts = 0;
    this.notBeforeMs = 0;
  }
}
