/**
 * `beat run` on django-celery-beat's tables, against the real things: a private PostgreSQL migrated
 * by the test Django project, the shared scenario of ORM changes under a leader and a standby with a
 * Celery worker (test/support/django-run.ts; django-run-mariadb.test.ts runs it on MariaDB), then
 * one-off rows and run counts held to DatabaseScheduler's own, and the admin's add form.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { LogLine } from '../support/beat-process.js';
import { BeatFleet, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import type { CeleryProcess } from '../support/celery.js';
import { DjangoOrm, manage, startDatabaseScheduler } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { EDIT_TO_EFFECT_MS, TASK, changedAfter, executedRuns, ormChangesScenario } from '../support/django-run.js';
import type { Executed } from '../support/django-run.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

describe('beat run on django-celery-beat tables (PostgreSQL, leader and standby, a Celery worker)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const pg = new PrivatePostgres(25433);
  let redisServer: PrivateRedis;
  let redis: Redis;
  let orm: DjangoOrm;
  const workers: CeleryProcess[] = [];
  const dbUrl = pg.url('django');

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    redis = new Redis(redisServer.url(1));
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    for (const worker of workers) await worker.stop();
    await orm?.close();
    redis?.disconnect();
    await redisServer?.stop();
    await pg.stop();
    dir.remove();
  });

  const executed = (): Promise<Executed[]> => executedRuns(redis);

  it('follows ORM creates, edits, disables and deletes within 1.5 s, writes runs back, and publishes nothing twice across a SIGKILL', async () => {
    await ormChangesScenario({ name: 'dj', fleet, dir, redisServer, redis, orm, dbUrl, workers });
  }, 120_000);

  it("leaves a one-off task's row and a task's run count as django-celery-beat's own DatabaseScheduler does", async () => {
    await fleet.killAll();
    // The reference: Debian's DatabaseScheduler on the same tables, publishing to a DB no worker reads.
    const refBroker = new Redis(redisServer.url(2));
    // A retry (vitest.config.ts) starts from what the failed attempt left: its rows and messages.
    for (const name of ['ref-once', 'ref-tick', 'ref-later', 'ts-once', 'ts-tick', 'ts-later']) {
      await orm.call({ op: 'delete', name }).catch(() => undefined);
    }
    await refBroker.flushdb();
    const soon = new Date(Date.now() + 1500).toISOString();
    await orm.call({ op: 'create', name: 'ref-once', task: TASK, clocked: soon, one_off: true, args: ['ref-once'] });
    await orm.call({ op: 'create', name: 'ref-tick', task: TASK, interval: { every: 1, period: 'seconds' }, args: ['ref-tick'] });
    const refStart = Date.now() + 2500;
    await orm.call({
      op: 'create',
      name: 'ref-later',
      task: TASK,
      interval: { every: 1, period: 'seconds' },
      one_off: true,
      start_time: new Date(refStart).toISOString(),
      args: ['ref-later'],
    });
    // DatabaseScheduler disables a one-off task when it next asks whether it is due with its run
    // counted; a clocked schedule answers "not again for 10^8 s" after its run, so that is at the next
    // start, after the sync of its counts (schedulers.py: is_due, sync; here after each publish).
    let reference = startDatabaseScheduler(redisServer.url(2), { url: dbUrl });
    try {
      await waitUntil(
        'DatabaseScheduler to send ref-once',
        async () => ((await refBroker.lrange('celery', 0, -1)).some((m) => m.includes('ref-once')) ? true : undefined),
        20_000,
        () => reference.output(),
      );
      await sleep(2000);
    } finally {
      await reference.stop();
    }
    reference = startDatabaseScheduler(redisServer.url(2), { url: dbUrl });
    try {
      await waitUntil(
        'DatabaseScheduler to disable ref-once and ref-later',
        async () =>
          (await orm.call<OrmRow>({ op: 'get', name: 'ref-once' })).enabled ||
          (await orm.call<OrmRow>({ op: 'get', name: 'ref-later' })).enabled
            ? undefined
            : true,
        20_000,
        () => reference.output(),
      );
      await sleep(1000);
    } finally {
      await reference.stop();
    }
    const refOnce = await orm.call<OrmRow>({ op: 'get', name: 'ref-once' });
    const refTick = await orm.call<OrmRow>({ op: 'get', name: 'ref-tick' });
    const refMessages = (await refBroker.lrange('celery', 0, -1)).map((m) => JSON.parse(m) as { headers: { argsrepr: string } });
    refBroker.disconnect();
    const refTicks = refMessages.filter((m) => m.headers.argsrepr.includes('ref-tick')).length;
    expect(refMessages.filter((m) => m.headers.argsrepr.includes('ref-once')).length).toBe(1);
    expect(refTicks).toBeGreaterThan(0);
    const refLater = await orm.call<OrmRow>({ op: 'get', name: 'ref-later' });
    expect(refMessages.filter((m) => m.headers.argsrepr.includes('ref-later')).length).toBe(1);
    await orm.call({ op: 'delete', name: 'ref-later' });
    await orm.call({ op: 'delete', name: 'ref-once' });
    await orm.call({ op: 'delete', name: 'ref-tick' });

    // tsbeat on the same kind of rows.
    const file = dir.write(
      'beat2.yaml',
      ['name: dj2', `broker: { url: "${redisServer.url(0)}" }`, `sources: { django: { url: "${dbUrl}" } }`, ''].join('\n'),
    );
    const soon2 = new Date(Date.now() + 2500).toISOString();
    await orm.call({ op: 'create', name: 'ts-once', task: TASK, clocked: soon2, one_off: true, args: ['ts-once'] });
    await orm.call({ op: 'create', name: 'ts-tick', task: TASK, interval: { every: 1, period: 'seconds' }, args: ['ts-tick'] });
    const tsStart = Date.now() + 3500;
    await orm.call({
      op: 'create',
      name: 'ts-later',
      task: TASK,
      interval: { every: 1, period: 'seconds' },
      one_off: true,
      start_time: new Date(tsStart).toISOString(),
      args: ['ts-later'],
    });
    const beat = fleet.spawn({ config: file, label: 'beat2' });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    await waitUntil(
      'tsbeat to disable ts-once and ts-later',
      async () =>
        (await orm.call<OrmRow>({ op: 'get', name: 'ts-once' })).enabled ||
        (await orm.call<OrmRow>({ op: 'get', name: 'ts-later' })).enabled
          ? undefined
          : true,
      20_000,
      () => fleet.dump(),
    );
    await sleep(2000);
    beat.child.kill('SIGTERM');
    await beat.waitForExit(15_000);
    const tsOnce = await orm.call<OrmRow>({ op: 'get', name: 'ts-once' });
    const tsTick = await orm.call<OrmRow>({ op: 'get', name: 'ts-tick' });
    const tsFires = beat.logs.filter((l) => l.event === EVENTS.fire);
    const tsLater = await orm.call<OrmRow>({ op: 'get', name: 'ts-later' });

    // A one-off interval task with a start_time: one run, not before start_time, then the same row.
    const laterFires = tsFires.filter((l) => l['entry'] === 'ts-later');
    expect(laterFires).toHaveLength(1);
    expect(logTimeMs(laterFires[0] as LogLine)).toBeGreaterThanOrEqual(tsStart);
    expect({ enabled: tsLater.enabled, total_run_count: tsLater.total_run_count, last_run_at: tsLater.last_run_at }).toEqual({
      enabled: refLater.enabled,
      total_run_count: refLater.total_run_count,
      last_run_at: refLater.last_run_at,
    });
    expect(refLater.enabled).toBe(false);

    // The one-off row as DatabaseScheduler leaves it (disabled, count reset, last_run_at cleared), after one run.
    expect({ enabled: tsOnce.enabled, total_run_count: tsOnce.total_run_count, last_run_at: tsOnce.last_run_at }).toEqual({
      enabled: refOnce.enabled,
      total_run_count: refOnce.total_run_count,
      last_run_at: refOnce.last_run_at,
    });
    expect(tsFires.filter((l) => l['entry'] === 'ts-once')).toHaveLength(1);
    // The count is the runs published, as DatabaseScheduler's is (after a clean stop, nothing pending).
    // DatabaseScheduler writes its counts only when it syncs (here after each publish, by default
    // every 3 min and at its stop), so its count may lag its messages; tsbeat's must not.
    expect(refTick.total_run_count).toBeGreaterThan(0);
    expect(refTick.total_run_count).toBeLessThanOrEqual(refTicks);
    expect(tsTick.total_run_count).toBe(tsFires.filter((l) => l['entry'] === 'ts-tick').length);
    // last_run_at is the time of the last publish, for both.
    const lastTs = tsFires.filter((l) => l['entry'] === 'ts-tick').at(-1) as LogLine;
    expect(Math.abs(Date.parse(tsTick.last_run_at ?? '') - logTimeMs(lastTs))).toBeLessThan(1000);
    expect(refTick.last_run_at).not.toBeNull();
  }, 120_000);

  it("applies a task added through the admin's own add form within 1.5 s", async () => {
    const file = dir.write(
      'beat3.yaml',
      ['name: dj3', `broker: { url: "${redisServer.url(0)}" }`, `sources: { django: { url: "${dbUrl}" } }`, ''].join('\n'),
    );
    const beat = fleet.spawn({ config: file, label: 'beat3' });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    const at = Date.now();
    const added = await orm.call<OrmRow>({
      op: 'admin_add',
      name: 'admin-tick',
      task: TASK,
      interval: { every: 1, period: 'seconds' },
      args: ['admin'],
    });
    expect(added.enabled).toBe(true);
    const applied = await beat.waitForLog('admin-tick added', (l) => changedAfter([l], 'admin-tick', at) !== undefined, 5000);
    expect(logTimeMs(applied) - at).toBeLessThanOrEqual(EDIT_TO_EFFECT_MS);
    await waitUntil(
      'the worker runs admin-tick',
      async () => ((await executed()).some((e) => e.name === 'admin-tick' && e.args[0] === 'admin') ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
  }, 60_000);
});
