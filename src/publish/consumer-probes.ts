/**
 * The ConsumerProbe (ports/consumers.ts) of a Redis broker (RabbitMQ's is src/amqp/consumer-probe.ts,
 * SQS's src/sqs/consumer-probe.ts; each kind opens one on a connection of its own through
 * src/publish/brokers.ts). Each look
 * sends one `active_queues` broadcast (Celery's remote control, as `celery inspect active_queues`
 * sends it) and reads each queue's depth; it never waits longer than the reply window, and runs
 * on the leader's own timer, apart from the publish path (its few commands share the broker
 * connection with the publishes, one round trip each).
 *
 * `clock` is kombu's Lamport clock header, counted per process as in revoking.ts.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { activeQueuesMessage, activeQueuesOf } from '../celery/remote-control.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { parseRedisUrl } from '../config/redis-url.js';
import { kombuKeyOptions, queueListKey } from '../kombu/keys.js';
import { pidboxAnswer, pidboxPublish, pidboxReplyQueue } from '../kombu/pidbox.js';
import type { RedisTransport } from '../kombu/redis-transport.js';
import type { ConsumerLook, ConsumerProbe } from '../ports/consumers.js';

/** How often the reply list is looked at while answers are awaited (it stops once every listener answered). */
const ANSWER_POLL_MS = 50;

/** Per queue, how many of the answering workers consume it; undefined when none answered. */
export function consumersFromAnswers(
  queues: readonly string[],
  answers: ReadonlyMap<string, readonly string[]>,
): Map<string, number> | undefined {
  if (answers.size === 0) return undefined;
  const counts = new Map(queues.map((q) => [q, 0]));
  for (const consumed of answers.values()) for (const q of new Set(consumed)) if (counts.has(q)) counts.set(q, (counts.get(q) ?? 0) + 1);
  return counts;
}

/** A worker's answer to this look's ticket; undefined for another's or one that cannot be read (it is not counted: that worker counts as silent). */
function answerOf(text: string, ticket: string): Map<string, string[]> | undefined {
  try {
    return activeQueuesOf(pidboxAnswer(text, ticket));
  } catch {
    return undefined;
  }
}

/**
 * On a Redis broker: the broadcast is a PUBLISH on the pidbox channel, whose reply tells how many
 * workers listen; their answers come on a list bound to kombu's reply exchange for this look. The
 * depth of a queue is the length of its lists (one per priority step).
 */
export function redisConsumerProbe(
  broker: Pick<RedisTransport, 'client'>,
  url: string,
  transportOptions: TransportOptionsInput,
  controlExchange: string,
): ConsumerProbe {
  const keys = kombuKeyOptions(transportOptions, parseRedisUrl(url, transportOptions).db);
  const oid = randomUUID();
  const reply = pidboxReplyQueue(keys, controlExchange, oid);
  let clock = 0;
  const depths = async (queues: readonly string[]): Promise<number[]> => {
    const pipeline = broker.client.pipeline();
    for (const q of queues) for (const step of keys.prioritySteps) pipeline.llen(queueListKey(keys, q, step));
    const results = (await pipeline.exec()) ?? [];
    const steps = keys.prioritySteps.length;
    return queues.map((_, i) =>
      results.slice(i * steps, (i + 1) * steps).reduce((sum, [error, n]) => {
        if (error) throw error;
        return sum + Number(n);
      }, 0),
    );
  };
  return {
    async look(queues, nowMs, replyWindowMs): Promise<ConsumerLook> {
      const client = broker.client;
      const ticket = randomUUID();
      clock += 1;
      await client.sadd(reply.bindingKey, reply.member);
      const answers = new Map<string, string[]>();
      try {
        const message = activeQueuesMessage({ ticket, oid }, clock, nowMs, controlExchange, replyWindowMs / 1000);
        const { channel, payload } = pidboxPublish(message, keys);
        const listeners = await client.publish(channel, payload);
        // Nobody listening answers nobody: no wait then.
        for (let waited = 0; listeners > 0 && waited < replyWindowMs; waited += ANSWER_POLL_MS) {
          await sleep(Math.min(ANSWER_POLL_MS, replyWindowMs - waited));
          if ((await client.llen(reply.list)) >= listeners) break;
        }
        const [[, raw]] = ((await client.multi().lrange(reply.list, 0, -1).del(reply.list).exec()) ?? [[null, []]]) as [
          [unknown, string[]],
        ];
        for (const text of raw) for (const [worker, consumed] of answerOf(text, ticket) ?? []) answers.set(worker, consumed);
      } finally {
        await client.srem(reply.bindingKey, reply.member);
      }
      const counts = consumersFromAnswers(queues, answers);
      const depth = await depths(queues);
      return {
        workersAnswered: answers.size,
        queues: queues.map((queue, i) => ({
          queue,
          depth: depth[i] ?? 0,
          ...(counts === undefined ? {} : { consumers: counts.get(queue) ?? 0 }),
        })),
      };
    },
  };
}

/** A probe on a broker connection of its own, for a one-off question (`beat check --consumers`). */
export interface OpenedProbe {
  readonly probe: ConsumerProbe;
  /** Connects, rejecting when the broker cannot be reached. */
  connect(): Promise<void>;
  close(): Promise<void>;
}
