/**
 * The replicas registry on a private redis-server: its script's contract (a heartbeat drops the
 * records past their expiry, the keys expire with the last record, a clean leave removes one, a key
 * of another type is refused with nothing written), all by Redis's clock: a heartbeat from a replica
 * whose clock is 30 s ahead removes no fresh record, and a reader whose clock is 30 s off sees the
 * live ones; and real `beat run` processes: `beat status`
 * (text and --json) and /status list the leader and a standby with their heartbeats; a standby
 * stopped with SIGTERM is gone from the listing as soon as it has exited, and one killed with SIGKILL
 * drops out once its lock.ttl has passed since its last heartbeat.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import type { ReplicaStatus } from '../../src/control/replicas.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { ReplicaRegistry } from '../../src/redis/replica-registry.js';
import { waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, httpRequest, runBeatCli, uniqueName } from '../support/ops.js';

const TTL_MS = 2000;
const T0 = Date.UTC(2026, 10, 23, 4, 0, 0);
const record = (instance: string, beatAtMs: number) => ({
  instance,
  host: 'h',
  pid: 1,
  version: '0.0.0',
  role: 'standby' as const,
  startedAtMs: T0,
  beatAtMs,
  http: null,
});

describe('the replicas registry (private redis-server)', () => {
  const suite = beatSuite({ startTimeoutMs: 30_000 });
  const { fleet, dir } = suite;

  /** Redis's clock, epoch ms: the one the registry's expiries are by. */
  const redisNow = async (): Promise<number> => {
    const [seconds, micros] = await suite.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a heartbeat drops the records past their expiry by Redis's clock, and the keys expire with the last record", async () => {
    const keys = schedulerKeys('t', uniqueName('script'));
    const registry = new ReplicaRegistry(suite.client, keys);
    expect(await registry.beat(record('a', T0), 60_000)).toBe(0);
    expect(await registry.beat(record('b', T0), 60_000)).toBe(0);
    const live = await registry.read();
    expect(live.map((r) => r.instance)).toEqual(['a', 'b']);
    // The age is Redis's, not T0's (the callers' clocks here say years ago).
    for (const r of live) expect(r.heartbeatAgeMs).toBeLessThan(5_000);
    // a's expiry put just past (as if it had died a lock.ttl ago): readers leave it out at once.
    await suite.client.zadd(keys.replicaExpiry, (await redisNow()) - 1, 'a');
    expect((await registry.read()).map((r) => r.instance)).toEqual(['b']);
    expect(await suite.client.hexists(keys.replicas, 'a')).toBe(1);
    // b's next heartbeat removes it.
    expect(await registry.beat(record('b', T0 + 1200), 1000)).toBe(1);
    expect(await suite.client.hkeys(keys.replicas)).toEqual(['b']);
    const [member, score] = await suite.client.zrange(keys.replicaExpiry, '0', '-1', 'WITHSCORES');
    expect(member).toBe('b');
    expect(Number(score) - (await redisNow())).toBeGreaterThan(0);
    expect(Number(score) - (await redisNow())).toBeLessThanOrEqual(1000);
    for (const key of [keys.replicas, keys.replicaExpiry]) {
      const pttl = await suite.client.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(1000);
    }
    expect(await registry.leave('b')).toBe(true);
    expect(await registry.leave('b')).toBe(false);
    expect(await suite.client.exists(keys.replicas, keys.replicaExpiry)).toBe(0);
  });

  it("a heartbeat dated 30 s ahead removes no fresh record, and a reader's clock 30 s off sees the live ones", async () => {
    const keys = schedulerKeys('t', uniqueName('skew'));
    const registry = new ReplicaRegistry(suite.client, keys);
    expect(await registry.beat(record('right', Date.now()), 2000)).toBe(0);
    // Its clock 30 s ahead, past lock.maxClockSkew: by its clock, right's record expired 28 s ago.
    expect(await registry.beat(record('ahead', Date.now() + 30_000), 2000)).toBe(0);
    expect((await suite.client.hkeys(keys.replicas)).sort()).toEqual(['ahead', 'right']);
    for (const offset of [30_000, -30_000]) {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + offset);
      const live = await registry.read();
      vi.useRealTimers();
      // (Sorted: both expiries may fall in the same ms.)
      expect(live.map((r) => r.instance).sort()).toEqual(['ahead', 'right']);
      // Both heartbeats are fresh by Redis's clock, whatever the writer's clock said.
      for (const r of live) expect(r.heartbeatAgeMs).toBeLessThan(2000);
    }
    expect((await registry.read()).find((r) => r.instance === 'ahead')?.beatAtMs).toBeGreaterThan(Date.now() + 20_000);
  });

  it('refuses a key of another type, naming it, and writes nothing', async () => {
    const keys = schedulerKeys('t', uniqueName('stray'));
    await suite.client.set(keys.replicas, 'not a hash');
    const registry = new ReplicaRegistry(suite.client, keys);
    await expect(registry.beat(record('a', T0), 1000)).rejects.toThrow(keys.replicas);
    expect(await suite.client.exists(keys.replicaExpiry)).toBe(0);
    expect(await suite.client.get(keys.replicas)).toBe('not a hash');
    await expect(registry.read()).rejects.toThrow(keys.replicas);
  });

  it('lists the leader and a standby; a SIGTERM removes the standby at once, a SIGKILL within lock.ttl', async () => {
    const name = uniqueName('replicas');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: suite.redis.url(0) },
      lock: { ttl: `${TTL_MS}ms`, renewEvery: '500ms', retryEvery: '200ms' },
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 60 } },
    });
    const keys = schedulerKeys('tsbeat', name);
    const status = async (): Promise<{ leader: { instance: string } | null; replicas: ReplicaStatus[] }> => {
      const r = await runBeatCli(['status', '--wide', '--config', file, '--json']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      return JSON.parse(r.stdout) as { leader: { instance: string } | null; replicas: ReplicaStatus[] };
    };
    const instanceOf = async (p: BeatProcess): Promise<string> => String((await p.waitForEvent(EVENTS.start, 15_000))['instance']);

    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    const standby = fleet.spawn({ config: file, label: 'standby', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(standby);
    const [leaderId, standbyId] = [await instanceOf(leader), await instanceOf(standby)];

    const both = await waitUntil(
      'the status to list the leader and the standby',
      async () => {
        const s = await status();
        return s.replicas.length === 2 ? s : undefined;
      },
      10_000,
    );
    expect(both.leader?.instance).toBe(leaderId);
    expect(both.replicas.map((r) => [r.instance, r.role])).toEqual([
      [leaderId, 'leader'],
      [standbyId, 'standby'],
    ]);
    expect(both.replicas[1]).toMatchObject({ pid: standby.pid, http: `127.0.0.1:${port}` });
    expect(both.replicas[0]).toMatchObject({ pid: leader.pid, http: null });
    for (const r of both.replicas) expect(r.heartbeatAgeMs).toBeLessThan(TTL_MS);

    // The standby's /status says the same.
    const viaHttp = JSON.parse((await httpRequest(port, '/status')).body) as { replicas: ReplicaStatus[] };
    expect(viaHttp.replicas.map((r) => [r.instance, r.role])).toEqual([
      [leaderId, 'leader'],
      [standbyId, 'standby'],
    ]);

    // The text form: a REPLICA table, the leader first.
    const text = await runBeatCli(['status', '--wide', '--config', file]);
    const lines = text.stdout.split('\n');
    const head = lines.findIndex((l) => l.startsWith('REPLICA '));
    expect(lines[head]).toMatch(/^REPLICA\s+ROLE\s+HOST\s+PID\s+VERSION\s+STARTED\s+HEARTBEAT\s+HTTP$/);
    expect(lines[head + 1]).toMatch(
      new RegExp(`^${leaderId}\\s+leader\\s+\\S+\\s+${leader.pid}\\s+\\S+\\s+\\S+\\s+\\d+\\.\\d s ago\\s+-$`),
    );
    expect(lines[head + 2]).toMatch(new RegExp(`^${standbyId}\\s+standby\\s+.*127\\.0\\.0\\.1:${port}$`));

    // SIGTERM: gone from Redis by the time the process has exited.
    standby.signal('SIGTERM');
    expect((await standby.waitForExit(10_000)).code).toBe(0);
    expect(await suite.client.hexists(keys.replicas, standbyId)).toBe(0);
    expect((await status()).replicas.map((r) => r.instance)).toEqual([leaderId]);

    // SIGKILL: still listed just after, gone once lock.ttl has passed since its last heartbeat.
    const doomed = fleet.spawn({ config: file, label: 'doomed' });
    const doomedId = await instanceOf(doomed);
    await waitUntil('the new standby listed', async () => ((await status()).replicas.length === 2 ? true : undefined), 10_000);
    doomed.child.kill('SIGKILL');
    await doomed.waitForExit(10_000);
    const killedAt = Date.now();
    // Read straight from Redis: a CLI's start-up could outlast the record on a loaded machine.
    expect((await new ReplicaRegistry(suite.client, keys).read()).map((r) => r.instance)).toContain(doomedId);
    await waitUntil(
      'the killed standby to drop out of the listing',
      async () => ((await status()).replicas.some((r) => r.instance === doomedId) ? undefined : true),
      TTL_MS + 3000,
    );
    // Not before its expiry: its last heartbeat was at most a third of the TTL before the kill.
    expect(Date.now() - killedAt).toBeGreaterThan(TTL_MS - TTL_MS / 3 - 200);
    // The leader's next heartbeat removes its record from Redis.
    await waitUntil(
      'the record removed by the leader',
      async () => ((await suite.client.hexists(keys.replicas, doomedId)) === 0 ? true : undefined),
      3000,
    );
  }, 90_000);
});
