/**
 * Which partitions' entries a catalog holds (`partitions` > 1, issue 34 step E): those of the
 * partitions this process leads, none on a standby. A partition's entries are read when it is taken
 * on (EntryCatalog.holdPartition) and forgotten when it is lost or handed over (dropPartition): the
 * process holds, and resolves, its share of the entries alone. The name alone says the partition
 * (core/partition.ts partitionOf), so a source filters before it decodes (ports/entries.ts EntryFilter).
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { partitionOf } from '../core/partition.js';
import type { EntryFilter } from '../ports/entries.js';
import type { SourceView } from './source-view.js';

export class PartitionHold {
  private readonly taken = new Set<number>();
  /** Partitions asked for and not taken on yet (holdPartition): the next look takes them all on. */
  readonly wanted = new Set<number>();
  /**
   * The names of the entries in force of each partition held: a partition's slice lists its own
   * entries from them (EntryCatalog.entries(partition)) rather than by the partition of every name held,
   * which at 1,000,000 entries and 12 partitions was 12,000,000 hashes for one take-over.
   */
  private readonly names: Set<string>[];

  constructor(readonly partitions: number) {
    this.names = Array.from({ length: partitions }, () => new Set<string>());
  }

  /** What the sources are asked for: the partitions held now (a view of the live set). */
  get filter(): EntryFilter {
    return { partitions: this.partitions, held: this.taken };
  }

  holds(partition: number): boolean {
    return this.taken.has(partition);
  }

  /** Adds `partition`; false when it was held already. */
  take(partition: number): boolean {
    if (this.taken.has(partition)) return false;
    this.taken.add(partition);
    return true;
  }

  /** Removes `partition`; false when it was not held. */
  release(partition: number): boolean {
    if (!this.taken.delete(partition)) return false;
    // A new set: V8 does not shrink a set's table as its keys go (see keepOnly).
    this.names[partition] = new Set<string>();
    return true;
  }

  /** How many entries of `partition` are in force (0 for one not held). */
  count(partition: number): number {
    return this.names[partition]?.size ?? 0;
  }

  /** The entries in force of `partition` (none for one not held), from the catalog's `current`. */
  entriesOf<T>(partition: number, current: ReadonlyMap<string, T>): T[] {
    const out: T[] = [];
    for (const name of this.names[partition] ?? []) {
      const entry = current.get(name);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /** An entry in force was added (+1) or left (−1). */
  counted(name: string, delta: 1 | -1): void {
    const names = this.names[partitionOf(name, this.partitions)];
    if (delta === 1) names?.add(name);
    else names?.delete(name);
  }

  /** Whether `name` is in `partition`. */
  isIn(name: string, partition: number): boolean {
    return partitionOf(name, this.partitions) === partition;
  }
}

/**
 * Forgets what the catalog's views, maps and sets hold of `partition`, and says so; false when it
 * held none. Not a removal: nothing is told, the entries still exist (another replica holds them).
 */
export function forgetPartition(
  hold: PartitionHold,
  partition: number,
  where: { readonly views: readonly SourceView[]; readonly byName: readonly (Map<string, unknown> | Set<string>)[] },
  logger: Logger,
): boolean {
  const entries = hold.count(partition);
  if (!hold.release(partition)) return false;
  logHold(logger, 'dropped', partition, entries);
  const keep = (name: string): boolean => !hold.isIn(name, partition);
  for (const view of where.views) {
    view.pending.delete(partition);
    keepOnly(view.held, keep);
  }
  for (const names of where.byName) keepOnly(names, keep);
  return true;
}

/**
 * Keeps the names `keep` says in `names`, in a table of their size: V8 does not shrink a Map's
 * table as its keys are deleted (100,000 entries less half kept ~4 MB each of the catalog's maps
 * that a replica no longer needed), and `clear` gives the table back.
 */
function keepOnly(names: Map<string, unknown> | Set<string>, keep: (name: string) => boolean): void {
  if (names instanceof Set) {
    const kept = [...names].filter(keep);
    names.clear();
    for (const name of kept) names.add(name);
    return;
  }
  const kept = [...names].filter(([name]) => keep(name));
  names.clear();
  for (const [name, value] of kept) names.set(name, value);
}

/**
 * Why `partition`'s entries are not all read when the store (tsbeat's own Redis, whose state the
 * partition's leader needs too) could not be read for them; undefined when it was. A RedBeat or
 * django source that cannot be read is not a reason: its entries come at a later look.
 */
export function storeUnread(views: readonly SourceView[], partition: number): BeatError | undefined {
  const store = views.find((v) => v.source.origin === 'store' && (v.cursor === undefined || v.pending.has(partition)));
  if (store === undefined) return undefined;
  return new BeatError(
    ErrorCode.RedisUnavailable,
    `could not read the runtime entries of partition ${partition} from Redis (${store.lastError ?? 'not read yet'}); retrying`,
  );
}

/** The line of a partition's entries taken on or forgotten. */
export function logHold(logger: Logger, what: 'held' | 'dropped', partition: number, entries: number): void {
  if (what === 'held')
    logger.info({ event: EVENTS.entriesHeld, partition, entries }, `holding partition ${partition}'s ${entries} runtime entries`);
  else
    logger.info(
      { event: EVENTS.entriesDropped, partition, entries },
      `forgot partition ${partition}'s ${entries} runtime entries: it is no longer led here`,
    );
}
