/**
 * Cut-over from django-celery-beat's DatabaseScheduler (the installed one: Debian's, or the newer
 * generation on PYTHONPATH) to tsbeat, on a private PostgreSQL and Redis: DatabaseScheduler runs the
 * rows until each ran, is stopped, and tsbeat started on the same tables publishes each row's next
 * slot once, at the slot DatabaseScheduler would have used (its last_run_at plus the interval), not
 * an interval after tsbeat's start; a one-off row that ran is not run again. Then, under tsbeat, a
 * row disabled across a slot and re-enabled runs at its next slot after the re-enable, not the
 * missed one at once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { LogLine } from '../support/beat-process.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { DjangoOrm, manage, startDatabaseScheduler } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { TASK } from '../support/django-run.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

/** Each row's name and interval, seconds: every one runs under DatabaseScheduler before the stop. */
const ROWS = [
  { name: 'cut-a', every: 7 },
  { name: 'cut-b', every: 9 },
] as const;

describe('cut-over from DatabaseScheduler to tsbeat', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const pg = new PrivatePostgres(25441);
  let redisServer: PrivateRedis;
  let broker: Redis;
  let orm: DjangoOrm;
  const dbUrl = pg.url('django');

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    broker = new Redis(redisServer.url(0));
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
    orm = new DjangoOrm({ url: dbUrl });
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    await orm?.close();
    broker?.disconnect();
    await redisServer?.stop();
    await pg.stop();
    dir.remove();
  });

  /** The args of the messages in the broker's `celery` list, in order. */
  const sent = async (): Promise<string[]> =>
    (await broker.lrange('celery', 0, -1)).map((m) => (JSON.parse(m) as { headers: { argsrepr: string } }).headers.argsrepr);
  /** The runs of `name` the last beat started logged as published. */
  const fires = (name: string): LogLine[] => (fleet.all.at(-1)?.logs ?? []).filter((l) => l.event === EVENTS.fire && l['entry'] === name);
  const slotOf = (line: LogLine): number => Date.parse(String(line['slot']));
  /** When tsbeat published a run: its slot plus the lateness its fire line logs. */
  const publishedAt = (line: LogLine): number => slotOf(line) + Number(line['latenessMs']);

  it("publishes each row's next slot once, at DatabaseScheduler's, and not a one-off that ran", async () => {
    // A retry (vitest.config.ts) starts from what the failed attempt left.
    await fleet.killAll();
    for (const name of [...ROWS.map((r) => r.name), 'cut-once']) await orm.call({ op: 'delete', name }).catch(() => undefined);
    await broker.flushall();
    for (const { name, every } of ROWS) {
      await orm.call({ op: 'create', name, task: TASK, interval: { every, period: 'seconds' }, args: [name] });
    }
    // A clocked one-off: DatabaseScheduler disables it only at its next start (a clocked schedule
    // is not asked again for 10^8 s after its run), so it is left enabled with total_run_count 1.
    await orm.call({
      op: 'create',
      name: 'cut-once',
      task: TASK,
      clocked: new Date(Date.now() + 1500).toISOString(),
      one_off: true,
      args: ['cut-once'],
    });
    const reference = startDatabaseScheduler(redisServer.url(0), { url: dbUrl });
    try {
      await waitUntil(
        'DatabaseScheduler to run every row',
        async () => {
          // Its sync wrote the run (last_run_at): the message alone may be ahead of it.
          for (const name of [...ROWS.map((r) => r.name), 'cut-once']) {
            if ((await orm.call<OrmRow>({ op: 'get', name })).last_run_at === null) return undefined;
          }
          return true;
        },
        30_000,
        () => reference.output(),
      );
    } finally {
      await reference.stop();
    }
    const before: Record<string, OrmRow> = {};
    for (const name of [...ROWS.map((r) => r.name), 'cut-once']) before[name] = await orm.call<OrmRow>({ op: 'get', name });
    expect(before['cut-once']).toMatchObject({ enabled: true, total_run_count: 1 });
    const sentBefore = await sent();
    // A gap between the stop and the start that a period restarted at tsbeat's start would show.
    await sleep(2500);

    const file = dir.write(
      'beat.yaml',
      ['name: cut', `broker: { url: "${redisServer.url(0)}" }`, `sources: { django: { url: "${dbUrl}" } }`, ''].join('\n'),
    );
    const startedMs = Date.now();
    const beat = fleet.spawn({ config: file, label: 'cut' });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    // Each row's next slot and the one after it.
    await waitUntil(
      'two runs of each row',
      async () => (ROWS.every((r) => fires(r.name).length >= 2) ? true : undefined),
      40_000,
      () => fleet.dump(),
    );
    for (const { name, every } of ROWS) {
      const last = Date.parse(before[name]?.last_run_at ?? '');
      const first = fires(name)[0] as LogLine;
      const slots = fires(name).map(slotOf);
      // DatabaseScheduler's next: its last_run_at plus the interval (ModelEntry.is_due), whenever
      // tsbeat started; on a machine so loaded that tsbeat published only after a later fire of that
      // grid had passed too, the latest of them, once (a missed run fires once, as under Celery).
      const periods = Math.max(1, Math.floor((publishedAt(first) - last) / (every * 1000)));
      expect(
        Math.abs((slots[0] as number) - (last + periods * every * 1000)),
        `${name}: first slot ${String(slots[0])}, published ${String(publishedAt(first))}, last_run_at ${String(last)}`,
      ).toBeLessThanOrEqual(1);
      expect(slots[1]).toBe((slots[0] as number) + every * 1000);
      // Not one interval after tsbeat's start (the row's period restarted), and nothing twice.
      expect(slots[0]).toBeLessThan(startedMs + every * 1000 - 2000);
      expect(new Set(slots).size).toBe(slots.length);
    }
    // The broker holds tsbeat's runs on top of DatabaseScheduler's, each once.
    const count = (args: readonly string[], name: string): number => args.filter((a) => a.includes(name)).length;
    const sentAfter = await sent();
    for (const { name } of ROWS) expect(count(sentAfter, name) - count(sentBefore, name)).toBe(fires(name).length);
    expect(count(sentAfter, 'cut-once')).toBe(1);
    expect(fires('cut-once')).toEqual([]);
  }, 120_000);

  it('runs a re-enabled row at its next slot after the re-enable, not the slot missed while it was disabled', async () => {
    await orm.call({ op: 'create', name: 'cut-re', task: TASK, interval: { every: 4, period: 'seconds' }, args: ['cut-re'] });
    await waitUntil(
      'a run of cut-re',
      async () => (fires('cut-re').length >= 1 ? true : undefined),
      15_000,
      () => fleet.dump(),
    );
    // The run's write-back (a batch a second) lands first: else it would put last_run_at back on the
    // disabled row, and the re-enable would keep it (as a DatabaseScheduler sync would).
    await sleep(1500);
    await orm.call({ op: 'disable', name: 'cut-re' });
    const disabledFires = fires('cut-re').length;
    // Across a slot: the one at the last slot + 4 s is missed.
    await sleep(6000);
    const reEnabled = await orm.call<OrmRow>({ op: 'enable', name: 'cut-re' });
    const reEnabledMs = Date.parse(reEnabled.date_changed ?? '');
    await waitUntil(
      'a run of cut-re after the re-enable',
      async () => (fires('cut-re').length > disabledFires ? true : undefined),
      15_000,
      () => fleet.dump(),
    );
    const next = slotOf(fires('cut-re')[disabledFires] as LogLine);
    // DatabaseScheduler: save() of the disabled row cleared last_run_at, and the re-enable's
    // date_changed is its last run: the next slot is 4 s after it.
    expect(Math.abs(next - (reEnabledMs + 4000)), `slot ${String(next)}, re-enabled ${String(reEnabledMs)}`).toBeLessThanOrEqual(1);
  }, 60_000);

  it('disables an expired row in the table, as DatabaseScheduler 2.9 does, and passes kombu typed values through', async () => {
    const expiresMs = Date.now() + 3000;
    await orm.call({
      op: 'create',
      name: 'cut-exp',
      task: TASK,
      interval: { every: 1, period: 'seconds' },
      expires: new Date(expiresMs).toISOString(),
      args: ['cut-exp'],
    });
    // The text kombu >= 5.3's dumps writes of an aware datetime and of a UUID.
    const when = { __type__: 'datetime', __value__: '2026-11-25T12:00:00+00:00' };
    const id = { __type__: 'uuid', __value__: { hex: '6f1d3c0e8a2b4d5e9f7a1b2c3d4e5f60' } };
    await orm.call({
      op: 'create',
      name: 'cut-typed',
      task: TASK,
      interval: { every: 2, period: 'seconds' },
      args: ['cut-typed', id],
      kwargs: { when },
    });
    const row = await waitUntil(
      'cut-exp disabled in the table',
      async () => {
        const got = await orm.call<OrmRow>({ op: 'get', name: 'cut-exp' });
        return got.enabled ? undefined : got;
      },
      15_000,
      () => fleet.dump(),
    );
    // ModelEntry._disable: enabled = False saved, so last_run_at cleared; not before expires.
    expect(row.last_run_at).toBeNull();
    expect(Date.parse(row.date_changed ?? '')).toBeGreaterThanOrEqual(expiresMs);
    expect(fires('cut-exp').length).toBeGreaterThan(0);
    for (const slot of fires('cut-exp').map(slotOf)) expect(slot).toBeLessThan(expiresMs);

    await waitUntil(
      'a run of cut-typed',
      async () => (fires('cut-typed').length > 0 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    const bodies = (await broker.lrange('celery', 0, -1))
      .map(
        (m) =>
          JSON.parse(Buffer.from((JSON.parse(m) as { body: string }).body, 'base64').toString('utf8')) as [
            unknown[],
            Record<string, unknown>,
          ],
      )
      .filter(([args]) => args[0] === 'cut-typed');
    expect(bodies.length).toBeGreaterThan(0);
    expect(bodies[0]?.[0]).toEqual(['cut-typed', id]);
    expect(bodies[0]?.[1]).toEqual({ when });
  }, 60_000);
});
