/**
 * A remote-control command (src/celery/remote-control.ts) on a Redis broker. Celery's pidbox exchange is
 * a fanout exchange, which kombu's Redis transport delivers by PUBLISH (kombu/transport/redis.py
 * `_put_fanout`) on `<global_keyprefix><fanout_prefix><exchange>` — the routing key is '' so no
 * `/<routing key>` suffix — of the envelope `Channel.prepare_message` makes, body base64-encoded.
 * Workers SUBSCRIBE to that channel while they run: a command sent while none listens is gone.
 */
import { randomUUID } from 'node:crypto';
import { CONTENT_ENCODING, CONTENT_TYPE } from '../celery/message.js';
import { replyExchange, replyQueue } from '../celery/remote-control.js';
import type { ControlMessage } from '../celery/remote-control.js';
import { bindingKey, bindingMember, fanoutChannel, queueListKey } from './keys.js';
import { decodeEnvelopeBody } from './task-events.js';
import type { KombuKeyOptions } from './keys.js';

export interface FanoutPublish {
  readonly channel: string;
  readonly payload: string;
}

/** The PUBLISH that delivers `message` to every worker listening on this broker DB. */
export function pidboxPublish(message: ControlMessage, keys: KombuKeyOptions, deliveryTag: string = randomUUID()): FanoutPublish {
  const envelope = {
    body: Buffer.from(message.body, 'utf8').toString('base64'),
    'content-encoding': CONTENT_ENCODING,
    'content-type': CONTENT_TYPE,
    headers: message.headers,
    // As kombu sends it: the producer's default delivery_mode (2) and priority (the reply address is in the body).
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: message.exchange, routing_key: '' },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: deliveryTag,
    },
  };
  return { channel: fanoutChannel(keys, message.exchange, ''), payload: JSON.stringify(envelope) };
}

/**
 * Where the workers' answers to a command come on Redis: kombu's reply exchange is a direct one,
 * so a worker's answer is LPUSHed to every queue its binding set names for the routing key `oid`
 * (kombu/transport/redis.py `_put`, virtual `DirectExchange.lookup`). The caller adds its member to
 * the binding set (as kombu's `maybe_declare(reply_queue)` does), reads the list, and takes both
 * away afterwards (the queue is auto_delete in kombu).
 */
export interface PidboxReplyQueue {
  /** The reply exchange's binding set. */
  readonly bindingKey: string;
  readonly member: string;
  /** The list the answers are pushed to (priority 0: the bare name). */
  readonly list: string;
}

export function pidboxReplyQueue(keys: KombuKeyOptions, controlExchange: string, oid: string): PidboxReplyQueue {
  const queue = replyQueue(controlExchange, oid);
  return {
    bindingKey: bindingKey(keys, replyExchange(controlExchange)),
    member: bindingMember(keys, oid, '', queue),
    list: queueListKey(keys, queue, 0),
  };
}

/** The body of a worker's answer (a kombu envelope from the reply list) if it carries `ticket`; else undefined. */
export function pidboxAnswer(raw: string, ticket: string): unknown {
  const envelope = JSON.parse(raw) as { headers?: { ticket?: unknown } } | null;
  if (envelope?.headers?.ticket !== ticket) return undefined;
  return decodeEnvelopeBody(raw);
}
