/**
 * RabbitMQ native delayed delivery, as Celery ≥ 5.5 uses it for countdowns (kombu 5.5's
 * `kombu/transport/native_delayed_delivery.py`, Celery's `send_task` in `celery/app/base.py`). Pure.
 *
 * A worker whose queues include a quorum queue runs the DelayedDelivery bootstep: it declares 28
 * levels, `celery_delayed_27` … `celery_delayed_0`, each a topic exchange and a queue whose
 * `x-message-ttl` is 2^level seconds and whose dead letters go to the next level down (level 0's to
 * the topic exchange `celery_delayed_delivery`), and binds each of its queues' exchanges to
 * `celery_delayed_delivery` (`#.<routing key>`). A countdown message is published to
 * `celery_delayed_27` with a routing key of the delay's 28 bits, most significant first, one word
 * each, then the queue's routing key: it waits in the level of each 1 bit and passes the others, so
 * it reaches its queue when its ETA is (about) due, and no worker holds it meanwhile (a quorum queue's
 * consumers have a static prefetch: an ETA message held by a worker takes a prefetch place until it runs).
 */
import type { AmqpQueueConfig } from '../config/amqp-queues.js';
import type { ExchangeType } from '../config/options-schema.js';

/** kombu's MAX_NUMBER_OF_BITS_TO_USE: the levels, so the longest delay is 2^28 - 1 s (8.5 years). */
export const DELAYED_DELIVERY_BITS = 28;
/** The exchange a delayed message is published to: the top level, `level_name(MAX_LEVEL)`. */
export const DELAYED_DELIVERY_ENTRY_EXCHANGE = `celery_delayed_${DELAYED_DELIVERY_BITS - 1}`;
/** Where level 0 dead-letters a message whose delay is over; each queue's exchange is bound to it. */
export const DELAYED_DELIVERY_EXCHANGE = 'celery_delayed_delivery';

/** Where a delayed message is published instead of its queue's route. */
export interface DelayedRoute {
  readonly exchange: string;
  readonly routingKey: string;
}

/**
 * kombu's `calculate_routing_key(countdown, routing_key)`: the delay's 28 bits, most significant
 * first, each a word of the key, then the queue's routing key.
 */
export function delayedRoutingKey(seconds: number, routingKey: string): string {
  return `${[...seconds.toString(2).padStart(DELAYED_DELIVERY_BITS, '0')].join('.')}.${routingKey}`;
}

/**
 * The binding key of `bind_queue_to_native_delayed_delivery_exchange`: the queue's exchange to
 * `celery_delayed_delivery`, and the queue to its exchange, both on it (whatever the delay bits).
 */
export function delayedBindingKey(routingKey: string): string {
  return routingKey.startsWith('#') ? routingKey : `#.${routingKey}`;
}

/** A queue as the decision needs it: what tsbeat declares for it (message.ts's AmqpDeclaration). */
export interface DelayableQueue {
  readonly routingKey: string;
  readonly exchangeType: ExchangeType;
  readonly arguments: Readonly<Record<string, number | string>>;
}

/**
 * Where Celery 5.5's `send_task` publishes a message of this countdown for this queue: through the
 * delayed levels when the app has a quorum queue (`detect_quorum_queues`: the default queue, always
 * one of the app's queues, or this queue itself), the queue's own exchange is not a direct one, and
 * the countdown's whole seconds are at least 1; undefined when it publishes as usual.
 *
 * Two bounds where Celery fails instead: under 1 s kombu refuses the routing key (ValueError), and
 * past 2^28 - 1 s its key has more words than levels, which cuts the delay short; tsbeat publishes
 * those straight to the queue, as without native delayed delivery.
 */
export function nativeDelayedRoute(
  countdownUs: number | undefined,
  queue: DelayableQueue,
  config: AmqpQueueConfig,
): DelayedRoute | undefined {
  if (countdownUs === undefined) return undefined;
  const quorum = config.taskDefaultQueueType === 'quorum' || queue.arguments['x-queue-type'] === 'quorum';
  if (!quorum || queue.exchangeType === 'direct') return undefined;
  // send_task: int(countdown), the whole seconds.
  const seconds = Math.floor(countdownUs / 1e6);
  if (seconds < 1 || seconds >= 2 ** DELAYED_DELIVERY_BITS) return undefined;
  return { exchange: DELAYED_DELIVERY_ENTRY_EXCHANGE, routingKey: delayedRoutingKey(seconds, queue.routingKey) };
}
