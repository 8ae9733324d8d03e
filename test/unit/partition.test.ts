/**
 * Partitions: an entry's partition against Python's zlib.crc32 (an independent implementation, run by
 * /usr/bin/python3 at test time), the rendezvous weights against Python's hashlib, and the capped
 * rendezvous assignment's promises: every partition led once, shares of ⌊n/R⌋ or ⌈n/R⌉, the same map
 * in any order, and few partitions moved when a replica joins or leaves.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignPartitions, partitionOf, partitionsLedBy, rendezvousWeight } from '../../src/core/partition.js';
import { int, pick, prng, type Rand } from '../support/prng.js';

const PYTHON = '/usr/bin/python3';
const COUNTS = [1, 2, 3, 7, 12, 64, 256, 1000];

/** Letters of several scripts and widths of UTF-8: ASCII, Latin-1, Greek, CJK, an emoji outside the BMP. */
const ALPHABET = ['a', 'z', 'Q', '0', '9', '-', '_', '.', ':', ' ', '/', 'é', 'ß', 'Ω', 'ж', '中', '文', '🚀', '\u00a0', '\u200b'];

function randomName(r: Rand): string {
  let name = '';
  for (let i = int(r, 1, 40); i > 0; i -= 1) name += pick(r, ALPHABET);
  return name;
}

function randomIds(r: Rand, count: number): string[] {
  return Array.from({ length: count }, () => `beat-${int(r, 0, 99)}:${int(r, 1, 65_535)}:${Math.floor(r() * 2 ** 32).toString(16)}`);
}

interface Oracle {
  crc: number[];
  weights: number[];
}

const r = prng(34);
const NAMES = ['nightly-report', '', 'a', ...Array.from({ length: 300 }, () => randomName(r))];
const PAIRS = Array.from({ length: 50 }, () => ({ id: randomIds(r, 1)[0] as string, partition: int(r, 0, 255) }));
let oracle: Oracle;

