/**
 * The Revoker (ports/revoker.ts) of each broker that carries Celery's remote control: on Redis a
 * PUBLISH on the pidbox exchange's fanout channel, on RabbitMQ a confirmed publish to the pidbox
 * fanout exchange. SQS has no fanout (kombu's SQS transport does not implement it): no revoker;
 * `beat check` refuses the policies that need one there (config/overlap-settings.ts).
 *
 * `clock` is kombu's Lamport clock header: workers only move theirs forward with it, so a counter
 * of this process's commands, from 1 as kombu's, is what kombu itself would send.
 */
import { revokeMessage } from '../celery/remote-control.js';
import type { RevokeCommand } from '../celery/remote-control.js';
import type { AmqpTransport } from '../amqp/transport.js';
import { amqpBroadcast } from '../amqp/pidbox.js';
import type { RedisTransport } from '../kombu/redis-transport.js';
import { kombuKeyOptions } from '../kombu/keys.js';
import { pidboxPublish } from '../kombu/pidbox.js';
import { parseRedisUrl } from '../config/redis-url.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import type { Revoker } from '../ports/revoker.js';

/** Revokes on a Redis broker (`url`, whose DB numbers the fanout channel) over the transport's connection. */
export function redisRevoker(
  broker: Pick<RedisTransport, 'client'>,
  url: string,
  transportOptions: TransportOptionsInput,
  controlExchange: string,
): Revoker {
  const keys = kombuKeyOptions(transportOptions, parseRedisUrl(url, transportOptions).db);
  let clock = 0;
  return {
    async revoke(command: RevokeCommand, nowMs: number) {
      clock += 1;
      const { channel, payload } = pidboxPublish(revokeMessage(command, clock, nowMs, controlExchange), keys);
      return { receivers: await broker.client.publish(channel, payload) };
    },
  };
}

/** Revokes on RabbitMQ over the transport's connection. */
export function amqpRevoker(broker: Pick<AmqpTransport, 'broadcast'>, controlExchange: string): Revoker {
  let clock = 0;
  return {
    async revoke(command: RevokeCommand, nowMs: number) {
      clock += 1;
      await broker.broadcast(amqpBroadcast(revokeMessage(command, clock, nowMs, controlExchange)));
      return {};
    },
  };
}
