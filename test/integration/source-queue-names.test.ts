/**
 * Queues named by the entries of RedBeat and django-celery-beat (issue 66, finding 3's variants):
 * those sources are written by the application, not through tsbeat's write checks, yet their
 * queues land on the same Redis. A RedBeat entry whose `options.queue` (or a chain step's) is the
 * deployment's stop key made tsbeat LPUSH its message onto it and so stop every entry. Here, with a
 * real `beat run` on a private redis-server: such an entry does not run, `beat.entries.invalid`
 * names its path and the fix, and the other entries keep publishing.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const NAME = 'source-queues';
const keys = schedulerKeys('tsbeat', NAME);

/** A RedBeat entry as RedBeatSchedulerEntry.save() writes it: its hash and its place in the schedule. */
async function saveRedBeat(redis: Redis, name: string, definition: Record<string, unknown>): Promise<void> {
  const text = JSON.stringify({ name, task: 't.redbeat', schedule: { __type__: 'interval', every: 1.0, relative: false }, ...definition });
  await redis.hset(`redbeat:${name}`, 'definition', text);
  await redis.zadd('redbeat::schedule', 0, `redbeat:${name}`);
}

describe("queues named by RedBeat's entries", () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it("never reach tsbeat's own keys: the entry does not run, its path named, and the others keep publishing", async () => {
    await saveRedBeat(redis, 'own-queue', { options: { queue: keys.stop } });
    await saveRedBeat(redis, 'lock-queue', { options: { queue: keys.lock } });
    await saveRedBeat(redis, 'plain', { options: { queue: 'reports' } });
    const config = dir.write('beat.json', {
      name: NAME,
      broker: { url: server.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      sources: { redbeat: { keyPrefix: 'redbeat:' } },
      beatSchedule: { every: { task: 't.every', schedule: 1 } },
    });
    const beat = fleet.spawn({ config, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    for (const [entry, key] of [
      ['own-queue', keys.stop],
      ['lock-queue', keys.lock],
    ]) {
      const invalid = await beat.waitForLog(`${entry} refused`, (l) => l.event === EVENTS.entriesInvalid && l['entry'] === entry, 10_000);
      expect(invalid['problems']).toEqual([
        {
          path: 'options.queue',
          message: expect.stringContaining(`the queue's list ${JSON.stringify(key)} is under tsbeat's own prefix`) as unknown,
        },
      ]);
    }
    await waitUntil(
      'runs of the others',
      async () => ((await redis.llen('reports')) > 1 && (await redis.llen('celery')) > 1 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    await sleep(1500);
    expect(await redis.exists(keys.stop), fleet.dump()).toBe(0);
    expect(await redis.type(keys.lock)).toBe('string');
    expect(fleet.dump()).not.toContain(EVENTS.deploymentStop);
  }, 60_000);
});
