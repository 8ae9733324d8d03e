/**
 * Issue 30, scenario 4: RedBeat entries and django rows deleted and created again start afresh,
 * never from the deleted one's state. Real `beat run` processes on a private Redis (and a private
 * PostgreSQL migrated by the test Django project); the entries are written by RedBeat's own format
 * (test/support/redbeat_client.py) and the Django ORM (test/support/django.ts); the oracle is the
 * queue list, read directly.
 *
 * - RedBeat: an every-2-s entry runs, is deleted, and is saved again 4.5 s later. The new one runs
 *   on its own grid, from the last_run_at RedBeat's save() gave it (RedBeat's due_at), and no slot
 *   between the delete and the re-creation goes out (the deleted entry's state would replay them).
 *   A run the leader had read of the deleted incarnation, reaching the script after the new one
 *   ran, is refused (superseded) and writes no state.
 * - django: a one-off row that ran, deleted and created again, runs once more; an every-2-s row
 *   deleted and created again 4.5 s later runs on its own grid (a full interval after it was first
 *   seen) and replays nothing of the gap.
 * - Audit (issue 31): a RedBeat key and a django row created, changed and deleted by their own code
 *   are in `beat audit --json`, who redbeat/django, create/update (the field diff)/delete.
 * - Forgetting (issue 31): a RedBeat key and a django row deleted at their source lose their history,
 *   finished summary and failure count at the next look; a django outage removes nothing.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { EVENTS } from '../../src/base/log-events.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { redbeatKeys } from '../../src/redbeat/keys.js';
import { RedBeatSource } from '../../src/redbeat/source.js';
import { decodeEntryState } from '../../src/redis/entry-state-codec.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';
import { BeatFleet, TempDir, fastSourcesYaml, logTimeMs, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { withMigratedDjango } from '../support/django-db.js';
import type { OrmRow } from '../support/django.js';
import { ENV } from '../support/messages.js';
import { runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const S = 1000;
const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const silent = createLogger({ level: 'silent' });

/** Waits until the wall clock passes `ms` (time itself is what the scenario needs to pass). */
const until = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms - Date.now())));

