/** The queue settings that shape the queues tsbeat declares on RabbitMQ, and what RabbitMQ would refuse of them. */
import type { QueueType } from './schema.js';
import type { ExchangeType } from './options-schema.js';

/** The config that shapes queue declarations; it must match the workers' (else RabbitMQ answers 406). */
export interface AmqpQueueConfig {
  readonly taskDefaultQueue: string;
  /** `x-max-priority` on every declared queue (Celery's task_queue_max_priority). */
  readonly taskQueueMaxPriority: number | undefined;
  /** `x-queue-type` of the default queue (task_default_queue_type). */
  readonly taskDefaultQueueType: QueueType;
  /** `x-queue-type` of every other queue (task_create_missing_queue_type). */
  readonly taskCreateMissingQueueType: QueueType;
  /** The type of the default queue's own exchange (task_default_exchange_type); absent: direct. */
  readonly taskDefaultExchangeType?: ExchangeType;
  /** The type of every other queue's own exchange (task_create_missing_queue_exchange_type); absent: direct. */
  readonly taskCreateMissingQueueExchangeType?: ExchangeType;
}

/**
 * What RabbitMQ would refuse for this config, as messages for operators, or [] when none.
 * Quorum queues take no `x-max-priority` (406 "invalid arg"), and Celery would fail the same way.
 */
export function amqpQueueConfigProblems(config: AmqpQueueConfig): string[] {
  if (config.taskQueueMaxPriority === undefined) return [];
  const quorum = [
    ...(config.taskDefaultQueueType === 'quorum' ? ['taskDefaultQueueType'] : []),
    ...(config.taskCreateMissingQueueType === 'quorum' ? ['taskCreateMissingQueueType'] : []),
  ];
  return quorum.map(
    (key) =>
      `taskQueueMaxPriority (x-max-priority) cannot be used with ${key}: "quorum": RabbitMQ refuses x-max-priority on a quorum queue (406 PRECONDITION_FAILED); remove one of the two`,
  );
}
