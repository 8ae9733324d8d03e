/**
 * Redis connections for the scheduler's own use (state, lock, pub/sub). Commands fail fast while
 * disconnected instead of queueing: a queued publish could run long after this instance stopped
 * leading. ioredis reconnects by itself with backoff; every transition is logged with the URL's
 * password masked.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { parseRedisUrl, redisClientOptions } from '../broker/redis-url.js';
import { DEFAULTS } from '../defaults.js';
import { EVENTS } from '../log-events.js';
import type { Logger } from '../log.js';
import { settleOnClose } from './ioredis-close.js';

const MAX_BACKOFF_MS = 5000;

export interface RedisClientOptions {
  /** Log `beat.redis.failover` when a Sentinel connection comes back on another primary. */
  readonly reportFailover?: boolean;
}

export function createRedisClient(url: string, transport: TransportOptionsInput, role: string, logger: Logger, options: RedisClientOptions = {}): Redis {
  const spec = parseRedisUrl(url, transport);
  const client = new Redis({
    ...redisClientOptions(spec, transport, (path) => readFileSync(path)),
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A connection with a command waiting and not one byte back for this long is dead: ioredis
    // destroys it and reconnects. Without it a connection that was black-holed rather than closed (a
    // partition, a NAT or load balancer that dropped the flow) holds every command until TCP gives
    // up, many minutes later: lock attempts hung silently and the instance never led again.
    socketTimeout: DEFAULTS.redisSocketTimeoutMs,
    disconnectTimeout: DEFAULTS.redisDisconnectTimeoutMs,
    // Reconnect forever, backing off up to 5 s with jitter.
    retryStrategy: (attempt) => Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(attempt, 6)) + Math.floor(Math.random() * 100),
  });
  settleOnClose(client);
  let wasReady = false;
  let lastError = '';
  // Through Sentinel, the address of the primary this connection reached (it changes on failover).
  const sentinel = spec.endpoint.kind === 'sentinel';
  let primary: string | undefined;
  client.on('ready', () => {
    const before = primary;
    primary = sentinel ? `${client.stream.remoteAddress ?? '?'}:${client.stream.remotePort ?? '?'}` : undefined;
    logger.info({ event: wasReady ? EVENTS.redisReconnect : EVENTS.redisConnect, role, url: spec.display, ...(sentinel ? { primary } : {}) }, `connected to Redis (${role})`);
    if (options.reportFailover === true && before !== undefined && primary !== before) {
      logger.warn(
        { event: EVENTS.redisFailover, role, url: spec.display, from: before, to: primary },
        `Redis failed over: the primary is now ${primary} (was ${before}). Replication is asynchronous, so what the old primary accepted in its last moments may be missing here: runs published just before (lost, unless a worker already took them from the old primary), the schedule state (a later leader publishes those runs again, with the same task ids, as each entry's catchUp says) and the fence and lock (the leader is then fenced out and campaigns again). Deduplicate by task id where a run must not execute twice; min-replicas-to-write on the primary narrows the window.`,
      );
    }
    wasReady = true;
    lastError = '';
  });
  client.on('error', (error: Error) => {
    // ioredis repeats the same error on every retry; log each distinct one once per outage.
    if (error.message === lastError) return;
    lastError = error.message;
    logger.warn({ event: EVENTS.redisError, role, url: spec.display, err: error.message }, `Redis (${role}) unreachable; retrying`);
  });
  return client;
}

/** Connects, retrying until it succeeds or `signal` aborts; resolves when the client is ready. */
export async function connectWithRetry(client: Redis, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onAbort = (): void => {
      cleanup();
      reject(new Error('aborted'));
    };
    const cleanup = (): void => {
      client.off('ready', onReady);
      signal.removeEventListener('abort', onAbort);
    };
    client.on('ready', onReady);
    signal.addEventListener('abort', onAbort, { once: true });
    // The first failure is retried by ioredis's retryStrategy; connect() only starts it.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}
