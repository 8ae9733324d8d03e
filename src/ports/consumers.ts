/**
 * Who reads the queues the schedule publishes to: what a broker tells of each queue's consumers
 * (the workers' own answers to Celery's `active_queues` broadcast, RabbitMQ's consumer counts) and
 * of its depth (the messages waiting in it, and on SQS those in flight). Each broker implements it
 * (src/publish/consumer-probes.ts for Redis, src/amqp/consumer-probe.ts, src/sqs/consumer-probe.ts); src/control/consumer-watch.ts judges the looks, and the leader reports an unconsumed queue.
 */

/** One queue as one look saw it; a field the broker could not tell is absent. */
export interface QueueLook {
  readonly queue: string;
  /** How many consumers read it (workers that named it in their answer, or the broker's count). */
  readonly consumers?: number;
  /** Messages waiting in it. */
  readonly depth?: number;
  /** Messages some consumer received and has not yet acknowledged (SQS's in-flight count), when the broker tells. */
  readonly inFlight?: number;
}

export interface ConsumerLook {
  /** The workers that answered the broadcast (undefined: the broker carries no remote control, or it was not asked). */
  readonly workersAnswered?: number;
  readonly queues: readonly QueueLook[];
}

export interface ConsumerProbe {
  /**
   * Looks at `queues` once, at `nowMs`: at most one broadcast, answers taken for `replyWindowMs`.
   * Rejects when the broker could not be asked (then nothing is judged from it).
   */
  look(queues: readonly string[], nowMs: number, replyWindowMs: number): Promise<ConsumerLook>;
}

/** A queue the schedule publishes to that nobody has read for the threshold. */
export interface UnconsumedQueue {
  readonly queue: string;
  /** Why, for an operator: "no worker consumes queue reports", "12 runs waiting in queue reports, none taken for 2 min". */
  readonly reason: string;
  /** Since when nothing read it (the first look that found it so), epoch ms. */
  readonly sinceMs: number;
  /** Messages waiting in it at the last look, when the broker told. */
  readonly depth?: number;
}
