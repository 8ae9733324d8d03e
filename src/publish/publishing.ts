/**
 * How a deployment publishes, chosen by its broker URL: the transport plus the dispatcher that
 * moves the schedule state forward with it. The service sees only this interface, so another
 * transport slots in here without touching the scheduler.
 *
 * - Redis broker: the state lives on the broker's Redis and one Lua script checks the fence, pushes
 *   and moves the state, atomically (exactly once).
 * - AMQP broker (RabbitMQ): the state lives in Redis (`state.url`, by default the local Redis);
 *   publishing is claim (Redis) → publish with confirms (RabbitMQ) → commit the confirmed runs
 *   (Redis): at least once on the wire, a duplicate carrying the same task id (see amqp-dispatcher.ts).
 * - Amazon SQS: the same three steps as AMQP (state in Redis at `state.url`, required), each
 *   message acknowledged by SendMessageBatch's reply; on FIFO queues SQS drops a resend of a task
 *   id within 5 minutes, so a crash between send and commit does not run it twice there.
 */
import type { Redis } from 'ioredis';
import { AmqpDispatcher } from './amqp-dispatcher.js';
import type { AmqpSender } from './amqp-dispatcher.js';
import { AmqpTransport } from '../amqp/transport.js';
import { SqsTransport } from '../sqs/transport.js';
import { isAmqpUrl } from '../config/amqp-url.js';
import { RedisTransport } from '../kombu/redis-transport.js';
import { maskUrl } from '../config/redis-url.js';
import { brokerKind } from '../config/url-parts.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { DEFAULTS } from '../base/defaults.js';
import type { BeatError } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { RedisFencedDispatcher } from './redis-fenced-dispatcher.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { TriggerPublisher } from '../ports/control.js';
import type { Dispatcher } from '../ports/dispatcher.js';
import type { Revoker } from '../ports/revoker.js';
import { amqpRevoker, redisRevoker } from './revoking.js';
import type { ConsumerProbe } from '../ports/consumers.js';
import { redisConsumerProbe } from './consumer-probes.js';
import { chordDispatcher, chordTriggers } from './chord-sizes.js';
import { RedisChordSizes } from '../redis/chord-sizes.js';
import { createRedisClient } from '../redis/connect.js';

/** A dispatcher and its trigger publisher, fenced over the deployment's keys. */
export interface Fenced {
  readonly dispatcher: Dispatcher;
  readonly triggers: TriggerPublisher;
}

export interface Publishing extends Fenced {
  /** Revokes runs through Celery's remote control (overlap cancelOther, terminateOther); undefined on SQS, which has none. */
  readonly revoker?: Revoker;
  /** Tells who consumes the schedule's queues (Redis: the workers' answers and the queue depths); undefined when the broker cannot tell. */
  readonly consumers?: ConsumerProbe;
  /** Starts connecting (retries on its own); resolves when the first attempt has been made. */
  connect(): Promise<void>;
  /** Connected and able to publish. */
  ready(): boolean;
  /** The broker refused the last connection attempt itself (AMQP: a vhost that does not exist, a refused login). */
  refusal(): BeatError | undefined;
  /** A short word for /readyz when not ready. */
  readonly status: string;
  close(): Promise<void>;
}

/**
 * The Redis URL holding state and lock for this config: `state.url`, else the broker's own Redis for
 * a Redis broker, else (an AMQP broker, which cannot hold them) the local Redis.
 */
export function stateUrlFor(config: ResolvedConfig): string {
  return config.state.url ?? (isAmqpUrl(config.broker.url) ? DEFAULTS.amqpStateUrl : config.broker.url);
}

/** The publishing of `config`'s broker: the Redis transport and fenced dispatcher, or the AMQP ones. Connects lazily. */
export function createPublishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger, state: Redis): Publishing {
  // A state.url apart from a Redis broker's was refused with the config (config/connections.ts).
  const kind = brokerKind(config.broker.url);
  const publishing =
    kind === 'sqs'
      ? sqsPublishing(config, keys, logger, state)
      : kind === 'redis'
        ? redisPublishing(config, keys, logger)
        : amqpPublishing(config, keys, logger, state);
  return withChordRuns(publishing, config, logger);
}

