/**
 * Issue 30: an entry's incarnation and revision fenced in the publish, on a private Redis.
 *
 * - Scenario 2 (a deleted entry's state outlives it), deterministically: a run of a runtime entry,
 *   read and rendered by the leader, reaches the fenced script only after the entry was deleted.
 *   The script refuses it (superseded): nothing is published and no state is written (nor a first
 *   sighting), so the entry created again under its name (catchUp "all") starts from its creation,
 *   replaying nothing.
 * - Scenario 3 (a leader paused under the lock's TTL publishes from what it knew before): two real
 *   beat processes; the leader is SIGSTOPped for 3 s (TTL 10 s) while one entry is deleted and
 *   another's args are edited. On waking it keeps the lock, reads the entries before it publishes,
 *   and publishes no slot of the deleted entry and no slot with the old args; nothing is lost.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { EVENTS } from '../../src/base/log-events.js';
import { compileMessageTemplate, renderTaskMessage } from '../../src/celery/message.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import { RedisTransport } from '../../src/kombu/redis-transport.js';
import { RedisFencedDispatcher } from '../../src/publish/redis-fenced-dispatcher.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisStateStore } from '../../src/redis/state-store.js';
import { EntryCatalog } from '../../src/runtime/entry-catalog.js';
import { BeatFleet, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import { ENV } from '../support/messages.js';
import { startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const S = 1000;
const silent = createLogger({ level: 'silent' });

/** The args of each queued run, by task id (kombu envelope → base64 body → [args, kwargs, embed]). */
async function argsById(redis: Redis, queue: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const text of await redis.lrange(queue, 0, -1)) {
    const envelope = JSON.parse(text) as { body: string; headers: { id: string } };
    const [args] = JSON.parse(Buffer.from(envelope.body, 'base64').toString('utf8')) as [unknown[]];
    out.set(envelope.headers.id, args);
  }
  return out;
}

