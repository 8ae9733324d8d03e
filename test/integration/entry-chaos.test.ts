/**
 * Issue 30's proof: runtime entries created, edited, deleted and created again through the HTTP API
 * (three writers on names of their own, several writes a second, each to a replica picked at random) while three real `beat run`
 * replicas lose their leader again and again: SIGKILL (a replacement is started), SIGSTOP under
 * the lock's TTL (1 s of a 2 s TTL: it keeps the lock) and past it (4 s: a standby leads, and the
 * paused one wakes up deposed). The oracle is the queue list itself, read directly and decoded;
 * every run's args name its entry, its incarnation (the writer's count of creations of the name)
 * and its definition's version (the writer's count of edits), so that each run can be held to what
 * the writer did and when:
 *   - no (entry, slot) published twice;
 *   - no slot lost of the entries that existed throughout (catchUp "all": every slot from the first
 *     to the end, exactly once);
 *   - no run of a deleted incarnation for a slot after its delete returned;
 *   - no run of a definition for a slot after the edit that replaced it returned;
 *   - no run of an incarnation for a slot before it was created (a re-created entry replays nothing).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { BeatFleet, TempDir, sleep } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { ChaosOracle, ChaosReplicas, chaosScenario } from '../support/entry-chaos.js';
import type { EntryWriter } from '../support/entry-chaos.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import { prng } from '../support/prng.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const NAME = 'chaos';
const QUEUE = 'chaos';
const TOKEN = 'chaos-token-0123456789abcdef';
const S = 1000;
const CHAOS_MS = 35_000;
const TTL = { ttl: '2s', renewEvery: '500ms', retryEvery: '200ms' } as const;
const STABLE = ['s0', 's1', 's2', 's3'];
const CHURN = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'];

describe('runtime entries under chaos: three replicas, a writer through the API, leaders killed and paused (issue 30)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let replicas: ChaosReplicas | undefined;
  const ports = new Map<BeatProcess, number>();

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    replicas?.release();
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('publishes no slot twice, loses none, and never runs a deleted, replaced or not yet created definition', async () => {
    const file = dir.write('chaos.json', {
      name: NAME,
      broker: { url: server.url(0) },
      taskDefaultQueue: QUEUE,
      maxInterval: '200ms',
      lock: TTL,
    });
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    const spawn = async (): Promise<BeatProcess> => {
      const p = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
      ports.set(p, await httpPortOf(p, 30_000));
      return p;
    };
    const chaos = new ChaosReplicas(fleet, redis, NAME, spawn);
    replicas = chaos;
    await Promise.all([spawn(), spawn(), spawn()]);
    await chaos.leader();

    const random = prng(30);
    /** One write through the API of a replica picked at random; tried on another until one answers. */
    async function write(name: string, method: 'PUT' | 'DELETE', args?: unknown[]): Promise<void> {
      for (let attempt = 0; attempt < 200; attempt += 1) {
        const usable = fleet.all.filter((p) => p.alive && !chaos.stopped.has(p) && ports.has(p));
        const p = usable[Math.floor(random() * usable.length)];
        if (p === undefined) {
          await sleep(50);
          continue;
        }
        chaos.inFlight.set(p, (chaos.inFlight.get(p) ?? 0) + 1);
        try {
          const res = await fetch(`http://127.0.0.1:${String(ports.get(p))}/api/entries/${name}`, {
            method,
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            ...(args === undefined ? {} : { body: JSON.stringify({ task: TASK, schedule: 1, catchUp: 'all', args }) }),
            signal: AbortSignal.timeout(1500),
          });
          await res.text();
          // A retry of a write whose first try's outcome was not known: the same PUT is "unchanged", the same DELETE 404.
          if (res.status < 300 || (method === 'DELETE' && res.status === 404)) return;
          if (res.status < 500) throw new Error(`${method} ${name}: ${String(res.status)}`);
        } catch (error) {
          if (error instanceof Error && error.message.startsWith(`${method} ${name}:`)) throw error;
        } finally {
          chaos.inFlight.set(p, (chaos.inFlight.get(p) ?? 1) - 1);
        }
        await sleep(20);
      }
      throw new Error(`${method} ${name}: no replica answered`);
    }
    const api: EntryWriter = { put: (name, args) => write(name, 'PUT', args), remove: (name) => write(name, 'DELETE') };
    const oracle = new ChaosOracle(api, { stable: STABLE, stableIntervalMs: S, deployment: NAME, lagMs: 0 });

    const summary = await chaosScenario({
      label: 'entry chaos (API)',
      replicas: chaos,
      oracle,
      redis,
      queue: QUEUE,
      churn: CHURN,
      chaosMs: CHAOS_MS,
      random,
    });
    console.log(summary);
  }, 150_000);
});
