/** The alert outbox in Redis (ports/alerts.ts), through alerts-outbox.lua: see its contract. */
import type { RedisClient } from './connect.js';
import { DEFAULTS } from '../base/defaults.js';
import type { AlertOutbox, ClaimedDeliveries, Delivery, OutboxPending } from '../ports/alerts.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';
import { chunksOf } from '../base/chunks.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';

/** The last instant of the year 9999 (epoch ms): a due time past it was not written by tsbeat. */
const LATEST_DUE_MS = 253_402_300_799_999;

/** How long the alert outbox remembers a delivered (or given-up) alert, so that a second leader finding the same one does not send it again. */
const ALERT_SENT_RETENTION_MS = 86_400_000;

/** The first pending delivery's due time as the script read it: undefined when none is pending. */
function dueTimeOf(first: string | null): number | undefined | 'garbled' {
  if (first === null) return undefined;
  const dueMs = Number(first);
  // This process writes epoch ms; anything else (inf, a year past 9999) was written by something else.
  return Number.isSafeInteger(dueMs) && dueMs >= 0 && dueMs <= LATEST_DUE_MS ? dueMs : 'garbled';
}

export class RedisAlertOutbox implements AlertOutbox {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'alertItems' | 'alertsDue' | 'alertsSent'>,
  ) {}

  async enqueue(deliveries: readonly Delivery[], nowMs: number): Promise<number> {
    if (deliveries.length === 0) return 0;
    const pairs = deliveries.flatMap((d) => [d.id, JSON.stringify(d)]);
    // Each delivery stands alone, so many go in several calls (an even chunk keeps the pairs whole).
    let added = 0;
    for (const chunk of chunksOf(pairs, DEFAULTS.ioChunk))
      added += Number(await this.run('enqueue', nowMs, String(ALERT_SENT_RETENTION_MS), ...chunk));
    return added;
  }

  async claim(nowMs: number, max: number, claimMs: number): Promise<ClaimedDeliveries> {
    const [texts, first] = (await this.run('claim', nowMs, String(max), String(claimMs))) as unknown as [string[], string | null];
    // A due time tsbeat never writes is not the sender's to report (the status names it): it rests the longest.
    const due = dueTimeOf(first);
    return { deliveries: texts.map((text) => JSON.parse(text) as Delivery), nextDueMs: due === 'garbled' ? undefined : due };
  }

  async settle(id: string, nowMs: number): Promise<void> {
    await this.run('settle', nowMs, id);
  }

  async retry(delivery: Delivery, atMs: number): Promise<void> {
    await this.run('retry', atMs, delivery.id, String(atMs), JSON.stringify(delivery));
  }

  async pending(): Promise<OutboxPending> {
    // peek reads no clock: the time argument every operation takes is not used.
    const [count, first] = (await this.run('peek', 0)) as unknown as [number, string | null];
    const due = dueTimeOf(first);
    if (due === 'garbled')
      throw new BeatError(
        ErrorCode.RedisGarbled,
        `key ${this.keys.alertsDue} holds the score ${shown(first ?? '')}, not a time in epoch ms: something else wrote it. ` +
          `Its pending alerts are not shown nor sent until it is mended: ZREMRANGEBYSCORE ${this.keys.alertsDue} ${LATEST_DUE_MS + 1} +inf`,
      );
    return { count: Number(count), nextDueMs: due };
  }

  private async run(op: string, nowMs: number, ...args: string[]): Promise<number | (string | number | null)[]> {
    const { alertItems, alertsDue, alertsSent } = this.keys;
    try {
      return await withScripts(this.client).alertsOutbox(3, alertItems, alertsDue, alertsSent, op, String(nowMs), ...args);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['alertItems', 'alertsDue', 'alertsSent']));
    }
  }
}
