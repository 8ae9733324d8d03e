/**
 * The RedBeat source as `beat run` uses it (service.ts): its Redis connection, the source of its
 * entries, the write-back after runs and its lock, tied to the scheduler's events.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../base/log.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { EntryState } from '../ports/state.js';
import { createRedisClient } from '../redis/connect.js';
import type { RedisClient } from '../redis/connect.js';
import { readEntryState } from '../redis/entry-state-codec.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { seedStates } from '../redis/seed-states.js';
import { withRedBeat } from './write-back-events.js';
import { redbeatKeys } from './keys.js';
import type { RedBeatKeys } from './keys.js';
import { RedBeatLock, TOKEN_PREFIX } from './lock.js';
import { RedBeatSource } from './source.js';
import type { RedBeatSourceOptions } from './source.js';
import { RedBeatWriteBack } from './write-back.js';

export interface RedBeatParts {
  readonly source: RedBeatSource;
  /** Its own connection, when RedBeat's Redis is not the state's (to connect and close with the others). */
  readonly client: Redis | undefined;
  /** The scheduler's events with the write-back and the lock listening in. */
  events(inner: SchedulerEvents): SchedulerEvents;
  /** Gives the lock back and writes what is queued; before the connections close. */
  stop(): Promise<void>;
}

export interface RedBeatWiring {
  readonly config: ResolvedConfig;
  readonly state: RedisClient;
  readonly stateUrl: string;
  /** tsbeat's state hash, where entries RedBeat ran adopt its meta's last run (redis/seed-states.ts), and its passed-since. */
  readonly stateKeys: Pick<SchedulerKeys, 'state' | 'passedSince'>;
  readonly instanceId: string;
  readonly logger: Logger;
}

/** RedBeat's Redis and the source of its entries, as the config says where they are. */
export interface RedBeatSourceParts {
  readonly source: RedBeatSource;
  /** Its own connection, when RedBeat's Redis is not `state`'s (not connected yet). */
  readonly client: Redis | undefined;
  /** The connection the source reads through: its own, else `state`. */
  readonly reader: Redis;
  readonly keys: RedBeatKeys;
  /** RedBeat's Redis URL, as the config gives it. */
  readonly url: string;
}

/**
 * The RedBeat source of `config` (undefined without sources.redbeat), for `beat run` and for the
 * commands that show or name entries (commands/runtime-view.ts) alike. `state`, when given, is the
 * connection to the state Redis at `stateUrl`, shared when RedBeat's keys are there; `seed`, beat
 * run's adoption of RedBeat's last runs (the commands adopt nothing: they write no state).
 */
export function openRedBeatSource(options: {
  readonly config: ResolvedConfig;
  readonly state: RedisClient | undefined;
  readonly stateUrl: string;
  readonly logger: Logger;
  readonly seed?: RedBeatSourceOptions['seed'];
}): RedBeatSourceParts | undefined {
  const { config, state, stateUrl, logger, seed } = options;
  const settings = config.sources.redbeat;
  if (settings === undefined) return undefined;
  const url = settings.url ?? config.broker.url;
  // The broker's transport options (Sentinel, TLS) apply to the broker's Redis only.
  // RedBeat's keys do not share a slot: on a Redis Cluster state, createRedisClient refuses its URL
  // (the config check did already: config/connection-checks.ts).
  const shared = url === stateUrl && state instanceof Redis ? state : undefined;
  const reader = shared ?? createRedisClient(url, url === config.broker.url ? config.broker.transportOptions : {}, 'redbeat', logger);
  const own = reader === shared ? undefined : reader;
  const keys = redbeatKeys(settings.keyPrefix, settings.lockKey);
  const source = new RedBeatSource({ client: reader, keys, ...(seed === undefined ? {} : { seed }) });
  return { source, client: own, reader, keys, url };
}

export function createRedBeat(wiring: RedBeatWiring): RedBeatParts | undefined {
  const { config, state, stateUrl, stateKeys, instanceId, logger } = wiring;
  const opened = openRedBeatSource({
    config,
    state,
    stateUrl,
    logger,
    seed: async (seeds) => {
      await seedStates(state, stateKeys, seeds, entryScopeOf(config));
    },
  });
  if (opened === undefined) return undefined;
  const { source, client: own, reader: client, keys } = opened;
  // The write-back reports tsbeat's stored state of each entry (absolute values: a retry counts nothing twice).
  const readStates = async (names: readonly string[]): Promise<Map<string, EntryState>> => {
    const values = await state.hmget(stateKeys.state, ...names);
    const out = new Map<string, EntryState>();
    names.forEach((name, i) => {
      const decoded = readEntryState(values[i]);
      if (decoded !== undefined) out.set(name, decoded);
    });
    return out;
  };
  const writeBack = new RedBeatWriteBack(client, keys, readStates, logger);
  const lock = new RedBeatLock({
    client,
    key: keys.lock,
    token: `${TOKEN_PREFIX}${instanceId}`,
    ttlMs: config.lock.ttlMs,
    renewEveryMs: config.lock.renewEveryMs,
    logger,
  });
  return {
    source,
    client: own,
    events: (inner) => withRedBeat(inner, writeBack, lock),
    stop: async () => {
      await Promise.allSettled([lock.standBy(), writeBack.drain()]);
    },
  };
}
