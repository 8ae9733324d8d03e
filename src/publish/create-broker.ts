/**
 * Picks the transport for a broker URL. The scheduler only sees `Broker`.
 */
import type { TransportOptionsInput } from '../config/options-schema.js';
import type { Logger } from '../base/log.js';
import type { AmqpQueueConfig } from '../config/amqp-queues.js';
import { AmqpTransport } from '../amqp/transport.js';
import { RedisTransport } from '../kombu/redis-transport.js';
import type { Broker } from '../broker/types.js';
import { brokerKind } from '../config/url-parts.js';

export interface BrokerConfig {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
}

/** Celery's defaults, for callers that publish to RabbitMQ without a full config (the queues must match the workers'). */
const CELERY_QUEUES: AmqpQueueConfig = { taskDefaultQueue: 'celery', taskQueueMaxPriority: undefined, taskDefaultQueueType: 'classic', taskCreateMissingQueueType: 'classic' };

/** A transport for `config.url`; an AMQP one declares queues as `queues` says. Connects lazily. */
export function createBroker(config: BrokerConfig, logger: Logger, queues: AmqpQueueConfig = CELERY_QUEUES): Broker {
  if (brokerKind(config.url) === 'redis') {
    return new RedisTransport({ url: config.url, transportOptions: config.transportOptions, logger });
  }
  return new AmqpTransport({ url: config.url, transportOptions: config.transportOptions, queues, logger });
}
