/**
 * A remote-control command (src/celery/remote-control.ts) on RabbitMQ: published to Celery's pidbox
 * exchange, a fanout exchange that kombu declares non-durable (kombu/pidbox.py `_get_exchange`), with
 * routing key '' and the properties kombu's producer gives it (delivery_mode 2, priority 0, the
 * raw JSON body). Each worker's `<hostname>.celery.pidbox` queue is bound to it.
 */
import { CONTENT_ENCODING, CONTENT_TYPE } from '../celery/message.js';
import type { ControlMessage } from '../celery/remote-control.js';
import type { TypedField } from './message.js';

/** The exchange to declare before publishing (as kombu's `declare=[exchange]` does). */
export interface FanoutExchange {
  readonly name: string;
  readonly type: 'fanout';
  readonly durable: false;
  readonly autoDelete: false;
}

export interface AmqpBroadcast {
  readonly exchange: FanoutExchange;
  readonly routingKey: '';
  readonly content: Buffer;
  readonly properties: {
    readonly contentType: string;
    readonly contentEncoding: string;
    readonly headers: Readonly<Record<string, TypedField>>;
    readonly deliveryMode: 2;
    readonly priority: 0;
  };
}

export function amqpBroadcast(message: ControlMessage): AmqpBroadcast {
  return {
    exchange: { name: message.exchange, type: 'fanout', durable: false, autoDelete: false },
    routingKey: '',
    content: Buffer.from(message.body, 'utf8'),
    properties: {
      contentType: CONTENT_TYPE,
      contentEncoding: CONTENT_ENCODING,
      // Python's int and float: an `expires` that happens to be whole stays a float on the wire.
      headers: { clock: { '!': 'int64', value: message.headers.clock }, expires: { '!': 'double', value: message.headers.expires } },
      deliveryMode: 2,
      priority: 0,
    },
  };
}
