/**
 * The service's connections, made but not yet connected: the state Redis and its subscriber, the
 * broker's publishing, the lock's Redis servers, RedBeat's and django-celery-beat's sources (each
 * with its own connection when it has one). `connect` opens them all at start; `close` closes them
 * all at the very end of a stop.
 */
import type { Logger } from '../base/log.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { openDjangoEntries } from '../django/tenants.js';
import type { DjangoEntries } from '../django/source.js';
import { createPublishing } from '../publish/brokers.js';
import { stateUrlFor } from '../config/broker-kinds.js';
import type { Publishing } from '../publish/publishing.js';
import { createRedBeat } from '../redbeat/wiring.js';
import { seedStates } from '../redis/seed-states.js';
import type { SeedState } from '../redis/seed-states.js';
import type { RedBeatParts } from '../redbeat/wiring.js';
import { closeRedisClient, connectWithRetry, createStateClient } from '../redis/connect.js';
import type { RedisClient } from '../redis/connect.js';
import type { SchedulerKeys } from '../redis/keys.js';

export interface Connections {
  readonly state: RedisClient;
  /** The state Redis's pub/sub connection (lock hand-overs, entry and control changes). */
  readonly subscriber: RedisClient;
  readonly publishing: Publishing;
  /** lock.urls' servers, else the state Redis alone. */
  readonly lockClients: readonly RedisClient[];
  readonly redbeat: RedBeatParts | undefined;
  readonly django: DjangoEntries | undefined;
  /**
   * Connects every Redis client and the broker; throws what the broker refused at start (a config
   * error). `first`, when given, runs once the state Redis is connected and before anything else
   * connects (nothing written yet): what it throws ends the start.
   */
  connect(signal: AbortSignal, first?: (state: RedisClient) => Promise<void>): Promise<void>;
  /** Closes them all together, with `others` (the result backend's connection). */
  close(others?: readonly (RedisClient | undefined)[]): Promise<void>;
}

export function makeConnections(options: {
  config: ResolvedConfig;
  keys: SchedulerKeys;
  instanceId: string;
  logger: Logger;
  now: () => number;
}): Connections {
  const { config, keys, instanceId, logger: log } = options;
  const djangoSettings = config.sources?.django;
  const stateUrl = stateUrlFor(config);
  const state = createStateClient(stateUrl, config.broker.transportOptions, 'state', log, {
    reportFailover: true,
    deploymentKey: keys.state,
  });
  // Cut-over adoption of DatabaseScheduler's last runs into the state hash (redis/seed-states.ts).
  const djangoSeed = async (seeds: readonly SeedState[]): Promise<void> => {
    await seedStates(state, keys, seeds, entryScopeOf(config));
  };
  const django = djangoSettings === undefined ? undefined : openDjangoEntries(djangoSettings, log, options.now, djangoSeed);
  const subscriber = createStateClient(stateUrl, config.broker.transportOptions, 'subscriber', log);
  const publishing = createPublishing(config, keys, log, state);
  const lockClients: RedisClient[] =
    config.lock.urls.length === 0
      ? [state]
      : config.lock.urls.map((url, i) => createStateClient(url, {}, `lock ${i + 1}`, log, { deploymentKey: keys.lock }));
  const redbeat = createRedBeat({ config, state, stateUrl, stateKeys: keys, instanceId, logger: log });
  const allClients = [state, subscriber, ...lockClients.filter((c) => c !== state), ...(redbeat?.client ? [redbeat.client] : [])];
  return {
    state,
    subscriber,
    publishing,
    lockClients,
    redbeat,
    django,
    connect: async (signal, first) => {
      if (first !== undefined) {
        await connectWithRetry(state, signal);
        await first(state);
      }
      await Promise.all([...allClients.map((c) => connectWithRetry(c, signal)), publishing.connect()]);
      // A broker that refuses the URL itself (a vhost that does not exist) at start is a config error.
      const refused = publishing.refusal();
      if (refused !== undefined) throw refused;
    },
    close: async (others = []) => {
      await Promise.allSettled([
        publishing.close(),
        django?.close(),
        ...[...allClients, ...others].map((c) => (c === undefined ? undefined : closeRedisClient(c))),
      ]);
    },
  };
}
