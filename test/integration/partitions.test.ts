/**
 * `partitions: 4` with two `beat run` replicas as real processes on a private Redis: each partition
 * has its own lock, and the partition map (computed by each replica from the replicas registry)
 * gives each replica two: the second to start takes its two from the first by hand-overs. Two
 * replicas leading two partitions each publish at once, and every (entry, slot) goes out exactly
 * once, read from the broker's list (not from tsbeat's logs); a replica SIGKILLed loses its
 * partitions to the other within the lock's TTL, with no slot twice. Who leads which partition is read from Redis (each
 * partition's lock and leader record), not from the replicas' logs. Then the commands, /status and
 * /readyz, and runtime entries, with partitions.
 */
import { describe, expect, it } from 'vitest';
import { assignPartitions, partitionOf } from '../../src/core/partition.js';
import { partitionKeys, schedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK, partitionLeaderPids, pidOfInstance, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, httpRequest, runBeatCli } from '../support/ops.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';

const N = 4;
const ENTRIES = 40;
const TTL_MS = 2000;

describe('partitions', () => {
  const suite = beatSuite();

  /** The instance ids in the replicas registry of deployment `name`, once there are `count`. */
  const registered = (what: string, name: string, count: number) =>
    waitUntil(
      what,
      async () => {
        const live = await suite.client.hkeys(schedulerKeys('tsbeat', name).replicas);
        return live.length === count ? live : undefined;
      },
      15_000,
      () => suite.fleet.dump(),
    );

  /** The pid of the replica that leads each partition now (its lock held and its leader record), or undefined. */
  const leaders = (name: string) => partitionLeaderPids(suite.client, name, N);

  it("two replicas lead 2 of 4 partitions each (the second takes its two by hand-overs), publishing at once: every (entry, slot) once; a SIGKILLed replica's partitions move to the other within the TTL", async () => {
    const name = 'parts';
    // A second attempt of the test starts from an empty broker list.
    await suite.client.flushdb();
    const beatSchedule = Object.fromEntries(
      Array.from({ length: ENTRIES }, (_, i) => [`e${String(i).padStart(2, '0')}`, { task: `t.e${i}`, schedule: 1, catchUp: 'all' }]),
    );
    // Every partition holds some of the entries (the split is CRC-32 of the name, fixed).
    const counts = new Array<number>(N).fill(0);
    for (const entry of Object.keys(beatSchedule)) counts[partitionOf(entry, N)] = (counts[partitionOf(entry, N)] ?? 0) + 1;
    expect(counts.every((n) => n > 0)).toBe(true);
    const config = suite.dir.write(`${name}.json`, {
      name,
      partitions: N,
      broker: { url: suite.redis.url(0) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule,
    });
    /** Waits until the partitions are led as `want` says (index: the partition, value: the replica). */
    const ledAs = (what: string, want: readonly BeatProcess[], timeoutMs: number) =>
      waitUntil(
        what,
        async () => ((await leaders(name)).every((pid, p) => pid === want[p]?.pid) ? true : undefined),
        timeoutMs,
        () => suite.fleet.dump(),
      );
    // The first replica up is alone in the partition map: it takes every partition's lock.
    const a = suite.fleet.spawn({ config, label: 'A' });
    await ledAs('A leading every partition', [a, a, a, a], 15_000);
    // The second joins the registry: the map (the same on both, from the live ids) gives it two, and
    // A hands those over (session stopped, lock released and announced), keeping the other two.
    const b = suite.fleet.spawn({ config, label: 'B' });
    const ids = await registered('A and B in the replicas registry', name, 2);
    const byPid = new Map([a, b].map((p) => [p.pid, p]));
    const map = assignPartitions(N, ids).map((id) => byPid.get(pidOfInstance(id)) as BeatProcess);
    expect(map.filter((p) => p === a)).toHaveLength(2);
    await ledAs('A and B leading the two the partition map gives each', map, 15_000);
    await a.waitForLog('A handing two partitions over', () => a.events('beat.partitions.handed_over').length === 2, 5000);
    // Two replicas publish at once, each its partitions' entries.
    await sleep(3000);
    await ledAs('the split unchanged', map, 1000);

    // A dies without a word: B must take its partitions within the lock's TTL.
    const victim = a;
    const survivor = b;
    victim.signal('SIGKILL');
    const killedAt = Date.now();
    await victim.waitForExit(10_000);
    await ledAs('B leading every partition', [b, b, b, b], TTL_MS + 4000);
    const takenMs = Date.now() - killedAt;
    // The lock runs out after its TTL; a standby's retry (200 ms) and the polling above come on top.
    expect(takenMs).toBeLessThan(TTL_MS + 3000);
    await sleep(2500);
    survivor.signal('SIGTERM');
    expect(await survivor.waitForExit(10_000), survivor.tail()).toEqual({ code: 0, signal: null });

    const runs = await readQueue(suite.client);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    const published = byEntry(runs);
    expect([...published.keys()].sort()).toEqual(Object.keys(beatSchedule).sort());
    for (const [entry, list] of published) {
      const report = checkSlots(entry, list, 1000, name);
      // catchUp "all": the slots of the failover's gap went out late, but went out, once.
      expect(report).toMatchObject({ duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [], wrongIds: [] });
      expect(report.count).toBeGreaterThanOrEqual(5);
    }
    // Each entry's state lives under its own partition's keys only; the deployment's state key is unused.
    expect(await suite.client.exists(schedulerKeys('tsbeat', name).state)).toBe(0);
    for (let p = 0; p < N; p += 1) {
      const stored = Object.keys(await suite.client.hgetall(partitionKeys('tsbeat', name, p, N).state)).sort();
      expect(stored).toEqual(Object.keys(beatSchedule).filter((e) => partitionOf(e, N) === p));
    }
  });

  it('three replicas launched together find each other in their first partition map: each campaigns for its own share, and none hands a partition over', async () => {
    const name = 'together';
    const parts = 6;
    // A second attempt starts from an empty registry.
    await suite.client.flushdb();
    // lock.ttl 6 s: a heartbeat (the wait before the first map) of 2 s, as by default, for processes started at once on a busy machine.
    const config = suite.dir.write(`${name}.json`, {
      name,
      partitions: parts,
      broker: { url: suite.redis.url(0) },
      lock: { ttl: '6s', renewEvery: '1s', retryEvery: '200ms' },
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    const fleet = ['X', 'Y', 'Z'].map((label) => suite.fleet.spawn({ config, label }));
    const ids = await registered('the three in the replicas registry', name, 3);
    const byPid = new Map(fleet.map((p) => [p.pid, p]));
    const map = assignPartitions(parts, ids).map((id) => byPid.get(pidOfInstance(id))?.pid);
    await waitUntil(
      'every partition led as the map of the three gives it',
      async () => ((await partitionLeaderPids(suite.client, name, parts)).every((pid, p) => pid === map[p]) ? true : undefined),
      15_000,
      () => suite.fleet.dump(),
    );
    await sleep(2000);
    for (const replica of fleet) {
      // Its first map already held all three (before the wait, each saw itself alone and took every lock it could).
      expect(replica.events('beat.partitions.map_changed')[0], replica.tail()).toMatchObject({ replicas: 3 });
      expect(replica.events('beat.partitions.handed_over'), replica.tail()).toEqual([]);
    }
    for (const replica of fleet) replica.signal('SIGTERM');
    for (const replica of fleet) expect(await replica.waitForExit(10_000), replica.tail()).toEqual({ code: 0, signal: null });
  });

  it("beat status, /readyz and /status list the partitions and their leaders; pause, trigger and runtime entries reach the leader of the entry's partition", async () => {
    const name = 'parts-cli';
    // Entries of partitions 0 and 3 of 4 (CRC-32 of the name), one of each kept for the pause and the trigger.
    const names = Array.from({ length: 40 }, (_, i) => `c${i}`);
    const pausedEntry = names.find((n) => partitionOf(n, N) === 3) as string;
    const triggered = names.find((n) => partitionOf(n, N) === 2) as string;
    const config = suite.dir.write(`${name}.json`, {
      name,
      partitions: N,
      broker: { url: suite.redis.url(1) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        [pausedEntry]: { task: 't.paused', schedule: 1 },
        // Its own queue: a manual run's message is read raw there (it has no slot of the grid).
        [triggered]: { task: 't.triggered', schedule: 3600, options: { queue: 'manual' } },
      },
    });
    const db1 = suite.redis.client(1);
    await db1.flushdb();
    const beat = suite.fleet.spawn({ config, label: 'C', args: ['--http', '127.0.0.1:0'] });
    try {
      const led = await waitUntil(
        'every partition led',
        async () => {
          const status = await runBeatCli(['status', '--config', config, '--json']);
          const parsed = JSON.parse(status.stdout) as {
            partitions?: { partition: number; leader: string | null; assigned: string | null }[];
          };
          return parsed.partitions?.every((p) => p.leader !== null && p.assigned !== null) ? parsed.partitions : undefined;
        },
        15_000,
        () => suite.fleet.dump(),
      );
      // Alone in the registry, the replica is each partition's assignee (the map `beat status` computes as the replicas do).
      expect(led.every((p) => p.assigned === p.leader)).toBe(true);
      // The replica's own view: it leads every partition, and its /status lists them.
      const port = await httpPortOf(beat);
      expect(await httpRequest(port, '/readyz')).toMatchObject({ status: 200, body: `ok: leading partitions 0, 1, 2, 3 of ${N}\n` });
      const own = JSON.parse((await httpRequest(port, '/status')).body) as { partitions: unknown; self: unknown };
      // Each with the entries this replica holds of it (here the config file's: no runtime entry yet).
      const held = (partition: number): number => [pausedEntry, triggered].filter((n) => partitionOf(n, N) === partition).length;
      expect(own.partitions).toEqual(
        // Alone in the registry, the replica is every partition's assignee too.
        Array.from({ length: N }, (_, partition) => ({
          partition,
          leader: expect.any(String),
          since: expect.any(String),
          assigned: expect.any(String),
          leading: true,
          entries: held(partition),
        })),
      );
      expect(own.self).toMatchObject({ role: 'leader' });
      const text = await runBeatCli(['status', '--config', config]);
      expect(text.stdout).toContain(`deployment ${name}: ${N} partitions, each with a leader`);
      expect(text.stdout).toMatch(/PARTITION +LEADER +SINCE +ASSIGNED/);
      // `=`: the leader is the replica the map gives the partition.
      expect(text.stdout).toMatch(/^0 +\S+ +\S+ += *$/m);

      const pause = await runBeatCli(['pause', pausedEntry, '--config', config]);
      expect(pause.stdout, pause.stderr).toContain(`paused ${pausedEntry}`);
      expect(await db1.sismember(partitionKeys('tsbeat', name, 3, N).paused, pausedEntry)).toBe(1);
      await sleep(1500);
      const before = (await readQueue(db1)).filter((r) => r.entry === pausedEntry).length;
      await sleep(2500);
      expect((await readQueue(db1)).filter((r) => r.entry === pausedEntry).length).toBe(before);

      const trigger = await runBeatCli(['trigger', triggered, '--config', config]);
      expect(trigger.code, trigger.stderr).toBe(0);
      const id = /task id (\S+)/.exec(trigger.stdout)?.[1];
      expect(trigger.stdout).toContain(`triggered ${triggered}`);
      const manual = (await db1.lrange('manual', 0, -1)).map((m) => (JSON.parse(m) as { headers: { id: string } }).headers.id);
      expect(manual).toContain(id);

      // A runtime entry written while it runs (announced on the deployment's channel, not a
      // partition's) is scheduled by its partition's leader, its state under that partition's keys.
      const runtime = names.find((n) => partitionOf(n, N) === 1 && n !== pausedEntry && n !== triggered) as string;
      const set = await runBeatCli(['entries', 'set', runtime, '--task', 't.runtime', '--schedule', '1', '--config', config]);
      expect(set.code, set.stderr).toBe(0);
      await waitUntil(
        'the runtime entry published',
        async () => ((await readQueue(db1)).some((r) => r.entry === runtime) ? true : undefined),
        5000,
        () => suite.fleet.dump(),
      );
      const part1 = partitionKeys('tsbeat', name, 1, N);
      expect(await db1.hexists(part1.state, runtime)).toBe(1);
      // Deleted (paused first): what it had under its partition's keys goes too, as it does
      // under the deployment's with one partition, so that one created again starts afresh.
      expect((await runBeatCli(['pause', runtime, '--config', config])).code).toBe(0);
      expect(await db1.sismember(part1.paused, runtime)).toBe(1);
      const del = await runBeatCli(['entries', 'delete', runtime, '--config', config]);
      expect(del.code, del.stderr).toBe(0);
      await waitUntil(
        'the deleted entry forgotten',
        async () =>
          (await db1.hexists(part1.state, runtime)) === 0 && (await db1.sismember(part1.paused, runtime)) === 0 ? true : undefined,
        5000,
        () => suite.fleet.dump(),
      );
    } finally {
      db1.disconnect();
      beat.signal('SIGTERM');
      await beat.waitForExit(10_000);
    }
  });
});
