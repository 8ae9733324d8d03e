/**
 * The dead-letter verbs through /api and the TypeScript client (issue 70), with scoped tokens,
 * against a real `beat run --http` on a private redis-server: a token scoped to one team lists only
 * its team's items and cannot replay or discard another team's (404 as no item, nothing changed); a selector
 * reaching past the scope is refused whole; a replay publishes the item once to the broker's list
 * (the leader's fenced trigger path), under the replay's task id with the slot's beat_scheduled_at,
 * and the item leaves the list; an unknown id is 404, a bad selector 400.
 * The items are written to Redis as run-history.lua writes them (dead-letter-codec.ts): how a
 * failed run gets there with a real worker is test/integration/dead-letter.test.ts.
 * Oracle: the dead-letter keys, the manual-run queue and the broker's lists read back from Redis.
 */
import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { deadLetterId, replayTaskId, slotTaskId } from '../../src/celery/task-id.js';
import { encodeDeadLetter } from '../../src/redis/dead-letter-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import type { DeadLetter } from '../../src/ports/outcomes.js';
import { Entries } from '../../src/index.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { httpPortOf, killCliChildren, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const DEPLOYMENT = 'dead-api';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);
const TOKENS = {
  admin: { line: 'admin', token: 'admin-token-0123456789abcdef' },
  billOp: { line: 'bill-op:operator@team=billing', token: 'billop-token-0123456789abcdef' },
  billView: { line: 'bill-view:viewer@team=billing', token: 'billview-token-0123456789abcdef' },
} as const;
type Who = keyof typeof TOKENS;

interface Reply {
  readonly status: number;
  readonly body: string;
  json(): Record<string, unknown>;
}

