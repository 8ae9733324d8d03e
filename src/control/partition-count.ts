/**
 * The deployment's recorded partition count (redis/partition-count-store.ts) as replicas and `beat
 * partitions` judge it: whether a replica of a given `partitions` may lead, and what `beat partitions
 * set` moves where. A replica leads only under the recorded count and while no move is recorded:
 * replicas of two counts would take different locks and both publish every entry, and a replica of
 * the new count before the move ends would find its entries' state not there yet and start them afresh.
 */
import { partitionOf } from '../core/partition.js';

/** The record: the count the entries are kept under, and the count a `beat partitions set` moves them to. */
export interface PartitionRecord {
  readonly count: number;
  /** While a move is under way, or was interrupted: the count it moves to. */
  readonly movingTo: number | undefined;
}

/** Why a replica configured with `configured` partitions may not lead under `record`, or undefined when it may. */
export function partitionCountProblem(record: PartitionRecord, configured: number): string | undefined {
  const { count, movingTo } = record;
  if (movingTo !== undefined)
    return `the deployment's entries are being moved from ${count} to ${movingTo} partitions ('beat partitions set ${movingTo}', under way or interrupted): no replica leads until the move is complete; run 'beat partitions set ${movingTo}' to complete it, then start the replicas with partitions: ${movingTo}`;
  if (count === configured) return undefined;
  return `this replica has partitions: ${configured}, but the deployment's entries are kept in ${count} partition${count === 1 ? '' : 's'} (recorded in Redis): set partitions: ${count} in the config, or, with every replica stopped, move the entries with 'beat partitions set ${configured}'`;
}

/** Whether partition `a` of `countA` and partition `b` of `countB` have the same keys (redis/keys.ts partitionKeys). */
export function samePartitionKeys(a: number, countA: number, b: number, countB: number): boolean {
  if (countA === 1 || countB === 1) return countA === countB;
  return a === b;
}

/** The partitions whose locks a move from `from` to `to` partitions holds: every one of either count, each once. */
export function lockedPartitions(from: number, to: number): { readonly partition: number; readonly count: number }[] {
  const locked = Array.from({ length: from }, (_, partition) => ({ partition, count: from }));
  for (let partition = 0; partition < to; partition += 1)
    if (!locked.some((l) => samePartitionKeys(l.partition, l.count, partition, to))) locked.push({ partition, count: to });
  return locked;
}

/** The entries found in partition `source` of `from` that move under `to` partitions, by destination partition. */
export function movesOf(names: Iterable<string>, source: number, from: number, to: number): Map<number, string[]> {
  const moves = new Map<number, string[]>();
  for (const name of names) {
    const destination = partitionOf(name, to);
    if (samePartitionKeys(source, from, destination, to)) continue;
    const list = moves.get(destination);
    if (list === undefined) moves.set(destination, [name]);
    else list.push(name);
  }
  return moves;
}

/**
 * The entry whose history list has the key ending in `suffix` (after "runs:"), or undefined for the
 * set "runs:pending": redis/keys.ts escapes an entry named "pending", or starting with "=", with a "=".
 */
export function entryOfRunsKey(suffix: string): string | undefined {
  if (suffix === 'pending') return undefined;
  return suffix.startsWith('=') ? suffix.slice(1) : suffix;
}

/** `text` with the characters a Redis MATCH pattern treats as special escaped, to match itself only. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
