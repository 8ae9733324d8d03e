/**
 * A paused entry's pending attempts wait (issue 70): the control loop, with a real ControlStore and
 * the fenced dispatcher (retry-fenced.lua) on a private redis-server, leaves an attempt of a paused
 * entry in the retries zset however long it is due, publishes the others due behind a page of held
 * ones, and publishes the held attempt once after `beat pause`'s resume. The deployment stop's hold
 * is retry-publish.test.ts's (the script answers Stopped).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger } from '../../src/base/log.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { attemptTaskId, slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { ControlStore } from '../../src/redis/control-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { encodeRetryMember } from '../../src/redis/retry-codec.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';
import { ENV } from '../support/messages.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

describe("a paused entry's pending attempts", () => {
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

  it('stay pending, unpublished, while the entry is paused (others due behind a page of them go out), and go out once on resume', async () => {
    const name = uniqueName('retry-paused');
    const queue = uniqueName('q');
    const config = parseConfig(
      {
        name,
        broker: { url: server.url(0) },
        beatSchedule: {
          nightly: { task: 'proj.export', schedule: 3600, options: { queue } },
          other: { task: 'proj.other', schedule: 3600, options: { queue } },
        },
      },
      'retry-paused.test',
    );
    const keys = schedulerKeys('tsbeat', name);
    const store = new ControlStore(client, keys);
    const dispatcher = new RedisFencedDispatcher(transport, keys, silentLogger, DEFAULTS.maxClockSkewMs);
    await client.set(keys.fence, 'leader-A');
    const start = Date.now();
    const attempt = (entry: string, slotMs: number, dueMs: number) => {
      const retryOf = slotTaskId(name, entry, slotMs);
      const taskId = attemptTaskId(retryOf, 2);
      return { taskId, dueMs, member: encodeRetryMember({ entry, slotMs, attempt: 2, taskId, retryOf }) };
    };
    // The attempt looked at comes due a second from now; 150 more of the paused entry, due already,
    // fill more than a page (100) ahead of an attempt of another entry.
    const watched = attempt('nightly', start - 3_600_000, start + 1000);
    const held = Array.from({ length: 150 }, (_, i) => attempt('nightly', start - 7_200_000 - i * 1000, start - 600_000 + i));
    const behind = attempt('other', start - 3_600_000, start - 1000);
    for (const a of [watched, ...held, behind]) await client.zadd(keys.retries, a.dueMs, a.member);
    await store.setPaused('nightly', true, start);

    const published: string[] = [];
    const loop = new ControlLoop({
      config,
      source: store,
      publisher: dispatcher,
      messageEnv: ENV,
      logger: silentLogger,
      now: () => Date.now(),
      lease: () => 'leader-A',
      onPaused: () => undefined,
      intervalMs: 100,
      retryPublished: (message) => void published.push(message.id),
    });
    loop.start();
    try {
      // The other entry's attempt goes out past the held page.
      await vi.waitFor(() => expect(published).toEqual([behind.taskId]), { timeout: 5000 });
      // Looks go on past the watched attempt's due time (a second and a half more): it stays.
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, watched.dueMs + 1500 - Date.now())));
      expect(published).toEqual([behind.taskId]);
      expect(await client.zscore(keys.retries, watched.member)).toBe(String(watched.dueMs));
      expect(await client.zcard(keys.retries)).toBe(151);
      expect((await client.lrange(queue, 0, -1)).map((m) => (JSON.parse(m) as { headers: { id: string } }).headers.id)).toEqual([
        behind.taskId,
      ]);

      await store.setPaused('nightly', false, Date.now());
      loop.poke();
      await vi.waitFor(async () => expect(await client.zcard(keys.retries)).toBe(0), { timeout: 10_000 });
      // A few looks more: nothing goes out twice.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(published).toHaveLength(152);
      expect(new Set(published).size).toBe(152);
      expect(published).toContain(watched.taskId);
      expect(await client.llen(queue)).toBe(152);
    } finally {
      await loop.stop();
    }
  });
});
