/**
 * `beat partitions set N` on a deployment with state, with real `beat run` processes on a private
 * Redis: a deployment run with one partition, stopped, moved to 4 and run again, then moved to 2 and
 * run again, publishes every entry's slots once and none lost across the changes (`catchUp: all`,
 * read from the broker's list), each entry going on from its stored last run; every record kept per
 * entry moves with it (a synthetic entry's paused mark, run history, failures and missed slots, the
 * last with its expiry). A replica whose `partitions` is not the recorded count exits 2 naming both;
 * `set` refuses while a replica leads, naming it; a move cut short completes when run again; a running
 * replica whose count another process changed does not lead again. Then move-entries.lua alone: which
 * records win when both places hold an entry, passed-since, and a stray key type.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/core/partition.js';
import { partitionKeys, schedulerKeys } from '../../src/redis/keys.js';
import { PartitionCountStore } from '../../src/redis/partition-count-store.js';
import { moveEntryRecords } from '../../src/redis/partition-move.js';
import { FAST_LOCK, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { byEntry, checkSlots, duplicates, readQueue } from '../support/beat-queue.js';
import { runBeatCli } from '../support/ops.js';

const ENTRIES = 16;
const names = Array.from({ length: ENTRIES }, (_, i) => `m${String(i).padStart(2, '0')}`);

describe('beat partitions set', () => {
  const suite = beatSuite();

  /** A config of deployment `name` on DB `db` with `partitions` (1: none said) and the entries every second, catchUp all. */
  function configOf(name: string, db: number, partitions: number): string {
    return suite.dir.write(`${name}-${partitions}.json`, {
      name,
      ...(partitions === 1 ? {} : { partitions }),
      broker: { url: suite.redis.url(db) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: Object.fromEntries(names.map((n) => [n, { task: `t.${n}`, schedule: 1, catchUp: 'all' }])),
    });
  }

  /** Each entry's stored slot, from the state hashes of `partitions` partitions. */
  async function storedSlots(client: Redis, name: string, partitions: number): Promise<Map<string, number>> {
    const slots = new Map<string, number>();
    for (let p = 0; p < partitions; p += 1) {
      const state = await client.hgetall(partitionKeys('tsbeat', name, p, partitions).state);
      for (const [entry, text] of Object.entries(state)) slots.set(entry, (JSON.parse(text) as { slot: number }).slot);
    }
    return slots;
  }

  /** Runs a replica until every entry has published `more` runs past what the broker's list holds now; stops it (exit 0). */
  async function runFor(client: Redis, config: string, label: string, more: number): Promise<void> {
    const before = byEntry(await readQueue(client));
    const beat = suite.fleet.spawn({ config, label });
    await waitUntil(
      `${label}: every entry published ${more} more runs`,
      async () => {
        const now = byEntry(await readQueue(client));
        return names.every((n) => (now.get(n)?.length ?? 0) >= (before.get(n)?.length ?? 0) + more) ? true : undefined;
      },
      20_000,
      () => suite.fleet.dump(),
    );
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(10_000), beat.tail()).toEqual({ code: 0, signal: null });
  }

  async function exitOf(beat: BeatProcess): Promise<{ code: number | null; text: string }> {
    const exit = await beat.waitForExit(15_000);
    return { code: exit.code, text: beat.text.join('\n') };
  }

  it('1 → 4 → 2 partitions: each entry goes on from its stored last run, every slot once and none lost; its records move with it', async () => {
    const name = 'pset';
    const client = suite.client;
    await client.flushdb();
    const one = configOf(name, 0, 1);
    const four = configOf(name, 0, 4);
    const two = configOf(name, 0, 2);
    await runFor(client, one, 'A', 2);
    // The first replica recorded its count.
    expect(await client.hget(schedulerKeys('tsbeat', name).partitioning, 'count')).toBe('1');
    // A name no config has, with a record of each kind: they go to its partition under the new count.
    const ghost = 'ghost-entry';
    const own = schedulerKeys('tsbeat', name);
    await client
      .multi()
      .sadd(own.paused, ghost)
      .hset(own.failures, ghost, '2')
      .lpush(own.runs(ghost), '{"id":"r1"}')
      .lpush(own.missed(ghost), '{"first":1}')
      .pexpire(own.missed(ghost), 3_600_000)
      .exec();
    const slotsAtOne = await storedSlots(client, name, 1);
    expect([...slotsAtOne.keys()].sort()).toEqual(names);

    // Without --yes: what would move, and nothing changed.
    const dry = await runBeatCli(['partitions', 'set', '4', '--config', one]);
    expect(dry.code, dry.stderr).toBe(2);
    expect(dry.stdout).toContain(`would move the records of ${ENTRIES + 1} entries of deployment ${name} from 1 to 4 partitions`);
    expect(dry.stderr).toContain('--yes');
    expect(await client.hget(own.partitioning, 'count')).toBe('1');

    const set4 = await runBeatCli(['partitions', 'set', '4', '--yes', '--config', one]);
    expect(set4.code, set4.stderr).toBe(0);
    expect(set4.stdout).toContain(
      `deployment ${name}: 4 partitions (recorded in Redis), from 1: moved the records of ${ENTRIES + 1} entries`,
    );
    expect(set4.stdout).toContain('now set partitions: 4 in');
    expect(await client.hgetall(own.partitioning)).toMatchObject({ count: '4' });
    expect(await client.hexists(own.partitioning, 'to')).toBe(0);
    // Nothing left under the deployment's own keys; each entry's state, the same, under its partition's.
    expect(await client.exists(own.state, own.paused, own.failures, own.runs(ghost), own.missed(ghost))).toBe(0);
    expect(await storedSlots(client, name, 4)).toEqual(slotsAtOne);
    for (const entry of names) expect(await client.hexists(partitionKeys('tsbeat', name, partitionOf(entry, 4), 4).state, entry)).toBe(1);
    const ghostKeys = partitionKeys('tsbeat', name, partitionOf(ghost, 4), 4);
    expect(await client.sismember(ghostKeys.paused, ghost)).toBe(1);
    expect(await client.hget(ghostKeys.failures, ghost)).toBe('2');
    expect(await client.lrange(ghostKeys.runs(ghost), 0, -1)).toEqual(['{"id":"r1"}']);
    expect(await client.pttl(ghostKeys.missed(ghost))).toBeGreaterThan(3_000_000);

    // A replica of the old count refuses to start: exit 2, naming both counts and the fixes.
    const stale = await exitOf(suite.fleet.spawn({ config: one, label: 'stale' }));
    expect(stale.code, stale.text).toBe(2);
    expect(stale.text).toContain("this replica has partitions: 1, but the deployment's entries are kept in 4 partitions");
    expect(stale.text).toContain("'beat partitions set 1'");
    expect((await runBeatCli(['check', '--config', four])).stdout).toContain('partitions: 4; recorded in Redis: 4');
    const otherCount = await runBeatCli(['check', '--config', two]);
    expect(otherCount.code).toBe(2);
    expect(otherCount.stdout).toContain('partitions: 2; recorded in Redis: 4');
    expect(otherCount.stderr).toContain(
      "partitions: this replica has partitions: 2, but the deployment's entries are kept in 4 partitions",
    );
    const status = await runBeatCli(['status', '--config', one]);
    expect(status.stdout).toContain('partitions: 4 (recorded in Redis); this config: 1');
    expect(status.stdout).toContain(
      "WARNING: a beat run of this config does not lead: this replica has partitions: 1, but the deployment's entries are kept in 4 partitions",
    );

    await runFor(client, four, 'B', 2);

    // While a replica leads, set refuses, naming it, and changes nothing.
    const leader = suite.fleet.spawn({ config: four, label: 'C' });
    await leader.waitForLog('C leading every partition', () => leader.events('beat.lock.acquired').length >= 4, 15_000);
    const refused = await runBeatCli(['partitions', 'set', '2', '--yes', '--config', four]);
    expect(refused.code, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/a replica leads: .*led by \S+:\d+:/);
    expect(refused.stderr).toContain('nothing was changed');
    expect(await client.hgetall(own.partitioning)).toMatchObject({ count: '4' });
    const shown = await runBeatCli(['partitions', '--config', four, '--json']);
    const view = JSON.parse(shown.stdout) as { recorded: number; configured: number; partitions: { leader: string | null }[] };
    expect(view).toMatchObject({ recorded: 4, configured: 4, movingTo: null });
    expect(view.partitions.every((p) => p.leader !== null)).toBe(true);
    leader.signal('SIGTERM');
    expect(await leader.waitForExit(10_000)).toEqual({ code: 0, signal: null });

    const slotsAtFour = await storedSlots(client, name, 4);
    const set2 = await runBeatCli(['partitions', 'set', '2', '--yes', '--config', two]);
    expect(set2.code, set2.stderr).toBe(0);
    expect(await storedSlots(client, name, 2)).toEqual(slotsAtFour);
    for (const p of [2, 3]) expect(await client.exists(partitionKeys('tsbeat', name, p, 4).state)).toBe(0);
    expect(await client.sismember(partitionKeys('tsbeat', name, partitionOf(ghost, 2), 2).paused, ghost)).toBe(1);
    await runFor(client, two, 'D', 2);

    // From the broker's list: every (entry, slot) once, none missing from the first run to the last.
    const runs = await readQueue(client);
    expect(duplicates(runs)).toEqual({ slots: [], ids: [] });
    for (const [entry, list] of byEntry(runs)) {
      const report = checkSlots(entry, list, 1000, name);
      expect(report).toMatchObject({ duplicateSlots: [], duplicateIds: [], missingSlots: [], offGrid: [], wrongIds: [] });
    }
  });

  it('a move cut short refuses every replica and another target, and completes when run again', async () => {
    const name = 'pset-cut';
    const client = suite.redis.client(1);
    try {
      await client.flushdb();
      const one = configOf(name, 1, 1);
      const four = configOf(name, 1, 4);
      await runFor(client, one, 'E', 1);
      const slotsAtOne = await storedSlots(client, name, 1);
      // Cut short: the move recorded, the entries of partition 2 moved (under fences of its own), the rest not.
      const store = new PartitionCountStore(client, schedulerKeys('tsbeat', name));
      expect((await store.begin(1, 4, 'test', Date.now())).ok).toBe(true);
      const source = { keys: schedulerKeys('tsbeat', name), token: 'cut-0' };
      const destination = { keys: partitionKeys('tsbeat', name, 2, 4), token: 'cut-2' };
      await client.mset(source.keys.fence, source.token, destination.keys.fence, destination.token);
      const part2 = names.filter((n) => partitionOf(n, 4) === 2);
      expect(part2.length).toBeGreaterThan(0);
      expect(await moveEntryRecords(client, source, destination, part2, Date.now())).toEqual({ moved: part2.length, kept: 0 });
      // Run twice, it moves nothing more (the records found at the destination stay); under another fence it writes nothing.
      expect(await moveEntryRecords(client, source, destination, part2, Date.now())).toEqual({ moved: 0, kept: part2.length });
      expect(await moveEntryRecords(client, { ...source, token: 'stale' }, destination, names, Date.now())).toBeUndefined();

      for (const config of [one, four]) {
        const refused = await exitOf(suite.fleet.spawn({ config, label: 'moving' }));
        expect(refused.code, refused.text).toBe(2);
        expect(refused.text).toContain("the deployment's entries are being moved from 1 to 4 partitions");
      }
      const other = await runBeatCli(['partitions', 'set', '2', '--yes', '--config', one]);
      expect(other.code).toBe(2);
      expect(other.stderr).toContain("complete it first with 'beat partitions set 4 --yes'");

      const done = await runBeatCli(['partitions', 'set', '4', '--yes', '--config', one]);
      expect(done.code, done.stderr).toBe(0);
      expect(done.stdout).toContain(`moved the records of ${ENTRIES - part2.length} entries`);
      expect(await storedSlots(client, name, 4)).toEqual(slotsAtOne);
      expect(await store.read()).toEqual({ count: 4, movingTo: undefined });
      const again = await runBeatCli(['partitions', 'set', '4', '--yes', '--config', four]);
      expect(again).toMatchObject({ code: 0 });
      expect(again.stdout).toContain('has 4 partitions already: nothing to move');
    } finally {
      client.disconnect();
    }
  });

  it('a running replica whose count another process changed stops leading and does not lead again', async () => {
    const name = 'pset-running';
    const client = suite.redis.client(2);
    try {
      await client.flushdb();
      const one = configOf(name, 2, 1);
      const beat = suite.fleet.spawn({ config: one, label: 'F' });
      await beat.waitForEvent('beat.lock.acquired', 15_000);
      const keys = schedulerKeys('tsbeat', name);
      // As if its lock ran out while another process recorded another count.
      await client.hset(keys.partitioning, 'count', '4');
      await client.del(keys.lock);
      await beat.waitForEvent('beat.partitions.differ', 10_000);
      await sleep(2000);
      expect(await client.exists(keys.lock)).toBe(0);
      expect(beat.events('beat.lock.acquired')).toHaveLength(1);
      beat.signal('SIGTERM');
      expect(await beat.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    } finally {
      client.disconnect();
    }
  });

  it("move-entries.lua: the later slot's records win where both places hold the entry; passed-since is raised; a stray type writes nothing", async () => {
    const client = suite.redis.client(3);
    try {
      await client.flushdb();
      const source = { keys: schedulerKeys('tsbeat', 'lua'), token: 's' };
      const destination = { keys: partitionKeys('tsbeat', 'lua', 1, 2), token: 'd' };
      const state = (slot: number) => JSON.stringify({ slot, seen: 1, at: slot, id: `id-${slot}`, n: 1 });
      await client
        .multi()
        .mset(source.keys.fence, 's', destination.keys.fence, 'd', source.keys.passedSince, '200', destination.keys.passedSince, '100')
        // older: the source's (slot 1000) is later than the destination's leftover (500), which it replaces whole.
        .hset(source.keys.state, 'older', state(1000))
        .hset(destination.keys.state, 'older', state(500))
        .hset(destination.keys.failures, 'older', '3')
        .lpush(source.keys.runs('older'), 'from-source')
        .lpush(destination.keys.runs('older'), 'left-over')
        // newer: the destination's (slot 3000) is later: it stays, and the source's records go.
        .hset(source.keys.state, 'newer', state(2000))
        .sadd(source.keys.paused, 'newer')
        .hset(destination.keys.state, 'newer', state(3000))
        .exec();
      expect(await moveEntryRecords(client, source, destination, ['older', 'newer'], 999)).toEqual({ moved: 1, kept: 1 });
      expect(await client.hgetall(destination.keys.state)).toEqual({ older: state(1000), newer: state(3000) });
      expect(await client.hexists(destination.keys.failures, 'older')).toBe(0);
      expect(await client.lrange(destination.keys.runs('older'), 0, -1)).toEqual(['from-source']);
      expect(await client.sismember(destination.keys.paused, 'newer')).toBe(0);
      expect(await client.exists(source.keys.state, source.keys.paused, source.keys.runs('older'))).toBe(0);
      expect(await client.get(destination.keys.passedSince)).toBe('200');

      // A hash of the destination holding a string: refused, naming it, before anything is written.
      await client.hset(source.keys.state, 'third', state(4000));
      await client.set(destination.keys.resumed, 'stray');
      await expect(moveEntryRecords(client, source, destination, ['third'], 999)).rejects.toThrow(
        `WRONGTYPE move-entries: ${destination.keys.resumed} holds a string, not a hash; nothing was written`,
      );
      expect(await client.hget(source.keys.state, 'third')).toBe(state(4000));
      expect(await client.hexists(destination.keys.state, 'third')).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
