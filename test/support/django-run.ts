/**
 * The scenario of `beat run` on django-celery-beat's tables that every database must pass (issue
 * 23), shared by the PostgreSQL and MariaDB process tests: rows created, edited, disabled and
 * deleted through Django's ORM while one beat leads and another stands by, a real Celery worker
 * executing the runs. Each change takes effect within 1.5 s; a SIGKILL of the leader publishes no
 * slot twice; last_run_at and total_run_count are written back as DatabaseScheduler writes them.
 */
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { LogLine } from './beat-process.js';
import { FAST_LOCK, logTimeMs, sleep, waitUntil } from './beat-process.js';
import type { BeatFleet, TempDir } from './beat-process.js';
import type { CeleryProcess } from './celery.js';
import { resultKey, startWorker } from './celery.js';
import type { DjangoOrm, OrmRow } from './django.js';
import type { PrivateRedis } from './redis-server.js';

export const TASK = 'tsbeat_test.record';
/** How soon an edit in the admin or the ORM must take effect (issue 23). */
export const EDIT_TO_EFFECT_MS = 1500;

export interface Executed {
  readonly id: string;
  readonly args: unknown[];
  readonly name: unknown;
}

/** What the worker ran, in order: ids from its list, args and the header from each result (DB 1 of `redis`). */
export async function executedRuns(redis: Redis): Promise<Executed[]> {
  const ids = await redis.lrange('tsbeat-test:executed', 0, -1);
  const out: Executed[] = [];
  for (const id of ids) {
    const raw = await redis.get(resultKey(id));
    if (raw === null) continue;
    const result = (JSON.parse(raw) as { result: { args: unknown[]; request: Record<string, unknown> } }).result;
    out.push({ id, args: result.args, name: result.request['periodic_task_name'] });
  }
  return out;
}

/** The first `beat.entries.changed` among `lines` logged after `sinceMs` that names `name`. */
export function changedAfter(lines: readonly LogLine[], name: string, sinceMs: number): LogLine | undefined {
  return lines.find(
    (l) =>
      l.event === EVENTS.entriesChanged &&
      logTimeMs(l) >= sinceMs &&
      (l['examples'] as string[] | undefined)?.some((e) => e === name || e === `-${name}`) === true,
  );
}

export interface DjangoRunContext {
  /** The deployment's name, and its worker's. */
  readonly name: string;
  readonly fleet: BeatFleet;
  readonly dir: TempDir;
  /** Broker on DB 0, results on DB 1. */
  readonly redisServer: PrivateRedis;
  /** A client of DB 1 (the results). */
  readonly redis: Redis;
  readonly orm: DjangoOrm;
  readonly dbUrl: string;
  /** Workers started, for the caller to stop. */
  readonly workers: CeleryProcess[];
}

