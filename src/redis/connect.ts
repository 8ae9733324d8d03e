/**
 * Redis connections for the scheduler's own use (state, lock, pub/sub). Commands fail fast while
 * disconnected instead of queueing: a queued publish could run long after this instance stopped
 * leading. ioredis reconnects by itself with backoff; every transition is logged with the URL's
 * password masked.
 */
import { readFileSync } from 'node:fs';
import { Cluster, Redis } from 'ioredis';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { parseRedisUrl, redisClientOptions } from '../config/redis-url.js';
import type { RedisConnectionSpec } from '../config/redis-url.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import { OUTAGES, unreachableReason } from '../base/outages.js';
import type { Logger } from '../base/log.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { connectedAddress, followSentinelFailovers } from './sentinel-failover.js';
import { redisRefusal, registerPlace } from './server-errors.js';

/**
 * A connection to tsbeat's own Redis (state, lock, its pub/sub): one server (through Sentinel or
 * not), or a Redis Cluster (`redis-cluster://`). Every key of a deployment is in one slot (keys.ts),
 * so whatever one command or script touches is on one master; the Cluster client routes it there.
 */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /** Log `beat.redis.failover` when a Sentinel connection comes back on another primary. */
  readonly reportFailover?: boolean;
  /**
   * A key of the deployment (keys.ts: every one is in its slot). On a Redis Cluster, the master of
   * that slot unreachable is an outage of this client (OUTAGES, readiness) until the slot is served
   * again; another node's failure is not.
   */
  readonly deploymentKey?: string;
}

/** The wait before reconnect attempt `attempt`: backing off to DEFAULTS.redisReconnectMaxBackoffMs, with jitter. */
function reconnectDelay(attempt: number): number {
  return Math.min(DEFAULTS.redisReconnectMaxBackoffMs, 100 * 2 ** Math.min(attempt, 6)) + Math.floor(Math.random() * 100);
}

/**
 * A client of tsbeat's own Redis: a Cluster client for a `redis-cluster://` URL, else one server's
 * (createRedisClient). Commands fail fast while its master is unreachable, as createRedisClient's.
 */
export function createStateClient(
  url: string,
  transport: TransportOptionsInput,
  role: string,
  logger: Logger,
  options: RedisClientOptions = {},
): RedisClient {
  const spec = parseRedisUrl(url, transport);
  if (spec.endpoint.kind !== 'cluster') return createRedisClient(url, transport, role, logger, options);
  const client = new Cluster(
    spec.endpoint.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      // A master that fails is replaced by its replica after the cluster's node timeout: the slot map
      // is asked for again until then, and each command retried a few times meanwhile.
      clusterRetryStrategy: reconnectDelay,
      redisOptions: {
        ...redisClientOptions(spec, transport, (path) => readFileSync(path)),
        maxRetriesPerRequest: 1,
        socketTimeout: DEFAULTS.redisSocketTimeoutMs,
        disconnectTimeout: DEFAULTS.redisDisconnectTimeoutMs,
      },
    },
  );
  const connection = watchClient(client, spec, role, logger, false);
  if (options.deploymentKey !== undefined) watchDeploymentSlot(client, options.deploymentKey, spec, { role, connection }, logger);
  return client;
}

/** A client of one Redis server (directly, by socket, or through Sentinel); a cluster URL is refused. */
export function createRedisClient(
  url: string,
  transport: TransportOptionsInput,
  role: string,
  logger: Logger,
  options: RedisClientOptions = {},
): Redis {
  const spec = parseRedisUrl(url, transport);
  if (spec.endpoint.kind === 'cluster')
    throw new BeatError(
      ErrorCode.BrokerUrl,
      `${spec.display}: a Redis Cluster holds tsbeat's own state and lock only (state.url, lock.urls); the ${role} needs one Redis server`,
    );
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
    // Reconnect forever, backing off with jitter.
    retryStrategy: reconnectDelay,
  });
  followSentinelFailovers(client);
  watchClient(client, spec, role, logger, options.reportFailover === true);
  return client;
}

/** Connections made so far: each is its own member of an outage (several may have one role). */
let connections = 0;
/** Each watched client's name in the outages (its server's and its own), for closeRedisClient. */
const outageNames = new WeakMap<RedisClient, { readonly endpoint: string; readonly connection: string; readonly logger: Logger }>();

/**
 * Closes `client` for good (QUIT, or a hang-up when it cannot be sent), and tells the outages it
 * waits no longer: ioredis emits no 'end' for a client closed while it is reconnecting, the very
 * client that is down.
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  await client.quit().catch(() => client.disconnect());
  const named = outageNames.get(client);
  if (named !== undefined) OUTAGES.gone(named.endpoint, named.connection, named.logger);
}

/**
 * Logs a client's connections, losses and refusals; a Sentinel client's failovers when
 * `reportFailover`. Returns the name the outages know it by.
 */
