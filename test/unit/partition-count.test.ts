/**
 * The pure parts of the recorded partition count (control/partition-count.ts) and the replica's guard
 * over it (service/partition-count-part.ts): who may lead, what a move holds and moves, and how often
 * the guard asks Redis.
 */
import { describe, expect, it } from 'vitest';
import { BeatError } from '../../src/base/errors.js';
import { silentLogger } from '../../src/base/log.js';
import { partitionOf } from '../../src/core/partition.js';
import {
  entryOfRunsKey,
  globEscape,
  lockedPartitions,
  movesOf,
  partitionCountProblem,
  samePartitionKeys,
} from '../../src/control/partition-count.js';
import type { PartitionRecord } from '../../src/control/partition-count.js';
import { partitionKeys } from '../../src/redis/keys.js';
import { MOVED_FIELDS, MOVED_KEYS, MOVED_MEMBERS } from '../../src/redis/partition-move.js';
import { OWN_FIELDS, OWN_KEYS, OWN_MEMBERS } from '../../src/redis/entry-owned.js';
import { partitionCountGuard } from '../../src/service/partition-count-part.js';

const names = Array.from({ length: 200 }, (_, i) => `entry-${i}`);

describe('partitionCountProblem', () => {
  it('lets a replica of the recorded count lead', () => {
    expect(partitionCountProblem({ count: 4, movingTo: undefined }, 4)).toBeUndefined();
    expect(partitionCountProblem({ count: 1, movingTo: undefined }, 1)).toBeUndefined();
  });

  it('refuses another count, naming both and both fixes', () => {
    expect(partitionCountProblem({ count: 4, movingTo: undefined }, 1)).toBe(
      "this replica has partitions: 1, but the deployment's entries are kept in 4 partitions (recorded in Redis): set partitions: 4 in the config, or, with every replica stopped, move the entries with 'beat partitions set 1'",
    );
    expect(partitionCountProblem({ count: 1, movingTo: undefined }, 8)).toContain('kept in 1 partition (recorded');
  });

  it('refuses every count while a move is recorded, even the one it moves to', () => {
    for (const configured of [1, 4, 8])
      expect(partitionCountProblem({ count: 1, movingTo: 4 }, configured)).toMatch(
        /^the deployment's entries are being moved from 1 to 4 partitions .*run 'beat partitions set 4' to complete it/,
      );
  });
});

describe('what a move holds and moves', () => {
  const state = (p: number, n: number) => partitionKeys('tsbeat', 'd', p, n).state;

  it('samePartitionKeys says what partitionKeys says', () => {
    for (const a of [1, 2, 3, 4])
      for (const b of [1, 2, 4, 5])
        for (let p = 0; p < a; p += 1)
          for (let q = 0; q < b; q += 1) expect(samePartitionKeys(p, a, q, b)).toBe(state(p, a) === state(q, b));
  });

  it('locks every partition of both counts, each lock once', () => {
    for (const [from, to] of [
      [1, 4],
      [4, 1],
      [4, 2],
      [2, 4],
      [3, 5],
    ] as const) {
      const locks = lockedPartitions(from, to).map(({ partition, count }) => partitionKeys('tsbeat', 'd', partition, count).lock);
      const wanted = new Set([
        ...Array.from({ length: from }, (_, p) => partitionKeys('tsbeat', 'd', p, from).lock),
        ...Array.from({ length: to }, (_, p) => partitionKeys('tsbeat', 'd', p, to).lock),
      ]);
      expect(locks.length, `${from} → ${to}`).toBe(wanted.size);
      expect(new Set(locks)).toEqual(wanted);
    }
  });

  it('moves each entry found in a partition to its partition under the new count, unless that has the same keys', () => {
    for (const [from, to] of [
      [1, 4],
      [4, 2],
      [2, 4],
      [4, 1],
    ] as const) {
      for (let source = 0; source < from; source += 1) {
        const here = names.filter((n) => partitionOf(n, from) === source);
        const moves = movesOf(here, source, from, to);
        const moved = [...moves.values()].flat();
        for (const [destination, list] of moves) for (const n of list) expect(partitionOf(n, to)).toBe(destination);
        const staying = here.filter((n) => !moved.includes(n));
        for (const n of staying) expect(state(source, from)).toBe(state(partitionOf(n, to), to));
        expect(moved.length + staying.length).toBe(here.length);
      }
    }
    // 4 → 2: an entry of partition 1 of 4 is in partition 1 of 2, whose keys are the same: nothing moves.
    expect(
      movesOf(
        names.filter((n) => partitionOf(n, 4) === 1),
        1,
        4,
        2,
      ).size,
    ).toBe(0);
    expect([...movesOf(names, 0, 1, 4).values()].flat().sort()).toEqual([...names].sort());
  });

  it('moves every record entry-owned.ts says an entry owns, and its state, paused mark and resume time', () => {
    expect(MOVED_FIELDS).toEqual(['state', 'resumed', ...OWN_FIELDS]);
    expect(MOVED_MEMBERS).toEqual(['paused', ...OWN_MEMBERS]);
    expect(MOVED_KEYS).toEqual(OWN_KEYS);
  });

  it("reads an entry's name back from its history list's key, and not the pending set's", () => {
    const keys = partitionKeys('tsbeat', 'd', 1, 4);
    const head = keys.runs('x').slice(0, -1);
    for (const name of ['pending', '=a', '==b', 'x', 'a:b']) expect(entryOfRunsKey(keys.runs(name).slice(head.length)), name).toBe(name);
    expect(entryOfRunsKey(keys.runsPending.slice(head.length))).toBeUndefined();
  });

  it('escapes what a MATCH pattern treats as special', () => {
    expect(globEscape('a*b?[c]\\d{e}')).toBe('a\\*b\\?\\[c\\]\\\\d{e}');
  });
});