/** Leader and standby on the tables: ORM changes within 1.5 s, write-back, and nothing twice across a SIGKILL. */
export async function ormChangesScenario(ctx: DjangoRunContext): Promise<void> {
  const { fleet, dir, redisServer, dbUrl } = ctx;
  // A retry (vitest.config.ts) starts afresh: the failed attempt's beats and workers stopped, its
  // rows deleted, its state, messages and results flushed, and only this attempt's beats' fires read.
  await fleet.killAll();
  for (const worker of ctx.workers.splice(0)) await worker.stop();
  for (const name of ['tick', 'tock']) await ctx.orm.call({ op: 'delete', name }).catch(() => undefined);
  await ctx.redis.flushall();
  const ours = fleet.all.length;
  const executed = (): Promise<Executed[]> => executedRuns(ctx.redis);
  const fires = (): LogLine[] => fleet.all.slice(ours).flatMap((p) => p.logs.filter((l) => l.event === EVENTS.fire));
  const file = dir.write(
    'beat.yaml',
    [
      `name: ${ctx.name}`,
      `broker: { url: "${redisServer.url(0)}" }`,
      `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
      `sources: { django: { url: "${dbUrl}" } }`,
      '',
    ].join('\n'),
  );
  await ctx.orm.call({ op: 'create', name: 'tick', task: TASK, interval: { every: 1, period: 'seconds' }, args: [1] });
  const leader = fleet.spawn({ config: file, label: 'leader' });
  await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
  const standby = fleet.spawn({ config: file, label: 'standby' });
  await standby.waitForEvent(EVENTS.standby, 15_000);
  ctx.workers.push(
    await startWorker({ name: `${ctx.name}-worker`, queues: ['celery'], env: { broker: redisServer.url(0), backend: redisServer.url(1) } }),
  );

  await waitUntil(
    '2 runs of tick executed',
    async () => ((await executed()).filter((e) => e.name === 'tick').length >= 2 ? true : undefined),
    15_000,
    () => fleet.dump(),
  );
  expect((await executed())[0]).toMatchObject({ args: [1], name: 'tick' });

  // An edit through the ORM: the leader applies it within 1.5 s, and the worker runs the new args.
  let at = Date.now();
  await ctx.orm.call({ op: 'edit', name: 'tick', args: [2] });
  const edited = await leader.waitForLog('tick changed', (l) => changedAfter([l], 'tick', at) !== undefined, 5000);
  expect(logTimeMs(edited) - at).toBeLessThanOrEqual(EDIT_TO_EFFECT_MS);
  await waitUntil('a run with args [2]', async () => ((await executed()).some((e) => e.args[0] === 2) ? true : undefined), 10_000);
  // The standby follows the tables too, so that it has them when it takes over.
  await standby.waitForLog('standby saw tick change', (l) => changedAfter([l], 'tick', at) !== undefined, 5000);

  // A new task, created while running.
  at = Date.now();
  await ctx.orm.call({ op: 'create', name: 'tock', task: TASK, interval: { every: 1, period: 'seconds' }, args: ['tock'] });
  const created = await leader.waitForLog('tock created', (l) => changedAfter([l], 'tock', at) !== undefined, 5000);
  expect(logTimeMs(created) - at).toBeLessThanOrEqual(EDIT_TO_EFFECT_MS);
  await waitUntil('a run of tock', async () => ((await executed()).some((e) => e.name === 'tock') ? true : undefined), 10_000);

  // Written back: total_run_count counts the runs published up to the last one written (last_run_at,
  // the publish time tsbeat stored for that run: its slot plus the lateness its fire line logs).
  // Runs go out every second and are written in batches a second apart, so "the count equals every
  // run so far" holds only between a write and the next run: compare with the runs published up to
  // last_run_at instead, which holds whenever the row is read.
  const publishedAt = (l: LogLine): number => Date.parse(String(l['slot'])) + Number(l['latenessMs']);
  const tickRow = await waitUntil(
    'tick total_run_count to count its runs up to last_run_at',
    async () => {
      const row = await ctx.orm.call<OrmRow>({ op: 'get', name: 'tick' });
      if (row.last_run_at === null || row.total_run_count < 3) return undefined;
      const upTo = fires().filter((l) => l['entry'] === 'tick' && publishedAt(l) <= Date.parse(row.last_run_at ?? ''));
      return row.total_run_count === upTo.length ? { row, last: upTo.at(-1) as LogLine } : undefined;
    },
    // A read between a write-back and the next run: on a loaded machine that moment can take many seconds to come.
    30_000,
    () => fleet.dump(),
  );
  // last_run_at is the last run's publish time exactly (the databases keep microseconds).
  expect(Date.parse(tickRow.row.last_run_at ?? '')).toBe(publishedAt(tickRow.last));
  expect(Math.abs(Date.parse(tickRow.row.last_run_at ?? '') - logTimeMs(tickRow.last))).toBeLessThan(1000);

  // SIGKILL the leader: the standby takes over within the lock TTL; no slot goes out twice.
  leader.child.kill('SIGKILL');
  await standby.waitForEvent(EVENTS.lockAcquired, 15_000);
  const firesBefore = fires().filter((l) => l.pid === standby.pid).length;
  await waitUntil(
    'the new leader publishes',
    async () => (fires().filter((l) => l.pid === standby.pid).length > firesBefore + 2 ? true : undefined),
    10_000,
  );

  // Disable: no run after the change took effect.
  at = Date.now();
  await ctx.orm.call({ op: 'disable', name: 'tock' });
  const disabled = await standby.waitForLog('tock disabled', (l) => changedAfter([l], 'tock', at) !== undefined, 5000);
  expect(logTimeMs(disabled) - at).toBeLessThanOrEqual(EDIT_TO_EFFECT_MS);
  const disabledAt = logTimeMs(disabled);
  // Delete: the same.
  at = Date.now();
  await ctx.orm.call({ op: 'delete', name: 'tick' });
  const deleted = await standby.waitForLog('tick deleted', (l) => changedAfter([l], 'tick', at) !== undefined, 5000);
  expect(logTimeMs(deleted) - at).toBeLessThanOrEqual(EDIT_TO_EFFECT_MS);
  await sleep(2500);
  expect(fires().filter((l) => l['entry'] === 'tock' && logTimeMs(l) > disabledAt)).toEqual([]);
  expect(fires().filter((l) => l['entry'] === 'tick' && logTimeMs(l) > logTimeMs(deleted))).toEqual([]);

  // Nothing twice: every (entry, slot) published once, every task id executed once.
  const slots = fires().map((l) => `${String(l['entry'])} ${String(l['slot'])}`);
  expect(new Set(slots).size).toBe(slots.length);
  const ids = (await executed()).map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
}