describe('the entry fence (issue 30)', () => {
  let server: PrivateRedis;
  let redis: Redis;
  const fleet = new BeatFleet();
  const dir = new TempDir();

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('scenario 2: a run that reaches the script after its entry was deleted is refused, writes no state, and the entry created again replays nothing', async () => {
    const deployment = 'fence-delete';
    const keys = schedulerKeys('tsbeat', deployment);
    const config = parseConfig({ name: deployment, broker: { url: server.url(0) } }, 'entry-fence.test');
    const store = new RedisEntryStore(redis, keys);
    const entry = { task: TASK, schedule: 1, catchUp: 'all' };
    const createdMs = Date.now() - 60 * S;
    await store.write([{ op: 'put', name: 'x', entry }], { nowMs: createdMs });
    // What the leader holds: the catalog's entry, read before the delete.
    const catalog = new EntryCatalog({
      sources: [store],
      logger: silent,
      intervalMs: 60_000,
      defaults: { zone: 'UTC', deployment: 'default' },
      staticNames: new Set(),
    });
    await catalog.load();
    const held = catalog.find('x');
    expect(held).toBeDefined();
    const slotMs = Math.floor(Date.now() / S) * S;
    const message = renderTaskMessage(compileMessageTemplate(held!, config, ENV), {
      taskId: slotTaskId(deployment, 'x', slotMs),
      slotMs,
      nowMs: slotMs,
    });

    await store.write([{ op: 'delete', name: 'x' }], { nowMs: Date.now() });
    await redis.set(keys.fence, 'leader');
    const transport = new RedisTransport({ url: server.url(0), transportOptions: {}, logger: silent });
    try {
      const dispatcher = new RedisFencedDispatcher(transport, keys, silent, 1000);
      const result = await dispatcher.dispatch([{ entry: held!, slotMs, message }], 'leader', slotMs);
      expect(result).toEqual({ fenced: false, outcomes: ['superseded'] });
    } finally {
      await transport.close();
    }
    expect(await redis.hget(keys.state, 'x')).toBeNull();
    expect(await redis.llen('celery')).toBe(0);
    // Nor does a first sighting recorded for what the leader holds (a new session loading it).
    const sighted = await new RedisStateStore(redis, keys).load(['x'], slotMs, new Map([['x', held?.revision ?? '']]));
    expect(sighted.get('x')).toEqual({ seenMs: slotMs, runCount: 0 });
    expect(await redis.hget(keys.state, 'x')).toBeNull();

    // Created again: its state is its first sighting now, not the slot of the deleted one.
    const recreatedMs = Date.now();
    await store.write([{ op: 'put', name: 'x', entry }], { nowMs: recreatedMs });
    await catalog.refresh();
    expect(catalog.find('x')?.incarnation).not.toBe(held?.incarnation);
    const states = await new RedisStateStore(redis, keys).load(['x'], recreatedMs);
    expect(states.get('x')).toEqual({ seenMs: recreatedMs, runCount: 0 });
    await catalog.stop();
  });

  it('scenario 3: a leader paused under the TTL reads the entries before it publishes: nothing of a deleted entry, no slot with old args, nothing lost', async () => {
    const deployment = 'fence-pause';
    const queue = 'fence-pause';
    const keys = schedulerKeys('tsbeat', deployment);
    const file = dir.write('pause.json', {
      name: deployment,
      broker: { url: server.url(0) },
      taskDefaultQueue: queue,
      maxInterval: '200ms',
      lock: { ttl: '10s', renewEvery: '1s', retryEvery: '200ms' },
    });
    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForEvent(EVENTS.standby, 10_000);

    const store = new RedisEntryStore(redis, keys);
    const entry = (args: unknown[]) => ({ task: TASK, schedule: 1, catchUp: 'all', args });
    await store.write(
      [
        { op: 'put', name: 'doomed', entry: entry(['old']) },
        { op: 'put', name: 'edited', entry: entry(['old']) },
      ],
      { nowMs: Date.now() },
    );
    await waitUntil(
      'two runs of each entry',
      async () => {
        const runs = await readQueue(redis, queue);
        return runs.filter((r) => r.entry === 'doomed').length >= 2 && runs.filter((r) => r.entry === 'edited').length >= 2
          ? true
          : undefined;
      },
      10_000,
    );

    leader.child.kill('SIGSTOP');
    const stoppedAtMs = Date.now();
    await sleep(300);
    await store.write([{ op: 'delete', name: 'doomed' }], { nowMs: Date.now() });
    await store.write([{ op: 'put', name: 'edited', entry: entry(['new']) }], { nowMs: Date.now() });
    await sleep(2700);
    leader.child.kill('SIGCONT');
    const resumedAtMs = Date.now();
    await waitUntil(
      'the edited entry publishing after the pause',
      async () => ((await readQueue(redis, queue)).some((r) => r.entry === 'edited' && r.slotMs > resumedAtMs + S) ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    await fleet.killAll();

    // The paused leader kept the lock: the standby never led.
    expect(standby.logs.some((l) => l.event === EVENTS.lockAcquired)).toBe(false);
    const runs = await readQueue(redis, queue);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    // Every slot after the pause began was published after the changes: none of the deleted entry...
    expect(runs.filter((r) => r.entry === 'doomed' && r.slotMs > stoppedAtMs)).toEqual([]);
    // ...and every one of the edited entry with its new args, none lost (catchUp "all").
    const args = await argsById(redis, queue);
    const edited = runs.filter((r) => r.entry === 'edited');
    const after = edited.filter((r) => r.slotMs > stoppedAtMs);
    expect(after.length).toBeGreaterThanOrEqual(3);
    for (const run of after) expect(args.get(run.id), new Date(run.slotMs).toISOString()).toEqual(['new']);
    expect(checkSlots('edited', edited, S, deployment)).toMatchObject({ missingSlots: [], duplicateSlots: [], offGrid: [], wrongIds: [] });
    // It read the entries before publishing (read before you publish), so nothing was even refused.
    expect(leader.logs.some((l) => l.event === EVENTS.gapNoticed)).toBe(true);
  }, 60_000);
});