/**
 * `publishing` writing chord runs' sizes to the result backend before it publishes them
 * (chord-sizes.ts), on a connection of its own opened by the first chord run.
 */
function withChordRuns(publishing: Publishing, config: ResolvedConfig, logger: Logger): Publishing {
  const backend = config.resultBackend;
  const writer =
    backend === undefined
      ? undefined
      : new RedisChordSizes(
          createRedisClient(backend.url, backend.transportOptions, 'result backend (chord sizes)', logger),
          backend.transportOptions.globalKeyprefix,
        );
  return {
    dispatcher: chordDispatcher(publishing.dispatcher, writer),
    triggers: chordTriggers(publishing.triggers, writer),
    ...(publishing.revoker === undefined ? {} : { revoker: publishing.revoker }),
    ...(publishing.consumers === undefined ? {} : { consumers: publishing.consumers }),
    connect: () => publishing.connect(),
    ready: () => publishing.ready(),
    refusal: () => publishing.refusal(),
    get status() {
      return publishing.status;
    },
    close: () => Promise.all([publishing.close(), writer?.close()]).then(() => undefined),
  };
}

function redisPublishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger): Publishing {
  const broker = new RedisTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, logger });
  const fenced = new RedisFencedDispatcher(broker, keys, logger, config.lock.maxClockSkewMs);
  return {
    dispatcher: fenced,
    triggers: fenced,
    revoker: redisRevoker(broker, config.broker.url, config.broker.transportOptions, DEFAULTS.controlExchange),
    consumers: redisConsumerProbe(broker, config.broker.url, config.broker.transportOptions, DEFAULTS.controlExchange),
    connect: () => broker.client.connect().catch(() => undefined),
    ready: () => broker.client.status === 'ready',
    // A refused Redis connection fails connectWithRetry on the state client, on the same URL.
    refusal: () => undefined,
    get status() {
      return `broker ${broker.client.status}`;
    },
    close: () => broker.close(),
  };
}

/** A broker that is sent to first, then the run committed in Redis (AMQP, SQS), as publishing needs it. */
interface SendingBroker<Plan> extends AmqpSender<Plan> {
  readonly status: string;
  ready(): boolean;
  close(): Promise<void>;
}

/** Send then commit: the claim, send and commit dispatcher over `broker`, state and fence on `state`. */
function sendThenCommit<Plan>(
  broker: SendingBroker<Plan>,
  how: Pick<Publishing, 'connect' | 'refusal'>,
  keys: SchedulerKeys,
  logger: Logger,
  state: Redis,
  maxClockSkewMs: number,
  revoker?: Revoker,
): Publishing {
  const dispatcher = new AmqpDispatcher(broker, state, keys, logger, maxClockSkewMs);
  return {
    dispatcher,
    triggers: dispatcher,
    ...(revoker === undefined ? {} : { revoker }),
    ...how,
    ready: () => broker.ready(),
    get status() {
      return `broker ${broker.status}`;
    },
    close: () => broker.close(),
  };
}

/** RabbitMQ: queues declared as the config's Celery queue settings say; state and fence on `state`. */
function amqpPublishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger, state: Redis): Publishing {
  const broker = new AmqpTransport({ url: config.broker.url, transportOptions: config.broker.transportOptions, queues: config, logger });
  logger.info(
    { event: EVENTS.start, broker: broker.spec.display, state: maskUrl(stateUrlFor(config)) },
    'AMQP broker: publishing with confirms, at least once (a duplicate keeps its task id); state and lock in Redis',
  );
  const how = { connect: () => broker.connect(), refusal: () => broker.refusal };
  return sendThenCommit(broker, how, keys, logger, state, config.lock.maxClockSkewMs, amqpRevoker(broker, DEFAULTS.controlExchange));
}

/** Amazon SQS: sent as kombu's SQS transport sends; state and fence on `state` (state.url). */
function sqsPublishing(config: ResolvedConfig, keys: SchedulerKeys, logger: Logger, state: Redis): Publishing {
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
  return sendThenCommit(broker, how, keys, logger, state, config.lock.maxClockSkewMs);
}
