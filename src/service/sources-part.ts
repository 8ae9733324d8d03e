/**
 * The runtime entries: the runtime entry store, and the catalog that keeps the replica's view of
 * the runtime entries (the store, RedBeat's, django's). Both are the process's; the catalog holds
 * every entry, on a standby too. The leader records the RedBeat and django changes it sees in the
 * audit trail, and forgets what was kept of an entry deleted at its source.
 */
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { queueNameContextOf } from '../config/queue-names.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Clock } from '../ports/clock.js';
import { forgetOwnedNow } from '../redis/entry-owned.js';
import { RedisEntryStore, storeBudget } from '../redis/entry-store.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { EntryCatalog, runtimeSources } from '../runtime/entry-catalog.js';
import { sourceChangeRecorder } from './audit-reader.js';
import { EntryCheckPool } from './entry-check-pool.js';
import type { Connections } from './connections.js';
import type { InForce } from './in-force-view.js';

export interface EntrySources {
  readonly entryStore: RedisEntryStore;
  readonly catalog: EntryCatalog;
  /** The worker thread that checks the definitions of the store's writes (the API's): closed at the end. */
  readonly entryChecks: EntryCheckPool;
}

export function makeEntrySources(options: {
  config: ResolvedConfig;
  keys: SchedulerKeys;
  logger: Logger;
  clock: Clock;
  connections: Connections;
  inForce: InForce;
}): EntrySources {
  const { config, keys, logger: log, clock, inForce } = options;
  const { state, subscriber, redbeat, django } = options.connections;
  const staticNames = new Set(config.entries.map((e) => e.name));
  // The API's writes check their definitions off the scheduler's loop (docs/design.md, "Checks off the loop").
  const entryChecks = new EntryCheckPool(log);
  const queueNames = queueNameContextOf(config);
  const entryStore = new RedisEntryStore(
    state,
    keys,
    staticNames,
    queueNames,
    { ...entryScopeOf(config), calendars: config.calendars },
    storeBudget(config),
    entryChecks,
  );
  const catalog = new EntryCatalog({
    sources: runtimeSources({ store: entryStore, redbeat: redbeat?.source, django }),
    logger: log,
    intervalMs: config.maxIntervalMs,
    defaults: { ...entryScopeOf(config), alerts: config.alerts, calendars: config.calendars },
    staticNames,
    queueNames,
    onSourceChanges: sourceChangeRecorder(state, keys, {
      records: (): boolean => inForce.leading(),
      maxEvents: (): number | undefined => inForce.config().auditMaxEvents,
      logger: log,
      now: () => clock.now(),
    }),
    // Deleted at their source (not unreadable): the leader removes their history and pending outcome.
    onSourceDeletes: (names) => {
      if (!inForce.leading()) return;
      void forgetOwnedNow(state, keys, names).catch((error: unknown) =>
        log.warn(
          { event: EVENTS.sourceForgetFailed, err: errorMessage(error), count: names.length },
          'could not remove what tsbeat kept of deleted entries',
        ),
      );
    },
  });
  // Pub/sub messages sent while a connection was down are lost: look again once both are back.
  for (const client of [state, subscriber]) client.on('ready', () => catalog.poke());
  return { entryStore, catalog, entryChecks };
}
