/**
 * Picks the transport for a broker URL. The scheduler only sees `Broker`.
 */
import type { TransportOptionsInput } from '../config/options-schema.js';
import { BeatError, ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { AmqpQueueConfig } from './amqp-message.js';
import { AmqpTransport } from './amqp-transport.js';
import { isAmqpUrl } from './amqp-url.js';
import { maskUrl } from './redis-url.js';
import { RedisTransport } from './redis-transport.js';
import type { Broker } from './types.js';

export interface BrokerConfig {
  readonly url: string;
  readonly transportOptions: TransportOptionsInput;
}

const REDIS_SCHEMES = new Set(['redis', 'rediss', 'redis+socket', 'sentinel']);

/** Celery's defaults, for callers that publish to RabbitMQ without a full config (the queues must match the workers'). */
const CELERY_QUEUES: AmqpQueueConfig = { taskDefaultQueue: 'celery', taskQueueMaxPriority: undefined, taskDefaultQueueType: 'classic', taskCreateMissingQueueType: 'classic' };

/** A transport for `config.url`; an AMQP one declares queues as `queues` says. Connects lazily. */
export function createBroker(config: BrokerConfig, logger: Logger, queues: AmqpQueueConfig = CELERY_QUEUES): Broker {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(config.url.trim())?.[1]?.toLowerCase();
  if (scheme !== undefined && REDIS_SCHEMES.has(scheme)) {
    return new RedisTransport({ url: config.url, transportOptions: config.transportOptions, logger });
  }
  if (isAmqpUrl(config.url)) {
    return new AmqpTransport({ url: config.url, transportOptions: config.transportOptions, queues, logger });
  }
  throw new BeatError(
    ErrorCode.BrokerUrl,
    `broker URL ${maskUrl(config.url)}: unsupported scheme${scheme === undefined ? '' : ` "${scheme}://"`}; use redis://, rediss://, redis+socket://, sentinel://, amqp:// or amqps://`,
  );
}
