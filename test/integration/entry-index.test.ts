/**
 * The runtime entries' partition index (redis/entry-index.ts, lua/includes/entry-index.lua), on a
 * private Redis (its own process, so that its byte and command counters are this file's alone): the
 * Lua CRC-32 is partitionOf's hash on random names, multi-byte UTF-8 and lone surrogates included;
 * entries-write.lua keeps each partition's set exactly the names stored in it through creates,
 * edits, deletes and re-creations, for the recorded count and the count a move goes to; `beat
 * partitions set` leaves the new count's index exact and the old one gone; a take-over's load of
 * one partition of 12 over 24,000 entries reads about a twelfth of the bytes a whole read does, with
 * no HSCAN, and returns exactly that partition's entries; and a store written before the count was
 * recorded (and records written by hand) gets its index built at the first such load, or by `beat
 * partitions set N` with nothing to move (which records N).
 */
import { crc32 } from 'node:zlib';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/core/partition.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import type { EntryWrite } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { assembleLua } from '../../src/redis/lua-includes.js';
import { PartitionCountStore } from '../../src/redis/partition-count-store.js';
import { readLuaFragment, withScripts } from '../../src/redis/scripts.js';
import { beatSuite } from '../support/beat-suite.js';
import { runBeatCli } from '../support/ops.js';
import { prng } from '../support/prng.js';

const NAME = 'idx';
const keys = schedulerKeys('tsbeat', NAME);
const NOW = 1_700_000_000_000;

/** A random name of 0 to 40 characters: ASCII, Latin-1, CJK, astral (emoji) and, now and then, a lone surrogate. */
function randomName(random: () => number): string {
  const length = Math.floor(random() * 41);
  let out = '';
  for (let i = 0; i < length; i += 1) {
    const kind = random();
    if (kind < 0.4) out += String.fromCharCode(0x21 + Math.floor(random() * 94));
    else if (kind < 0.55) out += String.fromCharCode(0xa0 + Math.floor(random() * 0x160));
    else if (kind < 0.75) out += String.fromCharCode(0x4e00 + Math.floor(random() * 0x5000));
    else if (kind < 0.95) out += String.fromCodePoint(0x1f300 + Math.floor(random() * 0x300));
    else out += String.fromCharCode(0xd800 + Math.floor(random() * 0x800));
  }
  return out;
}

const put = (name: string, schedule = 3600): EntryWrite => ({ op: 'put', name, entry: { task: `t.${name.length}`, schedule } });
const del = (name: string): EntryWrite => ({ op: 'delete', name });

