/**
 * kombu 5.2's SQS transport, the pure half (`kombu/transport/SQS.py`): the queue a task message
 * goes to, the SQS queue name it maps to, and the message body. No I/O.
 *
 * - Body: kombu's virtual-transport envelope, the very JSON object the Redis transport pushes
 *   (celery-protocol.md §2.1: base64 body, headers, properties with `delivery_info` and a fresh
 *   `delivery_tag`), then base64-encoded as a whole (`sqs_base64_encoding`, true by default).
 * - `delivery_info.routing_key` is the queue name as Celery names it, before any prefix or
 *   mapping: a worker's ack maps it again (`canonical_queue_name`), and with predefined queues a
 *   name that maps to no predefined queue fails the ack, so the task would run again.
 * - SQS queue name: `queue_name_prefix` + the name, '.' → '-', the other punctuation but '-' and
 *   '_' → '_', a trailing `.fifo` kept (`Channel.entity_name`).
 * - FIFO queues (the SQS name ends in `.fifo`): `MessageDeduplicationId` is the message's own task
 *   id (its `correlation_id`: a group or chord run's messages each have their own, all derived from
 *   the slot), so SQS itself drops a resend of the same run within its 5-minute window;
 *   `MessageGroupId` is the entry's `MessageGroupId` option, else the entry's own group (its name, or a hash of a name SQS
 *   does not take), so one entry's runs stay in order and never wait behind another's.
 * - Exchanges live in each kombu process's memory on SQS: only the anonymous route (or a queue's
 *   own direct exchange and name, the binding every Celery process declares) reaches a queue.
 */
import { createHash } from 'node:crypto';
import type { TaskMessage } from '../celery/message.js';
import type { Destination } from '../celery/routing.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { SQS_GROUP_ID } from '../config/sqs-options.js';
import { redisEnvelope } from '../kombu/redis-envelope.js';

/**
 * SendMessageBatch: at most 10 messages a call, and at most 256 KiB of bodies in all: AWS has taken
 * 1 MiB since 2025, but SQS-compatible servers and older regions may not, and a refused batch
 * would fail ten runs for one.
 */
export const SQS_BATCH_MAX = 10;
export const SQS_BATCH_BYTES = 262_144;