beforeAll(() => {
  const script = [
    'import hashlib, json, sys, zlib',
    'data = json.load(sys.stdin)',
    'crc = [zlib.crc32(name.encode("utf-8")) for name in data["names"]]',
    'weights = [int.from_bytes(hashlib.sha256(f"{p[0]}\\n{p[1]}".encode("utf-8")).digest()[:6], "big") for p in data["pairs"]]',
    'print(json.dumps({"crc": crc, "weights": weights}))',
  ].join('\n');
  const input = JSON.stringify({ names: NAMES, pairs: PAIRS.map((p) => [p.id, p.partition]) });
  const run = spawnSync(PYTHON, ['-c', script], { input, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${PYTHON} failed: ${run.stderr}`);
  oracle = JSON.parse(run.stdout) as Oracle;
});

describe("an entry's partition", () => {
  it("is Python's zlib.crc32 of the UTF-8 name modulo the count, for ASCII and non-ASCII names", () => {
    expect(oracle.crc).toHaveLength(NAMES.length);
    NAMES.forEach((name, i) => {
      for (const n of COUNTS) expect(partitionOf(name, n), `${JSON.stringify(name)} of ${n}`).toBe((oracle.crc[i] as number) % n);
    });
  });

  it('puts "nightly-report" in partition 0 of 12 (the example of docs/design.md)', () => {
    expect(partitionOf('nightly-report', 12)).toBe(0);
    expect(partitionOf('nightly-report', 7)).toBe(2217464496 % 7);
  });

  it('hashes a lone surrogate as U+FFFD, as Node encodes the name', () => {
    expect(partitionOf('x\ud800y', 1000)).toBe(partitionOf('x\ufffdy', 1000));
  });

  it('refuses a count that is not a whole number from 1, naming the function', () => {
    for (const bad of [0, -3, 1.5, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => partitionOf('a', bad)).toThrow(/^partitionOf: .* partitions: the count is a whole number from 1$/);
    expect(() => assignPartitions(0, ['a'])).toThrow('assignPartitions: 0 partitions: the count is a whole number from 1');
  });
});

describe('the rendezvous weights', () => {
  it('are Python\'s first 6 bytes of hashlib.sha256 of "<id>\\n<partition>"', () => {
    expect(PAIRS.map((p) => rendezvousWeight(p.id, p.partition))).toEqual(oracle.weights);
  });
});

/** How many partitions lead elsewhere in `after` than in `before`. */
function moved(before: readonly string[], after: readonly string[]): number {
  return before.filter((id, p) => after[p] !== id).length;
}

/** The fewest partitions any assignment with these shares must move: what each replica's share shrinks by. */
function leastMoves(before: readonly string[], after: readonly string[]): number {
  const count = (map: readonly string[]) => map.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>());
  const [was, now] = [count(before), count(after)];
  let least = 0;
  for (const [id, held] of was) least += Math.max(0, held - (now.get(id) ?? 0));
  return least;
}

/** Plain rendezvous: each partition to its heaviest replica, no cap. */
function uncapped(n: number, ids: readonly string[]): string[] {
  return Array.from({ length: n }, (_, p) => {
    const weights = ids.map((id) => rendezvousWeight(id, p));
    return ids[weights.indexOf(Math.max(...weights))] as string;
  });
}

describe('the assignment of partitions to replicas', () => {
  it('leads every partition once, each replica ⌊n/R⌋ or ⌈n/R⌉ of them, also with more replicas than partitions', () => {
    const rand = prng(1);
    for (const [n, R] of [
      [1, 1],
      [1, 3],
      [5, 8],
      [12, 1],
      [12, 3],
      [12, 5],
      [12, 12],
      [64, 7],
      [256, 10],
      [256, 300],
    ] as const) {
      for (let trial = 0; trial < (n * R > 10_000 ? 1 : 5); trial += 1) {
        const ids = randomIds(rand, R);
        const map = assignPartitions(n, ids);
        expect(map).toHaveLength(n);
        for (const id of map) expect(ids).toContain(id);
        const shares = ids.map((id) => partitionsLedBy(map, id).length);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(n);
        for (const share of shares) expect([Math.floor(n / R), Math.ceil(n / R)], `n=${n} R=${R}`).toContain(share);
      }
    }
  });

  it('gives every replica the same map whatever order the ids come in, duplicates counted once', () => {
    const rand = prng(2);
    for (let trial = 0; trial < 20; trial += 1) {
      const ids = randomIds(rand, int(rand, 1, 9));
      const n = int(rand, 1, 64);
      const map = assignPartitions(n, ids);
      const shuffled = [...ids, pick(rand, ids)].sort(() => rand() - 0.5);
      expect(assignPartitions(n, shuffled)).toEqual(map);
      expect(assignPartitions(n, new Set(ids).values())).toEqual(map);
    }
  });

  it('moves nothing when nothing changes', () => {
    const ids = randomIds(prng(3), 4);
    expect(moved(assignPartitions(12, ids), assignPartitions(12, [...ids]))).toBe(0);
  });

  it('refuses to assign partitions to no replica', () => {
    expect(() => assignPartitions(12, [])).toThrow("assignPartitions: no live replica to lead 12 partitions; pass this replica's own id");
  });

  it('leaves no replica outside ½–2× its share where plain rendezvous leaves one in about 1 id set of 6 (12 over 3)', () => {
    const rand = prng(4);
    let plainOff = 0;
    const trials = 200;
    for (let trial = 0; trial < trials; trial += 1) {
      const ids = randomIds(rand, 3);
      const off = (map: readonly string[]) => ids.some((id) => ![2, 3, 4, 5, 6, 7, 8].includes(partitionsLedBy(map, id).length));
      if (off(uncapped(12, ids))) plainOff += 1;
      expect(off(assignPartitions(12, ids))).toBe(false);
    }
    expect(plainOff / trials).toBeGreaterThan(0.07);
    expect(plainOff / trials).toBeLessThan(0.25);
  });

  // The least a join or a leave can move is what the shares shrink by (the leaver's whole share, or
  // what the others hand the newcomer); plain rendezvous moves that many on average. The cap trims
  // each replica's chance surplus, about √(n/R) partitions, and a change redraws which partitions are
  // surplus, so the excess over the least is up to R·√(n/R) = √(nR); measured: about 0.15·√(nR).
  it('moves on average at most √(nR)/4 partitions more than the least possible when a replica joins or leaves', () => {
    const rand = prng(5);
    const trials = 40;
    for (const [n, R] of [
      [12, 2],
      [12, 3],
      [12, 4],
      [12, 6],
      [64, 4],
      [64, 8],
      [256, 4],
      [256, 16],
    ] as const) {
      let excess = 0;
      for (let trial = 0; trial < trials; trial += 1) {
        const ids = randomIds(rand, R);
        const before = assignPartitions(n, ids);
        for (const after of [assignPartitions(n, [...ids, ...randomIds(rand, 1)]), assignPartitions(n, ids.slice(1))])
          excess += moved(before, after) - leastMoves(before, after);
      }
      expect(excess / (2 * trials), `n=${n} R=${R}`).toBeLessThanOrEqual(Math.sqrt(n * R) / 4);
    }
  });

  it('moves at most ⌈n/R⌉+1 partitions on average when a fourth replica joins 3 over 12 partitions, or one of the 3 leaves', () => {
    const rand = prng(6);
    const trials = 200;
    let joined = 0;
    let left = 0;
    for (let trial = 0; trial < trials; trial += 1) {
      const ids = randomIds(rand, 3);
      const before = assignPartitions(12, ids);
      joined += moved(before, assignPartitions(12, [...ids, ...randomIds(rand, 1)]));
      left += moved(before, assignPartitions(12, ids.slice(1)));
    }
    // At least 3 move on a join and 4 on a leave; measured about 3.8 and 4.5.
    expect(joined / trials).toBeLessThanOrEqual(5);
    expect(left / trials).toBeLessThanOrEqual(5);
    expect(joined / trials).toBeGreaterThanOrEqual(3);
  });
});
