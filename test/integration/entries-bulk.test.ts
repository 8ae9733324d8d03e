/**
 * Writes and reads of runtime entries larger than a call's stack takes when spread (from ~45,000
 * names): `beat entries import` and `export` of 100,000 entries, and a bulk PUT /api/entries as
 * large as the body limit, which the leader then runs; a delete right after it takes effect.
 * Redis: a private redis-server of this file, on a free port. (1,000,000: bench/entries-io.mjs.)
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/base/defaults.js';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { httpPortOf, killCliChildren, runBeatCli } from '../support/ops.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const TASK = 'proj.tick';
const TOKEN = 'bulk-test-token-0123456789';

describe('runtime entries by the hundred thousand (real CLI and beat run, private Redis)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = new PrivateRedis(await freePort());
    await server.start();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('imports 100,000 entries in one write and exports them all back', async () => {
    const N = 100_000;
    const file = dir.write('bulk.yaml', `name: bulk-io\nbroker: { url: "${server.url(0)}" }\n`);
    const entries: Record<string, unknown> = {};
    for (let i = 0; i < N; i += 1) entries[`e${i}`] = { task: TASK, schedule: 60 + (i % 50), args: [i] };
    const input = dir.write('entries.json', JSON.stringify(entries));
    const imported = await runBeatCli(['entries', 'import', input, '--config', file], { timeoutMs: 120_000 });
    expect(imported.stderr).toBe('');
    expect(imported).toMatchObject({ code: 0, stdout: `${N} created; deployment bulk-io, store version 1\n` });
    expect(await redis.hlen(schedulerKeys('tsbeat', 'bulk-io').entries)).toBe(N);
    const out = dir.path + '/export.yaml';
    const exported = await runBeatCli(['entries', 'export', '--output', out, '--config', file], { timeoutMs: 120_000 });
    expect(exported).toMatchObject({ code: 0, stderr: `beat entries export: ${N} entries written to ${out}\n` });
    const names = readFileSync(out, 'utf8').match(/^ {2}e\d+:$/gm) ?? [];
    expect(new Set(names).size).toBe(N);
  }, 300_000);

  it('takes a bulk PUT as large as the body limit; the leader runs them, and a delete right after takes effect', async () => {
    const file = dir.write(
      'bulk-api.yaml',
      [
        'name: bulk-api',
        `broker: { url: "${server.url(1)}" }`,
        'maxInterval: 5s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        '',
      ].join('\n'),
    );
    const leader = fleet.spawn({
      config: file,
      label: 'leader',
      args: ['--http', '127.0.0.1:0', '--api-token-file', dir.write('token', TOKEN)],
    });
    const port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    // As many entries as fit in the body limit (past the ~45,000 names that once overflowed the stack).
    const entries: Record<string, unknown> = {};
    let body = '{}';
    for (let i = 0; ; i += 1) {
      entries[`api-${i}`] = { task: TASK, schedule: 3600 };
      if (i % 1000 === 999) {
        const next = JSON.stringify(entries);
        if (Buffer.byteLength(next) > DEFAULTS.apiBodyMaxBytes - 100_000) break;
        body = next;
      }
    }
    const count = Object.keys(JSON.parse(body) as object).length;
    expect(count).toBeGreaterThan(45_000);
    const put = await fetch(`http://127.0.0.1:${port}/api/entries`, {
      method: 'PUT',
      body,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(60_000),
    });
    expect(put.status, await put.clone().text()).toBe(200);
    const reply = (await put.json()) as { outcomes: Record<string, string> };
    expect(Object.values(reply.outcomes).filter((o) => o === 'created').length).toBe(count);
    await leader.waitForLog('the leader holds them all', (l) => l.event === EVENTS.entriesChanged && l['total'] === count, 60_000);
    const mark = leader.logs.length;
    const del = await fetch(`http://127.0.0.1:${port}/api/entries/api-7`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(del.status).toBe(204);
    const gone = await leader.waitForLog(
      'the delete applied',
      (l) => l.event === EVENTS.entriesChanged && l['total'] === count - 1,
      10_000,
      mark,
    );
    expect(gone['removed']).toBe(1);
  }, 180_000);

  it('deleting an entry removes its run history, pending outcome, last result, failure count, failing mark, notes and missed slots, unless asked to keep them', async () => {
    const keys = schedulerKeys('tsbeat', 'forget');
    const store = new RedisEntryStore(redis, keys);
    // Listed here, not taken from entry-owned.ts: what a delete must leave nothing of.
    const leftOf = async (name: string): Promise<number[]> =>
      Promise.all([
        redis.exists(keys.runs(name)),
        redis.exists(keys.missed(name)),
        redis.sismember(keys.runsPending, name),
        redis.hexists(keys.runsFinished, name),
        redis.hexists(keys.failures, name),
        redis.hexists(keys.failing, name),
        redis.hexists(keys.notes, name),
        redis.hexists(keys.pauseNotes, name),
      ]);
    for (const keepHistory of [false, true]) {
      const name = `gone-${String(keepHistory)}`;
      await store.write([{ op: 'put', name, entry: { task: TASK, schedule: 60 } }], { nowMs: 1 });
      await redis.lpush(keys.runs(name), '{"id":"x"}');
      await redis.lpush(keys.missed(name), '{"first":1,"n":1,"why":"downtime","at":2}');
      await redis.sadd(keys.runsPending, name, 'other');
      await redis.hset(keys.runsFinished, name, '{}', 'other', '{}');
      await redis.hset(keys.failures, name, '2');
      await redis.hset(keys.failing, name, '{}');
      await redis.hset(keys.notes, name, '{}');
      await redis.hset(keys.pauseNotes, name, '{}');
      expect(await leftOf(name)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
      await store.write([{ op: 'delete', name }], { nowMs: 2, keepHistory });
      expect(await leftOf(name)).toEqual(keepHistory ? [1, 1, 1, 1, 1, 1, 1, 1] : [0, 0, 0, 0, 0, 0, 0, 0]);
    }
    expect(await redis.hexists(keys.runsFinished, 'other')).toBe(1);
    expect(await redis.sismember(keys.runsPending, 'other')).toBe(1);
  });
});
