/**
 * A RedBeat look that fails part-way (here: the seed of RedBeat's last runs, a write to the state
 * Redis) hands on nothing and takes nothing for handed on: the next look reports the entries it
 * found and the ones deleted meanwhile. Real Redis (a private redis-server), RedBeat's own
 * Python code (test/support/redbeat_client.py) for the saves and deletes.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redbeatKeys } from '../../src/redbeat/keys.js';
import { RedBeatSource } from '../../src/redbeat/source.js';
import type { RedBeatSeed } from '../../src/redbeat/source.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const PREFIX = 'rbundo:';
const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite('a RedBeat look that fails part-way', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const py = (request: Record<string, unknown>): unknown =>
    JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url: server.url(0), prefix: PREFIX, ...request })], { encoding: 'utf8' }));
  /** Saved as RedBeat saves it, with a last run (so that its first sight is seeded). */
  const save = (name: string, every: number): unknown =>
    py({ op: 'save', name, task: 'tsbeat_test.record', schedule: { interval: every }, last_run_at: Date.now() / 1000 - 5 });

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('leaves what it found to the next look: the saved entry and the deleted one are reported then', async () => {
    let seedFails = false;
    const seeded: string[] = [];
    const source = new RedBeatSource({
      client: redis,
      keys: redbeatKeys(PREFIX),
      seed: (seeds: readonly RedBeatSeed[]) => {
        if (seedFails) return Promise.reject(new Error('state Redis unreachable'));
        seeded.push(...seeds.map((s) => s.name));
        return Promise.resolve();
      },
    });
    save('rb-kept', 60);
    save('rb-gone', 60);
    const first = await source.load();
    expect(first.entries.map((e) => e.name).sort()).toEqual(['rb-gone', 'rb-kept']);

    save('rb-new', 30);
    py({ op: 'delete', name: 'rb-gone' });
    seedFails = true;
    await expect(source.changesSince(first.cursor)).rejects.toThrow(/unreachable/);

    seedFails = false;
    const next = await source.changesSince(first.cursor);
    expect(next.changed.map((e) => e.name)).toEqual(['rb-new']);
    expect(next.removed).toEqual(['rb-gone']);
    expect(seeded).toContain('rb-new');
  });
});
