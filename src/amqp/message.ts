/**
 * kombu's pyamqp transport, the pure half (celery-protocol.md §1, §3.4): a task message as Celery
 * publishes it over AMQP 0-9-1, and the queue declarations Celery makes before publishing. No I/O.
 *
 * - Body: the raw UTF-8 JSON (no base64, no envelope).
 * - Properties: content_type, content_encoding, application headers, delivery_mode, priority,
 *   correlation_id, reply_to, and expiration (ms, as a string) only when `expires` is set.
 * - Routing: the exchange and routing key of the message's `Destination` ('' + queue name on the
 *   usual path), published `mandatory` so that RabbitMQ hands back what no queue takes.
 * - Declaration, once per connection, exactly as Celery's `Queue(name, Exchange(name, type),
 *   routing_key=name)`: a durable exchange named after the queue (direct unless the config says),
 *   a durable queue (with `x-max-priority` / `x-queue-type` from the config), and a binding on the
 *   queue name.
 * - A countdown that Celery 5.5 sends through native delayed delivery (native-delayed-delivery.ts)
 *   goes to `celery_delayed_27` with the delay's bits as routing key, and its queue's declaration
 *   adds the worker's bindings to `celery_delayed_delivery`, so that it reaches the queue at its ETA.
 */
import type { TaskMessage } from '../celery/message.js';
import type { AmqpQueueConfig } from '../config/amqp-queues.js';
import type { ExchangeType } from '../config/options-schema.js';
import { DEFAULTS } from '../base/defaults.js';
import { delayedBindingKey, nativeDelayedRoute } from './native-delayed-delivery.js';
import type { DelayedRoute } from './native-delayed-delivery.js';

/** A value amqplib encodes with an explicit AMQP field type, bypassing its guess from the JS type. */
export interface TypedField {
  readonly '!': 'int32' | 'int64' | 'double' | 'object';
  readonly value: unknown;
}

/** A queue, its exchange and their binding, declared as Celery declares an automatic queue. */
export interface AmqpDeclaration {
  readonly queue: string;
  /** The queue's own exchange, named after it. */
  readonly exchange: string;
  readonly exchangeType: ExchangeType;
  readonly routingKey: string;
  /** Queue arguments, as plain values (what RabbitMQ compares on redeclaration). */
  readonly arguments: Readonly<Record<string, number | string>>;
  /**
   * When a delayed message goes to the queue: the key that binds its exchange to
   * `celery_delayed_delivery` and the queue to its exchange, as the worker's DelayedDelivery bootstep does.
   */
  readonly delayedBindingKey?: string;
}

/** The AMQP basic properties of a task message, in amqplib's spelling. */
export interface AmqpProperties {
  readonly contentType: string;
  readonly contentEncoding: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly deliveryMode: 1 | 2;
  readonly priority: number;
  readonly correlationId: string;
  readonly replyTo: string;
  /** Milliseconds as a decimal string; absent unless the entry has `expires`. */
  readonly expiration?: string;
  /** Not a property: asks RabbitMQ to return (basic.return) a message that reaches no queue. */
  readonly mandatory: true;
}

/** One message, ready for basic.publish. */
export interface AmqpDelivery {
  readonly id: string;
  readonly entry: string;
  readonly task: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** The queue declared for it, if any (a route to a named exchange may declare none). */
  readonly declareQueue: string | undefined;
  readonly content: Buffer;
  readonly properties: AmqpProperties;
  /** Why it cannot be published (it is then reported as failed, never sent), or absent. */
  readonly problem?: string;
}

export interface AmqpPublishPlan {
  /** How many messages were planned. */
  readonly size: number;
  /** Each queue once, in first-use order. */
  readonly declarations: readonly AmqpDeclaration[];
  /** One per message, in input order. */
  readonly messages: readonly AmqpDelivery[];
}

/** The declaration Celery makes for `queue` (Queues.new_missing / the default queue) under `config`. */
export function queueDeclaration(queue: string, config: AmqpQueueConfig): AmqpDeclaration {
  const args: Record<string, number | string> = {};
  // Celery adds x-max-priority to every queue it knows (Queues._add); x-queue-type only when not classic.
  if (config.taskQueueMaxPriority !== undefined) args['x-max-priority'] = config.taskQueueMaxPriority;
  const isDefault = queue === config.taskDefaultQueue;
  const type = isDefault ? config.taskDefaultQueueType : config.taskCreateMissingQueueType;
  if (type !== 'classic') args['x-queue-type'] = type;
  const exchangeType =
    (isDefault ? config.taskDefaultExchangeType : config.taskCreateMissingQueueExchangeType) ?? DEFAULTS.amqpExchangeType;
  return { queue, exchange: queue, exchangeType, routingKey: queue, arguments: args };
}