function watchClient(client: RedisClient, spec: RedisConnectionSpec, role: string, logger: Logger, reportFailover: boolean): string {
  connections += 1;
  const connection = `${role}#${connections}`;
  outageNames.set(client, { endpoint: spec.display, connection, logger });
  let wasReady = false;
  let lastError = '';
  // Through Sentinel, the address of the primary this connection reached (it changes on failover).
  const sentinel = spec.endpoint.kind === 'sentinel';
  let primary: string | undefined;
  OUTAGES.register(spec.display, role);
  if (client instanceof Cluster) watchClusterNodes(client, spec, role, logger);
  client.on('ready', () => {
    const before = primary;
    primary = sentinel && client instanceof Redis ? connectedAddress(client) : undefined;
    // After an outage, the one line that says so is beat.redis.up (when every connection is back).
    const afterOutage = OUTAGES.isDown(spec.display);
    logger[afterOutage ? 'debug' : 'info'](
      { event: wasReady ? EVENTS.redisReconnect : EVENTS.redisConnect, role, url: spec.display, ...(sentinel ? { primary } : {}) },
      `connected to Redis (${role})`,
    );
    OUTAGES.found(spec.display, connection, logger);
    if (reportFailover && before !== undefined && primary !== before) {
      logger.warn(
        { event: EVENTS.redisFailover, role, url: spec.display, from: before, to: primary },
        `Redis failed over: the primary is now ${primary} (was ${before}). Replication is asynchronous, so what the old primary accepted in its last moments may be missing here: runs published just before (lost, unless a worker already took them from the old primary), the schedule state (a later leader publishes those runs again, with the same task ids, as each entry's catchUp says) and the fence and lock (the leader is then fenced out and campaigns again). Deduplicate by task id where a run must not execute twice; min-replicas-to-write on the primary narrows the window.`,
      );
    }
    wasReady = true;
    lastError = '';
  });
  guardConnection(client, spec, (refusal, fatal) => {
    logger.error({ event: EVENTS.redisRefused, code: refusal.code, role, url: spec.display, fatal, err: refusal.message }, refusal.message);
    lastError = refusal.message;
  });
  client.on('error', (error: Error) => {
    // ioredis repeats the same error on every retry; log each distinct one once per outage.
    // After a refusal that ended the client, ioredis still reports its own ready check failing.
    if (error.message === lastError || refusals.has(client) || redisRefusal(error, { url: spec.display }) !== undefined) return;
    lastError = error.message;
    const reason = unreachableReason(error);
    // Not reached: one line per outage for all the connections to this server (outages.ts).
    if (reason !== undefined) OUTAGES.lost(spec.display, role, reason, DEFAULTS.redisReconnectMaxBackoffMs, logger, connection);
    else logger.warn({ event: EVENTS.redisError, role, url: spec.display, err: error }, `Redis (${role}) failed; retrying`);
  });
  // Closed for good (quit or disconnect: ioredis reconnects otherwise): nothing waits on it any more.
  client.on('end', () => OUTAGES.gone(spec.display, connection, logger));
  return connection;
}

/**
 * A node of a cluster that fails is not in itself an outage of the cluster (its replica takes its
 * slots over, and the cluster client stays ready): each node's distinct error is said once, until
 * the client next refreshes its slot map (after a failover, say). The master of the deployment's
 * slot is the exception, counted as an outage by watchDeploymentSlot.
 */
function watchClusterNodes(client: Cluster, spec: RedisConnectionSpec, role: string, logger: Logger): void {
  const said = new Set<string>();
  client.on('refresh', () => said.clear());
  client.on('node error', (error: Error, node: unknown) => {
    const where = String(node);
    if (said.has(`${where} ${error.message}`)) return;
    said.add(`${where} ${error.message}`);
    logger.warn(
      { event: EVENTS.redisError, role, url: spec.display, node: where, err: error },
      `Redis Cluster node ${where} (${role}) failed; following the cluster's slot map`,
    );
  });
}

/** The Cluster clients whose deployment slot's master is unreachable now, with that node ("host:port"). */
const unservedSlots = new WeakMap<Cluster, string>();

/**
 * The state of `client` as readiness shows it: ioredis's status, except for a Cluster client whose
 * deployment slot's master is unreachable (it stays 'ready' while the other masters answer).
 */
export function redisStatus(client: RedisClient): string {
  const node = client instanceof Cluster ? unservedSlots.get(client) : undefined;
  // No host here: readiness tells it to clients that may not read the deployment (the log names the node).
  return node === undefined
    ? client.status
    : "unserved: the master of the deployment's cluster slot is unreachable until its replica is promoted";
}

/**
 * The deployment's keys are all in one slot, on one master: while that master is unreachable they
 * are unavailable, as a single Redis down makes them, until the cluster promotes its replica (the
 * slot map names another master) or it answers again. That is an outage (OUTAGES: beat.redis.down,
 * then beat.redis.up) and readiness says so (redisStatus); a node that serves other slots is not.
 */
