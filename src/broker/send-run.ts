/**
 * The sending side of one execute/publish call, whatever the transport: batches go out while at
 * most `maxInFlight` await their replies, their results add up, and the first failure stops it.
 */
import type { DroppedMessage } from './types.js';

export interface BatchResult {
  readonly published: number;
  readonly deliveries: number;
  readonly dropped: readonly DroppedMessage[];
  /** Queues whose declaration went out with the batch (now known to the broker). */
  readonly declared: readonly string[];
}

export interface FanoutSent {
  /** What to report if nobody received it. */
  readonly message: DroppedMessage;
  readonly count: number;
  /** PUBLISH replies: how many subscribers got each copy. */
  readonly replies: readonly Promise<number>[];
}

/**
 * Waits for a batch's replies. A separate function so that nothing awaiting replies holds the
 * batch, whose envelopes can then be collected while young.
 */
export async function settle(commands: readonly Promise<unknown>[], fanouts: readonly FanoutSent[], sent: BatchResult): Promise<BatchResult> {
  await Promise.all([...commands, ...fanouts.flatMap((f) => f.replies)]);
  let { published, deliveries } = sent;
  const dropped: DroppedMessage[] = [...sent.dropped];
  for (const { message, count, replies } of fanouts) {
    // Nobody subscribed: a fanout message reached no one and is gone.
    const reached = (await Promise.all(replies)).reduce((a, b) => a + b, 0);
    deliveries += count;
    if (reached > 0) published += 1;
    else dropped.push(message);
  }
  return { published, deliveries, dropped, declared: sent.declared };
}

export class SendRun {
  private readonly inFlight: Promise<void>[] = [];
  private published = 0;
  private deliveries = 0;
  private readonly dropped: DroppedMessage[] = [];
  private readonly declared: string[] = [];
  private failure: unknown;

  constructor(
    /** Messages in the call, for the error message. */
    readonly size: number,
    private readonly maxInFlight: number,
  ) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  add(batch: Promise<BatchResult>): void {
    this.inFlight.push(
      batch.then(
        (result) => {
          this.published += result.published;
          this.deliveries += result.deliveries;
          this.dropped.push(...result.dropped);
          this.declared.push(...result.declared);
        },
        (error: unknown) => {
          this.failure ??= error;
        },
      ),
    );
  }

  /** Resolves once fewer than `maxInFlight` batches await their replies. */
  async room(): Promise<void> {
    while (this.inFlight.length >= this.maxInFlight) await this.inFlight.shift();
  }

  async done(): Promise<{ published: number; deliveries: number; dropped: DroppedMessage[]; declared: string[]; failure: unknown }> {
    await Promise.all(this.inFlight);
    return { published: this.published, deliveries: this.deliveries, dropped: this.dropped, declared: this.declared, failure: this.failure };
  }
}
