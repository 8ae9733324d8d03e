/**
 * The ConsumerProbe (ports/consumers.ts) on RabbitMQ. Each look, on a channel of its own (never the
 * publishing one: a passive declare of a missing queue closes its channel):
 * - sends one `active_queues` broadcast as `celery inspect active_queues` does (the pidbox fanout
 *   exchange, answers on kombu's reply queue for this process), and takes the workers' answers for
 *   the reply window: how many workers listen to remote control;
 * - asks RabbitMQ of each queue by a passive declare (`queue.declare` with passive: amqplib's
 *   `checkQueue`), whose answer holds the queue's consumer count and its ready messages. That
 *   count is the broker's own (any consumer, a worker without remote control too), so it is what
 *   the look reports; a queue that does not exist has no consumer and nothing waiting.
 *
 * The reply queue is kombu's (`Mailbox.get_reply_queue`): `<oid>.reply.<exchange>.pidbox`, not
 * durable, auto-deleted, with Celery's control_queue_expires (10 s) and control_queue_ttl (300 s)
 * as x-expires and x-message-ttl, bound to the non-durable direct reply exchange the workers
 * declare (`Mailbox._publish_reply`) with routing key `oid`; closing the channel after the look
 * cancels the consumer, so RabbitMQ deletes the queue.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ConsumeMessage } from 'amqplib';
import { activeQueuesMessage, activeQueuesOf, replyExchange, replyQueue } from '../celery/remote-control.js';
import { CONTENT_TYPE } from '../celery/message.js';
import { errorMessage } from '../base/errors.js';
import type { ConsumerLook, ConsumerProbe, QueueLook } from '../ports/consumers.js';
import { amqpBroadcast } from './pidbox.js';
import type { AmqpTransport } from './transport.js';

/** Celery's control_queue_expires and control_queue_ttl (seconds), as kombu sets them on the reply queue (ms). */
const REPLY_QUEUE_ARGUMENTS = { 'x-expires': 10_000, 'x-message-ttl': 300_000 } as const;

/** A passive declare's refusal of a queue that does not exist (404 NOT_FOUND). */
function notFound(error: unknown): boolean {
  return /NOT_FOUND|404/.test(errorMessage(error));
}

/** One worker's answer to `ticket`, or undefined (another look's answer, or not readable). */
function answerOf(message: ConsumeMessage, ticket: string): Map<string, string[]> | undefined {
  const headers = message.properties.headers;
  if (headers?.['ticket'] !== ticket || message.properties.contentType !== CONTENT_TYPE) return undefined;
  try {
    return activeQueuesOf(JSON.parse(message.content.toString('utf8')) as unknown);
  } catch {
    return undefined;
  }
}

export function amqpConsumerProbe(broker: Pick<AmqpTransport, 'broadcast' | 'sideChannel'>, controlExchange: string): ConsumerProbe {
  const oid = randomUUID();
  let clock = 0;

  /** Sends the broadcast and gathers the answers for the window: worker → queues consumed. */
  async function askWorkers(channel: Channel, nowMs: number, replyWindowMs: number): Promise<Map<string, string[]>> {
    const exchange = replyExchange(controlExchange);
    const queue = replyQueue(controlExchange, oid);
    await channel.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
    await channel.assertQueue(queue, { durable: false, autoDelete: true, exclusive: false, arguments: REPLY_QUEUE_ARGUMENTS });
    await channel.bindQueue(queue, exchange, oid);
    const ticket = randomUUID();
    const answers = new Map<string, string[]>();
    const { consumerTag } = await channel.consume(
      queue,
      (message) => {
        if (message === null) return;
        for (const [worker, consumed] of answerOf(message, ticket) ?? []) answers.set(worker, consumed);
      },
      { noAck: true },
    );
    clock += 1;
    await broker.broadcast(amqpBroadcast(activeQueuesMessage({ ticket, oid }, clock, nowMs, controlExchange, replyWindowMs / 1000)));
    // How many workers listen is not known on RabbitMQ (a fanout tells no receivers): the whole window, as `celery inspect`.
    await sleep(replyWindowMs);
    await channel.cancel(consumerTag);
    return answers;
  }

  return {
    async look(queues, nowMs, replyWindowMs): Promise<ConsumerLook> {
      let channel = await broker.sideChannel();
      try {
        const answers = await askWorkers(channel, nowMs, replyWindowMs);
        const looks: QueueLook[] = [];
        for (const queue of queues) {
          try {
            const { consumerCount, messageCount } = await channel.checkQueue(queue);
            looks.push({ queue, consumers: consumerCount, depth: messageCount });
          } catch (error) {
            if (!notFound(error)) throw error;
            // Not declared by anyone: no worker consumes it (a worker declares its queues), nothing waits in it.
            looks.push({ queue, consumers: 0, depth: 0 });
            channel = await broker.sideChannel();
          }
        }
        return { workersAnswered: answers.size, queues: looks };
      } finally {
        await channel.close().catch(() => undefined);
      }
    },
  };
}
