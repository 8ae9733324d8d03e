/**
 * Who leads a partition (issue 34, step F): the pure moves (core/partition-moves.ts: given the map,
 * who leads and since when, a standby campaigns or waits, a leader keeps, holds or hands over), and
 * the process's map and seats that act on them (service/partition-seats.ts), driven by hand: reads
 * of the registry given as lists of ids, the lock's freedom and the monotonic clock faked; and a
 * small world of replicas reading the registry at different moments, which settles on the map with
 * each moved partition handed over once.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { assignPartitions, partitionsLedBy } from '../../src/core/partition.js';
import { claimedMove, leaderMove, standbyMove } from '../../src/core/partition-moves.js';
import type { LeaderView } from '../../src/core/partition-moves.js';
import { PartitionMap, moveTiming } from '../../src/service/partition-seats.js';
import type { SeatHolder } from '../../src/service/partition-seats.js';
import { PartitionClaims } from '../../src/service/partition-claims.js';
import type { ClaimStore } from '../../src/service/partition-claims.js';

const TIMING = { graceMs: 2000, stableReads: 3, fallbackHoldMs: 10_000 };

describe('a standby', () => {
  it('campaigns for a partition the map gives it, and for every partition while no map gates it', () => {
    expect(standbyMove('a', { assignee: 'a', freeSinceMs: undefined }, 0, TIMING)).toEqual({ move: 'campaign', fallback: false });
    expect(standbyMove('a', { assignee: undefined, freeSinceMs: undefined }, 0, TIMING)).toEqual({ move: 'campaign', fallback: false });
  });

  it("waits while another replica's partition is held, or free for less than the grace", () => {
    expect(standbyMove('a', { assignee: 'b', freeSinceMs: undefined }, 50_000, TIMING)).toEqual({ move: 'wait', assignee: 'b' });
    expect(standbyMove('a', { assignee: 'b', freeSinceMs: 1000 }, 2999, TIMING)).toEqual({ move: 'wait', assignee: 'b' });
  });

  it("takes another replica's partition by the fallback once its lock has been free for the grace", () => {
    expect(standbyMove('a', { assignee: 'b', freeSinceMs: 1000 }, 3000, TIMING)).toEqual({ move: 'campaign', fallback: true });
  });
});

describe('a leader', () => {
  const settled: LeaderView = { assignee: 'b', agreedReads: 3, fresh: true, fallback: undefined };

  it('keeps a partition the map gives it, or while no map gates it', () => {
    expect(leaderMove('a', { ...settled, assignee: 'a' }, 0, TIMING)).toEqual({ move: 'keep' });
    expect(leaderMove('a', { ...settled, assignee: undefined }, 0, TIMING)).toEqual({ move: 'keep' });
  });

  it('hands a partition over once the map has given it to the same other replica at 3 successive reads', () => {
    expect(leaderMove('a', { ...settled, agreedReads: 1 }, 0, TIMING)).toEqual({ move: 'hold', to: 'b', why: 'unsettled' });
    expect(leaderMove('a', { ...settled, agreedReads: 2 }, 0, TIMING)).toEqual({ move: 'hold', to: 'b', why: 'unsettled' });
    expect(leaderMove('a', settled, 0, TIMING)).toEqual({ move: 'hand over', to: 'b' });
  });

  it('hands nothing over on a map whose last read failed (it may be stale)', () => {
    expect(leaderMove('a', { ...settled, agreedReads: 9, fresh: false }, 0, TIMING)).toEqual({ move: 'hold', to: 'b', why: 'stale map' });
  });

  it('keeps a partition it took by the fallback from that same assignee for the hold, then hands it over', () => {
    const view = { ...settled, fallback: { from: 'b', atMs: 5000 } };
    expect(leaderMove('a', view, 14_999, TIMING)).toEqual({ move: 'hold', to: 'b', why: 'fallback' });
    expect(leaderMove('a', view, 15_000, TIMING)).toEqual({ move: 'hand over', to: 'b' });
    // Another assignee since (the one that let it go left): no reason to hold it from this one.
    expect(leaderMove('a', { ...view, assignee: 'c' }, 6000, TIMING)).toEqual({ move: 'hand over', to: 'c' });
  });

  it("hands over only to an assignee whose claim is fresh: without it, or with another replica's, it holds the partition", () => {
    const handOver = leaderMove('a', settled, 0, TIMING);
    expect(claimedMove(handOver, 'b')).toEqual({ move: 'hand over', to: 'b' });
    expect(claimedMove(handOver, undefined)).toEqual({ move: 'hold', to: 'b', why: 'unclaimed' });
    expect(claimedMove(handOver, 'c')).toEqual({ move: 'hold', to: 'b', why: 'unclaimed' });
    // The other moves stand whatever the claim.
    expect(claimedMove({ move: 'keep' }, undefined)).toEqual({ move: 'keep' });
    const unsettled = leaderMove('a', { ...settled, agreedReads: 1 }, 0, TIMING);
    expect(claimedMove(unsettled, 'b')).toEqual(unsettled);
  });
});

describe('the timing from the lock TTL', () => {
  it('is one TTL of grace, 3 reads to settle, 5 TTLs of hold after a fallback (base/defaults-leadership.ts)', () => {
    expect(moveTiming(10_000)).toEqual({ graceMs: 10_000, stableReads: 3, fallbackHoldMs: 50_000 });
    expect(DEFAULTS.partitionHandOverReads).toBe(3);
  });
});

/** The claims in Redis, shared by the replicas of a test: partition → who claims it, until when (PX). */
interface ClaimBoard {
  readonly claims: Map<number, { readonly id: string; readonly untilMs: number }>;
  /** Each write: the partitions claimed, by whom. */
  readonly writes: { readonly id: string; readonly partitions: readonly number[] }[];
  nowMs: () => number;
}

