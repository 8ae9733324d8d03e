/**
 * The runtime entries as a replica's catalog holds them (src/runtime/entry-catalog.ts), computed by
 * the CLI from one read of the store: the same resolution, the same refusals (invalid, or a name the
 * config file takes), so that `beat status` says what `/status` says.
 */
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { resolveOnce } from '../runtime/resolve-once.js';
import type { EntryProblem } from '../runtime/entry-catalog.js';
import type { RedisEntryStore } from '../redis/entry-store.js';

export interface RuntimeView {
  readonly entries: readonly ResolvedEntry[];
  readonly problems: readonly EntryProblem[];
}

/** Reads the store once (a failure to read it is thrown, not logged) and resolves it as the catalog does. */
export async function readRuntimeEntries(config: ResolvedConfig, store: RedisEntryStore): Promise<RuntimeView> {
  const snapshot = await store.load();
  const catalog = await resolveOnce(config, snapshot, store.origin);
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { entries: catalog.entries().sort(byName), problems: [...catalog.problems()].sort(byName) };
}
