/**
 * Runtime entries resolved once, as a replica's catalog resolves them (the same sources in the
 * same order, the same defaults, the same refusals: invalid, a name the config file takes, a name
 * an earlier source holds), for readers outside a running catalog: the commands that show or name
 * entries (`beat status`, `next`, `history`, `trigger`, `pause`, `resume`, `backfill`).
 */
import { silentLogger } from '../base/log.js';
import { queueNameContextOf } from '../config/queue-names.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { EntrySource } from '../ports/entry-source.js';
import { EntryCatalog } from './entry-catalog.js';
import type { EntryProblem } from './entry-catalog.js';

export interface OnceView {
  /** The runtime entries in force, by name. */
  readonly entries: readonly ResolvedEntry[];
  /** Those that do not run, and why, by name. */
  readonly problems: readonly EntryProblem[];
  /** The sources that could not be read, with what they threw (their entries are missing above). */
  readonly failures: readonly { readonly origin: EntrySource['origin']; readonly error: unknown }[];
}

/** One load of a catalog over `sources` (in runtimeSources' order), under `config`'s defaults and file entry names. */
export async function resolveOnce(config: ResolvedConfig, sources: readonly EntrySource[]): Promise<OnceView> {
  const failures: { origin: EntrySource['origin']; error: unknown }[] = [];
  // The catalog logs a source that fails and retries it later; read once, the failure is the reader's to tell.
  const once = sources.map((source): EntrySource => ({
    origin: source.origin,
    load: () =>
      source.load().catch((error: unknown) => {
        failures.push({ origin: source.origin, error });
        throw error;
      }),
    changesSince: (cursor) => Promise.resolve({ changed: [], removed: [], cursor }),
  }));
  const catalog = new EntryCatalog({
    sources: once,
    logger: silentLogger,
    intervalMs: config.maxIntervalMs,
    defaults: { ...entryScopeOf(config), alerts: config.alerts, calendars: config.calendars },
    staticNames: new Set(config.entries.map((e) => e.name)),
    queueNames: queueNameContextOf(config),
  });
  try {
    await catalog.load();
  } finally {
    await catalog.stop();
  }
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return { entries: catalog.entries().sort(byName), problems: catalog.problems().sort(byName), failures };
}
