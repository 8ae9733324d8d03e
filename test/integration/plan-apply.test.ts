/**
 * `beat plan` and `beat apply` (owners, issue 52) against a running `beat run --http` leader on a
 * private redis-server: the plan names every kind of difference; an apply creates, edits and
 * prunes only its owner's entries (100 hand-made ones and another owner's left byte for byte); a
 * name another owner holds and a digest taken before a change are refused with nothing written;
 * and an apply of 50,000 entries killed in the middle (the apply's own process, and the leader
 * beside it) leaves all of them or none: killed at the first instant any of its entries can be read,
 * all are there (a write in chunks fails it with 10,000).
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { builtCli, repoRoot } from '../support/cli.js';
import { httpPortOf, httpRequest, killCliChildren, runBeatCli, startPrivateRedis } from '../support/ops.js';
import { Entries } from '../../src/index.js';
import type { PlanLoad } from '../../src/control/entry-plan.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const DEPLOYMENT = 'plans';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);
const TOKEN = 'plan-token-0123456789abcdef';

interface PlanJson {
  owner: string;
  digest: string;
  counts: Record<'add' | 'change' | 'remove' | 'unchanged' | 'conflict', number>;
  entries: {
    name: string;
    action: string;
    changes?: { path: string; before?: string; after?: string }[];
    kind?: { before: string; after: string };
    firesBefore?: string[];
    firesAfter?: string[];
    dropped?: string[];
    heldBy?: string | null;
  }[];
}

describe('beat plan and beat apply, with a running leader', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let config = '';
  let leader: BeatProcess;
  let port = 0;
  /** A POST of JSON to the leader's API. */
  const post = async (path: string, body: unknown, token: string | null = TOKEN, note?: string) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (note !== undefined) headers['x-beat-note'] = note;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const beat = (...args: string[]) => runBeatCli([...args, '--config', config], { timeoutMs: 120_000 });
  const entriesFile = (name: string, entries: Record<string, unknown>): string => dir.write(name, entries);
  /** The raw records of the names given (or all), as Redis holds them. */
  const records = async (): Promise<Record<string, string>> => redis.hgetall(keys.entries);
  const ownerOfRecord = (text: string): string | undefined => (JSON.parse(text) as { entry: { owner?: string } }).entry.owner;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    config = dir.write(
      'beat.yaml',
      [
        `name: ${DEPLOYMENT}`,
        `broker: { url: "${server.url(0)}" }`,
        'maxInterval: 1s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  static-one: { task: ${TASK}, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    leader = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    // 100 entries made by hand (no owner), and one of another tool's.
    const hand: Record<string, unknown> = {};
    for (let i = 0; i < 100; i += 1) hand[`hand-${String(i).padStart(3, '0')}`] = { task: TASK, schedule: { cron: `${i % 60} * * * *` } };
    const imported = await beat('entries', 'import', entriesFile('hand.yaml', hand));
    expect(imported.code, imported.stderr).toBe(0);
    const other = await beat(
      'apply',
      '--entries',
      entriesFile('other.yaml', { 'other-x': { task: TASK, schedule: 3600 } }),
      '--owner',
      'other',
    );
    expect(other.code, other.stderr).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('plan names every kind of difference (add, change with its diff and kind, remove with the state it drops, unchanged, conflict) and exits 0 / 3 / 2', async () => {
    const first = entriesFile('first.yaml', {
      'gx-change': { task: TASK, schedule: { cron: '*/5 * * * *' }, options: { queue: 'gx' } },
      'gx-same': { task: TASK, schedule: { cron: '0 4 * * *' } },
      // Every second, so that the leader runs it and keeps a state that its removal drops.
      'gx-remove': { task: TASK, schedule: 1, options: { queue: 'gx-remove' } },
    });
    const empty = await beat('plan', '--entries', entriesFile('none.yaml', {}), '--owner', 'gx');
    expect(empty.code, empty.stderr).toBe(0);
    const planned = await beat('plan', '--entries', first, '--owner', 'gx');
    expect(planned.code, planned.stderr).toBe(3);
    expect(planned.stdout).toContain('+ gx-change (add)');
    const applied = await beat('apply', '--entries', first, '--owner', 'gx');
    expect(applied.code, applied.stderr).toBe(0);
    expect((await beat('plan', '--entries', first, '--owner', 'gx')).code).toBe(0);
    await waitUntil(
      'the state of gx-remove',
      async () => ((await redis.hexists(keys.state, 'gx-remove')) === 1 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );

    const second = {
      'gx-change': { task: TASK, schedule: { timedelta: { minutes: 5 } }, options: { queue: 'gx2' } },
      'gx-same': { task: TASK, schedule: { cron: '0 4 * * *' } },
      'gx-add': { task: TASK, schedule: { cron: '0 * * * *' } },
    };
    const changes = await beat('plan', '--entries', entriesFile('second.yaml', second), '--owner', 'gx', '--json');
    expect(changes.code, changes.stderr).toBe(3);
    const plan = JSON.parse(changes.stdout) as PlanJson;
    expect(plan.counts).toEqual({ add: 1, change: 1, remove: 1, unchanged: 1, conflict: 0 });
    const by = new Map(plan.entries.map((e) => [e.name, e]));
    expect(by.get('gx-add')).toMatchObject({ action: 'add' });
    expect(by.get('gx-add')?.firesAfter).toHaveLength(3);
    const changed = by.get('gx-change');
    expect(changed?.action).toBe('change');
    expect(changed?.kind).toEqual({ before: 'cron', after: 'interval' });
    expect(changed?.changes).toEqual(
      expect.arrayContaining([
        { path: 'options.queue', before: '"gx"', after: '"gx2"' },
        { path: 'schedule.cron', before: '"*/5 * * * *"' },
        { path: 'schedule.timedelta.minutes', after: '5' },
      ]),
    );
    expect(changed?.firesBefore?.every((f) => /:(00|05|10|15|20|25|30|35|40|45|50|55):00(\.000)?[+Z]/.test(f))).toBe(true);
    expect(changed?.firesAfter).toHaveLength(3);
    const removed = by.get('gx-remove');
    expect(removed?.action).toBe('remove');
    expect(removed?.dropped).toEqual(expect.arrayContaining(['state (last run, next slot)', 'run history']));
    expect(by.get('gx-same')).toMatchObject({ action: 'unchanged' });

    // The same file naming a hand-made entry and another owner's: a conflict each, exit 2.
    const conflicting = await beat(
      'plan',
      '--entries',
      entriesFile('conflicting.yaml', { ...second, 'hand-007': { task: TASK, schedule: 60 }, 'other-x': { task: TASK, schedule: 60 } }),
      '--owner',
      'gx',
      '--json',
    );
    expect(conflicting.code, conflicting.stderr).toBe(2);
    const withConflicts = JSON.parse(conflicting.stdout) as PlanJson;
    expect(withConflicts.entries.filter((e) => e.action === 'conflict')).toEqual([
      { name: 'hand-007', action: 'conflict', heldBy: null, version: expect.any(Number) as number },
      { name: 'other-x', action: 'conflict', heldBy: 'other', version: expect.any(Number) as number },
    ]);
    // Wrapped at the width, its follow-on lines indented: read as the one line it is.
    expect(conflicting.stderr.replace(/\n {2}/g, ' ')).toContain('beat apply would be refused');
  }, 60_000);

  it('apply creates, edits and prunes only its owner’s entries: 100 hand-made entries and another owner’s are left byte for byte; one audit event', async () => {
    const before = await records();
    const untouched = Object.fromEntries(Object.entries(before).filter(([, text]) => ownerOfRecord(text) !== 'ga'));
    expect(Object.keys(untouched).filter((n) => n.startsWith('hand-'))).toHaveLength(100);
    const v1 = { 'ga-1': { task: TASK, schedule: 3600 }, 'ga-2': { task: TASK, schedule: 7200 }, 'ga-3': { task: TASK, schedule: 60 } };
    expect((await beat('apply', '--entries', entriesFile('ga1.yaml', v1), '--owner', 'ga')).code).toBe(0);
    const v2 = { 'ga-1': { task: TASK, schedule: 1800 }, 'ga-4': { task: TASK, schedule: 60 } };
    const applied = await beat('apply', '--entries', entriesFile('ga2.json', v2), '--owner', 'ga', '--note', 'commit 1234abc');
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('1 added, 1 changed, 2 removed, 0 unchanged');
    const after = await records();
    const mine = Object.entries(after).filter(([, text]) => ownerOfRecord(text) === 'ga');
    expect(mine.map(([n]) => n).sort()).toEqual(['ga-1', 'ga-4']);
    expect((JSON.parse(after['ga-1'] as string) as { entry: unknown }).entry).toEqual({ task: TASK, schedule: 1800, owner: 'ga' });
    for (const [name, text] of Object.entries(untouched)) expect(after[name], name).toBe(text);
    const audit = await redis.xrevrange(keys.audit, '+', '-', 'COUNT', 1);
    const fields = audit[0]?.[1] ?? [];
    const field = (k: string) => fields[fields.indexOf(k) + 1];
    expect(field('action')).toBe('apply');
    expect(field('note')).toBe('commit 1234abc');
    const changes = JSON.parse(field('changes') ?? '[]') as { path: string; after: string }[];
    expect(changes).toEqual(
      expect.arrayContaining([
        { path: 'owner', after: 'ga' },
        { path: 'added', after: '1' },
        { path: 'removed', after: '2' },
      ]),
    );
    expect(changes.find((c) => c.path === 'digest')?.after).toMatch(/^sha256:[0-9a-f]{64}$/);
    // entries list shows the owner; the leader runs the owner's entries as any other, and /status shows whose they are.
    const listed = await beat('entries', 'list');
    expect(listed.stdout).toMatch(/ga-4 .* ga\s*$/m);
    expect(listed.stdout).toMatch(/hand-000 .* -\s*$/m);
    const shown = await waitUntil(
      '/status shows ga-4',
      async () => {
        const status = JSON.parse((await httpRequest(port, '/status')).body) as { entries: { name: string; owner: string | null }[] };
        const found = status.entries.find((e) => e.name === 'ga-4');
        return found === undefined ? undefined : status;
      },
      10_000,
      () => fleet.dump(),
    );
    expect(shown.entries.find((e) => e.name === 'ga-4')?.owner).toBe('ga');
    // An entry view names every field: an entry no owner holds says so with null.
    expect(shown.entries.find((e) => e.name === 'hand-000')?.owner).toBeNull();
  }, 60_000);

  it('an owner conflict is refused (exit 2, OWNER_CONFLICT) with nothing written', async () => {
    const version = await redis.get(keys.entriesVersion);
    const before = await records();
    const refused = await beat(
      'apply',
      '--entries',
      entriesFile('takeover.yaml', { 'gc-new': { task: TASK, schedule: 60 }, 'hand-042': { task: TASK, schedule: 60 } }),
      '--owner',
      'gc',
    );
    expect(refused.code, refused.stdout).toBe(2);
    expect(refused.stderr).toContain('"hand-042" (no owner)');
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await records()).toEqual(before);
  });

  it('an owner that would pass for another (a hidden U+034F, a fullwidth letter, a Cyrillic one) is refused by the CLI, the API and the client, with nothing written', async () => {
    const version = await redis.get(keys.entriesVersion);
    const file = entriesFile('lookalike.yaml', { 'look-1': { task: TASK, schedule: 60 } });
    for (const owner of ['bil\u034fling', '\uff42illing', 'bil\u04cfing']) {
      for (const command of ['plan', 'apply']) {
        const refused = await beat(command, '--entries', file, '--owner', owner);
        expect(refused.code, `${command} ${owner}: ${refused.stdout}`).toBe(2);
        expect(refused.stderr).toContain('an entry name must be a name a person can tell apart');
      }
      const api = await post('/api/apply', { owner, entries: { 'look-1': { task: TASK, schedule: 60 } } });
      expect(api.status, owner).toBe(400);
      expect(JSON.stringify(api.body)).toContain('a person can tell apart');
    }
    const client = await Entries.connect({ url: server.url(0), deployment: DEPLOYMENT });
    try {
      await expect(client.apply('bil\u034fling', { 'look-1': { task: TASK, schedule: 60 } })).rejects.toThrow('U+034F');
    } finally {
      await client.close();
    }
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await redis.hexists(keys.entries, 'look-1')).toBe(0);
  });

  it('a digest taken before a change is refused (exit 2, PLAN_STALE) with nothing written; the fresh one applies', async () => {
    const file = entriesFile('gd.yaml', { 'gd-1': { task: TASK, schedule: 60 }, 'gd-2': { task: TASK, schedule: 120 } });
    expect((await beat('apply', '--entries', file, '--owner', 'gd')).code).toBe(0);
    const next = entriesFile('gd2.yaml', { 'gd-1': { task: TASK, schedule: 90 } });
    const plan = JSON.parse((await beat('plan', '--entries', next, '--owner', 'gd', '--json')).stdout) as PlanJson;
    // Someone edits an entry of the owner after the plan was reviewed.
    const edited = await beat('entries', 'set', 'gd-2', '--schedule', '300');
    expect(edited.code, edited.stderr).toBe(0);
    const version = await redis.get(keys.entriesVersion);
    const stale = await beat('apply', '--entries', next, '--owner', 'gd', '--plan-digest', plan.digest);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain('changed since the plan');
    expect(await redis.get(keys.entriesVersion)).toBe(version);
    expect(await redis.hexists(keys.entries, 'gd-2')).toBe(1);
    const fresh = JSON.parse((await beat('plan', '--entries', next, '--owner', 'gd', '--json')).stdout) as PlanJson;
    expect(fresh.digest).not.toBe(plan.digest);
    expect((await beat('apply', '--entries', next, '--owner', 'gd', '--plan-digest', fresh.digest)).code).toBe(0);
    expect(await redis.hexists(keys.entries, 'gd-2')).toBe(0);
  });

  it('POST /api/plan and /api/apply (write token), and the client: the same plan, 409 on a conflict or a stale digest, one atomic apply', async () => {
    const entries = { 'api-1': { task: TASK, schedule: 60 }, 'api-2': { task: TASK, schedule: { cron: '0 5 * * *' } } };
    expect((await post('/api/plan', { owner: 'api', entries }, null)).status).toBe(401);
    const planned = await post('/api/plan', { owner: 'api', entries });
    expect(planned.status, JSON.stringify(planned.body)).toBe(200);
    expect(planned.body['counts']).toEqual({ add: 2, change: 0, remove: 0, unchanged: 0, conflict: 0 });
    // The load of the owner's entries now (none held) and after: a minute's run and one at 05:00, over a day.
    const load = planned.body['load'] as PlanLoad;
    expect(load.horizonMs).toBe(86_400_000);
    expect(load.before).toMatchObject({ total: 0, capped: 0 });
    expect(load.after.total).toBeGreaterThanOrEqual(1440);
    expect(load.after.total).toBeLessThanOrEqual(1442);
    // A minute each, the first one partial (now is not on a minute).
    expect([1440, 1441]).toContain(load.after.perMinute.length);
    expect(load.after.peakMinute.runs).toBe(2);
    expect(load.after.peakMinute.at).toMatch(/T05:00:00\.000Z$/);
    const week = await post('/api/plan?horizon=7d', { owner: 'api', entries });
    expect(week.status, JSON.stringify(week.body)).toBe(200);
    expect((week.body['load'] as PlanLoad).horizonMs).toBe(7 * 86_400_000);
    expect([7 * 1440, 7 * 1440 + 1]).toContain((week.body['load'] as PlanLoad).after.perMinute.length);
    const tooLong = await post('/api/plan?horizon=8d', { owner: 'api', entries });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body['code']).toBe('API_BAD_REQUEST');
    expect(String(tooLong.body['error'])).toContain(
      'horizon must be a duration between 60 s and 7 days (604,800 s), such as 24h or 7d, got "8d"',
    );
    const bad = await post('/api/plan', { owner: 'api', entries: { 'api-bad': { task: TASK, schedule: { cron: '61 * * * *' } } } });
    expect(bad.status).toBe(400);
    expect(bad.body['code']).toBe('ENTRY_INVALID');
    const conflict = await post('/api/apply', { owner: 'api', entries: { ...entries, 'hand-001': { task: TASK, schedule: 60 } } });
    expect(conflict.status).toBe(409);
    expect(conflict.body['code']).toBe('OWNER_CONFLICT');
    expect(await redis.hexists(keys.entries, 'api-1')).toBe(0);
    const stale = await post('/api/apply', { owner: 'api', entries, planDigest: 'sha256:0' });
    expect(stale.status).toBe(409);
    expect(stale.body['code']).toBe('PLAN_STALE');
    const applied = await post('/api/apply', { owner: 'api', entries, planDigest: planned.body['digest'] }, TOKEN, 'pr 42');
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    expect(applied.body['counts']).toMatchObject({ add: 2 });
    expect(ownerOfRecord((await redis.hget(keys.entries, 'api-2')) ?? '{}')).toBe('api');

    // The client: the same plan from the same store, and an apply that prunes api-2.
    const client = await Entries.connect({ url: server.url(0), deployment: DEPLOYMENT });
    try {
      const plan = await client.plan('api', { 'api-1': { task: TASK, schedule: 60 } });
      expect(plan.counts).toEqual({ add: 0, change: 0, remove: 1, unchanged: 1, conflict: 0 });
      // The client's plan counts the load too: api-2's run at 05:00 gone after.
      expect(plan.load?.before.total).toBe((plan.load?.after.total ?? 0) + 1);
      expect((await client.plan('api', {}, { horizonMs: 3_600_000 })).load?.after).toMatchObject({ total: 0 });
      await expect(client.plan('api', {}, { horizonMs: 8 * 86_400_000 })).rejects.toMatchObject({ code: 'USAGE' });
      await expect(client.apply('api', { 'hand-002': { task: TASK, schedule: 60 } })).rejects.toMatchObject({ code: 'OWNER_CONFLICT' });
      const done = await client.apply('api', { 'api-1': { task: TASK, schedule: 60 } }, { planDigest: plan.digest, note: 'client' });
      expect(done.counts.remove).toBe(1);
      expect(await redis.hexists(keys.entries, 'api-2')).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('an apply of 50,000 entries killed in the middle (its process, and the leader) leaves all of them or none', async () => {
    const n = 50_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i += 1)
      lines.push(
        JSON.stringify({ name: `bulk-${String(i).padStart(5, '0')}`, entry: { task: TASK, schedule: { cron: `${i % 60} 3 * * *` } } }),
      );
    const file = dir.write('bulk.ndjson', `${lines.join('\n')}\n`);
    const counted = async (): Promise<number> => {
      let count = 0;
      for (const text of Object.values(await records())) if (ownerOfRecord(text) === 'bulk') count += 1;
      return count;
    };
    // How long a whole apply takes here, then kills spread over it.
    const started = Date.now();
    const whole = await beat('apply', '--entries', file, '--owner', 'bulk');
    expect(whole.code, whole.stderr).toBe(0);
    const fullMs = Date.now() - started;
    expect(await counted()).toBe(n);
    const gone = await beat('apply', '--entries', entriesFile('bulk-none.yaml', {}), '--owner', 'bulk');
    expect(gone.code, gone.stderr).toBe(0);
    expect(await counted()).toBe(0);
    /**
     * Starts the apply and kills it (and, once, the leader): after `delayMs`, or, with `atFirstSight`,
     * as soon as any entry of the owner can be read. Redis answers no read while a script runs, so a
     * write in several steps would be caught between two of them with some entries and not others.
     */
    const killedApply = async (delayMs: number, atFirstSight: boolean, killLeader: boolean): Promise<number> => {
      const child = spawn(process.execPath, [builtCli, 'apply', '--entries', file, '--owner', 'bulk', '--config', config], {
        cwd: repoRoot,
        stdio: 'ignore',
      });
      let exited = false;
      const exit = new Promise((resolve) => child.once('exit', resolve)).then(() => (exited = true));
      if (atFirstSight) {
        while (!exited && (await redis.hexists(keys.entries, 'bulk-00000')) === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      } else {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
      child.kill('SIGKILL');
      if (killLeader) for (const p of fleet.all) if (p.alive) p.child.kill('SIGKILL');
      await exit;
      return counted();
    };
    const reset = async (): Promise<void> => {
      const emptied = await beat('apply', '--entries', entriesFile('bulk-reset.yaml', {}), '--owner', 'bulk');
      expect(emptied.code, emptied.stderr).toBe(0);
    };
    for (const fraction of [0.3, 0.6]) {
      const count = await killedApply(fullMs * fraction, false, false);
      expect([0, n], `after a kill at ${Math.round(fullMs * fraction)} ms`).toContain(count);
      if (count === n) await reset();
    }
    // Killed at the first instant any of it is visible, the leader with it: all of it is there.
    expect(await killedApply(0, true, true)).toBe(n);
    // The hand-made entries are all there.
    expect(Object.keys(await records()).filter((k) => k.startsWith('hand-'))).toHaveLength(100);
  }, 240_000);
});
