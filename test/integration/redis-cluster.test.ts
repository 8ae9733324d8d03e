/**
 * tsbeat's state and lock on a Redis Cluster (`redis-cluster://`): a private cluster of 3 masters
 * and 3 replicas on loopback (test/support/redis-cluster.ts), RabbitMQ as the broker (the shared
 * node on 5672, a queue of this file's own), two `beat run` replicas. What reaches the queue is read
 * off it (amqplib's basic.get) and held to the grid: every slot once. The hazards: a deployment's
 * keys spread over slots (a script's keys refused with CROSSSLOT, or on another master), a leader
 * killed (the standby takes over), and the master that holds the deployment's slot SIGKILLed (its
 * replica promoted by the cluster: publishing goes on, nothing twice, nothing lost). And the URLs
 * that cannot work on a cluster, refused with exit 2: a Redis broker there (kombu's Redis
 * transport has no cluster mode), and a one-server URL to one of its nodes.
 */
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { parseIsoInstant } from '../../src/celery/time.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { checkSlots } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { httpPortOf, httpRequest, killCliChildren, runBeatCli, uniqueName } from '../support/ops.js';
import { portOpen } from '../support/rabbitmq-node.js';
import { PrivateRedisCluster, quietDelay } from '../support/redis-cluster.js';

const SHARED_AMQP = 'amqp://guest:guest@127.0.0.1:5672//';
const rabbitUp = await portOpen(5672);
// In CI the suite must run: a missing broker fails it instead of skipping it.
const amqpSuite = rabbitUp || process.env['CI'] ? describe : describe.skip;
const S = 1000;

