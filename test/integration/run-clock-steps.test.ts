/**
 * `beat run` replicas whose wall clock is stepped while they run (libfaketime, see
 * test/support/faketime.ts), against a PRIVATE redis-server on a free port whose clock (TIME) stays
 * right. The hazards: a step back that held the loop, a lease timed on the wall clock, a clock far
 * ahead that published (or recorded) slots in the future and so silenced the right replicas, a
 * skewed replica allowed to lead.
 */
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { FAKETIME_HINT, SteppableClock, libfaketime } from '../support/faketime.js';
import { httpPortOf, httpRequest } from '../support/ops.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const fleet = new BeatFleet();
const dir = new TempDir();
const redis = new PrivateRedis(await freePort());
let admin: Redis;

function configFile(name: string, beatSchedule: Record<string, unknown>, lock: Record<string, unknown> = {}): string {
  return dir.write(`${name}.json`, {
    name,
    broker: { url: redis.url() },
    maxInterval: '200ms',
    lock: { ...FAST_LOCK, ...lock },
    beatSchedule,
  });
}

function spawnOn(clock: SteppableClock | undefined, config: string, label: string): BeatProcess {
  return fleet.spawn({ config, label, args: ['--http', '127.0.0.1:0'], env: clock?.env() ?? {} });
}

async function sigterm(p: BeatProcess): Promise<void> {
  p.signal('SIGTERM');
  expect(await p.waitForExit(10_000), p.tail()).toEqual({ code: 0, signal: null });
}

/** Every stored slot, by entry. */
async function storedSlots(name: string): Promise<Map<string, number>> {
  const states = await admin.hgetall(schedulerKeys('tsbeat', name).state);
  return new Map(Object.entries(states).map(([entry, text]) => [entry, (JSON.parse(text) as { slot?: number }).slot ?? Number.NaN]));
}

beforeAll(async () => {
  if (libfaketime() === undefined) throw new Error(FAKETIME_HINT);
  await redis.start();
  admin = redis.client();
  await admin.connect();
});

beforeEach(async () => {
  await admin.flushall();
});

afterEach(async () => {
  await fleet.killAll();
});

afterAll(async () => {
  await fleet.killAll();
  admin?.disconnect();
  await redis.stop();
  dir.remove();
});

