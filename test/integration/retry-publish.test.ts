/**
 * A slot's pending attempt published by retry-fenced.lua through the fenced dispatcher, on a private
 * redis-server: once per (entry, slot, attempt) however often it is tried, never by a deposed leader,
 * nor while the deployment is stopped (it stays pending), and dropped unpublished when its entry was
 * deleted or re-created since the slot's run. The message is the slot's, with the attempt's task id
 * and the headers that name the attempt.
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
});
