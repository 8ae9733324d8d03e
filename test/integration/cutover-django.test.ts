/**
 * Cut-over between django-celery-beat's DatabaseScheduler (the real `celery beat -S django`: Debian's
 * 2.4 with Celery 5.2, or the newer generation on PYTHONPATH, 2.7 with Celery 5.5) and tsbeat, there
 * and back twice, on a private PostgreSQL and Redis: DatabaseScheduler runs the rows until each ran,
 * is stopped, and tsbeat started on the same tables publishes each row's next slot once, at the slot
 * DatabaseScheduler would have used (its last_run_at plus the interval), not an interval after
 * tsbeat's start; a one-off row that ran is not run again. tsbeat is stopped, DatabaseScheduler
 * started again runs the slot after tsbeat's last publish (the last_run_at tsbeat wrote back), and so
 * on: three times each way. The oracle is the broker's list: each row's runs once, in order, one
 * period apart, tsbeat's task ids naming their slots, the row's count all of them: 0 lost, 0
 * doubled, 0 early. Then, under tsbeat, a row disabled across a slot and re-enabled runs at its next
 * slot after the re-enable, not the missed one at once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { LogLine } from '../support/beat-process.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { pythonCelery } from '../support/celery.js';
import { DjangoOrm, manage, startDatabaseScheduler } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { TASK } from '../support/django-run.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { slotId } from '../support/slot-id.js';

/** Each row's name and interval, seconds: every one runs under DatabaseScheduler before the stop. */
const ROWS = [
  { name: 'cut-a', every: 4 },
  { name: 'cut-b', every: 5 },
] as const;

// Which generation runs (Debian's, or the newer one on PYTHONPATH), in the suite's name.
const celery = pythonCelery();

