/**
 * The django database goes away while `beat run` leads: the entries known keep running, the outage
 * is logged once and /readyz says so (still ready: it publishes on), the runs of the outage are
 * written back when the database returns, changes are read again, and nothing is published twice.
 * A private PostgreSQL, stopped and started on the same data directory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { DjangoOrm, manage } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
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
});
