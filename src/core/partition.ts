/**
 * Partitioned scheduling, the pure part: which partition an entry belongs to, and which live replica
 * leads each partition. Every replica computes both from the same inputs (the partition count and
 * the ids in the replicas registry) and so arrives at the same map without talking to the others.
 *
 * An entry's partition is CRC-32 (IEEE 802.3, zlib's) of its name's UTF-8 bytes modulo the count, so
 * that a person can compute it: Python's `zlib.crc32(name.encode()) % n`. ("nightly-report" is in
 * partition 0 of 12.) A name that is not well-formed Unicode (a lone surrogate) hashes as Node encodes
 * it, with U+FFFD in the surrogate's place.
 *
 * Partitions go to replicas by rendezvous (highest random weight) hashing with a load cap. Each pair
 * (replica, partition) has a weight, the first 6 bytes of SHA-256 of "<replica id>\n<partition>"
 * (Python: `int.from_bytes(hashlib.sha256(f"{id}\n{p}".encode()).digest()[:6], "big")`). Taking the
 * pairs heaviest first, a partition goes to the replica of its pair unless that replica is full:
 * every replica holds ⌊n/R⌋ partitions, and the first n mod R replicas to reach that take one more.
 * - Rendezvous, because a replica's weights do not depend on who else is live: a join takes the
 *   partitions the newcomer outweighs, a leave hands out only the leaver's, and the rest stay put
 *   (a modulo over the sorted ids would move nearly every partition on any change).
 * - A cap, because plain rendezvous only balances on average: with 12 partitions over 3 replicas a
 *   replica ends up outside half to twice its fair share in about one id set of 6, over 4 replicas in
 *   one of 2. Capped, every replica leads ⌊n/R⌋ or ⌈n/R⌉. The price is a few moves more than the
 *   least possible: at 12 over 3, a fourth replica joining moves 3.8 partitions on average where 3
 *   must move (plain rendezvous moves 3.0), one of the 3 leaving 4.5 where 4 must. The excess grows
 *   about as √(n·R) (test/unit/partition.test.ts measures it).
 */
import { hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

function checkCount(partitions: number, where: string): void {
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new RangeError(`${where}: ${String(partitions)} partitions: the count is a whole number from 1`);
}

/** The partition (0 … partitions−1) of the entry named `name`: CRC-32 of its UTF-8 bytes, modulo `partitions`. */
export function partitionOf(name: string, partitions: number): number {
  if (partitions === 1) return 0;
  checkCount(partitions, 'partitionOf');
  return crc32(name) % partitions;
}

/** The rendezvous weight of `replicaId` for `partition`: the first 6 bytes of SHA-256 of "<id>\n<partition>", big-endian. */
export function rendezvousWeight(replicaId: string, partition: number): number {
  return hash('sha256', `${replicaId}\n${partition}`, 'buffer').readUIntBE(0, 6);
}

/**
 * The replica that leads each partition (index: the partition), given the live replicas' ids: the
 * same map whatever order the ids come in (duplicates count once). Every replica leads ⌊n/R⌋ or
 * ⌈n/R⌉ of the n partitions; with more replicas than partitions, some lead none.
 */
export function assignPartitions(partitions: number, replicaIds: Iterable<string>): readonly string[] {
  checkCount(partitions, 'assignPartitions');
  const ids = [...new Set(replicaIds)].sort();
  if (ids.length === 0)
    throw new RangeError(`assignPartitions: no live replica to lead ${partitions} partitions; pass this replica's own id`);
  const floor = Math.floor(partitions / ids.length);
  let extras = partitions % ids.length;
  const pairs: { weight: number; replica: number; partition: number }[] = [];
  for (let partition = 0; partition < partitions; partition += 1)
    for (let replica = 0; replica < ids.length; replica += 1)
      pairs.push({ weight: rendezvousWeight(ids[replica] as string, partition), replica, partition });
  // Heaviest first; equal weights (a 1-in-2^48 chance) by id, then partition, so that the order is total.
  pairs.sort((a, b) => b.weight - a.weight || a.replica - b.replica || a.partition - b.partition);
  const leader: (string | undefined)[] = new Array<string | undefined>(partitions).fill(undefined);
  const load = new Array<number>(ids.length).fill(0);
  let left = partitions;
  for (const { replica, partition } of pairs) {
    if (leader[partition] !== undefined) continue;
    const held = load[replica] as number;
    if (held === floor && extras > 0) extras -= 1;
    else if (held >= floor) continue;
    leader[partition] = ids[replica];
    load[replica] = held + 1;
    left -= 1;
    if (left === 0) break;
  }
  // The quotas add up to n and a replica below its quota takes every partition it meets, so none is left.
  return leader as string[];
}

/** The partitions `replicaId` leads in `map` (from assignPartitions), in order. */
export function partitionsLedBy(map: readonly string[], replicaId: string): number[] {
  const led: number[] = [];
  map.forEach((id, partition) => {
    if (id === replicaId) led.push(partition);
  });
  return led;
}