function claimBoard(nowMs: () => number): ClaimBoard {
  return { claims: new Map(), writes: [], nowMs };
}

/** `id` claims `partitions` for good (a replica of the test that is ready to take them). */
function claimFor(board: ClaimBoard, id: string, partitions: readonly number[]): void {
  for (const p of partitions) board.claims.set(p, { id, untilMs: Number.POSITIVE_INFINITY });
}

function claimStore(board: ClaimBoard, id: string, lifeMs: number): ClaimStore {
  return {
    write: (partitions) => {
      board.writes.push({ id, partitions: [...partitions] });
      for (const p of partitions) board.claims.set(p, { id, untilMs: board.nowMs() + lifeMs });
      return Promise.resolve();
    },
    claimant: (p) => {
      const claim = board.claims.get(p);
      return Promise.resolve(claim !== undefined && board.nowMs() < claim.untilMs ? claim.id : undefined);
    },
  };
}

interface Fake {
  map: PartitionMap;
  board: ClaimBoard;
  holders: FakeHolder[];
  lines: Record<string, unknown>[];
  clock: { now: number };
  free: Set<number>;
  readsAsked: { count: number };
}

interface FakeHolder extends SeatHolder {
  leads: boolean;
  handedOver: string[];
  campaigned: number;
}

/** A map of `n` partitions for replica `self`; reads applied by hand; every partition's holder faked. */
function fakeMap(self: string, n: number, shared?: ClaimBoard): Fake {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (text: string) => void lines.push(JSON.parse(text)) } });
  const clock = { now: 0 };
  const board = shared ?? claimBoard(() => clock.now);
  const free = new Set<number>();
  const readsAsked = { count: 0 };
  const map = new PartitionMap({
    partitions: n,
    instanceId: self,
    readLive: () => Promise.reject(new Error('read by hand')),
    lockFree: (p) => Promise.resolve(free.has(p)),
    claims: claimStore(board, self, 2000),
    ttlMs: 2000,
    logger,
    now: () => clock.now,
  });
  const readSoon = map.readSoon.bind(map);
  map.readSoon = () => {
    readsAsked.count += 1;
    readSoon();
  };
  const holders = map.seats.map((seat) => {
    const holder: FakeHolder = {
      leads: false,
      handedOver: [],
      campaigned: 0,
      leading: () => holder.leads,
      handOver: (reason) => {
        holder.handedOver.push(reason);
        holder.leads = false;
        seat.events.leadershipChanged(false);
        return Promise.resolve();
      },
      campaignNow: () => {
        holder.campaigned += 1;
      },
    };
    seat.bind(holder);
    return holder;
  });
  return { map, board, holders, lines, clock, free, readsAsked };
}