describe('the replica guard over the recorded count', () => {
  function fakeStore(initial: PartitionRecord | undefined) {
    const store = {
      value: initial,
      reads: 0,
      records: 0,
      read: async () => {
        store.reads += 1;
        return store.value;
      },
      record: async (configured: number) => {
        store.records += 1;
        return (store.value ??= { count: configured, movingTo: undefined });
      },
    };
    return store;
  }

  it('records the count at start, and refuses to start under another (exit 2, PARTITIONS_DIFFER)', async () => {
    const fresh = fakeStore(undefined);
    await partitionCountGuard({ store: fresh, configured: 4, logger: silentLogger, maxAgeMs: 1000 }).start();
    expect(fresh.value).toEqual({ count: 4, movingTo: undefined });
    expect([fresh.reads, fresh.records]).toEqual([1, 1]);
    const other = partitionCountGuard({
      store: fakeStore({ count: 4, movingTo: undefined }),
      configured: 2,
      logger: silentLogger,
      maxAgeMs: 1000,
    });
    const error = await other.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BeatError);
    expect(error).toMatchObject({ code: 'PARTITIONS_DIFFER' });
    expect((error as Error).message).toMatch(
      /^beat run: this replica has partitions: 2, but the deployment's entries are kept in 4 partitions/,
    );
  });

  it('asks Redis at most once per maxAge before lock attempts, and always before a session', async () => {
    const store = fakeStore({ count: 2, movingTo: undefined });
    const guard = partitionCountGuard({ store, configured: 2, logger: silentLogger, maxAgeMs: 60_000 });
    expect(await Promise.all([guard.mayLead(), guard.mayLead(), guard.mayLead()])).toEqual([undefined, undefined, undefined]);
    expect(store.reads).toBe(1);
    store.value = { count: 2, movingTo: 4 };
    // Within maxAge a lock attempt goes on the last read; the session's confirm reads now and refuses.
    expect(await guard.mayLead()).toBeUndefined();
    await expect(guard.confirm()).rejects.toMatchObject({ code: 'PARTITIONS_DIFFER' });
    expect(store.reads).toBe(2);
    expect(await guard.mayLead()).toMatch(/being moved from 2 to 4/);
    expect(store.reads).toBe(2);
  });

  it('lets the attempt go on when Redis cannot be read (the session confirms)', async () => {
    const guard = partitionCountGuard({
      store: { read: () => Promise.reject(new Error('down')), record: () => Promise.reject(new Error('down')) },
      configured: 1,
      logger: silentLogger,
      maxAgeMs: 0,
    });
    expect(await guard.mayLead()).toBeUndefined();
    await expect(guard.confirm()).rejects.toThrow('down');
    // Nor does it stop the start: the lock campaign names Redis's refusal and retries.
    await expect(guard.start()).resolves.toBeUndefined();
  });

  it('records its count again when the record is gone (a Redis that lost its data)', async () => {
    const store = fakeStore({ count: 4, movingTo: undefined });
    const guard = partitionCountGuard({ store, configured: 4, logger: silentLogger, maxAgeMs: 0 });
    store.value = undefined;
    expect(await guard.mayLead()).toBeUndefined();
    expect(store.value).toEqual({ count: 4, movingTo: undefined });
  });
});
