/**
 * Leadership failures that used to be silent, with real `beat run` processes on a private
 * redis-server (a port of 6381–6389, so no DB of the shared server is needed):
 * - a leader that steps down by itself must give the lock back at once, not keep every standby out
 *   until it expires.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/log-events.js';
import { BeatFleet, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import { duplicates, readQueue } from '../support/beat-queue.js';
import { killCliChildren, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.diag';
const FAST_LOCK = { ttl: '2s', renewEvery: '500ms', retryEvery: '200ms' } as const;

const fleet = new BeatFleet();
const dir = new TempDir();
let server: PrivateRedis;
let redis: Redis;

function configFile(label: string, name: string, beatSchedule: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return dir.write(`${label}.json`, { name, broker: { url: server.url(0) }, maxInterval: '200ms', lock: FAST_LOCK, beatSchedule, ...extra });
}

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = server.client(0);
  await redis.connect();
});

afterEach(async () => {
  killCliChildren();
  await fleet.killAll();
  await redis.flushall();
});

afterAll(async () => {
  await fleet.killAll();
  redis.disconnect();
  await server.stop();
  dir.remove();
});

describe('stepping down', () => {
  it('a leader that steps down by itself (its connections killed until renewals fail) releases the lock: a standby leads well before the lock would have expired, and nothing is published twice', async () => {
    const name = uniqueName('stepdown');
    const beatSchedule = { tick: { task: TASK, schedule: 0.2, catchUp: 'all' } };
    // A TTL of 10 s: stepping down comes a fifth of it (2 s) before the lock expires; a standby that
    // waits for the expiry is 2 s late, one told of the release is in well under a second.
    const lock = { ttl: '10s', retryEvery: '200ms' };
    const clientOf = (label: string) => ({ broker: { url: server.url(0), transportOptions: { clientName: `diag-${label}` } }, lock });
    const a = fleet.spawn({ config: configFile('step-a', name, beatSchedule, clientOf('a')), label: 'A' });
    await a.waitForEvent(EVENTS.lockAcquired, 10_000);
    const b = fleet.spawn({ config: configFile('step-b', name, beatSchedule, clientOf('b')), label: 'B' });
    await b.waitForEvent(EVENTS.standby, 10_000);
    await a.waitForLog('A publishing', (l) => l.event === EVENTS.fire, 5000);

    // Kill every connection of A as soon as it appears, until A gives up leading.
    const killer = server.client(0);
    await killer.connect();
    let storming = true;
    const storm = (async () => {
      while (storming) {
        const list = String(await killer.client('LIST'));
        for (const match of list.matchAll(/^id=(\d+) .* name=diag-a /gm)) await killer.client('KILL', 'ID', match[1] as string).catch(() => 0);
        await sleep(10);
      }
    })();
    const lost = await a.waitForEvent(EVENTS.lockLost, 15_000).finally(() => {
      storming = false;
    });
    await storm;
    killer.disconnect();

    const taken = await waitUntil('B to lead', () => b.events(EVENTS.lockAcquired)[0], 5000, () => fleet.dump());
    const gapMs = logTimeMs(taken) - logTimeMs(lost);
    expect(gapMs, fleet.dump()).toBeLessThan(1000);
    expect(a.events(EVENTS.lockReleased), a.tail()).toHaveLength(1);
    await b.waitForLog('B publishing', (l) => l.event === EVENTS.fire, 5000);
    await sleep(500);
    for (const p of [a, b]) p.signal('SIGTERM');
    for (const p of [a, b]) expect(await p.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(duplicates(await readQueue(redis))).toEqual({ slots: [], ids: [] });
  });
});