/** This replica takes partition `p` (as the lock would tell its seat), after asking its seat. */
async function take(fake: Fake, p: number): Promise<string | undefined> {
  const seat = fake.map.seats[p]!;
  const refused = await seat.mayTake();
  if (refused !== undefined) return refused;
  fake.holders[p]!.leads = true;
  seat.events.leadershipChanged(true);
  return undefined;
}

const IDS = ['a', 'b', 'c'];
const N = 12;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("a replica's partition map and seats", () => {
  it('gives every partition to this replica, as if alone, when its first read of the registry fails, and hands none over', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(undefined);
    for (let p = 0; p < N; p += 1) expect(fake.map.view(p)).toEqual({ assignee: 'a', agreedReads: 1, fresh: false });
    for (let p = 0; p < N; p += 1) expect(await take(fake, p)).toBeUndefined();
    // Reads fail on: what it leads stays.
    for (let i = 0; i < 5; i += 1) fake.map.apply(undefined);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    expect(fake.lines.find((l) => l['event'] === 'beat.partitions.map_changed')).toMatchObject({ replicas: 1, moved: N });
  });

  it("campaigns only for its share: another replica's partition is refused while its lock is held", async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(IDS);
    const mine = partitionsLedBy(assignPartitions(N, IDS), 'a');
    expect(mine).toHaveLength(4);
    for (let p = 0; p < N; p += 1) {
      const refused = await take(fake, p);
      if (mine.includes(p)) expect(refused).toBeUndefined();
      else expect(refused).toMatch(new RegExp(`^partition ${p} is [bc]'s by the partition map$`));
    }
    expect(fake.lines.find((l) => l['event'] === 'beat.partitions.map_changed')).toMatchObject({ replicas: 3, partitions: mine });
  });

  it('takes a partition whose lock stayed free for the grace (the fallback), and asks for a read at once when it first sees it free', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(IDS);
    const other = assignPartitions(N, IDS).findIndex((id) => id !== 'a');
    fake.free.add(other);
    fake.clock.now = 1000;
    expect(await take(fake, other)).toBeDefined();
    expect(fake.readsAsked.count).toBe(1);
    fake.clock.now = 2999;
    expect(await take(fake, other)).toBeDefined();
    // Held for a moment in between: the grace starts again.
    fake.free.delete(other);
    fake.clock.now = 3000;
    expect(await take(fake, other)).toBeDefined();
    fake.free.add(other);
    fake.clock.now = 3500;
    expect(await take(fake, other)).toBeDefined();
    expect(fake.readsAsked.count).toBe(2);
    fake.clock.now = 5500;
    expect(await take(fake, other)).toBeUndefined();
    expect(fake.lines.filter((l) => l['event'] === 'beat.partitions.taken').at(-1)).toMatchObject({
      partition: other,
      how: 'fallback',
      from: assignPartitions(N, IDS)[other],
    });
  });

  it('hands over what the map gives a replica that joined, at the third read that says so, once each', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(['a']);
    for (let p = 0; p < N; p += 1) expect(await take(fake, p)).toBeUndefined();
    const joined = ['a', 'd'];
    const theirs = partitionsLedBy(assignPartitions(N, joined), 'd');
    expect(theirs.length).toBe(N / 2);
    claimFor(fake.board, 'd', theirs);
    fake.map.apply(joined);
    fake.map.apply(joined);
    await flush();
    expect(fake.holders.filter((h) => h.handedOver.length > 0)).toEqual([]);
    fake.map.apply(joined);
    fake.map.apply(joined);
    await flush();
    const given = fake.holders.flatMap((h, p) => (h.handedOver.length > 0 ? [p] : []));
    expect(given).toEqual(theirs);
    expect(fake.holders.every((h) => h.handedOver.length <= 1)).toBe(true);
    expect(fake.lines.filter((l) => l['event'] === 'beat.partitions.handed_over').map((l) => l['to'])).toEqual(theirs.map(() => 'd'));
  });

  it('does not hand a partition over while the reads disagree (a replica that flickers in and out of the registry)', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(['a']);
    for (let p = 0; p < N; p += 1) await take(fake, p);
    claimFor(fake.board, 'd', [...Array(N).keys()]);
    for (let i = 0; i < 6; i += 1) fake.map.apply(i % 3 === 2 ? ['a'] : ['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    // A failed read in the middle does not count as agreeing, nor reset what agreed.
    fake.map.apply(['a', 'd']);
    fake.map.apply(['a', 'd']);
    fake.map.apply(undefined);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    fake.map.apply(['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toHaveLength(N / 2);
  });

  it('keeps a partition taken by the fallback from its assignee for the hold, then hands it back', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(IDS);
    const other = assignPartitions(N, IDS).findIndex((id) => id !== 'a');
    claimFor(fake.board, assignPartitions(N, IDS)[other]!, [other]);
    fake.free.add(other);
    fake.clock.now = 0;
    await take(fake, other);
    fake.clock.now = 2000;
    expect(await take(fake, other)).toBeUndefined();
    for (let i = 0; i < 4; i += 1) fake.map.apply(IDS);
    fake.clock.now = 2000 + 9999;
    fake.map.apply(IDS);
    await flush();
    expect(fake.holders[other]!.handedOver).toEqual([]);
    fake.clock.now = 2000 + 10_000;
    fake.map.apply(IDS);
    await flush();
    expect(fake.holders[other]!.handedOver).toEqual([`the partition map gives partition ${other} to ${assignPartitions(N, IDS)[other]}`]);
  });

  it('tries a partition the map newly gives it at once, not at its next retry', () => {
    const fake = fakeMap('a', N);
    fake.map.apply(IDS);
    for (const holder of fake.holders) holder.campaigned = 0;
    const before = assignPartitions(N, IDS);
    const after = assignPartitions(N, ['a', 'b']);
    fake.map.apply(['a', 'b']);
    const gained = after.flatMap((id, p) => (id === 'a' && before[p] !== 'a' ? [p] : []));
    expect(gained.length).toBeGreaterThan(0);
    expect(fake.holders.flatMap((h, p) => (h.campaigned > 0 ? [p] : []))).toEqual(gained);
  });

  it('moves nothing once stopped', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(['a']);
    for (let p = 0; p < N; p += 1) await take(fake, p);
    await fake.map.stop();
    for (let i = 0; i < 5; i += 1) fake.map.apply(IDS);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
  });

  it('keeps a partition whose assignee has not claimed it (live, but not ready to lead), says so once after a grace, and hands it over once the claim appears', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(['a']);
    for (let p = 0; p < N; p += 1) await take(fake, p);
    const theirs = partitionsLedBy(assignPartitions(N, ['a', 'd']), 'd');
    for (let i = 0; i < 3; i += 1) fake.map.apply(['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    const held = () => fake.lines.filter((l) => l['event'] === 'beat.partitions.hand_over_held');
    expect(held()).toEqual([]);
    // A grace (one TTL) of reads without a claim: said once per partition, and still kept.
    for (const now of [1000, 2000, 3000, 4000]) {
      fake.clock.now = now;
      fake.map.apply(['a', 'd']);
      await flush();
    }
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    expect(held().map((l) => l['partition'])).toEqual(theirs);
    expect(held()[0]).toMatchObject({ to: 'd', level: 'warn' });
    expect(String(held()[0]!['msg'])).toContain('has not claimed it');
    // Another replica's claim (or one run out) does not count.
    fake.board.claims.set(theirs[0]!, { id: 'c', untilMs: Number.POSITIVE_INFINITY });
    fake.board.claims.set(theirs[1]!, { id: 'd', untilMs: 4000 });
    fake.clock.now = 5000;
    fake.map.apply(['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    claimFor(fake.board, 'd', theirs);
    fake.map.apply(['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h, p) => (h.handedOver.length > 0 ? [p] : []))).toEqual(theirs);
    expect(held()).toHaveLength(theirs.length);
  });

  it('keeps a partition whose claim cannot be read', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(['a']);
    for (let p = 0; p < N; p += 1) await take(fake, p);
    claimFor(fake.board, 'd', [...Array(N).keys()]);
    fake.board.nowMs = () => {
      throw new Error('Connection is closed.');
    };
    for (let i = 0; i < 3; i += 1) fake.map.apply(['a', 'd']);
    fake.clock.now = 2000;
    fake.map.apply(['a', 'd']);
    await flush();
    expect(fake.holders.flatMap((h) => h.handedOver)).toEqual([]);
    expect(String(fake.lines.find((l) => l['event'] === 'beat.partitions.hand_over_held')?.['msg'])).toContain(
      'its claim could not be read (Connection is closed.)',
    );
  });

  it('claims, after an attempt found the lock held, only a partition the map gives it, the first claims at once', async () => {
    const fake = fakeMap('a', N);
    fake.map.apply(IDS);
    const mine = partitionsLedBy(assignPartitions(N, IDS), 'a');
    for (let p = 0; p < N; p += 1) {
      // The lock's attempt follows only a seat's yes; held() follows the attempt.
      if ((await fake.map.seats[p]!.mayTake()) === undefined) fake.map.seats[p]!.held();
    }
    await flush();
    expect([...fake.board.claims.keys()].sort((x, y) => x - y)).toEqual(mine);
    expect(fake.board.writes.every((w) => w.id === 'a')).toBe(true);
    // A partition taken by the fallback is not claimed: its lock was free, no leader waits for a claim.
    const other = assignPartitions(N, IDS).findIndex((id) => id !== 'a');
    fake.free.add(other);
    await fake.map.seats[other]!.mayTake();
    fake.clock.now = 5000;
    expect(await fake.map.seats[other]!.mayTake()).toBeUndefined();
    fake.map.seats[other]!.held();
    await flush();
    expect(fake.board.claims.has(other)).toBe(false);
  });
});

describe("a replica's claims", () => {
  it('writes a first claim at once, then the renewals of every partition together, at most one write a period, before any runs out', async () => {
    const clock = { now: 0 };
    const board = claimBoard(() => clock.now);
    const logger = createLogger({ level: 'silent', destination: { write: () => undefined } });
    const claims = new PartitionClaims({ store: claimStore(board, 'a', 1000), lifeMs: 1000, periodMs: 30, logger, now: () => clock.now });
    claims.claim(0);
    claims.claim(1);
    await flush();
    // The first write goes at once; the second partition, claimed meanwhile, right after it.
    expect(board.writes.map((w) => w.partitions)).toEqual([[0], [1]]);
    // Renewals within the life: batched, written a period later, in one write.
    clock.now = 100;
    claims.claim(0);
    claims.claim(1);
    claims.claim(0);
    await flush();
    expect(board.writes).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(board.writes.map((w) => w.partitions)).toEqual([[0], [1], [0, 1]]);
    // One about to run out before the next write goes at once.
    clock.now = 100 + 980;
    claims.claim(1);
    await flush();
    expect(board.writes.at(-1)!.partitions).toEqual([1]);
    await claims.stop();
    claims.claim(2);
    await flush();
    expect(board.claims.has(2)).toBe(false);
  });
});

describe('replicas that read the registry at different moments', () => {
  /**
   * A small world in steps of 100 ms: the registry (who is live), one lock per partition, and a
   * replica per id, each reading the registry every 600 ms at its own phase and trying, every step,
   * the locks its seats let it try. A hand-over releases the lock at once; a take succeeds when the
   * lock is free. Returns the hand-overs and the longest time a partition was without a leader.
   */
  async function simulate(
    script: { readonly atMs: number; readonly live: readonly string[] }[],
    untilMs: number,
    /** Replicas that are live but cannot lead (their own checks refuse every attempt at a lock). */
    cannotLead: readonly string[] = [],
  ) {
    const locks = new Map<number, string>();
    let t = 0;
    const board = claimBoard(() => t);
    const replicas = new Map<string, { fake: Fake; phase: number }>();
    const handOvers: { atMs: number; partition: number; from: string }[] = [];
    const freeSince = new Map<number, number>();
    let longestFreeMs = 0;
    let live: readonly string[] = [];
    for (; t <= untilMs; t += 100) {
      const change = script.find((s) => s.atMs === t);
      if (change !== undefined) live = change.live;
      for (const id of live) {
        if (replicas.has(id)) continue;
        const fake = fakeMap(id, N, board);
        fake.holders.forEach((holder, p) => {
          holder.leading = () => locks.get(p) === id;
          holder.handOver = () => {
            handOvers.push({ atMs: t, partition: p, from: id });
            locks.delete(p);
            fake.map.seats[p]!.events.leadershipChanged(false);
            return Promise.resolve();
          };
        });
        replicas.set(id, { fake, phase: (replicas.size * 200) % 600 });
      }
      for (const [id, { fake, phase }] of replicas) {
        if (!live.includes(id)) {
          // Gone (a clean stop): its locks released.
          for (const [p, holder] of locks) if (holder === id) locks.delete(p);
          continue;
        }
        fake.clock.now = t;
        if (t % 600 === phase) fake.map.apply(live);
        for (let p = 0; p < N; p += 1) fake.free[locks.has(p) ? 'delete' : 'add'](p);
        await flush();
        if (cannotLead.includes(id)) continue;
        for (let p = 0; p < N; p += 1) {
          if (locks.get(p) === id) continue;
          if ((await fake.map.seats[p]!.mayTake()) !== undefined) continue;
          // The attempt finds the lock held: the seat claims the partition if it is this replica's.
          if (locks.has(p)) {
            fake.map.seats[p]!.held();
            continue;
          }
          locks.set(p, id);
          fake.map.seats[p]!.events.leadershipChanged(true);
        }
      }
      for (let p = 0; p < N; p += 1) {
        if (locks.has(p)) freeSince.delete(p);
        else if (!freeSince.has(p)) freeSince.set(p, t);
        longestFreeMs = Math.max(longestFreeMs, t - (freeSince.get(p) ?? t));
      }
    }
    return { locks, handOvers, longestFreeMs };
  }

  it('keep the partitions a live replica that cannot lead is given: none handed to it, none leaderless beyond a step', async () => {
    const { locks, handOvers, longestFreeMs } = await simulate(
      [
        { atMs: 0, live: ['a', 'b', 'c'] },
        { atMs: 3000, live: ['a', 'b', 'c', 'd'] },
      ],
      20_000,
      ['d'],
    );
    expect(handOvers.filter((h) => h.atMs >= 3000)).toEqual([]);
    expect([...Array(N).keys()].map((p) => locks.get(p))).toEqual(assignPartitions(N, ['a', 'b', 'c']));
    expect(longestFreeMs).toBeLessThanOrEqual(100);
  });

  it('settle on the map with each partition handed over at most once per change, none leaderless beyond a step, when a replica joins', async () => {
    const { locks, handOvers, longestFreeMs } = await simulate(
      [
        { atMs: 0, live: ['a', 'b', 'c'] },
        { atMs: 3000, live: ['a', 'b', 'c', 'd'] },
      ],
      8000,
    );
    const want = assignPartitions(N, ['a', 'b', 'c', 'd']);
    expect([...Array(N).keys()].map((p) => locks.get(p))).toEqual(want);
    const afterJoin = handOvers.filter((h) => h.atMs >= 3000);
    // Only the partitions the join moved change hands, each once.
    const moved = assignPartitions(N, ['a', 'b', 'c']).flatMap((id, p) => (id !== want[p] ? [p] : []));
    expect(afterJoin.map((h) => h.partition).sort((x, y) => x - y)).toEqual(moved);
    expect(longestFreeMs).toBeLessThanOrEqual(100);
  });

  it("settle when a replica leaves: its partitions go to the map's new assignees, the others stay", async () => {
    const { locks, handOvers } = await simulate(
      [
        { atMs: 0, live: ['a', 'b', 'c'] },
        { atMs: 4000, live: ['a', 'b'] },
      ],
      9000,
    );
    expect([...Array(N).keys()].map((p) => locks.get(p))).toEqual(assignPartitions(N, ['a', 'b']));
    // Between the survivors, only what the capped map moves changes hands, once.
    const before = assignPartitions(N, ['a', 'b', 'c']);
    const after = assignPartitions(N, ['a', 'b']);
    const between = before.flatMap((id, p) => (id !== 'c' && id !== after[p] ? [p] : []));
    expect(
      handOvers
        .filter((h) => h.atMs >= 4000)
        .map((h) => h.partition)
        .sort((x, y) => x - y),
    ).toEqual(between);
  });
});