describe('clock steps while running', () => {
  it('a leader whose clock steps an hour ahead stops leading (/readyz says why) and publishes or records no future slot; a replica with a right clock leads on', async () => {
    const clock = new SteppableClock(dir.path, 'ahead');
    const config = configFile('ahead', {
      all: { task: 't.all', schedule: 1, catchUp: 'all' },
      once: { task: 't.once', schedule: 1 },
      skip: { task: 't.skip', schedule: 1, catchUp: 'skip' },
    });
    const stepped = spawnOn(clock, config, 'stepped');
    await stepped.waitForEvent('beat.lock.acquired', 15_000);
    const right = spawnOn(undefined, config, 'right');
    await right.waitForEvent('beat.standby', 15_000);
    await stepped.waitForLog('three fires', () => stepped.events('beat.fire').length >= 3, 10_000);

    const mark = stepped.logs.length;
    clock.step('+3600s');
    const lost = await stepped.waitForEvent('beat.lock.lost', 10_000, mark);
    expect(lost['reason']).toMatch(/the local clock is .*ahead/);
    expect(
      stepped.logs.slice(mark).some((l) => l.event === 'beat.clock.ahead' || l.event === 'beat.clock.skew'),
      stepped.tail(),
    ).toBe(true);
    const ready = await httpRequest(await httpPortOf(stepped), '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/clock/);

    // The replica with a right clock takes over and publishes: nothing recorded ahead holds it back.
    await right.waitForEvent('beat.lock.acquired', 10_000);
    const beforeFires = right.events('beat.fire').length;
    await right.waitForLog(
      'fires of every entry',
      () => ['all', 'once', 'skip'].every((e) => right.events('beat.fire', beforeFires).some((l) => l['entry'] === e)),
      10_000,
    );

    const latest = Date.now() + 1000;
    const queued = await readQueue(admin);
    expect(queued.length).toBeGreaterThan(3);
    expect(queued.filter((run) => run.slotMs > latest)).toEqual([]);
    const slots = await storedSlots('ahead');
    expect(slots.size).toBe(3);
    for (const [entry, slot] of slots) expect(slot, entry).toBeLessThanOrEqual(latest);

    // While its clock is ahead it stays a standby; set right, it may lead again.
    expect(stepped.events('beat.lock.acquired', mark)).toEqual([]);
    clock.step('+0');
    await stepped.waitForEvent('beat.clock.synced', 10_000, mark);
    expect((await httpRequest(await httpPortOf(stepped), '/readyz')).status).toBe(200);
    await Promise.all([sigterm(stepped), sigterm(right)]);
  });

  it("a replica started 30 s ahead of or behind the Redis server's clock does not lead, though the lock is free (beat.clock.skew, /readyz says why)", async () => {
    const replicas = (['+30s', '-30s'] as const).map((offset, i) => {
      const clock = new SteppableClock(dir.path, `skewed-${i}`);
      clock.step(offset);
      return { offset, p: spawnOn(clock, configFile(`skewed-${i}`, { tick: { task: 't.tick', schedule: 1 } }), `skewed ${offset}`) };
    });
    for (const { offset, p } of replicas) {
      const skew = await p.waitForEvent('beat.clock.skew', 15_000);
      expect(skew).toMatchObject({
        level: 'warn',
        maxClockSkewMs: 1000,
        msg: expect.stringMatching(offset.startsWith('+') ? /ahead of the Redis server's/ : /behind the Redis server's/),
      });
      expect(Math.abs(Math.abs(skew['skewMs'] as number) - 30_000)).toBeLessThan(1000);
      await p.waitForEvent('beat.standby', 5000);
    }
    // A standby tries the free lock every 200 ms: two seconds is ten refusals.
    await sleep(2000);
    for (const { p } of replicas) {
      expect(p.events('beat.lock.acquired'), p.tail()).toEqual([]);
      const ready = await httpRequest(await httpPortOf(p), '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatch(/clock/);
      // Logged once, not once per attempt.
      expect(p.events('beat.clock.skew')).toHaveLength(1);
    }
    expect(await admin.exists(schedulerKeys('tsbeat', 'skewed-0').lock, schedulerKeys('tsbeat', 'skewed-1').lock, 'celery')).toBe(0);
    await Promise.all(replicas.map(({ p }) => sigterm(p)));
  });

  it('a leader whose clock steps within lock.maxClockSkew keeps its lock (the lease runs on the monotonic clock); stepped back 20 s it keeps renewing, answers /healthz and stops on SIGTERM', async () => {
    const clock = new SteppableClock(dir.path, 'within');
    const keys = schedulerKeys('tsbeat', 'within');
    const p = spawnOn(
      clock,
      configFile('within', { tick: { task: 't.tick', schedule: 1, catchUp: 'skip' } }, { maxClockSkew: '1m' }),
      'within',
    );
    await p.waitForEvent('beat.lock.acquired', 15_000);
    await p.waitForLog('two fires', () => p.events('beat.fire').length >= 2, 10_000);
    const port = await httpPortOf(p);
    const token = await admin.get(keys.fence);

    // Forward 20 s: a lease dated by the wall clock ran out at once, and redlock would not extend it.
    const mark = p.logs.length;
    clock.step('+20s');
    await sleep(2500); // five renewals (FAST_LOCK: every 500 ms)
    clock.step('-20s');
    // Back 20 s (40 s at once): the loop must not wait for the clock to make it up.
    const probedUntil = Date.now() + 3000;
    while (Date.now() < probedUntil) {
      expect((await httpRequest(port, '/healthz', { timeoutMs: 1000 })).status).toBe(200);
      // Renewed all along: the lock (2 s TTL) still holds this leader's token.
      expect(await admin.get(keys.lock)).toBe(token);
      await sleep(100);
    }
    expect(
      p.logs
        .slice(mark)
        .filter((l) => ['beat.lock.lost', 'beat.lock.renew_failed', 'beat.clock.skew', 'beat.clock.ahead'].includes(l.event ?? '')),
      p.tail(),
    ).toEqual([]);
    await sigterm(p);
  });
});
