/**
 * The leader's sender of alerts: it takes the deliveries due from the outbox (at most ALERT_BATCH at
 * once, at once when told of new ones, and on the alertPollMs grid when the first pending one is due,
 * at least every ALERT_IDLE_LOOK_MS), sends each as an HTTP POST with a
 * timeout, and settles it when the receiver answered 2xx, retries it later with a growing backoff
 * when it did not (or did not answer), and gives up after ALERT_MAX_ATTEMPTS or on a 4xx other than
 * 408/429 (the receiver will not take it). Nothing here ever waits on the scheduler or blocks it.
 */
import { DEFAULTS } from '../base/defaults.js';
import { PokedLoop } from '../base/poked-loop.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import { maskAlertUrl, redactText } from '../base/redact.js';
import type { Logger } from '../base/log.js';
import type { AlertOutbox, ClaimedDeliveries, Delivery } from '../ports/alerts.js';

/** A webhook or ping that has not answered after this is retried. */
const ALERT_TIMEOUT_MS = 5000;
/** Deliveries sent at once; the rest wait for the next look. */
const ALERT_BATCH = 20;
/** A delivery being sent is held this long; if its sender dies meanwhile, the next leader sends it after that. */
const ALERT_CLAIM_MS = 30_000;
/** Retries of a failed delivery wait 1 s, 2 s, 4 s… up to this, and stop after ALERT_MAX_ATTEMPTS (about an hour in all). */
const ALERT_BACKOFF_MAX_MS = 300_000;
const ALERT_MAX_ATTEMPTS = 15;
/**
 * The longest an idle sender waits between two looks at the outbox. This leader's own alerts poke it
 * at once, and the outbox tells when its first pending delivery is due: this bounds only the wait for
 * one added by another process without telling (a leader that stood down, flushing its last ones).
 */
const ALERT_IDLE_LOOK_MS = 30_000;

/** Sends one request; resolves with the HTTP status, rejects when there was no answer. */
export type Send = (delivery: Delivery, timeoutMs: number) => Promise<number>;

export interface AlertDelivererOptions {
  readonly outbox: AlertOutbox;
  readonly logger: Logger;
  readonly now: () => number;
  readonly send?: Send;
}

/** The backoff before attempt `attempts + 1`: 1 s, 2 s, 4 s… up to `maxMs`. */
export function doublingBackoffMs(attempts: number, maxMs: number): number {
  return Math.min(maxMs, 1000 * 2 ** Math.max(0, attempts - 1));
}

/** An alert's backoff: up to ALERT_BACKOFF_MAX_MS. */
export function backoffMs(attempts: number): number {
  return doublingBackoffMs(attempts, ALERT_BACKOFF_MAX_MS);
}

export const httpSend: Send = async (delivery, timeoutMs) => {
  const response = await fetch(delivery.url, {
    method: 'POST',
    headers: { 'content-type': delivery.contentType, 'idempotency-key': delivery.id, 'user-agent': 'tsbeat' },
    body: delivery.body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'follow',
  });
  // The body is not needed; reading it frees the connection.
  await response.arrayBuffer().catch(() => undefined);
  return response.status;
};

export class AlertDeliverer {
  private readonly loop: PokedLoop;
  private lastError: string | undefined;
  private readonly send: Send;

  constructor(private readonly options: AlertDelivererOptions) {
    this.send = options.send ?? httpSend;
    this.loop = new PokedLoop({ intervalMs: DEFAULTS.alertPollMs, run: () => this.look(), runAtStart: true, unref: true });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Looks now (new deliveries were added), or as soon as the look in progress ends. */
  poke(): void {
    this.loop.poke();
  }

  private async look(): Promise<void> {
    const { outbox, logger, now } = this.options;
    let claimed: ClaimedDeliveries;
    try {
      claimed = await outbox.claim(now(), ALERT_BATCH, ALERT_CLAIM_MS);
      this.lastError = undefined;
    } catch (error) {
      const message = errorMessage(error);
      if (message !== this.lastError)
        logger.warn({ event: EVENTS.alertOutboxFailed, err: error }, 'could not read the alert outbox; retrying');
      this.lastError = message;
      return;
    }
    const { deliveries } = claimed;
    // None taken: the claim said when the first pending one is due, and nothing has changed it since.
    if (deliveries.length === 0) return this.restUntil(claimed.nextDueMs);
    await Promise.all(deliveries.map((delivery) => this.deliver(delivery)));
    // A full batch: more may be due.
    if (deliveries.length === ALERT_BATCH) this.loop.runAgain();
    else await this.restUntilDue();
  }

  /** After deliveries (each settled or retried at a time of its own): rests until the first pending one is due; a failed read rests not at all. */
  private async restUntilDue(): Promise<void> {
    try {
      this.restUntil((await this.options.outbox.pending()).nextDueMs);
    } catch {
      // Read again at the next look: the claim before it fails alike and says why.
    }
  }

  /** Rests the loop until `nextDueMs` (ALERT_IDLE_LOOK_MS at most, and when none is pending). */
  private restUntil(nextDueMs: number | undefined): void {
    this.loop.rest(Math.min(ALERT_IDLE_LOOK_MS, nextDueMs === undefined ? ALERT_IDLE_LOOK_MS : nextDueMs - this.options.now()));
  }

  private async deliver(delivery: Delivery): Promise<void> {
    const { outbox, logger, now } = this.options;
    const attempts = delivery.attempts + 1;
    const fields = { id: delivery.id, url: maskAlertUrl(delivery.url), attempts };
    let status: number | undefined;
    let failure: string;
    let forbidden = false;
    try {
      status = await this.send(delivery, ALERT_TIMEOUT_MS);
      failure = `HTTP ${status}`;
    } catch (error) {
      // fetch's errors quote the URL, user info and all.
      failure = redactText(errorMessage(error));
      // The outbound policy (outbound.ts) refused its URL: trying again would be refused again.
      forbidden = error instanceof Error && error.name === 'OutboundRefused';
    }
    try {
      if (status !== undefined && status >= 200 && status < 300) {
        await outbox.settle(delivery.id, now());
        logger.info({ event: EVENTS.alertSent, ...fields, status }, 'alert delivered');
        return;
      }
      const refused = forbidden || (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429);
      if (refused || attempts >= ALERT_MAX_ATTEMPTS) {
        await outbox.settle(delivery.id, now());
        logger.error(
          { event: EVENTS.alertDropped, ...fields, failure },
          forbidden
            ? `the alert was not sent: ${failure}`
            : refused
              ? `the receiver refused the alert (${failure}); not sent again`
              : `giving up on the alert after ${attempts} attempts (${failure})`,
        );
        return;
      }
      const delay = backoffMs(attempts);
      await outbox.retry({ ...delivery, attempts }, now() + delay);
      logger.warn({ event: EVENTS.alertRetry, ...fields, failure, retryInMs: delay }, `alert not delivered (${failure}); retrying`);
    } catch (error) {
      // The claim runs out and the delivery is tried again then.
      logger.warn({ event: EVENTS.alertOutboxFailed, err: error, id: delivery.id }, 'could not record the delivery in the alert outbox');
    }
  }
}
