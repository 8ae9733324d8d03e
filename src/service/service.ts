/**
 * The composition root of `beat run`: the process's parts made in the order they need each other
 * (connections, entry sources, observability), then the runtime of each of its partitions
 * (partition-runtime.ts: state, outcomes, lock and leader's sessions; one, the deployment, unless
 * `partitions` says more), then HTTP and the replica's heartbeat; then started, each stop added to
 * one lifecycle scope as its part starts (each partition's own steps to its own scope). Every other
 * module gets what it needs passed in; this one only builds, connects and orders them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LifecycleScope } from '../base/lifecycle.js';
import { EVENTS } from '../base/log-events.js';
import { maskUrl } from '../config/redis-url.js';
import { ClockGuard } from '../redis/clock-guard.js';
import { partitionKeys, partitionRuntimeKeys, schedulerKeys } from '../redis/keys.js';
import { ReplicaRegistry } from '../redis/replica-registry.js';
import { checkRedisServer } from '../redis/server-checks.js';
import { makeConnections } from './connections.js';
import { startHttp } from './http-part.js';
import { auditSettingsOf, lateInForce } from './in-force.js';
import { startObservability } from './observability-part.js';
import { makePartitionRuntime } from './partition-runtime.js';
import { heartbeatIntervalMs, replicaHeartbeat } from './replica-heartbeat.js';
import type { ReplicaHeartbeat } from './replica-heartbeat.js';
import { deferred, wallClock } from './running.js';
import type { RunningService, ServiceOptions } from './running.js';
import { hearEntryWrites, makeEntrySources } from './sources-part.js';
import { catalogSlices } from '../runtime/catalog-slices.js';
import { processBudget } from '../runtime/process-budget.js';
import { clockGuardViews } from './clock-watchers.js';
import { PartitionCountStore } from '../redis/partition-count-store.js';
import { countCheckedGuard, partitionCountGuard } from './partition-count-part.js';
import { partitionLeaderTasks, partitionSinks } from './partition-sinks.js';
import type { PartitionRuntime } from './partition-runtime.js';
import { PartitionMap } from './partition-seats.js';
import { lockFree } from '../redis/lock-look.js';
import { PartitionClaimStore } from '../redis/partition-claims.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Logger } from '../base/log.js';
import type { Connections } from './connections.js';

/** The real service: leads or stands by, publishes through the fenced script. */
export async function startService(options: ServiceOptions, signal: AbortSignal): Promise<RunningService> {
  const parts = await makeParts(options);
  const scope = await startParts(parts, signal);
  const { logger: log, instanceId, partitions } = parts;
  const done = deferred();
  let stopped: Promise<void> | undefined;
  return {
    done: done.promise,
    instanceId,
    httpAddress: parts.http?.address,
    // Every partition applies it; the reload is applied when all have (false if any kept the old).
    reload: async (next) => (await Promise.all(partitions.map((p) => p.supervisor.reload(next)))).every(Boolean),
    stop: (reason) =>
      (stopped ??= (async () => {
        log.info({ event: EVENTS.stop, reason }, 'stopping');
        await scope.stopAll();
        log.info({ event: EVENTS.stop, reason }, 'stopped');
        done.resolve();
      })()),
  };
}

type Parts = Awaited<ReturnType<typeof makeParts>>;

