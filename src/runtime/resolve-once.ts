/**
 * A snapshot of runtime entries resolved once, as a replica's catalog resolves it (the same
 * defaults, the same refusals: invalid, or a name the config file takes), for readers outside a
 * running catalog: the CLI's view of the store (`beat status`).
 */
import { silentLogger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { EntrySnapshot, EntrySource } from '../ports/entries.js';
import { EntryCatalog } from './entry-catalog.js';

/** A loaded catalog over `snapshot` alone, under `config`'s defaults and file entry names. */
export async function resolveOnce(config: ResolvedConfig, snapshot: EntrySnapshot, origin: EntrySource['origin']): Promise<EntryCatalog> {
  const once: EntrySource = {
    origin,
    load: () => Promise.resolve(snapshot),
    changesSince: (cursor) => Promise.resolve({ changed: [], removed: [], cursor }),
  };
  const catalog = new EntryCatalog({
    sources: [once],
    logger: silentLogger,
    intervalMs: config.maxIntervalMs,
    defaults: { zone: config.timezone, alerts: config.alerts, calendars: config.calendars },
    staticNames: new Set(config.entries.map((e) => e.name)),
  });
  await catalog.load();
  return catalog;
}
