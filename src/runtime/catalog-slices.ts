/**
 * The process's one catalog of runtime entries, seen by each of its partitions as the entries of
 * that partition alone (core/partition.ts partitionOf). The catalog holds the entries of the
 * partitions the process leads alone: a partition's supervisor takes its slice's entries on before
 * its session starts (`hold`) and forgets them once it has stopped on losing the lock (`drop`).
 * Each partition's leader session listens to its slice, which hands it only the changes of its own
 * entries, and each partition's supervisor hears only its own entries' removals.
 *
 * The catalog has one listener and one removal listener: the slices share them, each change split
 * by partition. A slice's listener that fails fails the catalog's call, which then hands every
 * entry to every slice's listener on its next look: a runner takes an entry it already holds
 * unchanged as it is (Runner.applyChanges), so the others lose nothing by it.
 */
import { partitionOf } from '../core/partition.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { CatalogListener, EntryCatalog, EntryDefaults } from './entry-catalog.js';

/** What a partition's supervisor and leader sessions use of the catalog. */
export type RuntimeEntries = Pick<
  EntryCatalog,
  'entries' | 'find' | 'listen' | 'poke' | 'refresh' | 'reading' | 'onRemoved' | 'reconfigure' | 'checkedOrigins' | 'outdated'
> & {
  /**
   * With partitions: reads the partition's entries into the catalog, resolving once they are in
   * force (EntryCatalog.holdPartition; rejects when the store cannot be read). Absent: the catalog
   * holds every entry all along.
   */
  readonly hold?: () => Promise<void>;
  /** With partitions: forgets the partition's entries (EntryCatalog.dropPartition). */
  readonly drop?: () => Promise<void>;
};

/** The `partitions` slices of `catalog`, indexed by partition. With one partition, the catalog itself. */
export function catalogSlices(catalog: EntryCatalog, partitions: number): readonly RuntimeEntries[] {
  if (partitions === 1) return [catalog];
  const listeners: (CatalogListener | undefined)[] = new Array<CatalogListener | undefined>(partitions).fill(undefined);
  const removedListeners: (((names: readonly string[]) => void) | undefined)[] = new Array<
    ((names: readonly string[]) => void) | undefined
  >(partitions).fill(undefined);
  const byPartition = <T>(items: readonly T[], nameOf: (item: T) => string): Map<number, T[]> => {
    const split = new Map<number, T[]>();
    for (const item of items) {
      const p = partitionOf(nameOf(item), partitions);
      const list = split.get(p);
      if (list === undefined) split.set(p, [item]);
      else list.push(item);
    }
    return split;
  };
  const listenAll = (): void => {
    if (listeners.every((l) => l === undefined)) {
      catalog.listen(undefined);
      return;
    }
    catalog.listen(async (changed, removed) => {
      const changes = byPartition(changed, (e) => e.name);
      const removals = byPartition(removed, (n) => n);
      const calls: Promise<void>[] = [];
      listeners.forEach((listener, p) => {
        const mine = changes.get(p) ?? [];
        const gone = removals.get(p) ?? [];
        if (listener !== undefined && (mine.length > 0 || gone.length > 0)) calls.push(listener(mine, gone));
      });
      // Every slice's call runs to its end before a failure is passed on, so that none is cut short.
      const failed = (await Promise.allSettled(calls)).find((r) => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    });
  };
  catalog.onRemoved((names) => {
    for (const [p, gone] of byPartition(names, (n) => n)) removedListeners[p]?.(gone);
  });
  const reconfigures = sharedReconfigure(catalog);
  return Array.from({ length: partitions }, (_, partition): RuntimeEntries => {
    const mine = (name: string): boolean => partitionOf(name, partitions) === partition;
    return {
      entries: (): ResolvedEntry[] => catalog.entries(partition),
      find: (name) => (mine(name) ? catalog.find(name) : undefined),
      listen: (listener) => {
        listeners[partition] = listener;
        listenAll();
      },
      onRemoved: (listener) => void (removedListeners[partition] = listener),
      poke: () => catalog.poke(),
      refresh: () => catalog.refresh(),
      reading: () => catalog.reading(),
      // A session asks only of its own due entries: the catalog's check serves any names.
      checkedOrigins: () => catalog.checkedOrigins(),
      outdated: (due) => catalog.outdated(due),
      reconfigure: reconfigures,
      hold: () => catalog.holdPartition(partition),
      drop: () => catalog.dropPartition(partition),
    };
  });
}

/**
 * Each partition's supervisor reconfigures the catalog on a reload: the same defaults and names as
 * the last call's are that call's work (one rebuild of every name, not one per partition).
 */
function sharedReconfigure(catalog: EntryCatalog): EntryCatalog['reconfigure'] {
  let last: { defaults: string; names: ReadonlySet<string>; done: Promise<void> } | undefined;
  return (defaults: EntryDefaults, staticNames: ReadonlySet<string>) => {
    const key = JSON.stringify(defaults);
    if (last !== undefined && last.defaults === key && sameNames(last.names, staticNames)) return last.done;
    const done = catalog.reconfigure(defaults, staticNames);
    last = { defaults: key, names: staticNames, done };
    return done;
  };
}

function sameNames(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a) if (!b.has(name)) return false;
  return true;
}