describe(`cut-over between DatabaseScheduler and tsbeat (Celery ${celery.ok ? celery.version : celery.problem})`, () => {
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

  /** The messages in the broker's `celery` list, oldest first: task id and args. */
  const sent = async (): Promise<{ id: string; args: string }[]> =>
    (await broker.lrange('celery', 0, -1)).reverse().map((m) => {
      const { headers } = JSON.parse(m) as { headers: { id: string; argsrepr: string } };
      return { id: headers.id, args: headers.argsrepr };
    });
  /** The runs of `name` the last beat started logged as published. */
  const fires = (name: string): LogLine[] => (fleet.all.at(-1)?.logs ?? []).filter((l) => l.event === EVENTS.fire && l['entry'] === name);
  const slotOf = (line: LogLine): number => Date.parse(String(line['slot']));
  /** When tsbeat published a run: its slot plus the lateness its fire line logs. */
  const publishedAt = (line: LogLine): number => slotOf(line) + Number(line['latenessMs']);
  /**
   * The runs of `name` DatabaseScheduler logged ("Scheduler: Sending due task <name> (<task>)",
   * logged just after its reserve() took the run's time), epoch ms: Python's logging writes the
   * local time to the millisecond, which Date reads as local time too.
   */
  const databaseSchedulerRuns = (output: string, name: string): number[] =>
    [...output.matchAll(/^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}): INFO\/MainProcess\] Scheduler: Sending due task (\S+) \(/gm)]
      .filter((m) => m[4] === name)
      .map((m) => new Date(`${m[1] ?? ''}T${m[2] ?? ''}.${m[3] ?? ''}`).getTime());
  const rows = async (names: readonly string[]): Promise<Record<string, OrmRow>> => {
    const out: Record<string, OrmRow> = {};
    for (const name of names) out[name] = await orm.call<OrmRow>({ op: 'get', name });
    return out;
  };
  const NAMES = ROWS.map((r) => r.name);
  /**
   * A run of a row: DatabaseScheduler's (a random task id; `at` the time it logged) or tsbeat's (the
   * task id of its slot; `at` the slot).
   */
  type Run = { by: 'DatabaseScheduler'; at: number } | { by: 'tsbeat'; at: number; id: string };
  const byDatabaseScheduler = (at: number): Run => ({ by: 'DatabaseScheduler', at });

  /** DatabaseScheduler started on the tables until it ran every row once more, then stopped (SIGTERM: its sync). */
  async function databaseSchedulerRound(round: number, runs: Record<string, Run[]>): Promise<Record<string, number[]>> {
    // What it reads: tsbeat's last runs, written back at its stop, and every run so far counted.
    const start = await rows(NAMES);
    for (const name of NAMES) expect(start[name]?.total_run_count, `round ${String(round)}: ${name}'s count`).toBe(runs[name]?.length);
    const reference = startDatabaseScheduler(redisServer.url(0), { url: dbUrl });
    try {
      // Each row ran, and its sync wrote the last run (CELERY_BEAT_SYNC_EVERY = 1: after each run):
      // a SIGTERM a moment after a run lost that write once here, and whoever starts next runs that
      // slot again (DatabaseScheduler's own double, as after its own restart).
      await waitUntil(
        `round ${String(round)}: DatabaseScheduler to run every row, its runs written`,
        async () => {
          const now = await rows(NAMES);
          for (const name of NAMES) {
            const times = databaseSchedulerRuns(reference.output(), name);
            const row = now[name] as OrmRow;
            if (times.length === 0 || row.total_run_count !== (runs[name]?.length ?? 0) + times.length) return undefined;
            if (Math.abs(Date.parse(row.last_run_at ?? '') - (times.at(-1) as number)) > 5) return undefined;
          }
          return true;
        },
        30_000,
        () => reference.output(),
      );
    } finally {
      await reference.stop();
    }
    const ran: Record<string, number[]> = {};
    const starting = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}): INFO\/MainProcess\] beat: Starting\.\.\./m.exec(reference.output());
    const startedMs = new Date(`${starting?.[1] ?? ''}T${starting?.[2] ?? ''}.${starting?.[3] ?? ''}`).getTime();
    for (const { name, every } of ROWS) {
      const times = databaseSchedulerRuns(reference.output(), name);
      const due = Date.parse(start[name]?.last_run_at ?? '') + every * 1000;
      const context = `round ${String(round)}, ${name}: DatabaseScheduler's runs ${JSON.stringify(times)}, tsbeat's last run ${String(start[name]?.last_run_at)}, its start ${String(startedMs)}`;
      // Not early: its first run is the slot after tsbeat's last publish (the log's millisecond is
      // truncated), at it or, when the slot passed while it started, at its first tick.
      expect(times[0] as number, context).toBeGreaterThanOrEqual(due - 1);
      expect(times[0] as number, context).toBeLessThan(Math.max(due, startedMs) + 3000);
      runs[name]?.push(...times.map(byDatabaseScheduler));
      ran[name] = times;
    }
    return ran;
  }

  /** tsbeat started on the tables until it published `count` runs of every row; it keeps running. */
  async function tsbeatRound(round: number, count: number, before: Record<string, OrmRow>): Promise<void> {
    const startedMs = Date.now();
    const beat = fleet.spawn({ config: dir.path + '/beat.yaml', label: `cut${String(round)}` });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    await waitUntil(
      `round ${String(round)}: ${String(count)} runs of each row by tsbeat`,
      async () => (ROWS.every((r) => fires(r.name).length >= count) ? true : undefined),
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
        `round ${String(round)}, ${name}: first slot ${String(slots[0])}, published ${String(publishedAt(first))}, last_run_at ${String(last)}`,
      ).toBeLessThanOrEqual(1);
      expect(publishedAt(first)).toBeGreaterThanOrEqual(slots[0] as number);
      // Not one interval after tsbeat's start (the row's period restarted; round 1 started 2.5 s
      // after DatabaseScheduler's stop, the others at once).
      expect(slots[0]).toBeLessThan(startedMs + every * 1000 - (round === 1 ? 2000 : 0));
      for (let i = 1; i < slots.length; i += 1) expect(slots[i]).toBe((slots[i - 1] as number) + every * 1000);
    }
  }

  /** Stops the last tsbeat as in production (SIGTERM: its write-back drains) and takes its runs. */
  async function stopTsbeat(runs: Record<string, Run[]>): Promise<void> {
    const beat = fleet.all.at(-1);
    beat?.signal('SIGTERM');
    await beat?.waitForExit(15_000);
    for (const { name } of ROWS) runs[name]?.push(...fires(name).map((l): Run => ({ by: 'tsbeat', at: slotOf(l), id: String(l['id']) })));
  }

  it("publishes each row's next slot once, at DatabaseScheduler's, there and back twice, and not a one-off that ran", async () => {
    // A retry (vitest.config.ts) starts from what the failed attempt left.
    await fleet.killAll();
    for (const name of [...NAMES, 'cut-once']) await orm.call({ op: 'delete', name }).catch(() => undefined);
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
    const runs: Record<string, Run[]> = Object.fromEntries(NAMES.map((name) => [name, []]));
    const reference = startDatabaseScheduler(redisServer.url(0), { url: dbUrl });
    try {
      await waitUntil(
        'DatabaseScheduler to run every row',
        async () => {
          // Its sync wrote the run (last_run_at): the message alone may be ahead of it.
          for (const name of [...NAMES, 'cut-once']) {
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
    for (const name of NAMES) runs[name]?.push(...databaseSchedulerRuns(reference.output(), name).map(byDatabaseScheduler));
    let before = await rows([...NAMES, 'cut-once']);
    expect(before['cut-once']).toMatchObject({ enabled: true, total_run_count: 1 });
    // A gap between the stop and the start that a period restarted at tsbeat's start would show.
    await sleep(2500);

    dir.write(
      'beat.yaml',
      ['name: cut', `broker: { url: "${redisServer.url(0)}" }`, `sources: { django: { url: "${dbUrl}" } }`, ''].join('\n'),
    );
    // Round 1: DatabaseScheduler to tsbeat (two runs each: the next slot and the one after it),
    // then back to DatabaseScheduler and to tsbeat twice; the last tsbeat keeps running for the
    // tests below.
    await tsbeatRound(1, 2, before);
    expect(fires('cut-once')).toEqual([]);
    expect((await sent()).filter((m) => m.args === "['cut-once']").length).toBe(1);
    // Gone before DatabaseScheduler starts again: its start would disable it (a save, which moves the
    // change marker), and DatabaseScheduler 2.4's sync after its first run (CELERY_BEAT_SYNC_EVERY =
    // 1) reads the rows again through its `schedule` property before it saves that run: it saves the
    // row as it read it and runs that slot a second time (its own double, with tsbeat stopped; 2.7
    // saves the entry it holds).
    await orm.call({ op: 'delete', name: 'cut-once' });
    for (const round of [2, 3]) {
      await stopTsbeat(runs);
      const ran = await databaseSchedulerRound(round, runs);
      before = await rows(NAMES);
      // What tsbeat reads: DatabaseScheduler's last run, synced at its stop, and every run so far counted.
      for (const name of NAMES) {
        expect(Math.abs(Date.parse(before[name]?.last_run_at ?? '') - (ran[name]?.at(-1) as number)), name).toBeLessThanOrEqual(5);
        expect(before[name]?.total_run_count, `round ${String(round)}: ${name}'s count`).toBe(runs[name]?.length);
      }
      await tsbeatRound(round, 1, before);
    }
    await stopTsbeat(runs);

    // The broker's list: each row's runs once, in the order of the rounds, DatabaseScheduler's
    // messages and tsbeat's, whose task ids name their slots (uuid5 of deployment, entry and slot);
    // every run at least one period after the one before (none twice, none early), and the row's
    // count all of them.
    const list = await sent();
    for (const { name, every } of ROWS) {
      const expected = runs[name] ?? [];
      const inList = list.filter((m) => m.args === `['${name}']`);
      const label = (r: Run): string => (r.by === 'tsbeat' ? r.id : r.by);
      expect(
        inList.map((m) => (expected.some((r) => r.by === 'tsbeat' && r.id === m.id) ? m.id : 'DatabaseScheduler')),
        name,
      ).toEqual(expected.map(label));
      expect(new Set(inList.map((m) => m.id)).size).toBe(inList.length);
      for (const r of expected) if (r.by === 'tsbeat') expect(r.id).toBe(slotId('cut', name, r.at));
      const times = expected.map((r) => r.at);
      for (let i = 1; i < times.length; i += 1) {
        // DatabaseScheduler's log line comes a moment after the time its run took (its last_run_at).
        expect(
          (times[i] as number) - (times[i - 1] as number),
          `${name}: run ${String(i)} of ${JSON.stringify(expected)}`,
        ).toBeGreaterThanOrEqual(every * 1000 - 20);
      }
      expect((await orm.call<OrmRow>({ op: 'get', name })).total_run_count, `${name}'s count`).toBe(expected.length);
    }
    // A tsbeat for the tests below.
    await fleet.spawn({ config: dir.path + '/beat.yaml', label: 'cut' }).waitForEvent(EVENTS.lockAcquired, 15_000);
  }, 180_000);

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