/** kombu's CHARS_REPLACE_TABLE: Python's string.punctuation but '-', '_' and '.'. */
const REPLACED = /[!"#$%&'()*+,/:;<=>?@[\\\]^`{|}~]/g;

/** kombu's `Channel.entity_name`: an AMQP queue name as a legal SQS queue name. */
export function sqsEntityName(name: string): string {
  const fifo = name.endsWith('.fifo');
  const stem = fifo ? name.slice(0, -'.fifo'.length) : name;
  const mapped = stem.replace(REPLACED, '_').replaceAll('.', '-');
  return fifo ? `${mapped}.fifo` : mapped;
}

/** kombu's `canonical_queue_name`: prefix first, then the mapping. */
export function canonicalQueueName(queue: string, prefix: string): string {
  return sqsEntityName(prefix + queue);
}

export interface SqsPlanSettings {
  readonly queueNamePrefix: string;
  /** predefined_queues' names, when set: kombu then uses no other queue. */
  readonly predefined: ReadonlySet<string> | undefined;
  /** sqs_base64_encoding (default true). */
  readonly base64: boolean;
}

/** The plan's settings from the transport options (kombu's defaults where unset). */
export function sqsPlanSettings(options: TransportOptionsInput): SqsPlanSettings {
  const predefined = options.predefinedQueues;
  return {
    queueNamePrefix: options.queueNamePrefix ?? '',
    predefined: predefined === undefined || Object.keys(predefined).length === 0 ? undefined : new Set(Object.keys(predefined)),
    base64: options.sqsBase64Encoding ?? true,
  };
}

export interface SqsDelivery {
  readonly id: string;
  readonly entry: string;
  /** The queue as Celery names it (delivery_info.routing_key on the anonymous route). */
  readonly queue: string;
  /** Its SQS name. */
  readonly sqsQueue: string;
  readonly body: string;
  /** The body's size as SQS counts it (UTF-8 bytes). */
  readonly bytes: number;
  /** FIFO queues only. */
  readonly groupId?: string;
  readonly deduplicationId?: string;
  /** Why it cannot be sent (it is then reported as failed, never sent), or absent. */
  readonly problem?: string;
}

export interface SqsPublishPlan {
  readonly size: number;
  /** One per message, in input order. */
  readonly messages: readonly SqsDelivery[];
}

/** The queue (as Celery names it, and its SQS name) a destination reaches on SQS, or why it reaches none. */
export function sqsTarget(
  d: Destination,
  settings: Pick<SqsPlanSettings, 'queueNamePrefix' | 'predefined'>,
): { queue: string; sqsQueue: string } | { problem: string } {
  let queue: string;
  if (d.exchange === '') queue = d.routingKey;
  else if (d.exchangeType === 'direct' && d.declareQueue !== undefined && d.exchange === d.declareQueue && d.routingKey === d.declareQueue)
    queue = d.declareQueue;
  else
    return {
      problem: `it is routed to exchange "${d.exchange}" (${d.exchangeType}) with routing key "${d.routingKey}", which no queue is bound to on SQS (kombu keeps exchange bindings in each process's memory): route it by queue name instead`,
    };
  const sqsQueue = canonicalQueueName(queue, settings.queueNamePrefix);
  if (settings.predefined !== undefined && !settings.predefined.has(sqsQueue))
    return {
      problem: `its queue "${sqsQueue}" is not among broker.transportOptions.predefinedQueues (kombu uses no other queue then): add it there, or route the task to one of them`,
    };
  return { queue, sqsQueue };
}

/** The group of an entry's runs on a FIFO queue when it names none: its name, if SQS takes it as a group id. */
export function defaultGroupId(entry: string): string {
  return SQS_GROUP_ID.test(entry) ? entry : `tsbeat-${createHash('sha1').update(entry, 'utf8').digest('hex')}`;
}

export function planSqsPublish(messages: readonly TaskMessage[], settings: SqsPlanSettings, deliveryTag: () => string): SqsPublishPlan {
  const planned = messages.map((message): SqsDelivery => {
    const target = sqsTarget(message.destination, settings);
    const base = { id: message.id, entry: message.entry };
    if ('problem' in target) return { ...base, queue: '', sqsQueue: '', body: '', bytes: 0, problem: target.problem };
    const { sqsQueue } = target;
    const envelope = redisEnvelope(message, message.destination.exchange, message.destination.routingKey, deliveryTag());
    const body = settings.base64 ? Buffer.from(envelope, 'utf8').toString('base64') : envelope;
    const bytes = settings.base64 ? body.length : Buffer.byteLength(body, 'utf8');
    const fifo = sqsQueue.endsWith('.fifo');
    return {
      ...base,
      queue: target.queue,
      sqsQueue,
      body,
      bytes,
      ...(fifo
        ? {
            groupId: message.template.shape.messageGroupId ?? defaultGroupId(message.entry),
            deduplicationId: message.properties.correlation_id,
          }
        : {}),
    };
  });
  return { size: planned.length, messages: planned };
}

/**
 * The SendMessageBatch calls for one queue's messages (indexes into `messages`): at most 10 each and
 * at most 256 KiB of bodies, in order; a message over 256 KiB alone, so that SQS's refusal of it is
 * its own.
 */
export function sqsBatches(messages: readonly SqsDelivery[], indexes: readonly number[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const i of indexes) {
    const size = messages[i]?.bytes ?? 0;
    if (current.length > 0 && (current.length === SQS_BATCH_MAX || bytes + size > SQS_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
