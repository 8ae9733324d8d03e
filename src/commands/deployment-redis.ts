/**
 * A deployment's state Redis as a command opens it from outside: connected within a bound, a
 * cluster node or a deployment that tsbeat 0.2.x left partitioned refused before anything is read
 * (redis/cluster-node.ts, redis/retired-partitions.ts). What is read over it is the verb's choice:
 * `beat next` reads the entry store alone (entryStoreOf), and so loads none of the other stores,
 * the audit reader or the deployment check; the commands that read or change the deployment make
 * every store over it (control-open.ts).
 */
import type { RedisClient } from '../redis/connect.js';
import { closeRedisClient, createStateClient, connectWithRetry } from '../redis/connect.js';
import { isClusterUrl, maskUrl } from '../config/redis-url.js';
import { entryScopeOf } from '../config/resolve.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { stateUrlFor } from '../config/broker-kinds.js';
import { queueNameContextOf } from '../config/queue-names.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { silentLogger } from '../base/log.js';
import { RedisEntryStore, storeBudget } from '../redis/entry-store.js';
import { schedulerKeys } from '../redis/keys.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { refusePartitionedDeployment } from '../redis/retired-partitions.js';
import { refuseClusterNode, stateContext } from '../redis/cluster-node.js';
import { placeOf, redisRefusal } from '../redis/server-errors.js';

const CONNECT_TIMEOUT_MS = 5000;

export interface DeploymentRedis {
  /** The connection to the deployment's state Redis. */
  readonly client: RedisClient;
  /** Its URL (the broker's, or state.url with an AMQP broker). */
  readonly url: string;
  readonly keys: SchedulerKeys;
  close(): Promise<void>;
}

/**
 * The state Redis of `config`'s deployment, connected and checked; throws when it cannot be
 * reached or refuses the deployment (a BeatError naming the server and the fix).
 */
export async function openDeploymentRedis(config: ResolvedConfig): Promise<DeploymentRedis> {
  const url = stateUrlFor(config);
  const client = createStateClient(url, config.broker.transportOptions, 'control', silentLogger);
  await connectCommandClient(client, url, 'check --broker or broker.url');
  const keys = schedulerKeys(config.state.prefix, config.name);
  try {
    await refuseClusterNode(client, stateContext(config, url));
    await refusePartitionedDeployment(client, keys, config.name);
  } catch (error) {
    client.disconnect();
    throw error instanceof BeatError ? error : (redisRefusal(error, placeOf(client)) ?? error);
  }
  return {
    client,
    url,
    keys,
    close: async () => {
      await closeRedisClient(client);
    },
  };
}

/** The runtime entries of the deployment `redis` holds, refusing the config file's entry names. */
export function entryStoreOf(config: ResolvedConfig, redis: Pick<DeploymentRedis, 'client' | 'keys'>): RedisEntryStore {
  return new RedisEntryStore(
    redis.client,
    redis.keys,
    new Set(config.entries.map((e) => e.name)),
    queueNameContextOf(config),
    { ...entryScopeOf(config), calendars: config.calendars },
    storeBudget(config),
  );
}

/**
 * Connects a command's Redis `client` (to `url`) within CONNECT_TIMEOUT_MS, or disconnects it and
 * throws an error naming the server and `fix`. A server that refuses the connection (nothing
 * listens on that port) will not listen a retry later: a command says so at once instead of
 * retrying for 5 s. A Sentinel or cluster URL names several servers, and its client tries the
 * others: it waits as before. Refused by the server (a DB it lacks, a wrong password): its own
 * error, with the fix.
 */
export async function connectCommandClient(client: RedisClient, url: string, fix: string): Promise<void> {
  const refusedNow = new AbortController();
  const onError = (error: { code?: unknown }): void => {
    if (error.code === 'ECONNREFUSED' && !/^sentinel:/i.test(url) && !isClusterUrl(url)) refusedNow.abort();
  };
  client.on('error', onError);
  try {
    await connectWithRetry(client, AbortSignal.any([AbortSignal.timeout(CONNECT_TIMEOUT_MS), refusedNow.signal]));
  } catch (error) {
    client.disconnect();
    if (error instanceof BeatError) throw error;
    const why = refusedNow.signal.aborted
      ? ': the connection was refused (is Redis running there?)'
      : ` within ${CONNECT_TIMEOUT_MS / 1000} s`;
    throw new BeatError(ErrorCode.RedisUnavailable, `cannot reach Redis at ${maskUrl(url)}${why}; ${fix}`, { cause: error });
  } finally {
    client.off('error', onError);
  }
}
