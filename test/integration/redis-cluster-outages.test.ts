/**
 * Outages of a Redis Cluster's master of the deployment's slot, named as outages (issue 66): a
 * master that hangs (SIGSTOP: it accepts connections and answers nothing; the cluster's node
 * timeout set to a production's 15 s, so that it is not failed over meanwhile) is an outage opened
 * (beat.redis.down, "not answering", once a command has waited the socket timeout) and closed
 * (beat.redis.up) when it answers again, not only a node's error; and while a master fails over
 * (node timeout 3 s, longer than the cluster client's retries), the entries API answers a write
 * 503 REDIS_UNAVAILABLE (try again), never 500 INTERNAL ("Too many Cluster redirections"). A private
 * cluster of 3 masters and 3 replicas (test/support/redis-cluster.ts), RabbitMQ as the broker (a
 * queue of this file's own on the shared node).
 */
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { httpPortOf, killCliChildren, uniqueName } from '../support/ops.js';
import { portOpen } from '../support/rabbitmq-node.js';
import { NODE_TIMEOUT_MS, PrivateRedisCluster } from '../support/redis-cluster.js';

const SHARED_AMQP = 'amqp://guest:guest@127.0.0.1:5672//';
const rabbitUp = await portOpen(5672);
// In CI the suite must run: a missing broker fails it instead of skipping it.
const amqpSuite = rabbitUp || process.env['CI'] ? describe : describe.skip;
const TOKEN = 'cluster-outage-token-0123456789';

amqpSuite("a Redis Cluster's master of the deployment's slot hung or failing over", () => {
  const cluster = new PrivateRedisCluster(3, 1);
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const name = uniqueName('cluster-outage');
  const queue = `${name}-q`;
  let beat: BeatProcess;
  let port = 0;
  let slot = 0;

  /** The port of the live master that serves the deployment's slot other than `not`, once the cluster names one. */
  async function promotedFrom(not: number): Promise<number> {
    return waitUntil(
      `a master other than ${not} for the slot`,
      async () => {
        const master = await cluster.masterOf(slot).catch(() => undefined);
        return master !== undefined && master.port !== not ? master.port : undefined;
      },
      30_000,
    );
  }

  beforeAll(async () => {
    await cluster.start();
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: SHARED_AMQP },
      state: { url: cluster.url() },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: { tick: { task: 'tsbeat_test.record', schedule: 1, options: { queue } } },
    });
    const tokenFile = dir.write('token', `${TOKEN}\n`);
    beat = fleet.spawn({ config: file, label: 'beat', args: ['--http', '127.0.0.1:0', '--api-token-file', tokenFile] });
    port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 20_000);
    await waitUntil(
      'two publishes',
      () => (beat.events(EVENTS.fire).length >= 2 ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    slot = await cluster.keySlot(schedulerKeys('tsbeat', name).state);
  }, 90_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    const model = await connect(SHARED_AMQP).catch(() => undefined);
    await (await model?.createChannel())?.deleteQueue(queue);
    await model?.close();
    for (const node of cluster.nodes) node.resume();
    await cluster.stop();
    dir.remove();
  });

  it(
    'counts a hung (SIGSTOPped) master as an outage: beat.redis.down (not answering), then beat.redis.up when it answers again',
    { retry: 0, timeout: 90_000 },
    async () => {
      // A production cluster's node timeout (15 s): the hung master is not failed over in the 8 s it
      // hangs, so the leader's commands to it wait out the socket timeout (5 s).
      await cluster.setNodeTimeout(15_000);
      const master = await cluster.masterOf(slot);
      const mark = beat.logs.length;
      cluster.node(master.port).pause();
      try {
        const down = await beat.waitForEvent(EVENTS.redisDown, 15_000, mark);
        expect(down['reason']).toBe('not answering');
        await sleep(2000);
      } finally {
        cluster.node(master.port).resume();
      }
      await beat.waitForEvent(EVENTS.redisUp, 20_000, mark);
      const order = beat.logs
        .slice(mark)
        .map((l) => l.event)
        .filter((e) => e === EVENTS.redisDown || e === EVENTS.redisUp);
      expect(order).toEqual([EVENTS.redisDown, EVENTS.redisUp]);
      expect((await cluster.masterOf(slot)).port).toBe(master.port);
      const afterUp = beat.logs.length;
      await waitUntil(
        'publishing to go on',
        () => (beat.events(EVENTS.fire, afterUp).length >= 2 ? true : undefined),
        20_000,
        () => fleet.dump(),
      );
      await cluster.setNodeTimeout(NODE_TIMEOUT_MS);
    },
  );

  it(
    'answers entry writes 503 REDIS_UNAVAILABLE (try again) while the master fails over, never 500; writes after it succeed',
    { retry: 0, timeout: 90_000 },
    async () => {
      // A failover longer than the cluster client's retries (16 redirections 100 ms apart).
      await cluster.setNodeTimeout(3000);
      await cluster.waitHealthy();
      const master = await cluster.masterOf(slot);
      const replies: { status: number; code?: string; error?: string }[] = [];
      let writing = true;
      let n = 0;
      const writer = (async () => {
        while (writing) {
          n += 1;
          const res = await fetch(`http://127.0.0.1:${port}/api/entries/w-${n % 5}`, {
            method: 'PUT',
            headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ task: 'tsbeat_test.record', schedule: 3600, options: { queue } }),
            signal: AbortSignal.timeout(15_000),
          }).catch(() => undefined);
          if (res === undefined) continue;
          const body = (await res.json().catch(() => ({}))) as { code?: string; error?: string };
          replies.push({ status: res.status, ...body });
          await sleep(20);
        }
      })();
      await waitUntil('a write before the kill', () => (replies.some((r) => r.status < 300) ? true : undefined), 10_000);
      const atKill = replies.length;
      await cluster.node(master.port).kill();
      await promotedFrom(master.port);
      await waitUntil(
        'writes to succeed after the promotion',
        () => (replies.slice(atKill).some((r) => r.status >= 300) && (replies.at(-1)?.status ?? 500) < 300 ? true : undefined),
        30_000,
        () => JSON.stringify(replies.slice(atKill).filter((r) => r.status >= 300)),
      );
      writing = false;
      await writer;
      const failed = replies.slice(atKill).filter((r) => r.status >= 300);
      expect(failed.length).toBeGreaterThan(0);
      expect(failed, JSON.stringify(failed)).toEqual(failed.map(() => expect.objectContaining({ status: 503, code: 'REDIS_UNAVAILABLE' })));
    },
  );
});