function watchDeploymentSlot(
  client: Cluster,
  key: string,
  spec: RedisConnectionSpec,
  { role, connection }: { readonly role: string; readonly connection: string },
  logger: Logger,
): void {
  let slot: number | undefined;
  const masterOfSlot = (): string | undefined => (slot === undefined ? undefined : client.slots[slot]?.[0]);
  const served = (): void => {
    if (!unservedSlots.has(client)) return;
    unservedSlots.delete(client);
    OUTAGES.found(spec.display, connection, logger);
  };
  client.on('ready', () => {
    // Asked of the cluster once connected (CLUSTER KEYSLOT): the slot map is by slot number.
    client.cluster('KEYSLOT', key).then(
      (found) => {
        slot = Number(found);
      },
      () => undefined,
    );
  });
  client.on('node error', (error: Error, node: unknown) => {
    const reason = unreachableReason(error);
    if (reason === undefined || unservedSlots.has(client) || String(node) !== masterOfSlot()) return;
    unservedSlots.set(client, String(node));
    OUTAGES.lost(spec.display, role, reason, DEFAULTS.redisReconnectMaxBackoffMs, logger, connection);
  });
  // A new slot map (ioredis asks for one when a node's connection ends, on MOVED, on a command that
  // found no node): another master serves the slot (its replica promoted), or the same one answers again.
  client.on('refresh', () => {
    const down = unservedSlots.get(client);
    const master = masterOfSlot();
    if (down === undefined || master === undefined) return;
    if (master !== down) return served();
    const node = client.nodes('master').find((n) => `${n.options.host ?? ''}:${n.options.port ?? ''}` === down);
    node?.ping().then(served, () => undefined);
  });
  // The master itself back (restarted, no replica promoted): its new connection is ready.
  client.on('+node', (node: Redis) => {
    node.on('ready', () => {
      if (
        `${node.options.host ?? ''}:${node.options.port ?? ''}` === unservedSlots.get(client) &&
        masterOfSlot() === unservedSlots.get(client)
      )
        served();
    });
  });
}

/** Emitted by a guarded client that Redis refused before it was ever ready (see guardConnection). */
const REFUSED = 'tsbeat:refused';
const refusals = new WeakMap<RedisClient, BeatError>();

/**
 * Every Redis connection tsbeat makes goes through this: it makes sure that no command ever runs on
 * a connection whose SELECT failed, and turns a refusal by the server into a BeatError.
 *
 * Why no command can slip through, in ioredis 5 (built/redis/event_handler.js): when the socket
 * connects, connectHandler writes AUTH, then SELECT, then CLIENT SETNAME/SETINFO, and only once the
 * CLIENT replies are in does it write INFO (the ready check) and, on its reply, call readyHandler,
 * which sets the status to ready and writes the queued commands. Until then (status 'connect') any
 * other command waits in the offline queue or is refused. Redis answers in order, so SELECT's
 * reply is read, and its failure emitted as 'error' (with `command.name` 'select'), before any of
 * that: disconnecting inside the 'error' listener ends the socket before a single command ran on it.
 * Without this ioredis only emits the error and goes on to 'ready' on DB 0. Each reconnect sends
 * SELECT again, and this listener stays.
 *
 * A refusal before the connection was ever ready (a DB the server lacks, a wrong password: no retry
 * can fix it) ends the client for good: `connectWithRetry` rejects with it. After the first ready
 * the client keeps reconnecting (the server may be fixed meanwhile) and `onRefused` reports each.
 */
export function guardConnection(
  client: RedisClient,
  spec: Pick<RedisConnectionSpec, 'display' | 'db' | 'username'>,
  onRefused: (refusal: BeatError, fatal: boolean) => void,
): void {
  let everReady = false;
  client.on('ready', () => {
    everReady = true;
  });
  const place = { url: spec.display, db: spec.db, user: spec.username };
  registerPlace(client, place);
  client.on('error', (error: Error) => {
    const failedSelect = (error as { command?: { name?: unknown } }).command?.name === 'select';
    const refusal = redisRefusal(error, place);
    if (refusal !== undefined && !everReady) {
      client.disconnect();
      refusals.set(client, refusal);
      onRefused(refusal, true);
      client.emit(REFUSED, refusal);
      return;
    }
    if (failedSelect) client.disconnect(true);
    if (refusal !== undefined) onRefused(refusal, false);
  });
}

/**
 * Connects, retrying until it succeeds or `signal` aborts; resolves when the client is ready, rejects
 * with the BeatError of a refusal no retry can fix (see guardConnection).
 */
export async function connectWithRetry(client: RedisClient, signal: AbortSignal): Promise<void> {
  if (client.status === 'ready') return;
  const refused = refusals.get(client);
  if (refused !== undefined) throw refused;
  // An abort before the wait began would never be heard: the signal fires its listeners once, at the abort.
  if (signal.aborted) throw new Error('aborted');
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onRefused = (refusal: BeatError): void => {
      cleanup();
      reject(refusal);
    };
    const onAbort = (): void => {
      cleanup();
      reject(new Error('aborted'));
    };
    const cleanup = (): void => {
      client.off('ready', onReady);
      client.off(REFUSED, onRefused);
      signal.removeEventListener('abort', onAbort);
    };
    client.on('ready', onReady);
    client.on(REFUSED, onRefused);
    signal.addEventListener('abort', onAbort, { once: true });
    // The first failure is retried by ioredis's retryStrategy; connect() only starts it.
    if (client.status === 'wait') client.connect().catch(() => undefined);
  });
}
