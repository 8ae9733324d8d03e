/**
 * Alerts on their way out: each is a delivery (an HTTP request to a webhook or a ping URL) kept in
 * an outbox until the receiver took it, so that a leader that dies does not lose it and the next
 * one neither loses nor repeats it. A delivery's id says what it is about (kind, entry, slot): the
 * outbox takes an id once, so two leaders that find the same missed slot send one alert.
 */

export interface Delivery {
  /** What it is about, e.g. `missed:nightly:1767225600000:webhook`: the outbox's key, and the receiver's idempotency key. */
  readonly id: string;
  readonly url: string;
  /** The request body (JSON for a webhook, a line of text for a ping). */
  readonly body: string;
  readonly contentType: string;
  /** Attempts made so far. */
  readonly attempts: number;
}

export interface AlertOutbox {
  /** Adds deliveries not seen before (pending or sent within the retention); returns how many were new. */
  enqueue(deliveries: readonly Delivery[], nowMs: number): Promise<number>;
  /**
   * Takes up to `max` deliveries due at `nowMs` for `claimMs` (no other caller gets them meanwhile:
   * a delivery that outlives a leader is retried by the next after that), and says when the first
   * pending one is then due.
   */
  claim(nowMs: number, max: number, claimMs: number): Promise<ClaimedDeliveries>;
  /** The receiver took it (or it was given up on): never sent again. */
  settle(id: string, nowMs: number): Promise<void>;
  /** Try it again at `atMs`, with its attempts counted. */
  retry(delivery: Delivery, atMs: number): Promise<void>;
  /** The deliveries not yet taken by their receiver, and when the first is due (a retry, or one claimed whose claim runs out). */
  pending(): Promise<OutboxPending>;
}

export interface ClaimedDeliveries {
  readonly deliveries: readonly Delivery[];
  /**
   * When the first pending delivery is due after the claim (those taken included, at the claim's
   * end), epoch ms; undefined when none is pending, or when that due time was not written by tsbeat
   * (the status names it: `pending` throws REDIS_GARBLED).
   */
  readonly nextDueMs: number | undefined;
}

export interface OutboxPending {
  readonly count: number;
  /** Epoch ms; undefined when none is pending. */
  readonly nextDueMs: number | undefined;
}
