/**
 * A slot's pending attempt published by retry-fenced.lua through the fenced dispatcher, on a private
 * redis-server: once per (entry, slot, attempt) however often it is tried, never by a deposed leader,
 * nor while the deployment is stopped (it stays pending), and dropped unpublished when its entry was
 * deleted or re-created since the slot's run. The message is the slot's, with the attempt's task id
 * and the headers that name the attempt.
 * The send-then-commit dispatcher (RabbitMQ, SQS) takes the same script in two calls around its
 * confirmed send: the broker there is a recording double that answers as the AMQP and SQS transports
 * do (confirmed, returned, failed), since what is under test is the claim and the commit in Redis;
 * test/integration/retry-worker.test.ts and sqs-worker.test.ts run attempts through the real brokers.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { attemptMessage } from '../../src/celery/attempt-message.js';
import { attemptTaskId, slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { RETRY_CLAIM_MS, SendThenCommitDispatcher } from '../../src/publish/send-then-commit-dispatcher.js';
import type { AmqpSendResult } from '../../src/amqp/transport.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { BeatError } from '../../src/base/errors.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { decodeRetryMember, encodeRetryMember } from '../../src/redis/retry-codec.js';
import { RetryPublishResult } from '../../src/ports/outcomes.js';
import { ENV } from '../support/messages.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const SLOT = 1_795_243_280_000;

describe('publishing a pending attempt (retry-fenced.lua)', () => {
  let server: PrivateRedis;
  let client: Redis;
  let transport: RedisTransport;

  beforeAll(async () => {
    server = await startPrivateRedis();
    client = server.client(0);
    transport = new RedisTransport({ url: server.url(0), transportOptions: {}, logger: createLogger({ level: 'silent' }) });
  });
  afterAll(async () => {
    await transport?.close();
    client?.disconnect();
    await server?.stop();
  });

  function setup(queue: string) {
    const name = uniqueName('retry-pub');
    const config = parseConfig(
      {
        name,
        broker: { url: server.url(0) },
        beatSchedule: { nightly: { task: 'proj.export', schedule: 10, args: [1], options: { queue } } },
      },
      'retry-publish.test',
    );
    const entry = config.entries[0] as ResolvedEntry;
    const keys = schedulerKeys('tsbeat', name);
    const dispatcher = new RedisFencedDispatcher(transport, keys, createLogger({ level: 'silent' }), DEFAULTS.maxClockSkewMs);
    const slotId = slotTaskId(name, 'nightly', SLOT);
    const taskId = attemptTaskId(slotId, 2);
    const message = attemptMessage(
      renderTaskMessage(compileMessageTemplate(entry, config, ENV), { taskId, slotMs: SLOT, nowMs: SLOT + 60_000 }),
      2,
      slotId,
    );
    return { keys, dispatcher, slotId, taskId, message };
  }

  it('pushes the attempt once, with its task id and headers, and takes it off the retries zset in the same step', async () => {
    const queue = uniqueName('q');
    const { keys, dispatcher, slotId, taskId, message } = setup(queue);
    const member = encodeRetryMember({ entry: 'nightly', slotMs: SLOT, attempt: 2, taskId, retryOf: slotId });
    await client.zadd(keys.retries, SLOT + 30_000, member);
    await client.set(keys.fence, 'leader-A');

    expect(await dispatcher.publishRetry(message, member, undefined, 'deposed-B')).toBe(RetryPublishResult.Fenced);
    expect(await client.llen(queue)).toBe(0);
    await client.set(keys.stop, '{"by":"test"}');
    expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Stopped);
    expect(await client.zcard(keys.retries)).toBe(1);
    await client.del(keys.stop);

    expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Published);
    // A second try (a lost reply, another leader that read the zset before) publishes nothing.
    expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Gone);
    expect(await client.zcard(keys.retries)).toBe(0);
    const pushed = await client.lrange(queue, 0, -1);
    expect(pushed).toHaveLength(1);
    const envelope = JSON.parse(pushed[0]!) as { headers: Record<string, unknown>; properties: Record<string, unknown> };
    expect(envelope.headers).toMatchObject({ id: taskId, root_id: taskId, beat_entry: 'nightly', beat_attempt: 2, beat_retry_of: slotId });
    expect(envelope.properties.correlation_id).toBe(taskId);
    expect(taskId).not.toBe(slotId);
  });

  it('drops the attempt of an entry deleted or re-created since its slot ran, publishing nothing', async () => {
    const queue = uniqueName('q');
    const { keys, dispatcher, slotId, taskId, message } = setup(queue);
    // A runtime entry's run published under record version 3; the record is gone now (deleted).
    const member = encodeRetryMember({ entry: 'nightly', slotMs: SLOT, attempt: 2, taskId, retryOf: slotId, revision: '3' });
    expect(decodeRetryMember(member, 1)?.revision).toBe('3');
    await client.zadd(keys.retries, SLOT + 30_000, member);
    await client.set(keys.fence, 'leader-A');
    expect(await dispatcher.publishRetry(message, member, '3', 'leader-A')).toBe(RetryPublishResult.Dropped);
    expect(await client.zcard(keys.retries)).toBe(0);
    expect(await client.llen(queue)).toBe(0);
  });

  describe('through a broker outside Redis (send-then-commit-dispatcher.ts: claim, confirmed send, commit)', () => {
    /** A broker double: records each message it is given, with the zset's score of the attempt at that moment, and answers `next`. */
    function broker(member: () => string, retriesKey: string) {
      const sent: { id: string; score: number | null }[] = [];
      let next: AmqpSendResult = { status: 'confirmed' };
      return {
        sent,
        answer: (result: AmqpSendResult) => (next = result),
        sender: {
          plan: (messages: readonly TaskMessage[]) => Promise.resolve(messages),
          send: async (messages: readonly TaskMessage[]) => {
            const score = await client.zscore(retriesKey, member());
            for (const m of messages) sent.push({ id: m.id, score: score === null ? null : Number(score) });
            return messages.map(() => next);
          },
        },
      };
    }

    function confirming(queue: string, revision?: string) {
      const { keys, slotId, taskId, message } = setup(queue);
      const member = encodeRetryMember({
        entry: 'nightly',
        slotMs: SLOT,
        attempt: 2,
        taskId,
        retryOf: slotId,
        ...(revision ? { revision } : {}),
      });
      const double = broker(() => member, keys.retries);
      const dispatcher = new SendThenCommitDispatcher(
        double.sender,
        client,
        keys,
        createLogger({ level: 'silent' }),
        DEFAULTS.maxClockSkewMs,
      );
      return { keys, member, message, taskId, double, dispatcher };
    }

    it('claims the attempt (no leader finds it due while it is sent), sends it once, and commits it off the retries zset', async () => {
      const { keys, member, message, taskId, double, dispatcher } = confirming(uniqueName('q'));
      await client.zadd(keys.retries, SLOT + 30_000, member);
      await client.set(keys.fence, 'leader-A');

      expect(await dispatcher.publishRetry(message, member, undefined, 'deposed-B')).toBe(RetryPublishResult.Fenced);
      await client.set(keys.stop, '{"by":"test"}');
      expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Stopped);
      await client.del(keys.stop);
      expect(double.sent).toEqual([]);
      expect(await client.zscore(keys.retries, member)).toBe(String(SLOT + 30_000));

      const before = Date.now();
      expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Published);
      // While it was sent it was pending still, due only when the claim ends (Redis's clock, this host's).
      expect(double.sent).toHaveLength(1);
      expect(double.sent[0]!.id).toBe(taskId);
      expect(double.sent[0]!.score).toBeGreaterThanOrEqual(before + RETRY_CLAIM_MS - 1000);
      expect(double.sent[0]!.score).toBeLessThanOrEqual(Date.now() + RETRY_CLAIM_MS + 1000);
      expect(await client.zcard(keys.retries)).toBe(0);
      expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Gone);
      expect(double.sent).toHaveLength(1);
    });

    it('leaves an attempt pending, due when its claim ends, when the send is not confirmed or the leader is deposed before the commit (at least once)', async () => {
      const { keys, member, message, double, dispatcher } = confirming(uniqueName('q'));
      await client.zadd(keys.retries, SLOT + 30_000, member);
      await client.set(keys.fence, 'leader-A');
      double.answer({ status: 'failed', error: new Error('no publisher confirm within 15000 ms') });
      const error = await dispatcher.publishRetry(message, member, undefined, 'leader-A').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BeatError);
      expect((error as BeatError).message).toBe(
        `attempt of "nightly" (${message.id}) not confirmed by the broker: no publisher confirm within 15000 ms; it stays pending and goes again in ${RETRY_CLAIM_MS / 1000} s`,
      );
      expect(Number(await client.zscore(keys.retries, member))).toBeGreaterThan(Date.now() + RETRY_CLAIM_MS - 5000);

      // Confirmed, then the fence moved on before the commit: the next leader sends it again (same task id).
      await client.zadd(keys.retries, SLOT + 30_000, member);
      double.answer({ status: 'confirmed' });
      const deposing = double.sender.send;
      double.sender.send = async (messages) => {
        await client.set(keys.fence, 'leader-C');
        return deposing(messages);
      };
      expect(await dispatcher.publishRetry(message, member, undefined, 'leader-A')).toBe(RetryPublishResult.Fenced);
      expect(await client.zcard(keys.retries)).toBe(1);
      double.sender.send = deposing;
      await client.zadd(keys.retries, SLOT + 30_000, member);
      expect(await dispatcher.publishRetry(message, member, undefined, 'leader-C')).toBe(RetryPublishResult.Published);
      expect(double.sent.map((s) => s.id)).toEqual([message.id, message.id, message.id]);
      expect(await client.zcard(keys.retries)).toBe(0);
    });

    it("takes an attempt the broker refused for its entry's fault off the zset, saying why and the fix; drops one of a deleted entry unsent", async () => {
      const { keys, member, message, double, dispatcher } = confirming(uniqueName('q'));
      await client.zadd(keys.retries, SLOT + 30_000, member);
      await client.set(keys.fence, 'leader-A');
      double.answer({ status: 'returned', reason: 'NO_ROUTE' });
      const error = await dispatcher.publishRetry(message, member, undefined, 'leader-A').catch((e: unknown) => e);
      expect((error as BeatError).message).toBe(
        `attempt of "nightly" (${message.id}) refused and dropped: the broker returned it unroutable: NO_ROUTE; mend the entry's route (its exchange, routing key or queue) or its message, then trigger it again`,
      );
      expect(await client.zcard(keys.retries)).toBe(0);

      const deleted = confirming(uniqueName('q'), '3');
      await client.zadd(deleted.keys.retries, SLOT + 30_000, deleted.member);
      await client.set(deleted.keys.fence, 'leader-A');
      expect(await deleted.dispatcher.publishRetry(deleted.message, deleted.member, '3', 'leader-A')).toBe(RetryPublishResult.Dropped);
      expect(deleted.double.sent).toEqual([]);
      expect(await client.zcard(deleted.keys.retries)).toBe(0);
    });
  });
});