suite(
  `deleted and created again, a RedBeat entry or django row starts afresh (issue 30, scenario 4)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`,
  () => {
    const fleet = new BeatFleet();
    const dir = new TempDir();
    let server: PrivateRedis;
    let redis: Redis;

    beforeAll(async () => {
      if (!celery.ok) throw new Error(celery.problem);
      server = await startPrivateRedis();
      redis = new Redis(server.url(0));
    });

    afterAll(async () => {
      await fleet.killAll();
      redis?.disconnect();
      await server?.stop();
      dir.remove();
    });

    it('RedBeat: the entry saved again runs on its own grid, replays nothing of the gap, and a run of the deleted one is refused', async () => {
      const url = server.url(0);
      const queue = 'rb-inc';
      const deployment = 'rb-inc';
      const py = <T>(request: Record<string, unknown>): T =>
        JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, ...request })], { encoding: 'utf8' })) as T;
      const save = (lastRunMs?: number): void => {
        py({
          op: 'save',
          name: 'rb-tick',
          task: TASK,
          schedule: { interval: 2 },
          kwargs: { entry: 'rb-tick' },
          options: { queue },
          ...(lastRunMs === undefined ? {} : { last_run_at: lastRunMs / S }),
        });
      };
      save();
      const file = dir.write('redbeat.yaml', fastSourcesYaml(deployment, url, '{ redbeat: { keyPrefix: "redbeat:" } }'));
      const leader = fleet.spawn({ config: file, label: 'rb-leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
      const runs = (): Promise<QueuedRun[]> => readQueue(redis, queue).then((all) => all.filter((r) => r.entry === 'rb-tick'));
      await waitUntil(
        '2 runs of rb-tick',
        async () => ((await runs()).length >= 2 ? true : undefined),
        10_000,
        () => fleet.dump(),
      );

      // What the leader holds of the first incarnation, as its catalog read it.
      const keys = schedulerKeys('tsbeat', deployment);
      const catalog = new EntryCatalog({
        sources: [new RedBeatSource({ client: redis, keys: redbeatKeys('redbeat:') })],
        logger: silent,
        intervalMs: 60_000,
        defaults: { zone: 'UTC', deployment: 'default' },
        staticNames: new Set(),
      });
      await catalog.load();
      const first = catalog.find('rb-tick');

      // RedBeat sends no message: the leader sees the delete at its next look (maxInterval), and runs
      // it until then (a publish in flight as it logs the change may still go out). The gap that
      // matters starts there.
      py({ op: 'delete', name: 'rb-tick' });
      const removal = await waitUntil(
        'the leader to drop rb-tick',
        async () => leader.events(EVENTS.entriesChanged).find((l) => JSON.stringify(l['examples']).includes('-rb-tick')),
        10_000,
      );
      const deletedMs = logTimeMs(removal) + S;
      await until(deletedMs + 4500);
      // Saved again with a last_run_at (what RedBeat's save() stores, Celery's ScheduleEntry's now)
      // a second off the deleted one's phase: RedBeat's due_at is last_run_at + 2 s, so the new
      // entry's slots are on its own grid, and a slot on the old grid is the old state replayed.
      const oldPhase = (all0: readonly QueuedRun[]): number => (((all0[0]?.slotMs ?? 0) % (2 * S)) + 2 * S) % (2 * S);
      const phase = oldPhase(await runs());
      const nowMs = Date.now();
      const lastRunMs = nowMs - ((((nowMs - phase - S) % (2 * S)) + 2 * S) % (2 * S));
      save(lastRunMs);
      await waitUntil(
        '2 runs of rb-tick saved again',
        async () => ((await runs()).filter((r) => r.slotMs > deletedMs).length >= 2 ? true : undefined),
        15_000,
        () => fleet.dump(),
      );
      const all = await runs();
      const iso = (rs: readonly QueuedRun[]): string[] => rs.map((r) => new Date(r.slotMs).toISOString());
      const again = all.filter((r) => r.slotMs > deletedMs);
      // Nothing of the gap, and only slots of its own grid: last_run_at + 2 s, + 4 s, …
      expect(iso(again.filter((r) => r.slotMs <= lastRunMs))).toEqual([]);
      expect(iso(again.filter((r) => (r.slotMs - lastRunMs) % (2 * S) !== 0))).toEqual([]);
      expect(again.length).toBeGreaterThanOrEqual(2);

      expect(first?.incarnation).toMatch(/^r\d+$/);
      // A run of the deleted incarnation (held by a leader paused since) reaching the script now is
      // refused, and writes nothing: the state stays the new incarnation's.
      const before = await redis.hget(keys.state, 'rb-tick');
      const stateNow = decodeEntryState(before ?? '');
      expect(stateNow).toMatchObject({ incarnation: expect.stringMatching(/^r\d+$/) as unknown });
      expect(stateNow).not.toMatchObject({ incarnation: first?.incarnation });
      const config = parseConfig({ name: deployment, broker: { url } }, 'entry-incarnations.test');
      const slotMs = Math.floor(Date.now() / S) * S + 10 * S;
      const message = renderTaskMessage(compileMessageTemplate(first!, config, ENV), {
        taskId: slotTaskId(deployment, 'rb-tick', slotMs),
        slotMs,
        nowMs: slotMs,
      });
      const token = await redis.get(keys.fence);
      const transport = new RedisTransport({ url, transportOptions: {}, logger: silent });
      try {
        const dispatcher = new RedisFencedDispatcher(transport, keys, silent, 60_000);
        const result = await dispatcher.dispatch([{ entry: first!, slotMs, message }], token ?? '', slotMs);
        expect(result).toEqual({ fenced: false, outcomes: ['superseded'] });
      } finally {
        await transport.close();
      }
      const after = decodeEntryState((await redis.hget(keys.state, 'rb-tick')) ?? '');
      expect(after).toMatchObject({ incarnation: stateNow === 'unreadable' ? undefined : stateNow.incarnation });
      expect(after === 'unreadable' ? undefined : after.slotMs).toBeLessThan(slotMs);
      await catalog.stop();
      await fleet.killAll();
    }, 60_000);

    it('RedBeat: a key saved, changed and deleted by RedBeat\'s code is in the audit trail, who "redbeat", with its diff (issue 31)', async () => {
      const url = server.url(0);
      const deployment = 'rb-audit';
      const py = (request: Record<string, unknown>): unknown =>
        JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, prefix: 'rbaudit:', ...request })], { encoding: 'utf8' }));
      const save = (kwargs: Record<string, unknown>): unknown =>
        py({ op: 'save', name: 'rb-audited', task: TASK, schedule: { interval: 60 }, kwargs, options: { queue: 'rb-audit' } });
      const file = dir.write('rb-audit.yaml', fastSourcesYaml(deployment, url, '{ redbeat: { keyPrefix: "rbaudit:" } }'));
      const leader = fleet.spawn({ config: file, label: 'rb-audit-leader' });
      await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
      // A standby sees every change too: only the leader records them.
      const standby = fleet.spawn({ config: file, label: 'rb-audit-standby' });
      await standby.waitForEvent(EVENTS.standby, 30_000);
      const seen = async (action: string): Promise<LogLine> =>
        waitUntil(
          `the leader's beat.audit ${action} of rb-audited`,
          () => leader.events(EVENTS.audit).find((l) => l['entry'] === 'rb-audited' && l['action'] === action),
          10_000,
          () => fleet.dump(),
        );
      save({ size: 1 });
      await seen('create');
      save({ size: 2 });
      await seen('update');
      py({ op: 'delete', name: 'rb-audited' });
      await seen('delete');
      const audit = await runBeatCli(['audit', 'rb-audited', '--json', '--config', file]);
      expect(audit.code, audit.stderr).toBe(0);
      const events = JSON.parse(audit.stdout) as {
        who: string;
        action: string;
        changes: { path: string; before?: string; after?: string }[];
      }[];
      expect(events.map((e) => `${e.who} ${e.action}`)).toEqual(['redbeat delete', 'redbeat update', 'redbeat create']);
      expect(events[1]?.changes).toEqual([{ path: 'kwargs.size', before: '1', after: '2' }]);
      expect(events[2]?.changes).toContainEqual({ path: 'task', after: JSON.stringify(TASK) });
      expect(events[0]?.changes).toContainEqual({ path: 'kwargs.size', before: '2' });
      expect(standby.events(EVENTS.audit)).toEqual([]);
      await fleet.killAll();
    }, 60_000);

    it('django: a row created, edited and deleted through the ORM is in the audit trail, who "django", with its diff (issue 31)', async () => {
      await withMigratedDjango(async ({ url: dbUrl, orm }) => {
        const file = dir.write('dj-audit.yaml', fastSourcesYaml('dj-audit', server.url(0), `{ django: { url: "${dbUrl}" } }`));
        const leader = fleet.spawn({ config: file, label: 'dj-audit-leader' });
        await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
        const seen = async (action: string): Promise<LogLine> =>
          waitUntil(
            `the leader's beat.audit ${action} of dj-audited`,
            () => leader.events(EVENTS.audit).find((l) => l['entry'] === 'dj-audited' && l['action'] === action),
            10_000,
            () => fleet.dump(),
          );
        const row = { name: 'dj-audited', task: TASK, interval: { every: 60, period: 'seconds' }, queue: 'dj-audit' };
        await orm().call({ op: 'create', ...row, kwargs: { size: 1 } });
        await seen('create');
        await orm().call({ op: 'edit', name: 'dj-audited', kwargs: { size: 2 } });
        await seen('update');
        await orm().call({ op: 'delete', name: 'dj-audited' });
        await seen('delete');
        const audit = await runBeatCli(['audit', 'dj-audited', '--json', '--config', file]);
        expect(audit.code, audit.stderr).toBe(0);
        const events = JSON.parse(audit.stdout) as {
          who: string;
          action: string;
          changes: { path: string; before?: string; after?: string }[];
        }[];
        expect(events.map((e) => `${e.who} ${e.action}`)).toEqual(['django delete', 'django update', 'django create']);
        expect(events[1]?.changes).toEqual([{ path: 'kwargs.size', before: '1', after: '2' }]);
        expect(events[2]?.changes).toContainEqual({ path: 'task', after: JSON.stringify(TASK) });
        expect(events[0]?.changes).toContainEqual({ path: 'kwargs.size', before: '2' });
        await fleet.killAll();
      });
    }, 90_000);

    it('deleted at its source, a RedBeat entry or django row loses what tsbeat kept of it; a django outage removes nothing (issue 31)', async () => {
      const url = server.url(0);
      await withMigratedDjango(async ({ pg, url: dbUrl, orm, reopen }) => {
        const sched = { task: TASK, options: { queue: 'forget' } };
        execFileSync(PYTHON, [
          CLIENT,
          JSON.stringify({ url, prefix: 'rbforget:', op: 'save', name: 'rb-gone', schedule: { interval: 60 }, ...sched }),
        ]);
        await orm().call({ op: 'create', name: 'dj-gone', task: TASK, interval: { every: 60, period: 'seconds' }, queue: 'forget' });
        const file = dir.write(
          'forget.yaml',
          fastSourcesYaml('forget', url, `{ redbeat: { keyPrefix: "rbforget:" }, django: { url: "${dbUrl}" } }`),
        );
        const leader = fleet.spawn({ config: file, label: 'forget-leader' });
        await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
        // What the leader keeps of an entry's runs (a history, a finished summary, a failure count), as run-history.lua writes it.
        const keys = schedulerKeys('tsbeat', 'forget');
        const kept = async (name: string): Promise<number> =>
          (await redis.exists(keys.runs(name))) +
          (await redis.hexists(keys.runsFinished, name)) +
          (await redis.hexists(keys.failures, name));
        for (const name of ['rb-gone', 'dj-gone']) {
          await redis.lpush(keys.runs(name), '{}');
          await redis.hset(keys.runsFinished, name, '{}');
          await redis.hset(keys.failures, name, '1');
        }
        // An outage is not a delete: nothing goes while the database is down, for many looks.
        await pg.halt();
        await leader.waitForEvent(EVENTS.entriesSyncFailed, 10_000);
        await until(Date.now() + 2 * S);
        expect([await kept('rb-gone'), await kept('dj-gone')]).toEqual([3, 3]);
        await pg.start();
        await reopen();
        execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, prefix: 'rbforget:', op: 'delete', name: 'rb-gone' })]);
        await orm().call({ op: 'delete', name: 'dj-gone' });
        await waitUntil(
          'what tsbeat kept of rb-gone and dj-gone to go',
          async () => ((await kept('rb-gone')) + (await kept('dj-gone')) === 0 ? true : undefined),
          10_000,
          () => fleet.dump(),
        );
        await fleet.killAll();
      });
    }, 90_000);

    it('django: a one-off row created again runs once more; an interval row created again runs on its own grid and replays nothing', async () => {
      await withMigratedDjango(async ({ url: dbUrl, orm }) => {
        const queue = 'dj-inc';
        const soon = (ms: number): string => new Date(Date.now() + ms).toISOString();
        await orm().call({ op: 'create', name: 'tick', task: TASK, interval: { every: 2, period: 'seconds' }, queue, args: ['tick'] });
        const file = dir.write('django.yaml', fastSourcesYaml('dj-inc', server.url(0), `{ django: { url: "${dbUrl}" } }`));
        const leader = fleet.spawn({ config: file, label: 'dj-leader' });
        await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
        // Clocked a little ahead of the leader seeing it (a clocked instant before a row is first seen is passed over).
        await orm().call({ op: 'create', name: 'once', task: TASK, clocked: soon(2000), one_off: true, queue, args: ['once'] });
        const runsOf = async (name: string): Promise<QueuedRun[]> => (await readQueue(redis, queue)).filter((r) => r.entry === name);
        await waitUntil(
          'the one-off run, written back (the row disabled), and 2 runs of tick',
          async () =>
            (await runsOf('once')).length === 1 &&
            !(await orm().call<OrmRow>({ op: 'get', name: 'once' })).enabled &&
            (await runsOf('tick')).length >= 2
              ? true
              : undefined,
          15_000,
          () => fleet.dump(),
        );

        await orm().call({ op: 'delete', name: 'once' });
        await orm().call({ op: 'delete', name: 'tick' });
        await orm().call({ op: 'create', name: 'once', task: TASK, clocked: soon(2000), one_off: true, queue, args: ['once'] });
        // The leader sees the delete at its next look; the gap that matters starts there.
        const removal = await waitUntil(
          'the leader to drop tick',
          async () => leader.events(EVENTS.entriesChanged).find((l) => JSON.stringify(l['examples']).includes('"-tick"')),
          10_000,
        );
        const deletedMs = logTimeMs(removal);
        await until(deletedMs + 4500);
        const createdMs = Date.now();
        await orm().call({ op: 'create', name: 'tick', task: TASK, interval: { every: 2, period: 'seconds' }, queue, args: ['tick'] });
        await waitUntil(
          'the one-off row created again to run, and 2 runs of tick created again',
          async () =>
            (await runsOf('once')).length >= 2 && (await runsOf('tick')).filter((r) => r.slotMs > deletedMs).length >= 2 ? true : undefined,
          15_000,
          () => fleet.dump(),
        );
        expect((await runsOf('once')).length).toBe(2);
        const tick = await runsOf('tick');
        expect(tick.filter((r) => r.slotMs > deletedMs && r.slotMs < createdMs).map((r) => new Date(r.slotMs).toISOString())).toEqual([]);
        // Its own grid: a new interval row waits one interval from when it was first seen.
        const again = tick.filter((r) => r.slotMs > deletedMs);
        expect(again[0]?.slotMs).toBeGreaterThanOrEqual(createdMs + 2 * S);
        expect((again[1]?.slotMs ?? 0) - (again[0]?.slotMs ?? 0)).toBe(2 * S);
        await fleet.killAll();
      });
    }, 90_000);
  },
);
