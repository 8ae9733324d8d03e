/**
 * How each broker kind publishes, registered once: the runtime half of the broker registry (the
 * config half, which URLs select a kind and what it can carry, is src/config/broker-kinds.ts). The
 * compiler holds the two together: every kind registered there needs its entry here.
 *
 * - Redis: the fenced dispatcher, one Lua script per batch (exactly once).
 * - AMQP (RabbitMQ): queues declared as the config's Celery queue settings say; send with confirms,
 *   then commit in Redis (at least once, a duplicate keeps its task id).
 * - Amazon SQS: sent as kombu's SQS transport sends, each message acknowledged by
 *   SendMessageBatch's reply; on FIFO queues SQS drops a resend of a task id within 5 minutes.
 */
import type { RedisClient } from '../redis/connect.js';
import { AmqpTaskEvents } from '../amqp/task-events.js';
import { AmqpTransport } from '../amqp/transport.js';
import { SqsTransport } from '../sqs/transport.js';
import { RedisTaskEvents } from '../kombu/task-events.js';
import { RedisTransport } from '../kombu/redis-transport.js';
import { brokerKindOf, stateUrlFor } from '../config/broker-kinds.js';
import type { BrokerName } from '../config/broker-kinds.js';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { TaskEventFeed } from '../ports/outcomes.js';
import { amqpConsumerProbe } from '../amqp/consumer-probe.js';
import { sqsConsumerProbe } from '../sqs/consumer-probe.js';
import { redisConsumerProbe } from './consumer-probes.js';
import type { OpenedProbe } from './consumer-probes.js';
import { RedisFencedDispatcher } from './redis-fenced-dispatcher.js';
import { amqpRevoker, redisRevoker } from './revoking.js';
import { sendThenCommit, withChordRuns } from './publishing.js';
import type { Publishing } from './publishing.js';

/** Celery's `control_exchange`: remote-control commands go to the fanout exchange `<this>.pidbox`. */
const CONTROL_EXCHANGE = 'celery';

export interface BrokerWiring {
  /** The kind's transport and dispatcher, state and fence on `state`; connects lazily. */
  publishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger, state: RedisClient): Publishing;
  /** Celery's task events on this broker (`taskEvents: true`); absent where the config refuses them. */
  taskEvents?(config: ResolvedConfig, logger: Logger): TaskEventFeed;
  /**
   * Its consumer probe on a connection of its own, for a one-off question (`beat check --consumers`);
   * absent where one look cannot tell (SQS has no consumer count: the leader judges depth over several).
   */
  openConsumerProbe?(config: ResolvedConfig, logger: Logger): OpenedProbe;
}

/** The registry: one entry per kind of src/config/broker-kinds.ts. */
export const BROKERS: { readonly [Kind in BrokerName]: BrokerWiring } = {
  redis: {
    publishing: (config, keys, logger) => {
      const broker = new RedisTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, logger });
      const fenced = new RedisFencedDispatcher(broker, keys, logger, config.lock.maxClockSkewMs);
      return {
        dispatcher: fenced,
        triggers: fenced,
        revoker: redisRevoker(broker, config.broker.url, config.broker.transportOptions, CONTROL_EXCHANGE),
        consumers: redisConsumerProbe(broker, config.broker.url, config.broker.transportOptions, CONTROL_EXCHANGE),
        connect: () => broker.client.connect().catch(() => undefined),
        ready: () => broker.client.status === 'ready',
        onReady: (listener) => void broker.client.on('ready', listener),
        // A refused Redis connection fails connectWithRetry on the state client, on the same URL.
        refusal: () => undefined,
        get status() {
          return `broker ${broker.client.status}`;
        },
        close: () => broker.close(),
      };
    },
    taskEvents: (config, logger) =>
      new RedisTaskEvents({ url: config.broker.url, transportOptions: config.broker.transportOptions, logger }),
    openConsumerProbe: (config, logger) => {
      const broker = new RedisTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, logger });
      return {
        probe: redisConsumerProbe(broker, config.broker.url, config.broker.transportOptions, CONTROL_EXCHANGE),
        connect: () => broker.client.connect(),
        close: () => broker.close(),
      };
    },
  },
  amqp: {
    publishing: (config, keys, logger, state) => {
      const broker = new AmqpTransport({
        url: config.broker.url,
        transportOptions: config.broker.transportOptions,
        queues: config,
        logger,
      });
      logger.info(
        { event: EVENTS.start, broker: broker.spec.display, state: maskUrl(stateUrlFor(config)) },
        'AMQP broker: publishing with confirms, at least once (a duplicate keeps its task id); state and lock in Redis',
      );
      const how = { connect: () => broker.connect(), refusal: () => broker.refusal };
      return sendThenCommit(
        broker,
        how,
        keys,
        logger,
        state,
        config.lock.maxClockSkewMs,
        amqpConsumerProbe(broker, CONTROL_EXCHANGE),
        amqpRevoker(broker, CONTROL_EXCHANGE),
      );
    },
    taskEvents: (config, logger) => new AmqpTaskEvents({ url: config.broker.url, logger }),
    openConsumerProbe: (config, logger) => {
      const amqp = new AmqpTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, queues: config, logger });
      return {
        probe: amqpConsumerProbe(amqp, CONTROL_EXCHANGE),
        connect: async () => {
          await amqp.connect();
          // connect() resolves after the first attempt, connected or not: a refusal is the answer.
          if (!amqp.ready()) throw amqp.refusal ?? new Error('the broker did not accept the connection');
        },
        close: () => amqp.close(),
      };
    },
  },
  sqs: {
    publishing: (config, keys, logger, state) => {
      const broker = new SqsTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, logger });
      logger.info(
        { event: EVENTS.start, broker: broker.spec.display, state: maskUrl(stateUrlFor(config)) },
        'SQS broker: send then commit, at least once on standard queues (a duplicate keeps its task id), deduplicated by task id on FIFO queues; state and lock in Redis',
      );
      const how = {
        connect: () => {
          broker.warm();
          return Promise.resolve();
        },
        refusal: () => undefined,
      };
      return sendThenCommit(
        broker,
        how,
        keys,
        logger,
        state,
        config.lock.maxClockSkewMs,
        sqsConsumerProbe(broker, config.broker.transportOptions),
      );
    },
  },
};

/** The wiring of `config`'s broker (its URL was checked with the config). */
export function brokerWiring(config: Pick<ResolvedConfig, 'broker'>): BrokerWiring {
  return BROKERS[brokerKindOf(config.broker.url).name];
}

/** The publishing of `config`'s broker. Connects lazily. */
export function createPublishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger, state: RedisClient): Publishing {
  // A state.url apart from a Redis broker's was refused with the config (config/connection-checks.ts).
  return withChordRuns(brokerWiring(config).publishing(config, keys, logger, state), config, logger);
}

/** The consumer probe of `config`'s broker on its own connection; undefined where one look cannot tell. */
export function openConsumerProbe(config: ResolvedConfig, logger: Logger): OpenedProbe | undefined {
  return brokerWiring(config).openConsumerProbe?.(config, logger);
}
