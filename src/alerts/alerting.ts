/**
 * The scheduler's events turned into alert deliveries (alert-rules.ts) and written to the outbox,
 * in small groups (one round trip for a burst), without ever holding the scheduler up: the event
 * methods return at once. A write that fails is retried with the next group; what is lost when the
 * process dies before writing is found again by the next leader (a missed slot is missed for it
 * too; a failed run is read again from the history), and the outbox takes each id once.
 */
import { DEFAULTS } from '../base/defaults.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { AlertOutbox, Delivery } from '../ports/alerts.js';
import type { MissedSlots, PublishedRun } from '../ports/events.js';
import { missedDeliveries, publishedPing } from './alert-rules.js';
import { pushAll } from '../base/chunks.js';

/** Alerts raised within this are written to the outbox together: one round trip for a burst of them. */
const ALERT_FLUSH_MS = 50;

export interface AlertingOptions {
  readonly deployment: string;
  readonly outbox: AlertOutbox;
  readonly logger: Logger;
  readonly now: () => number;
  /** Told after deliveries were written (the deliverer looks at once). */
  readonly onQueued: () => void;
}

/** Deliveries held in memory before this many are written at once anyway. */
const MAX_PENDING = 1000;

export class Alerting {
  private pending: Delivery[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private lastError: string | undefined;

  constructor(private readonly options: AlertingOptions) {}

  /** SchedulerEvents.published: the ping of an entry that has one. */
  published(run: PublishedRun): void {
    if (run.entry.alerts?.ping === undefined) return;
    this.add(publishedPing(run.entry, run.slotMs, run.id));
  }

  /** SchedulerEvents.missed: a `missed` alert and a failure ping. */
  missed(missed: MissedSlots): void {
    if (missed.entry.alerts === undefined) return;
    this.add(missedDeliveries(this.options.deployment, missed));
  }

  /** Adds deliveries built elsewhere (outcomes: failed, late, succeeded). */
  add(deliveries: readonly Delivery[]): void {
    if (deliveries.length === 0) return;
    pushAll(this.pending, deliveries);
    if (this.pending.length >= MAX_PENDING) this.flushSoon(0);
    else this.flushSoon(ALERT_FLUSH_MS);
  }

  /** Writes what is pending now (at stop). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.write();
  }

  private flushSoon(delayMs: number): void {
    if (this.timer !== undefined && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing ??= this.write().finally(() => {
        this.writing = undefined;
      });
    }, delayMs);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const { outbox, logger, now, onQueued } = this.options;
    try {
      if ((await outbox.enqueue(batch, now())) > 0) onQueued();
      this.lastError = undefined;
    } catch (error) {
      // Kept (bounded) and written with the next group.
      this.pending = [...batch, ...this.pending].slice(-MAX_PENDING * 10);
      const message = errorMessage(error);
      if (message !== this.lastError)
        logger.warn({ event: EVENTS.alertOutboxFailed, err: error }, 'could not write alerts to the outbox; retrying');
      this.lastError = message;
      this.flushSoon(DEFAULTS.alertPollMs);
    }
  }
}