describe('the partition index of the runtime entries', () => {
  const suite = beatSuite();

  /** Every index key in the DB, and what each set holds. */
  async function indexKeys(client: Redis): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const key of (await client.keys(`${keys.entriesPartitionHead}*`)).sort()) out.set(key, (await client.smembers(key)).sort());
    return out;
  }

  /** What the index of `count` must be: each stored name in its partition's set, and no other index key. */
  async function expectExactIndex(client: Redis, count: number): Promise<void> {
    const stored = await client.hkeys(keys.entries);
    const want = new Map<string, string[]>();
    for (const name of stored) {
      const key = keys.entriesPartition(count, partitionOf(name, count));
      want.set(key, [...(want.get(key) ?? []), name]);
    }
    for (const [key, names] of want) want.set(key, names.sort());
    const got = await indexKeys(client);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, names] of want) expect(got.get(key), key).toEqual(names);
  }

  async function totalOut(client: Redis): Promise<number> {
    const info = await client.info('stats');
    return Number(/total_net_output_bytes:(\d+)/.exec(info)?.[1]);
  }

  async function commandCalls(client: Redis, command: string): Promise<number> {
    const info = await client.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }

  it('the Lua CRC-32 is partitionOf’s hash, on 3,000 random names with multi-byte UTF-8 and lone surrogates', async () => {
    const random = prng(34);
    const names = [
      'nightly-report',
      '',
      'é',
      '日本語',
      '\ud800x',
      'x\udfff',
      '🚀 rocket',
      ...Array.from({ length: 3000 }, () => randomName(random)),
    ];
    const counts = [2, 3, 7, 12, 1024];
    const script = assembleLua(
      'crc32-test',
      [
        '--- @include "entry-index"',
        'local out = {}',
        'for i = 1, #ARGV do',
        '  local row = { crc32(ARGV[i]) }',
        `  for _, n in ipairs({ ${counts.join(', ')} }) do row[#row + 1] = entryPartition(ARGV[i], n) end`,
        '  out[i] = row',
        'end',
        'return out',
      ].join('\n'),
      readLuaFragment,
    );
    const rows: number[][] = [];
    for (let i = 0; i < names.length; i += 500)
      rows.push(...((await suite.client.eval(script, 0, ...names.slice(i, i + 500))) as number[][]));
    const wrong = names.filter((name, i) => {
      const row = rows[i] as number[];
      return row[0] !== crc32(name) || counts.some((n, j) => row[j + 1] !== partitionOf(name, n));
    });
    expect({ names: rows.length, wrong }).toEqual({ names: names.length, wrong: [] });
    expect(rows[0]?.[4]).toBe(0); // "nightly-report" is in partition 0 of 12 (docs)
  });

  it('is kept by every write while a count > 1 is recorded: create, edit, delete, re-create, and several ops on one name in one write', async () => {
    const client = suite.client;
    await client.flushdb();
    const store = new RedisEntryStore(client, keys);
    // No count recorded, or 1: no index at all.
    await store.write([put('a'), put('b')], { nowMs: NOW });
    expect(await indexKeys(client)).toEqual(new Map());
    await client.hset(keys.partitioning, 'count', '1');
    await store.write([put('c')], { nowMs: NOW });
    expect(await indexKeys(client)).toEqual(new Map());
    await client.flushdb();

    await new PartitionCountStore(client, keys).record(4);
    const random = prng(7);
    const names = Array.from({ length: 300 }, (_, i) => `${randomName(random)}#${i}`);
    await store.write(
      names.map((n) => put(n)),
      { nowMs: NOW },
    );
    await expectExactIndex(client, 4);
    // Edits (and writes that change nothing) leave it; deletes take the names out; conflicts write nothing.
    await store.write([put(names[0] as string, 60), put(names[1] as string), del(names[2] as string), del('never-there')], { nowMs: NOW });
    await expectExactIndex(client, 4);
    await expect(store.write([del(names[3] as string), { ...del(names[4] as string), ifVersion: 99 }], { nowMs: NOW })).rejects.toThrow(
      /changed meanwhile/,
    );
    expect(await client.sismember(keys.entriesPartition(4, partitionOf(names[3] as string, 4)), names[3] as string)).toBe(1);
    // In one write: deleted then created again (stays), created then deleted (never there), re-created after a delete.
    await store.write([del(names[5] as string), put(names[5] as string, 5), put('fresh'), del('fresh'), put(names[2] as string)], {
      nowMs: NOW,
    });
    await expectExactIndex(client, 4);
    expect(await client.hexists(keys.entries, 'fresh')).toBe(0);
    // A move recorded to 6: writers keep both counts' indexes (the 6's holds what was written since).
    await new PartitionCountStore(client, keys).begin(4, 6, 'test', NOW);
    await store.write([put('during-move'), del(names[6] as string)], { nowMs: NOW });
    expect(await client.sismember(keys.entriesPartition(6, partitionOf('during-move', 6)), 'during-move')).toBe(1);
    expect(await client.sismember(keys.entriesPartition(4, partitionOf('during-move', 4)), 'during-move')).toBe(1);
    expect(await client.sismember(keys.entriesPartition(4, partitionOf(names[6] as string, 4)), names[6] as string)).toBe(0);
  });

  it('a set of another type at an index key is refused, naming it, and nothing is written', async () => {
    const client = suite.client;
    await client.flushdb();
    await new PartitionCountStore(client, keys).record(4);
    const store = new RedisEntryStore(client, keys);
    await store.write([put('kept')], { nowMs: NOW });
    const stray = keys.entriesPartition(4, partitionOf('x', 4));
    await client.set(stray, 'not a set');
    await expect(store.write([put('x')], { nowMs: NOW })).rejects.toThrow(stray);
    expect(await client.hkeys(keys.entries)).toEqual(['kept']);
    expect(await client.get(keys.entriesVersion)).toBe('1');
  });

  it('a load of 1 partition of 12 over 24,000 entries reads about a twelfth of the bytes of a whole read, no HSCAN, and exactly that partition', async () => {
    const client = suite.client;
    await client.flushdb();
    await new PartitionCountStore(client, keys).record(12);
    const names = Array.from({ length: 24_000 }, (_, i) => `tenant-${i}-report`);
    const writer = new RedisEntryStore(client, keys);
    for (let i = 0; i < names.length; i += 8000)
      await writer.write(
        names.slice(i, i + 8000).map((n) => put(n)),
        { nowMs: NOW, unaudited: 8000 },
      );
    await expectExactIndex(client, 12);

    const reader = new RedisEntryStore(client, keys);
    let before = await totalOut(client);
    const whole = await reader.load();
    const wholeBytes = (await totalOut(client)) - before;
    expect(whole.entries.length).toBe(24_000);

    const hscans = await commandCalls(client, 'hscan');
    before = await totalOut(client);
    const one = await reader.load({ partitions: 12, held: new Set([5]) });
    const oneBytes = (await totalOut(client)) - before;
    const want = names.filter((n) => partitionOf(n, 12) === 5).sort();
    expect(one.entries.map((e) => e.name).sort()).toEqual(want);
    expect(one.entries.every((e) => e.problems === undefined)).toBe(true);
    expect(await commandCalls(client, 'hscan')).toBe(hscans);
    // A twelfth, give or take the partition's share (about 2,000 names) and the names read from its set.
    const share = want.length / names.length;
    expect(oneBytes).toBeLessThan(wholeBytes * share * 1.4);
    expect(oneBytes).toBeGreaterThan(wholeBytes * share * 0.8);
    console.log(`load of 1 partition of 12 over 24,000 entries: ${oneBytes} bytes out of Redis, a whole read ${wholeBytes}`);

    // Two of 12: both partitions, each once.
    const two = await reader.load({ partitions: 12, held: new Set([0, 11]) });
    expect(two.entries.map((e) => e.name).sort()).toEqual(names.filter((n) => [0, 11].includes(partitionOf(n, 12))).sort());
  });

  it('a store written before the count was recorded, and records written by hand, get the index built at the first load; names without a record are dropped from it', async () => {
    const client = suite.client;
    await client.flushdb();
    const store = new RedisEntryStore(client, keys);
    const names = Array.from({ length: 3000 }, (_, i) => `early-${i}-ü`);
    await store.write(
      names.map((n) => put(n)),
      { nowMs: NOW, unaudited: 3000 },
    );
    expect(await indexKeys(client)).toEqual(new Map());
    await new PartitionCountStore(client, keys).record(12);
    // By hand: a record copied under a new name (HSET, no script), and one removed (HDEL) after the build.
    await client.hset(keys.entries, 'hand-made ✓', (await client.hget(keys.entries, names[0] as string)) as string);
    const all = [...names, 'hand-made ✓'];

    // A count writers do not keep the index of (5, not recorded) is read whole, and builds nothing.
    const five = await store.load({ partitions: 5, held: new Set([1]) });
    expect(five.entries.map((e) => e.name).sort()).toEqual(all.filter((n) => partitionOf(n, 5) === 1).sort());
    expect(await indexKeys(client)).toEqual(new Map());

    // The load that builds tells its hooks (the replica logs beat.entries.index_building / _built); one that finds it whole, nothing.
    const told: unknown[] = [];
    const reader = new RedisEntryStore(client, keys, undefined, undefined, undefined, {
      building: (count) => told.push(['building', count]),
      built: ({ count, added }) => told.push(['built', count, added]),
    });
    const p = partitionOf('hand-made ✓', 12);
    const loaded = await reader.load({ partitions: 12, held: new Set([p]) });
    expect(loaded.entries.map((e) => e.name).sort()).toEqual(all.filter((n) => partitionOf(n, 12) === p).sort());
    await expectExactIndex(client, 12);
    expect(told).toEqual([
      ['building', 12],
      ['built', 12, all.length],
    ]);
    await reader.load({ partitions: 12, held: new Set([(p + 1) % 12]) });
    expect(told).toHaveLength(2);

    const victim = names.find((n) => partitionOf(n, 12) === p) as string;
    await client.hdel(keys.entries, victim);
    const after = await store.load({ partitions: 12, held: new Set([p]) });
    expect(after.entries.map((e) => e.name)).not.toContain(victim);
    expect(await client.sismember(keys.entriesPartition(12, p), victim)).toBe(0);
    await expectExactIndex(client, 12);
  });

  it('replicas that take partitions on at once share one build pass, and a pass left by a dead builder is finished by the next', async () => {
    const client = suite.client;
    await client.flushdb();
    const names = Array.from({ length: 30_000 }, (_, i) => `shared-${i}`);
    const writer = new RedisEntryStore(client, keys);
    for (let i = 0; i < names.length; i += 10_000)
      await writer.write(
        names.slice(i, i + 10_000).map((n) => put(n)),
        { nowMs: NOW, unaudited: 10_000 },
      );
    await new PartitionCountStore(client, keys).record(12);
    const others = [suite.redis.client(0), suite.redis.client(0), suite.redis.client(0)];
    try {
      // One pass looks at each record once, about 1,000 a step (HSCAN inside the script counts in commandstats).
      const before = await commandCalls(client, 'hscan');
      let added = 0;
      const hooks = { built: (report: { added: number }) => void (added += report.added) };
      const loads = await Promise.all(
        others.map((c, i) =>
          new RedisEntryStore(c, keys, undefined, undefined, undefined, hooks).load({ partitions: 12, held: new Set([i]) }),
        ),
      );
      const steps = (await commandCalls(client, 'hscan')) - before;
      // Each name added once, by whichever replica's step found it.
      expect(added).toBe(names.length);
      loads.forEach((loaded, i) =>
        expect(loaded.entries.map((e) => e.name).sort()).toEqual(names.filter((n) => partitionOf(n, 12) === i).sort()),
      );
      expect(steps).toBeGreaterThanOrEqual(25);
      expect(steps).toBeLessThan(45);
      await expectExactIndex(client, 12);
      expect(await client.exists(keys.entriesPartitionBuild(12))).toBe(0);

      // A builder that died after 5 steps: its cursor stays, and the next load goes on from it.
      await client.del(...Array.from({ length: 12 }, (_, p) => keys.entriesPartition(12, p)));
      for (let i = 0; i < 5; i += 1)
        await withScripts(client).entriesIndex(3, [keys.entries, keys.partitioning, keys.entriesPartitionHead, 'build', '12', '1000']);
      expect(await client.exists(keys.entriesPartitionBuild(12))).toBe(1);
      const resumedFrom = await commandCalls(client, 'hscan');
      const loaded = await new RedisEntryStore(client, keys).load({ partitions: 12, held: new Set([7]) });
      expect(loaded.entries.map((e) => e.name).sort()).toEqual(names.filter((n) => partitionOf(n, 12) === 7).sort());
      const resumed = (await commandCalls(client, 'hscan')) - resumedFrom;
      expect(resumed).toBeLessThanOrEqual(steps - 4);
      console.log(`build of 30,000 entries: ${steps} steps for 3 replicas at once; a pass resumed after 5 steps: ${resumed} more`);
      await expectExactIndex(client, 12);
    } finally {
      for (const c of others) c.disconnect();
    }
  });

  it('beat partitions set N on a new deployment (entries stored, no count recorded) records N and builds the index; nothing moves', async () => {
    const client = suite.client;
    await client.flushdb();
    const config = suite.dir.write('idx-new.json', { name: NAME, partitions: 6, broker: { url: suite.redis.url(0) }, beatSchedule: {} });
    const store = new RedisEntryStore(client, keys);
    const names = Array.from({ length: 2500 }, (_, i) => `imported-${i}`);
    await store.write(
      names.map((n) => put(n)),
      { nowMs: NOW, unaudited: 2500 },
    );
    expect(await client.exists(keys.partitioning)).toBe(0);
    expect(await indexKeys(client)).toEqual(new Map());
    const before = await client.hgetall(keys.entries);

    // Without --yes: said, nothing recorded.
    const dry = await runBeatCli(['partitions', 'set', '6', '--config', config]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('has 6 partitions already: nothing to move');
    expect(await client.exists(keys.partitioning)).toBe(0);

    const run = await runBeatCli(['partitions', 'set', '6', '--yes', '--config', config]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toContain("nothing to move; 6 recorded, the runtime entries' partition index is whole");
    expect(await new PartitionCountStore(client, keys).read()).toEqual({ count: 6, movingTo: undefined });
    await expectExactIndex(client, 6);
    expect(await client.hgetall(keys.entries)).toEqual(before);
    // Writers keep it from now on.
    await store.write([put('after-set'), del(names[0] as string)], { nowMs: NOW });
    await expectExactIndex(client, 6);
  });

  it('beat partitions set leaves the new count’s index exact and the old one gone: 4 → 6 → 1 → 3, and a move cut short and completed', async () => {
    const client = suite.client;
    await client.flushdb();
    const config = suite.dir.write('idx.json', { name: NAME, broker: { url: suite.redis.url(0) }, beatSchedule: {} });
    await new PartitionCountStore(client, keys).record(4);
    const store = new RedisEntryStore(client, keys);
    const random = prng(11);
    const names = Array.from({ length: 500 }, (_, i) => `${randomName(random)}~${i}`);
    await store.write(
      names.map((n) => put(n)),
      { nowMs: NOW, unaudited: 500 },
    );
    await expectExactIndex(client, 4);

    const set = async (count: number): Promise<void> => {
      const run = await runBeatCli(['partitions', 'set', String(count), '--yes', '--config', config]);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(await client.hget(keys.partitioning, 'count')).toBe(String(count));
    };
    await set(6);
    await expectExactIndex(client, 6);
    await store.write([put('after-6'), del(names[0] as string)], { nowMs: NOW });
    await expectExactIndex(client, 6);

    await set(1);
    expect(await indexKeys(client)).toEqual(new Map());
    await store.write([put('after-1'), del(names[1] as string)], { nowMs: NOW });
    expect(await indexKeys(client)).toEqual(new Map());

    await set(3);
    await expectExactIndex(client, 3);

    // What a move to 7 long ago left (cut short after it recorded 7, before it removed anything): gone.
    await client.sadd(keys.entriesPartition(7, partitionOf('ghost', 7)), 'ghost');
    await set(7);
    await expectExactIndex(client, 7);

    // Cut short: the move to 5 recorded (writers keep 7's and 5's), an entry written meanwhile; run
    // again, it completes with 5's index exact and 7's gone.
    await new PartitionCountStore(client, keys).begin(7, 5, 'test', NOW);
    await store.write([put('during-cut-move')], { nowMs: NOW });
    await set(5);
    await expectExactIndex(client, 5);
  });
});