/** Every part, made in the order they need each other; nothing connected yet (the HTTP server listens). */
async function makeParts(options: ServiceOptions) {
  const { logger, instanceId, config } = options;
  const clock = options.clock ?? wallClock;
  const base = { config, keys: schedulerKeys(config.state.prefix, config.name), logger, clock, instanceId };
  const inForce = lateInForce();
  const audit = auditSettingsOf(inForce.view, logger);
  const connections = makeConnections({ ...base, now: () => clock.now() });
  const { catalog, entryStore } = makeEntrySources({ ...base, connections, inForce: inForce.view });
  const clockGuard = new ClockGuard({ client: connections.state, clock, maxSkewMs: config.lock.maxClockSkewMs, logger });
  const replicas = new ReplicaRegistry(connections.state, base.keys);
  const withMetrics = options.http !== undefined;
  const observability = await startObservability({ ...base, withMetrics, connections, catalog, inForce: inForce.view });
  const publishStaticNames = (names: readonly string[]): Promise<void> => entryStore.publishStaticNames(names);
  const count = config.partitions ?? 1;
  // Leads only under the deployment's recorded partition count (partition-count-part.ts).
  const store = new PartitionCountStore(connections.state, base.keys);
  const partitionCount = partitionCountGuard({ store, configured: count, logger, maxAgeMs: config.lock.retryEveryMs });
  const shared = {
    config,
    logger,
    clock,
    instanceId,
    connections,
    publishStaticNames,
    observability,
    inForce,
    audit,
    partitionCount,
    budget: processBudget(),
  };
  const slices = catalogSlices(catalog, count);
  const guards = clockGuardViews(clockGuard, count).map((guard) => countCheckedGuard(guard, partitionCount));
  const sinks = partitionSinks(observability.sinks, count);
  const tasks = partitionLeaderTasks(observability.leaderTasks, observability.perProcessTasks, count);
  const assignment = count === 1 ? undefined : partitionMap({ ...base, connections, replicas, count });
  const partitions: PartitionRuntime[] = Array.from({ length: count }, (_, p) =>
    makePartitionRuntime(shared, {
      partition: p,
      partitions: count,
      keys: partitionRuntimeKeys(config.state.prefix, config.name, p, count),
      catalog: slices[p] as (typeof slices)[number],
      runtimeHeld: () => catalog.heldCount(p),
      clockGuard: guards[p] as (typeof guards)[number],
      sinks: sinks[p] as (typeof sinks)[number],
      leaderTasks: tasks[p] as (typeof tasks)[number],
      ...(assignment === undefined ? {} : { seat: assignment.seats[p] }),
    }),
  );
  const partition = partitions[0] as PartitionRuntime;
  const http = await startHttp({
    ...shared,
    catalog,
    clockGuard,
    partitions,
    keys: base.keys,
    inForce: inForce.view,
    entryStore,
    replicas,
    partition,
    metrics: observability.metrics,
    access: options.httpAccess ?? {},
    address: options.http,
  });
  const isLeader = (): boolean => partitions.some((p) => p.supervisor.leading);
  const heartbeat = replicaHeartbeat({ ...base, registry: replicas, isLeader, httpAddress: http?.address });
  return { ...shared, catalog, clockGuard, keys: base.keys, partitions, http, heartbeat, assignment };
}

/** With partitions > 1, the process's partition map over the replicas registry (partition-seats.ts). */
function partitionMap(options: {
  config: ResolvedConfig;
  logger: Logger;
  instanceId: string;
  connections: Connections;
  replicas: ReplicaRegistry;
  count: number;
}): PartitionMap {
  const { config, connections, replicas } = options;
  const keysOf = (p: number) => partitionKeys(config.state.prefix, config.name, p, options.count);
  return new PartitionMap({
    partitions: options.count,
    instanceId: options.instanceId,
    readLive: async () => (await replicas.read()).map((r) => r.instance),
    lockFree: (p) => lockFree(connections.lockClients, keysOf(p).lock),
    claims: new PartitionClaimStore(connections.state, (p) => keysOf(p).claim, options.instanceId, config.lock.ttlMs),
    ttlMs: config.lock.ttlMs,
    logger: options.logger,
  });
}

/**
 * With several partitions a replica is listed in the registry before it loads its entries, and
 * reads the partition map a heartbeat after it was listed at the earliest (seeCoLaunched): replicas
 * launched together (a rollout, a restart of the whole deployment) then find each other in their
 * first map and each campaigns for its own share, where each used to see itself alone, take every
 * lock it could and hand most of them over again, every take-over reading its partitions' entries.
 * Being listed moves nothing to it before it campaigns: the others hand a partition over only on
 * its claim (partition-claims.ts), made once it campaigns. Returns when it was listed (monotonic).
 */
function listEarly(scope: LifecycleScope, heartbeat: ReplicaHeartbeat, leave: () => Promise<void>): number {
  // Out of start order: stopped after the partitions' locks are handed over (they leave first, too),
  // so that the listings lose this replica as the next leaders take over.
  scope.add('replica heartbeat', leave);
  heartbeat.start();
  return performance.now();
}

/** Waits until a heartbeat interval has passed since `listedAtMs` (or a stop signal). */
async function seeCoLaunched(listedAtMs: number, ttlMs: number, signal: AbortSignal): Promise<void> {
  const leftMs = heartbeatIntervalMs(ttlMs) - (performance.now() - listedAtMs);
  if (leftMs <= 0) return;
  await sleep(leftMs, undefined, { signal }).catch(() => undefined);
}

