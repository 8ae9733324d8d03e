/**
 * A remote-control command (src/celery/control.ts) on a Redis broker. Celery's pidbox exchange is
 * a fanout exchange, which kombu's Redis transport delivers by PUBLISH (kombu/transport/redis.py
 * `_put_fanout`) on `<global_keyprefix><fanout_prefix><exchange>` — the routing key is '' so no
 * `/<routing key>` suffix — of the envelope `Channel.prepare_message` makes, body base64-encoded.
 * Workers SUBSCRIBE to that channel while they run: a command sent while none listens is gone.
 */
import { randomUUID } from 'node:crypto';
import { CONTENT_ENCODING, CONTENT_TYPE } from '../celery/message.js';
import type { ControlMessage } from '../celery/control.js';
import { fanoutChannel } from './keys.js';
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
    // As kombu sends it: the producer's default delivery_mode (2) and priority; no reply_to without reply.
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