amqpSuite('a deployment on a Redis Cluster (3 masters, 3 replicas), RabbitMQ as the broker', () => {
  const cluster = new PrivateRedisCluster(3, 1);
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const name = uniqueName('cluster');
  const queue = `${name}-q`;
  const arrived: QueuedRun[] = [];

  /** Takes every message off the queue into `arrived`. */
  async function drain(): Promise<void> {
    const model = await connect(SHARED_AMQP);
    try {
      const ch = await model.createChannel();
      await ch.assertQueue(queue);
      for (let got = await ch.get(queue, { noAck: true }); got !== false; got = await ch.get(queue, { noAck: true })) {
        const headers = got.properties.headers as Record<string, unknown>;
        const slotMs = parseIsoInstant(String(headers['beat_scheduled_at']));
        if (slotMs === undefined) throw new Error(`bad beat_scheduled_at ${String(headers['beat_scheduled_at'])}`);
        arrived.push({ id: String(headers['id']), entry: String(headers['beat_entry']), task: String(headers['task']), slotMs });
      }
    } finally {
      await model.close();
    }
  }

  beforeAll(async () => {
    await cluster.start();
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    const model = await connect(SHARED_AMQP).catch(() => undefined);
    await (await model?.createChannel())?.deleteQueue(queue);
    await model?.close();
    await cluster.stop();
    dir.remove();
  });

  it('refuses a Redis broker on the cluster, and a one-server URL to one of its nodes, with exit 2 and the fix, writing nothing', async () => {
    const node = cluster.nodes[0]?.port ?? 0;
    const brokerThere = dir.write('broker-there.json', {
      name: 'refused',
      broker: { url: `redis://127.0.0.1:${node}/0` },
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    const run1 = await runBeatCli(['run', '--config', brokerThere], { timeoutMs: 20_000 });
    expect(run1.code, run1.stderr + run1.stdout).toBe(2);
    expect(run1.stdout + run1.stderr).toMatch(/REDIS_CLUSTER_MODE|node of a Redis Cluster/);
    expect(run1.stdout + run1.stderr).toContain("Celery's Redis transport (kombu) does not support cluster mode");

    const clusterBroker = dir.write('cluster-broker.json', {
      name: 'refused',
      broker: { url: cluster.url() },
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    const run2 = await runBeatCli(['run', '--config', clusterBroker], { timeoutMs: 20_000 });
    expect(run2.code, run2.stderr + run2.stdout).toBe(2);
    expect(run2.stdout + run2.stderr).toContain('is a Redis Cluster');

    const stateThere = dir.write('state-there.json', {
      name: 'refused',
      broker: { url: SHARED_AMQP },
      state: { url: `redis://127.0.0.1:${node}/0` },
      beatSchedule: { tick: { task: 't.tick', schedule: 1 } },
    });
    const run3 = await runBeatCli(['run', '--config', stateThere], { timeoutMs: 20_000 });
    expect(run3.code, run3.stderr + run3.stdout).toBe(2);
    expect(run3.stdout + run3.stderr).toContain('redis-cluster://host:port');
    expect([...(await cluster.keysByMaster('*refused*')).values()].flat()).toEqual([]);
  }, 60_000);

  // No retry: the killed master stays down, a second attempt would run on a cluster of two shards' replicas.
  it(
    'leads, publishes every slot once with runtime entries, keeps every key in one slot, and goes on after a leader SIGKILL and after its master SIGKILLed and its replica promoted: 0 duplicates, 0 lost',
    { retry: 0, timeout: 180_000 },
    async () => {
      const file = dir.write(`${name}.json`, {
        name,
        broker: { url: SHARED_AMQP },
        state: { url: cluster.url() },
        maxInterval: '200ms',
        lock: FAST_LOCK,
        beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 1, catchUp: 'all', options: { queue } } },
      });
      const beats = [fleet.spawn({ config: file, label: 'beat-a' }), fleet.spawn({ config: file, label: 'beat-b' })];
      const fires = (): number => fleet.all.reduce((n, p) => n + p.events(EVENTS.fire).length, 0);
      await waitUntil(
        'three publishes',
        () => (fires() >= 3 ? true : undefined),
        30_000,
        () => fleet.dump(),
      );

      // A runtime entry, written through the CLI to the cluster.
      const set = await runBeatCli(
        [
          'entries',
          'set',
          'rt',
          '--task',
          'tsbeat_test.record',
          '--schedule',
          '1',
          '--catch-up',
          'all',
          '--options',
          JSON.stringify({ queue }),
          '--config',
          file,
        ],
        { timeoutMs: 20_000 },
      );
      expect(set.code, set.stderr).toBe(0);
      await waitUntil(
        'the runtime entry to publish',
        () => (fleet.all.some((p) => p.events(EVENTS.fire).some((l) => l['entry'] === 'rt')) ? true : undefined),
        15_000,
        () => fleet.dump(),
      );

      // The commands that open the deployment read it on the cluster.
      const status = await runBeatCli(['status', '--config', file, '--json'], { timeoutMs: 20_000 });
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('"rt"');
      const history = await runBeatCli(['history', 'tick', '--config', file], { timeoutMs: 20_000 });
      expect(history.code, history.stderr).toBe(0);

      // Every key of the deployment is in one slot, on one master.
      const keys = schedulerKeys('tsbeat', name);
      const slot = await cluster.keySlot(keys.state);
      const byMaster = await cluster.keysByMaster(`tsbeat:{${name}}:*`);
      const holders = [...byMaster].filter(([, list]) => list.length > 0);
      expect(holders.length, JSON.stringify([...byMaster])).toBe(1);
      const held = holders[0]?.[1] ?? [];
      expect(held).toEqual(expect.arrayContaining([keys.state, keys.lock, keys.fence, keys.entries, keys.entriesVersion]));
      for (const key of held) expect(await cluster.keySlot(key), key).toBe(slot);

      // 1. The leader SIGKILLed, halfway between two slots: the standby takes over. (Over AMQP a
      // leader killed between a broker's confirm and the record of it leaves a run the next leader
      // sends again, with the same task id: at least once, docs/brokers.md. CI's Valkey leg hit that
      // window once; the cluster's hazards, not that documented one, are what this test is about.)
      const leader = await waitUntil('a leader', () => beats.find((b) => b.events(EVENTS.lockAcquired).length > 0 && b.alive), 10_000);
      const standby = beats.find((b) => b !== leader);
      if (standby === undefined) throw new Error('no standby');
      await sleep(quietDelay(fleet.all.flatMap((p) => p.events(EVENTS.fire).map((l) => parseIsoInstant(String(l['slot'])) ?? 0))));
      const mark = standby.logs.length;
      const leaderKilledAt = new Date().toISOString();
      leader.child.kill('SIGKILL');
      await standby.waitForEvent(EVENTS.lockAcquired, 15_000, mark);
      const third = fleet.spawn({ config: file, label: 'beat-c', args: ['--http', '127.0.0.1:0'] });
      const port = await httpPortOf(third);

      // 2. The master of the deployment's slot SIGKILLed, halfway between two slots (no publish in
      // flight): its replica is promoted, and publishing goes on from what it had.
      await waitUntil('two more publishes', () => (standby.events(EVENTS.fire, mark).length >= 2 ? true : undefined), 15_000);
      const master = await cluster.masterOf(slot);
      const slots = fleet.all.flatMap((p) => p.events(EVENTS.fire).map((l) => parseIsoInstant(String(l['slot'])) ?? 0));
      await sleep(quietDelay(slots));
      const atKill = fleet.all.map((p) => p.logs.length);
      // Its readiness through the failover, polled: the deployment's slot unserved is not ready.
      const readiness: { status: number; body: string }[] = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          readiness.push(await httpRequest(port, '/readyz', { timeoutMs: 2000 }).catch((e: unknown) => ({ status: 0, body: String(e) })));
          await sleep(50);
        }
      })();
      const killedAt = Date.now();
      const masterKilledAt = new Date(killedAt).toISOString();
      await cluster.node(master.port).kill();
      await waitUntil(
        'a replica promoted for the slot',
        async () => {
          try {
            const now = await cluster.masterOf(slot);
            return now.port !== master.port ? now : undefined;
          } catch {
            return undefined;
          }
        },
        20_000,
      );
      const afterFailover = fleet.all.map((p) => p.logs.length);
      await waitUntil(
        'publishing to go on after the promotion',
        () =>
          fleet.all.some((p, i) => p.events(EVENTS.fire, afterFailover[i]).filter((l) => l['entry'] === 'tick').length >= 3)
            ? true
            : undefined,
        30_000,
        () => fleet.dump(),
      );
      // The kill reached the deployment: its leader lost the lock, and the next one replayed the slots missed meanwhile.
      const hit = (event: string): boolean => fleet.all.some((p, i) => p.events(event, atKill[i]).length > 0);
      // (Its renewal's failure is a debug line while the outage below is open, as with one Redis down; losing the lock is not.)
      expect((hit(EVENTS.lockRenewFailed) || hit(EVENTS.lockLost)) && hit(EVENTS.catchUp), fleet.dump()).toBe(true);
      // Each replica said which node failed.
      for (const [i, p] of fleet.all.entries())
        if (p !== leader) expect(p.events(EVENTS.redisError, atKill[i]).map((l) => l['node'])).toContain(`127.0.0.1:${master.port}`);
      // The deployment's keys were unavailable until the promotion: an outage, as a single Redis down
      // is, opened (beat.redis.down) and closed (beat.redis.up) once by each replica, and not ready meanwhile.
      const url = cluster.url().replace(/^redis-cluster:\/\//, '');
      // (Once each as a rule; a slot map that still names the dead master while the promotion is under
      // way, or the state and lock connections each seeing it, may open it twice: each opened is closed.)
      const outages = (p: BeatProcess): { down: number; up: number } => {
        const from = atKill[fleet.all.indexOf(p)];
        return { down: p.events(EVENTS.redisDown, from).length, up: p.events(EVENTS.redisUp, from).length };
      };
      await waitUntil(
        'every replica to count the outage over',
        () => (fleet.alive().every((p) => outages(p).up > 0 && outages(p).up === outages(p).down) ? true : undefined),
        15_000,
        () => fleet.dump(),
      );
      for (const p of fleet.alive()) {
        const from = atKill[fleet.all.indexOf(p)];
        const downs = p.events(EVENTS.redisDown, from).map((l) => String(l['url']));
        expect(downs.length, p.label).toBeGreaterThan(0);
        expect(downs, p.label).toEqual(downs.map(() => expect.stringContaining(url)));
      }
      polling = false;
      await poller;
      const unready = readiness.filter((r) => r.status === 503);
      expect(unready.length, JSON.stringify(readiness.slice(0, 5))).toBeGreaterThan(0);
      expect(unready[0]?.body).toContain("not ok: Redis unserved: the master of the deployment's cluster slot is unreachable");
      expect(readiness.at(-1)?.status).toBe(200);
      for (const p of fleet.alive()) p.child.kill('SIGTERM');
      await Promise.all([standby, third].map((p) => p.waitForExit(15_000).catch(() => undefined)));

      await drain();
      for (const entry of ['tick', 'rt']) {
        const runs = arrived.filter((r) => r.entry === entry);
        const report = checkSlots(entry, runs, S, name);
        expect(report.count, entry).toBeGreaterThan(3);
        // Who published a doubled slot, and when: a leader killed or deposed, or the master's last writes lost.
        const firedBy = (slotMs: number): string[] =>
          fleet.all.flatMap((p) =>
            p
              .events(EVENTS.fire)
              .filter((l) => l['entry'] === entry && parseIsoInstant(String(l['slot'])) === slotMs)
              .map((l) => `${p.label} at ${String(l['time'])}`),
          );
        const doubled = report.duplicateSlots.map((slotMs) => `${new Date(slotMs).toISOString()} by ${firedBy(slotMs).join(', ')}`);
        expect(
          report.duplicateSlots,
          `${entry}: duplicates ${doubled.join('; ')} (leader killed at ${leaderKilledAt}, master at ${masterKilledAt})\n${fleet.dump()}`,
        ).toEqual([]);
        expect(report.duplicateIds, `${entry}: duplicate ids`).toEqual([]);
        expect(report.missingSlots, `${entry}: lost`).toEqual([]);
        expect(report.wrongIds).toEqual([]);
        // The failover's slots are in: one run of every second across the kill.
        if (entry === 'tick') expect(report.lastMs).toBeGreaterThan(killedAt + 2 * S);
      }
      expect(arrived.every((r) => r.id === slotTaskId(name, r.entry, r.slotMs))).toBe(true);
    },
  );
});
