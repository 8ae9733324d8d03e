/**
 * Issue 30: the write-backs to RedBeat's keys and django-celery-beat's rows survive their
 * connection going away. A real `beat run` reads (and writes back to) RedBeat's Redis and the
 * django database through a loopback proxy (test/support/tcp-proxy.ts) while it publishes to a
 * Redis of its own; the proxy closes every connection and refuses new ones for 3 s while an
 * every-second entry keeps running. Once the proxy lets connections through again, RedBeat's
 * `total_run_count` (read by RedBeat's own decoder, test/support/redbeat_client.py) and the row's
 * `total_run_count` (read through the Django ORM) catch up with the runs the queue holds: no run
 * written back is lost to the outage, none counted twice.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { DjangoOrm, manage } from '../support/django.js';
import type { OrmRow } from '../support/django.js';
import { startPrivateRedis } from '../support/ops.js';
import { PrivatePostgres } from '../support/postgres-server.js';
import { freePort } from '../support/redis-server.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const TASK = 'tsbeat_test.record';
const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const OUTAGE_MS = 3000;

suite(`write-backs survive a reconnect (issue 30)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  // A try that failed leaves its beat holding the lock and its counts in Redis: a retry starts clean.
  afterEach(async () => {
    await fleet.killAll();
    await redis.flushall();
  });

  afterAll(async () => {
    await fleet.killAll();
    for (const proxy of proxies) await proxy.stop();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** Closes the proxy's connections and refuses new ones for OUTAGE_MS while runs go on; waits for the failed write-back. */
  async function outage(proxy: TcpProxy, failed: () => boolean): Promise<void> {
    proxy.refuse(true);
    proxy.cut();
    await waitUntil(
      'a write-back to fail',
      async () => (failed() ? true : undefined),
      OUTAGE_MS + 10_000,
      () =>
        fleet.all
          .map((p) =>
            p.logs.map((l) => `${String(l.time)} ${String(l.event)} ${String(l['slot'] ?? '')} ${String(l['msg'] ?? '')}`).join('\n'),
          )
          .join('\n'),
    );
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    proxy.refuse(false);
  }

  it("RedBeat: meta's total_run_count catches up with the runs after RedBeat's Redis comes back", async () => {
    const url = server.url(0);
    const proxy = new TcpProxy(await freePort(), server.port);
    proxies.push(proxy);
    await proxy.start();
    const viaProxy = `redis://127.0.0.1:${proxy.port}/0`;
    const queue = 'rb-wb';
    const py = <T>(request: Record<string, unknown>): T =>
      JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, ...request })], { encoding: 'utf8' })) as T;
    py({ op: 'save', name: 'rb-count', task: TASK, schedule: { interval: 1 }, kwargs: { entry: 'rb-count' }, options: { queue } });
    const file = dir.write(
      'redbeat.yaml',
      [
        'name: rb-wb',
        `broker: { url: "${url}" }`,
        'maxInterval: 200ms',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        `sources: { redbeat: { url: "${viaProxy}", keyPrefix: "redbeat:" } }`,
        '',
      ].join('\n'),
    );
    // At debug level: while RedBeat's Redis is unreachable, a failed write-back only repeats the
    // outage's one beat.redis.down warning, and is logged at debug (src/base/outages.ts).
    const leader = fleet.spawn({ config: file, label: 'rb-wb', args: ['--log-level', 'debug'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
    const runs = async (): Promise<number> => (await readQueue(redis, queue)).filter((r) => r.entry === 'rb-count').length;
    // Read without blocking this process: the proxy runs on its event loop.
    const written = async (): Promise<number> => {
      const { stdout } = await promisify(execFile)(PYTHON, [CLIENT, JSON.stringify({ url, op: 'read', name: 'rb-count' })], {
        encoding: 'utf8',
      });
      return (JSON.parse(stdout) as { total_run_count: number | null }).total_run_count ?? 0;
    };
    await waitUntil(
      '2 runs written back',
      async () => ((await written()) >= 2 ? true : undefined),
      20_000,
      () => fleet.dump(),
    );

    await outage(proxy, () => leader.events(EVENTS.redbeatWriteFailed).length > 0);
    expect(leader.events(EVENTS.redisDown)).toEqual([
      expect.objectContaining({ level: 'warn', url: viaProxy, waiting: ['RedBeat entries'] }),
    ]);
    expect(leader.events(EVENTS.redbeatWriteFailed).filter((l) => l.level !== 'debug')).toEqual([]);
    const afterOutage = await runs();
    // Caught up: the count written back reaches every run published, those of the outage included
    // (on a count that only grows: while runs go on it is checked against the queue read just before).
    await waitUntil(
      "RedBeat's total_run_count to catch up with the runs",
      async () => {
        const before = await runs();
        const count = await written();
        return count >= before && before > afterOutage ? count : undefined;
      },
      20_000,
      () => fleet.dump(),
    );
    leader.child.kill('SIGTERM');
    await leader.waitForExit(15_000);
    // After a clean stop (the write-back drained): exactly the runs published, none counted twice.
    expect(await written()).toBe(await runs());
    expect(leader.events(EVENTS.redbeatWritten).length).toBeGreaterThan(0);
  }, 90_000);

  it("django: the row's total_run_count catches up with the runs after the database comes back", async () => {
    const pg = new PrivatePostgres(await freePort());
    const proxy = new TcpProxy(await freePort(), pg.port);
    proxies.push(proxy);
    let orm: DjangoOrm | undefined;
    try {
      await pg.start();
      await pg.createDatabase('django');
      const dbUrl = pg.url('django');
      await manage({ url: dbUrl }, ['migrate', '-v0']);
      orm = new DjangoOrm({ url: dbUrl });
      await proxy.start();
      const queue = 'dj-wb';
      await orm.call({ op: 'create', name: 'dj-count', task: TASK, interval: { every: 1, period: 'seconds' }, queue, args: [] });
      const file = dir.write(
        'django.yaml',
        [
          'name: dj-wb',
          `broker: { url: "${server.url(0)}" }`,
          'maxInterval: 200ms',
          `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
          `sources: { django: { url: "postgres://postgres@127.0.0.1:${proxy.port}/django" } }`,
          '',
        ].join('\n'),
      );
      const leader = fleet.spawn({ config: file, label: 'dj-wb' });
      await leader.waitForEvent(EVENTS.lockAcquired, 30_000);
      const runs = async (): Promise<number> => (await readQueue(redis, queue)).filter((r) => r.entry === 'dj-count').length;
      const written = async (): Promise<number> => (await orm!.call<OrmRow>({ op: 'get', name: 'dj-count' })).total_run_count;
      await waitUntil(
        '2 runs written back',
        async () => ((await written()) >= 2 ? true : undefined),
        20_000,
        () => fleet.dump(),
      );

      await outage(proxy, () => leader.events(EVENTS.djangoWriteBackFailed).length > 0);
      const afterOutage = await runs();
      await waitUntil(
        "the row's total_run_count to catch up with the runs",
        async () => {
          const before = await runs();
          const count = await written();
          return count >= before && before > afterOutage ? count : undefined;
        },
        20_000,
        () => fleet.dump(),
      );
      leader.child.kill('SIGTERM');
      await leader.waitForExit(15_000);
      expect(await written()).toBe(await runs());
    } finally {
      await orm?.close();
      await pg.stop();
    }
  }, 90_000);
});