/**
 * A JSON value → the field value amqplib should encode, typed the way py-amqp writes and reads it.
 *
 * amqplib picks the narrowest integer type for a JS number: 'b' (int8), 's' (int16), 'I', 'l'.
 * py-amqp (the workers' client) reads 's' as a SHORT STRING and 'b' as unsigned, so a header such
 * as `timelimit: [300, null]` would be misread and the whole header table with it. Integers are
 * therefore sent as py-amqp sends them: 'I' (int32), and beyond 32 bits amqplib's 'l', which
 * py-amqp reads as unsigned 64-bit (right for positive values; negative ones go as doubles).
 * Fractions are doubles, as Python floats. Objects are wrapped so that a user key named '!' is
 * not taken for amqplib's type marker.
 */
export function fieldValue(value: unknown): unknown {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { '!': 'double', value } satisfies TypedField;
    if (value >= -0x80000000 && value <= 0x7fffffff) return { '!': 'int32', value } satisfies TypedField;
    return { '!': value > 0 && value < 2 ** 63 ? 'int64' : 'double', value } satisfies TypedField;
  }
  if (Array.isArray(value)) return value.map(fieldValue);
  if (value !== null && typeof value === 'object')
    return { '!': 'object', value: fieldTable(value as Record<string, unknown>) } satisfies TypedField;
  return value;
}

/** A JSON object → an AMQP field table (keys kept, values typed as `fieldValue` says). */
export function fieldTable(object: Readonly<Record<string, unknown>>): Record<string, unknown> {
  // No prototype: a key "__proto__" (JSON.parse makes it an own key) stays a key.
  const table = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(object)) table[key] = fieldValue(value);
  return table;
}

/** A queue's arguments as amqplib must send them (x-max-priority as 'I', as py-amqp does). */
export function queueArgumentsTable(declaration: AmqpDeclaration): Record<string, unknown> {
  return fieldTable(declaration.arguments);
}

/** Why a header table cannot go on the wire as it is, or undefined when it can. */
export function headerProblem(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    for (const item of headers) {
      const problem = headerProblem(item);
      if (problem !== undefined) return problem;
    }
  } else if (headers !== null && typeof headers === 'object') {
    for (const [key, value] of Object.entries(headers)) {
      // Field-table keys are AMQP short strings.
      if (Buffer.byteLength(key) > 255) return `the header key ${JSON.stringify(`${key.slice(0, 40)}…`)} is longer than AMQP's 255 bytes`;
      const problem = headerProblem(value);
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

/** The message's properties as kombu's pyamqp `prepare_message` + `Producer.publish` set them. */
export function amqpProperties(
  message: TaskMessage,
  headers: Readonly<Record<string, unknown>> = JSON.parse(message.headersJson) as Record<string, unknown>,
): AmqpProperties {
  const p = message.properties;
  const base = {
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    headers: fieldTable(headers),
    deliveryMode: p.delivery_mode,
    priority: p.priority,
    correlationId: p.correlation_id,
    replyTo: p.reply_to,
    mandatory: true as const,
  };
  return p.expiration === undefined ? base : { ...base, expiration: p.expiration };
}

/** The message as basic.publish takes it: to its destination, or to `delayed` (native delayed delivery) when given. */
export function amqpDelivery(message: TaskMessage, delayed?: DelayedRoute): AmqpDelivery {
  const d = message.destination;
  const headers = JSON.parse(message.headersJson) as Record<string, unknown>;
  const problem = headerProblem(headers);
  return {
    ...(problem === undefined ? {} : { problem }),
    id: message.id,
    entry: message.entry,
    task: message.task,
    exchange: delayed?.exchange ?? d.exchange,
    routingKey: delayed?.routingKey ?? d.routingKey,
    declareQueue: d.declareQueue,
    content: Buffer.from(message.body, 'utf8'),
    properties: amqpProperties(message, headers),
  };
}

/** Plans `messages`: their deliveries and the declarations they need. Routing happens on the broker. */
export function planAmqpPublish(messages: readonly TaskMessage[], config: AmqpQueueConfig): AmqpPublishPlan {
  const declarations = new Map<string, AmqpDeclaration>();
  const deliveries = messages.map((m) => {
    const queue = m.destination.declareQueue;
    if (queue === undefined) return amqpDelivery(m);
    let declaration = declarations.get(queue) ?? queueDeclaration(queue, config);
    const delayed = nativeDelayedRoute(m.template.shape.countdownUs, declaration, config);
    // The first delayed message for the queue adds the delayed-delivery bindings to its declaration.
    if (delayed !== undefined && declaration.delayedBindingKey === undefined)
      declaration = { ...declaration, delayedBindingKey: delayedBindingKey(declaration.routingKey) };
    declarations.set(queue, declaration);
    return amqpDelivery(m, delayed);
  });
  return { size: messages.length, declarations: [...declarations.values()], messages: deliveries };
}