/**
 * Connects and starts the parts, adding each one's stop to the scope as it starts. `beat run` stops
 * in the reverse order of the adds: the catalog, the partition (its deployment watch; its supervisor:
 * the session after its publish in flight, the leader's tasks, then the lock's release; its outcome
 * tracker), the heartbeat, RedBeat, tracing, and last the connections and HTTP together. A standby
 * takes over on the release, so nothing before it may be slow to stop. With several partitions the
 * replica leaves the registry (and stops reading the partition map) before its partitions stop, so
 * that the others, woken by the releases, find their new partitions in the registry at once.
 */
async function startParts(parts: Parts, signal: AbortSignal): Promise<LifecycleScope> {
  const { config, logger: log, connections, observability, http, heartbeat, catalog, partitions, assignment } = parts;
  const scope = new LifecycleScope({ logger: log });
  // Added before connecting, so that a failed connect closes them; the probes answer until the end.
  const backends = partitions.map((p) => p.outcomes?.client);
  scope.add('connections and http', () => Promise.allSettled([connections.close(backends), http?.close()]));
  // Terminal lines leave instance and deployment out (see createLogger): this line says them once.
  log.info(
    { event: EVENTS.start, broker: maskUrl(config.broker.url), entries: config.entries.length },
    `starting as ${parts.instanceId} of deployment "${config.name}"; connecting to Redis`,
  );
  // A stop signal while starting (`beat run` got SIGTERM): what started so far is stopped, and the
  // rest, the campaign for the lock above all, never starts.
  const stopIfAborted = async (): Promise<void> => {
    if (!signal.aborted) return;
    await scope.stopAll();
    signal.throwIfAborted();
  };
  try {
    await connections.connect(signal);
  } catch (error) {
    await scope.stopAll();
    throw error;
  }
  await stopIfAborted();
  scope.add('tracing', () => observability.tracing?.stop());
  // RedBeat gives its lock back and writes what is queued, before the connections close.
  scope.add('redbeat', () => connections.redbeat?.stop());
  await checkRedisServer(connections.state, log);
  // Under another partition count than the deployment's, or while `beat partitions set` moves its entries: exit 2.
  await parts.partitionCount.start().catch(async (error: unknown) => {
    await scope.stopAll();
    throw error;
  });
  await parts.clockGuard.check();
  let left: Promise<void> | undefined;
  const leave = (): Promise<void> => (left ??= heartbeat.stop());
  // With the map: listed before anything slow, and the map read a heartbeat later (seeCoLaunched).
  const listedAtMs = assignment === undefined ? undefined : listEarly(scope, heartbeat, leave);
  await catalog.load();
  if (partitions.length > 1) {
    // A subscriber connection per process, a 'message' listener per partition's lock and the catalog's.
    connections.subscriber.setMaxListeners(partitions.length + 10);
    await hearEntryWrites(connections.subscriber, parts.keys, catalog);
  }
  if (listedAtMs !== undefined) await seeCoLaunched(listedAtMs, config.lock.ttlMs, signal);
  // The last look: from the catalog's start to the campaign's nothing waits, and once campaigning
  // the service is started (a signal then stops it as any other: the lock handed over).
  await stopIfAborted();
  catalog.start();
  // Out of start order (the catalog started before it): after the partition's lock is handed over,
  // so that the listings lose this replica as the next leader takes over.
  if (listedAtMs === undefined) scope.add('replica heartbeat', leave);
  // With several partitions, each campaigns for its own lock, gated by the partition map (read
  // first, so that a replica joining does not try the locks of the others' partitions).
  await assignment?.start(config.lock.ttlMs);
  await Promise.all(partitions.map((p) => p.start()));
  scope.add('partitions', async () => {
    // With the map, this replica leaves the registry before its partitions' locks are released:
    // the others, woken by each release, read the registry again and find the partition theirs.
    if (assignment !== undefined) await Promise.all([assignment.stop(), leave()]);
    await Promise.all(partitions.map((p) => p.stop()));
  });
  // Listed once campaigning (with the map, listed already): a standby is listed as one from then on.
  if (listedAtMs === undefined) heartbeat.start();
  // Out of start order too: the catalog's looks end before the partition's session stops and its
  // lock is handed over, so that none (which, on the leader, records source changes and forgets
  // deleted entries) runs during the hand-over.
  scope.add('entry sources', () => catalog.stop());
  return scope;
}
