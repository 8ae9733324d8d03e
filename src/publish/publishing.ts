/**
 * What publishing is to the service, whatever the broker: a dispatcher that publishes runs and
 * moves the schedule state forward, the trigger publisher, and the connection's life. Each broker
 * kind's publishing is built in src/publish/brokers.ts (the registration); the service sees only
 * this interface, so another broker slots in there without touching the scheduler.
 *
 * Two ways to publish exactly the state's way:
 * - a broker that is a Redis: the state lives on it and one Lua script checks the fence, pushes and
 *   moves the state, atomically (exactly once; redis-fenced-dispatcher.ts);
 * - any other broker (AMQP, SQS): the state lives in Redis (`state.url`) and publishing is claim
 *   (Redis) → send, acknowledged by the broker → commit the acknowledged runs (Redis): at least once
 *   on the wire, a duplicate carrying the same task id (`sendThenCommit` below, send-then-commit-dispatcher.ts).
 */
import type { RedisClient } from '../redis/connect.js';
import { SendThenCommitDispatcher } from './send-then-commit-dispatcher.js';
import type { ConfirmingSender } from './send-then-commit-dispatcher.js';
import type { BeatError } from '../base/errors.js';
import type { Logger } from '../base/log.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { TriggerPublisher } from '../ports/control-source.js';
import type { Dispatcher } from '../ports/dispatcher.js';
import type { Revoker } from '../ports/revoker.js';
import type { ConsumerProbe } from '../ports/consumers.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { chordDispatcher, chordTriggers } from './chord-runs.js';
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
  /** Tells who consumes the schedule's queues (Redis: the workers' answers and the queue depths; RabbitMQ: its consumer counts; SQS: depths and in-flight counts). */
  readonly consumers?: ConsumerProbe;
  /** Starts connecting (retries on its own); resolves when the first attempt has been made. */
  connect(): Promise<void>;
  /** Connected and able to publish. */
  ready(): boolean;
  /** Calls `listener` whenever the connection is (again) able to publish; absent where nothing tells (AMQP, SQS). */
  onReady?(listener: () => void): void;
  /** The broker refused the last connection attempt itself (AMQP: a vhost that does not exist, a refused login). */
  refusal(): BeatError | undefined;
  /** A short word for /readyz when not ready. */
  readonly status: string;
  close(): Promise<void>;
}

/**
 * `publishing` writing chord runs' sizes to the result backend before it publishes them
 * (chord-runs.ts), on a connection of its own opened by the first chord run.
 */
export function withChordRuns(publishing: Publishing, config: ResolvedConfig, logger: Logger): Publishing {
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
    ...(publishing.onReady === undefined ? {} : { onReady: publishing.onReady.bind(publishing) }),
    refusal: () => publishing.refusal(),
    get status() {
      return publishing.status;
    },
    close: () => Promise.all([publishing.close(), writer?.close()]).then(() => undefined),
  };
}

/** A broker that is sent to first, then the run committed in Redis (AMQP, SQS), as publishing needs it. */
export interface SendingBroker<Plan> extends ConfirmingSender<Plan> {
  readonly status: string;
  ready(): boolean;
  close(): Promise<void>;
}

/**
 * Send then commit: the claim, send and commit dispatcher over `broker`, state and fence on `state`.
 * `consumers` for a broker whose workers can be asked who consumes (without one, no queue is judged
 * unconsumed); `revoker` for one that carries Celery's remote control.
 */
export function sendThenCommit<Plan>(
  broker: SendingBroker<Plan>,
  how: Pick<Publishing, 'connect' | 'refusal'>,
  keys: SchedulerKeys,
  logger: Logger,
  state: RedisClient,
  maxClockSkewMs: number,
  consumers?: ConsumerProbe,
  revoker?: Revoker,
): Publishing {
  const dispatcher = new SendThenCommitDispatcher(broker, state, keys, logger, maxClockSkewMs);
  return {
    dispatcher,
    triggers: dispatcher,
    ...(consumers === undefined ? {} : { consumers }),
    ...(revoker === undefined ? {} : { revoker }),
    ...how,
    ready: () => broker.ready(),
    get status() {
      return `broker ${broker.status}`;
    },
    close: () => broker.close(),
  };
}
