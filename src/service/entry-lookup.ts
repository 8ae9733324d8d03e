/**
 * The entry in force under a name, for the endpoints that act on one entry (the backfill API). The
 * config file's, else the catalog's; with partitions, a runtime entry of a partition this replica
 * does not lead is not in its catalog (issue 34 step E: it holds its partitions' entries alone), and
 * is read from the store then, one HGET, and resolved as a catalog would resolve it (its name not a
 * config-file entry's, its calendars defined). A django entry of such a partition is not read: its
 * partition's leader answers for it.
 */
import { parseEntryDefinition } from '../config/entry-definition.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { resolveOnce } from '../runtime/resolve-once.js';
import { entryNamedIn } from './in-force.js';
import type { InForce } from './in-force.js';

export type EntryLookup = (name: string) => ResolvedEntry | undefined | Promise<ResolvedEntry | undefined>;

/** With one partition, the catalog holds every entry: entryNamedIn. With several, the store for the rest. */
export function entryLookup(
  inForce: InForce,
  catalog: Pick<EntryCatalog, 'find'>,
  store: Pick<RedisEntryStore, 'get'>,
  partitions: number,
): EntryLookup {
  const held = entryNamedIn(inForce, catalog);
  if (partitions === 1) return held;
  return async (name) => held(name) ?? storedEntry(inForce.config(), store, name);
}

/** The store's runtime entry `name` as a catalog resolves it, or undefined (none, or it does not run). */
export async function storedEntry(
  config: ResolvedConfig,
  store: Pick<RedisEntryStore, 'get'>,
  name: string,
): Promise<ResolvedEntry | undefined> {
  const stored = await store.get(name);
  if (stored === undefined || stored.problems !== undefined) return undefined;
  const parsed = parseEntryDefinition(stored.entry);
  if (!parsed.ok) return undefined;
  const catalog = await resolveOnce(config, { entries: [{ name, entry: parsed.entry }], cursor: '0' }, 'store');
  return catalog.find(name);
}
