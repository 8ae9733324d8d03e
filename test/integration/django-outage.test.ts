/**
 * The django database goes away while `beat run` leads: the entries known keep running, the outage
 * is logged once and /readyz says so (still ready: it publishes on), the runs of the outage are
 * written back when the database returns, changes are read again, and nothing is published twice.
 * And a replica that leads again after a pause while the database is down, holding rows read before
 * the pause, says what happened: a row deleted and created again meanwhile is a stale read, refused,
 * not beat.state.lost (Redis lost nothing). A private PostgreSQL, stopped and started on the same
 * data directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { DjangoOrm, manage } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import type { BeatProcess } from '../support/beat-process.js';
import { httpPortOf, httpRequest, startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';

describe('beat run when the django database goes away and comes back', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const pg = new PrivatePostgres(25434);
  const dbUrl = pg.url('django');
  let redisServer: PrivateRedis;
  const orms: DjangoOrm[] = [];

  beforeAll(async () => {
    redisServer = await startPrivateRedis();
    await pg.start();
    await pg.createDatabase('django');
    await manage({ url: dbUrl }, ['migrate', '-v0']);
  }, 120_000);

  afterAll(async () => {
    await fleet.killAll();
    for (const orm of orms) await orm.close();
    await redisServer?.stop();
    await pg.stop();
    dir.remove();
  });

  function orm(): DjangoOrm {
    const session = new DjangoOrm({ url: dbUrl });
    orms.push(session);
    return session;
  }

  it('keeps publishing what it knows, says so, and catches up when the database returns', async () => {
    const before = orm();
    await before.call({ op: 'create', name: 'steady', task: TASK, interval: { every: 1, period: 'seconds' } });
    const file = dir.write(
      'beat.yaml',
      ['name: outage', `broker: { url: "${redisServer.url(0)}" }`, `sources: { django: { url: "${dbUrl}" } }`, ''].join('\n'),
    );
    const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    const fires = (): number => beat.logs.filter((l) => l.event === EVENTS.fire && l['entry'] === 'steady').length;
    await waitUntil(
      '2 runs',
      () => (fires() >= 2 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    await before.close();

    await pg.halt();
    await beat.waitForEvent(EVENTS.entriesSyncFailed, 10_000);
    const ready = await httpRequest(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatch(/WARNING: django database/);
    const duringOutage = fires();
    await sleep(3000);
    expect(fires()).toBeGreaterThanOrEqual(duringOutage + 2);
    // Logged once for the outage, not on every look.
    expect(beat.logs.filter((l) => l.event === EVENTS.entriesSyncFailed).map((l) => JSON.stringify(l))).toHaveLength(1);

    await pg.start();
    await beat.waitForEvent(EVENTS.djangoReconnected, 40_000);
    expect((await httpRequest(port, '/readyz')).body).not.toMatch(/WARNING/);
    const after = orm();
    // The runs of the outage are counted once the database is back.
    await waitUntil(
      'total_run_count to count every run',
      async () => {
        const row = await after.call<OrmRow>({ op: 'get', name: 'steady' });
        return row.total_run_count === fires() ? true : undefined;
      },
      10_000,
    );
    // Changes are read again.
    await after.call({ op: 'disable', name: 'steady' });
    await beat.waitForLog(
      'steady disabled',
      (l) => l.event === EVENTS.entriesChanged && (l['examples'] as string[]).includes('steady'),
      5000,
    );
    const slots = beat.logs.filter((l) => l.event === EVENTS.fire).map((l) => String(l['slot']));
    expect(new Set(slots).size).toBe(slots.length);
  }, 120_000);

  it('names the outage right: a leader that wakes from a pause while the database is down, its rows read before the pause, does not log beat.state.lost for a row deleted and created again meanwhile (Redis lost nothing; issue 66)', async () => {
    await fleet.killAll();
    // The database as the case before left it (up), or as a failed attempt of this one left it.
    if (pg.pid === undefined) await pg.start();
    const writer = orm();
    await writer.call({ op: 'create', name: 'reborn', task: TASK, interval: { every: 1, period: 'seconds' } });
    const file = dir.write(
      'pause.yaml',
      [
        'name: outage-pause',
        `broker: { url: "${redisServer.url(0)}" }`,
        'maxInterval: 200ms',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        `sources: { django: { url: "${dbUrl}" } }`,
        '',
      ].join('\n'),
    );
    const fires = (p: BeatProcess, from = 0): number => p.events(EVENTS.fire, from).filter((l) => l['entry'] === 'reborn').length;
    const a = fleet.spawn({ config: file, label: 'A' });
    await a.waitForEvent(EVENTS.lockAcquired, 15_000);
    await waitUntil(
      'A to publish the row',
      () => (fires(a) >= 2 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    const b = fleet.spawn({ config: file, label: 'B' });
    await b.waitForEvent(EVENTS.standby, 15_000);

    // A pauses past its lock; B leads, and sees the row deleted and created again (a new id).
    a.signal('SIGSTOP');
    await b.waitForEvent(EVENTS.lockAcquired, 15_000);
    const beforeChange = b.logs.length;
    await writer.call({ op: 'delete', name: 'reborn' });
    await writer.call({ op: 'create', name: 'reborn', task: TASK, interval: { every: 1, period: 'seconds' } });
    const changed = await b.waitForLog('B to read the row again', (l) => l.event === EVENTS.entriesChanged, 10_000, beforeChange);
    const afterChange = b.logs.indexOf(changed);
    await waitUntil(
      'B to publish the new row',
      () => (fires(b, afterChange) >= 2 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );

    // The database goes down; A wakes holding the row as it read it before its pause, and leads
    // again once B is gone.
    await writer.close();
    await pg.halt();
    const mark = a.logs.length;
    a.signal('SIGCONT');
    b.child.kill('SIGKILL');
    await a.waitForEvent(EVENTS.lockAcquired, 20_000, mark);
    await sleep(1500);
    expect(a.events(EVENTS.stateLost, mark), a.tail()).toEqual([]);
    // Its stale row is refused (the state in Redis is the new row's), not run from its old runs.
    expect(a.events(EVENTS.superseded, mark).length, a.tail()).toBeGreaterThan(0);
    expect(fires(a, mark), a.tail()).toBe(0);
    await pg.start();
  }, 120_000);
});
