/**
 * The runtime entries: the runtime entry store, and the catalog that keeps the replica's view of
 * the runtime entries (the store, RedBeat's, django's). Both are the process's. With one partition
 * the catalog holds every entry; with several, those of the partitions this process leads alone,
 * each partition's read when its lock is taken and forgotten when it is lost, and each partition's
 * runtime sees its own (runtime/catalog-slices.ts). The store stays the deployment's (one hash, so
 * every reader still scans every name: see RedisEntryStore.load); so does the audit trail, where
 * the leader of an entry's partition records the RedBeat and django changes it sees of it; what is
 * kept of a deleted entry is its partition's, forgotten by that partition's leader.
 */
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { queueNameContextOf } from '../config/queue-names.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Clock } from '../ports/clock.js';
import type { EntrySource } from '../ports/entries.js';
import { forgetOwnedNow, partitionedOf } from '../redis/entry-owned.js';
import { RedisEntryStore } from '../redis/entry-store.js';
import { ENTRIES_MESSAGE, partitionRuntimeKeys } from '../redis/keys.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { partitionOf } from '../core/partition.js';
import { EntryCatalog } from '../runtime/entry-catalog.js';
import { sourceChangeRecorder } from './audit-api.js';
import type { Connections } from './connections.js';
import type { InForce } from './in-force.js';

export interface EntrySources {
  readonly entryStore: RedisEntryStore;
  readonly catalog: EntryCatalog;
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
  const partitions = config.partitions ?? 1;
  const entryStore = new RedisEntryStore(
    state,
    keys,
    staticNames,
    queueNameContextOf(config),
    partitionedOf(config.state.prefix, config.name, config.partitions),
    {
      building: (count) =>
        log.info(
          { event: EVENTS.entriesIndexBuilding, partitions: count },
          `building the runtime entries' partition index of ${count} before reading this replica's share (one pass over the store, about a second per 100,000 entries; 'beat partitions set ${count} --yes' builds it ahead of a start)`,
        ),
      built: ({ count, added, ms }) =>
        log.info(
          { event: EVENTS.entriesIndexBuilt, partitions: count, added, ms },
          `the runtime entries' partition index of ${count} is whole (${added} names added by this replica, ${(ms / 1000).toFixed(1)} s)`,
        ),
    },
  );
  const catalog = new EntryCatalog({
    sources: [entryStore, ...(redbeat === undefined ? [] : [redbeat.source]), ...(django === undefined ? [] : [django])] as EntrySource[],
    logger: log,
    intervalMs: config.maxIntervalMs,
    defaults: { zone: config.timezone, alerts: config.alerts, calendars: config.calendars },
    staticNames,
    ...(partitions > 1 ? { partitions } : {}),
    onSourceChanges: sourceChangeRecorder(state, keys, {
      // With partitions each replica sees the changes of the entries it holds: those of the partitions it leads.
      records:
        partitions === 1 ? (): boolean => inForce.leading() : (name: string): boolean => inForce.leads(partitionOf(name, partitions)),
      maxEvents: (): number | undefined => inForce.config().auditMaxEvents,
      logger: log,
      now: () => clock.now(),
    }),
    // Deleted at their source (not unreadable): the leader removes their history and pending outcome.
    onSourceDeletes: (names) => {
      const forget = (under: SchedulerKeys, gone: readonly string[]): void =>
        void forgetOwnedNow(state, under, gone).catch((error: unknown) =>
          log.warn(
            { event: EVENTS.sourceForgetFailed, err: errorMessage(error), count: gone.length },
            'could not remove what tsbeat kept of deleted entries',
          ),
        );
      if (partitions === 1) {
        if (inForce.leading()) forget(keys, names);
        return;
      }
      for (let p = 0; p < partitions; p += 1) {
        const gone = names.filter((name) => partitionOf(name, partitions) === p);
        if (gone.length > 0 && inForce.leads(p)) forget(partitionRuntimeKeys(config.state.prefix, config.name, p, partitions), gone);
      }
    },
  });
  // Pub/sub messages sent while a connection was down are lost: look again once both are back.
  for (const client of [state, subscriber]) client.on('ready', () => catalog.poke());
  return { entryStore, catalog };
}

/**
 * With partitions, each partition's lock listens on its own channel, and none on the deployment's,
 * where the runtime store announces its writes (entries-write.lua): the process listens there, once.
 */
export async function hearEntryWrites(subscriber: Connections['subscriber'], keys: SchedulerKeys, catalog: EntryCatalog): Promise<void> {
  subscriber.on('message', (channel: string, message: string) => {
    if (channel === keys.events && message.startsWith(`${ENTRIES_MESSAGE} `)) catalog.poke();
  });
  await subscriber.subscribe(keys.events);
}