function call(port: number, method: string, path: string, who: Who): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { authorization: `Bearer ${TOKENS[who].token}` }, timeout: 10_000 },
      (res) => {
        let got = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (got += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: got, json: () => (got === '' ? {} : (JSON.parse(got) as Record<string, unknown>)) }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const SLOT_MS = Date.parse('2026-11-20T03:00:00Z');

function letter(entry: string, slotMs: number): DeadLetter {
  const retryOf = slotTaskId(DEPLOYMENT, entry, slotMs);
  return {
    id: deadLetterId(entry, retryOf),
    entry,
    slotMs,
    taskId: retryOf,
    retryOf,
    attempts: 1,
    end: 'failure',
    exception: 'ValueError: boom',
    atMs: slotMs + 1000,
  };
}

describe('the dead-letter verbs through /api and the client, with scoped tokens', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let port = 0;
  const bill = letter('bill-job', SLOT_MS);
  const bill2 = letter('bill-job', SLOT_MS + 3_600_000);
  const ops = letter('ops-job', SLOT_MS);
  // An entry deleted since its slot failed: not in the config any more.
  const gone = letter('gone-job', SLOT_MS);

  const ids = async (): Promise<string[]> => (await redis.zrange(keys.deadLetters, '0', '-1')).sort();
  const snapshot = async () => ({
    letters: await redis.hgetall(keys.deadLetterItems),
    order: await redis.zrange(keys.deadLetters, '0', '-1'),
    triggers: await redis.lrange(keys.triggers, 0, -1),
    broker: await redis.lrange('q-bill', 0, -1),
  });

  beforeAll(async () => {
    server = await startPrivateRedis();
    const url = server.url(0);
    redis = new Redis(url);
    const config = dir.write('beat.json', {
      name: DEPLOYMENT,
      broker: { url },
      taskEvents: true,
      lock: FAST_LOCK,
      beatSchedule: {
        'bill-job': { task: 'tsbeat_test.record', schedule: 86_400, labels: { team: 'billing' }, options: { queue: 'q-bill' } },
        'ops-job': { task: 'tsbeat_test.record', schedule: 86_400, labels: { team: 'ops' }, options: { queue: 'q-ops' } },
      },
    });
    const tokens = dir.write(
      'tokens',
      Object.values(TOKENS)
        .map((t) => `${t.line}:${t.token}`)
        .join('\n') + '\n',
    );
    for (const d of [bill, bill2, ops, gone]) {
      await redis.hset(keys.deadLetterItems, d.id, encodeDeadLetter(d));
      await redis.zadd(keys.deadLetters, d.atMs, d.id);
    }
    const leader = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it("lists only the caller's team's items, and answers another team's replay and discard as of no item (404, nothing changed)", async () => {
    const listed = async (who: Who, query = ''): Promise<string[]> => {
      const got = await call(port, 'GET', `/api/dead-letters${query}`, who);
      expect(got.status, got.body).toBe(200);
      return (got.json()['deadLetters'] as { id: string }[]).map((d) => d.id).sort();
    };
    expect(await listed('admin')).toEqual([bill.id, bill2.id, ops.id, gone.id].sort());
    expect(await listed('billView')).toEqual([bill.id, bill2.id].sort());
    expect(await listed('admin', '?selector=team%3Dops')).toEqual([ops.id]);
    const item = (await call(port, 'GET', '/api/dead-letters?selector=team%3Dops', 'admin')).json()['deadLetters'] as unknown[];
    expect(item[0]).toEqual({
      id: ops.id,
      entry: 'ops-job',
      slot: '2026-11-20T03:00:00.000Z',
      taskId: ops.taskId,
      retryOf: ops.retryOf,
      attempts: 1,
      end: 'failure',
      exception: 'ValueError: boom',
      at: '2026-11-20T03:00:01.000Z',
    });

    const before = await snapshot();
    // Another team's item is answered as no item (404): its id tells nothing of ops's entry.
    for (const verb of ['replay', 'discard']) {
      const got = await call(port, 'POST', `/api/dead-letters/${ops.id}/${verb}`, 'billOp');
      expect(got.status, got.body).toBe(404);
      expect(got.json()['code']).toBe('DEAD_LETTER_NOT_FOUND');
      expect(got.body).not.toContain('ops-job');
    }
    for (const [path, who] of [
      // A viewer of its own team may read, not operate.
      [`/api/dead-letters/${bill.id}/replay`, 'billView'],
      // A selector that reaches past the scope is refused whole.
      ['/api/dead-letters/replay?selector=team', 'billOp'],
    ] as const) {
      const got = await call(port, 'POST', path, who);
      expect(got.status, `${path} ${got.body}`).toBe(403);
      // FORBIDDEN names the grant missing; API_FORBIDDEN is a token that may only read.
      expect(['FORBIDDEN', 'API_FORBIDDEN']).toContain(got.json()['code']);
    }
    expect((await call(port, 'POST', '/api/dead-letters/nope/replay', 'admin')).json()['code']).toBe('DEAD_LETTER_NOT_FOUND');
    // Its entry no longer runs: the leader could not publish it, so the item stays (discard it).
    const orphan = await call(port, 'POST', `/api/dead-letters/${gone.id}/replay`, 'admin');
    expect(orphan.status, orphan.body).toBe(404);
    expect(orphan.json()['code']).toBe('UNKNOWN_ENTRY');
    expect(orphan.json()['error']).toContain('discard them');
    expect((await call(port, 'POST', '/api/dead-letters/nope/discard', 'admin')).status).toBe(404);
    const bad = await call(port, 'POST', '/api/dead-letters/discard?selector=team%20in%20(', 'admin');
    expect(bad.status, bad.body).toBe(400);
    expect((await call(port, 'POST', '/api/dead-letters/discard', 'admin')).status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it("replays its own team's item once, through the leader, with the slot's message; discards through the client", async () => {
    const got = await call(port, 'POST', `/api/dead-letters/${bill.id}/replay`, 'billOp');
    expect([200, 202], got.body).toContain(got.status);
    const taskId = replayTaskId(bill.id);
    expect((got.json()['replayed'] as { id: string; taskId: string }[])[0]).toMatchObject({ id: bill.id, taskId, entry: 'bill-job' });
    expect(await ids()).not.toContain(bill.id);
    // Published once, to the entry's queue, under the replay's id with the slot's beat_scheduled_at.
    const published = await waitUntil(
      'the replay on the broker',
      async () => {
        const messages = await redis.lrange('q-bill', 0, -1);
        return messages.length > 0 ? messages : undefined;
      },
      10_000,
    );
    expect(published).toHaveLength(1);
    const headers = (JSON.parse(published[0]!) as { headers: Record<string, unknown> }).headers;
    expect(headers['id']).toBe(taskId);
    expect(String(headers['beat_scheduled_at'])).toContain('2026-11-20T03:00:00');
    // Asked again, it is no longer there: 404, nothing more published.
    expect((await call(port, 'POST', `/api/dead-letters/${bill.id}/replay`, 'admin')).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await redis.llen('q-bill')).toBe(1);

    // The client with a token, through /api: the token's scope, as the routes answer it.
    const scoped = await Entries.connect({ api: `http://127.0.0.1:${port}`, token: TOKENS.billOp.token });
    try {
      expect((await scoped.deadLetters()).map((d) => d.id)).toEqual([bill2.id]);
      await expect(scoped.discardDeadLetters(ops.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_FOUND' });
      await expect(scoped.replayDeadLetters({ selector: 'team' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    } finally {
      await scoped.close();
    }
    // The client: the same verbs, its grants the machine's (every role). Its selectors select on
    // the store's entries (these are the config file's, whose labels it does not read).
    const entries = await Entries.connect({ url: server.url(0), deployment: DEPLOYMENT });
    try {
      expect((await entries.deadLetters()).map((d) => d.id).sort()).toEqual([bill2.id, ops.id, gone.id].sort());
      await expect(entries.replayDeadLetters(gone.id)).rejects.toMatchObject({ code: 'UNKNOWN_ENTRY' });
      expect((await entries.discardDeadLetters(gone.id)).map((d) => d.id)).toEqual([gone.id]);
      const discarded = await entries.discardDeadLetters(ops.id, { note: 'not needed' });
      expect(discarded.map((d) => d.id)).toEqual([ops.id]);
      expect(await ids()).toEqual([bill2.id]);
      await expect(entries.discardDeadLetters(ops.id)).rejects.toMatchObject({ code: 'DEAD_LETTER_NOT_FOUND' });
    } finally {
      await entries.close();
    }
    const audit = (await call(port, 'GET', '/api/audit', 'admin')).json()['events'] as { action: string; who: string; taskId?: string }[];
    expect(audit.find((e) => e.action === 'dead-letter-replay')).toMatchObject({ who: 'bill-op', taskId });
    expect(audit.find((e) => e.action === 'dead-letter-discard')).toBeDefined();
  });
});
