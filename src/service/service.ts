/**
 * The composition root of `beat run`: the process's parts made in the order they need each other
 * (connections, entry sources, observability), then the deployment's runtime
 * (deployment-runtime.ts: state, outcomes, lock and leader's sessions), then HTTP and the replica's
 * heartbeat; then started, each stop added to one lifecycle scope as its part starts. Every other
 * module gets what it needs passed in; this one only builds, connects and orders them.
 */
import { LifecycleScope } from '../base/lifecycle.js';
import { EVENTS } from '../base/log-events.js';
import { maskUrl } from '../config/redis-url.js';
import { ClockGuard } from '../redis/clock-guard.js';
import { schedulerKeys } from '../redis/keys.js';
import { ReplicaRegistry } from '../redis/replica-registry.js';
import { refusePartitionedDeployment } from '../redis/retired-partitions.js';
import { refuseClusterNode, stateContext } from '../redis/cluster-node.js';
import { stateUrlFor } from '../config/broker-kinds.js';
import { checkRedisServer } from '../redis/server-checks.js';
import { makeConnections } from './connections.js';
import { makeDeploymentRuntime } from './deployment-runtime.js';
import { auditSettingsOf, lateInForce } from './in-force-view.js';
import { startObservability } from './observability-part.js';
import { replicaHeartbeat } from './replica-heartbeat.js';
import { deferred, wallClock } from './running.js';
import type { RunningService, ServiceOptions } from './running.js';
import { makeEntrySources } from './sources-part.js';

/** The real service: leads or stands by, publishes through the fenced script. */
export async function startService(options: ServiceOptions, signal: AbortSignal): Promise<RunningService> {
  const parts = await makeParts(options);
  const scope = await startParts(parts, signal);
  const { logger: log, instanceId, runtime } = parts;
  const done = deferred();
  let stopped: Promise<void> | undefined;
  return {
    done: done.promise,
    instanceId,
    httpAddress: parts.http?.address,
    reload: (next) => runtime.supervisor.reload(next),
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
  const { catalog, entryStore, entryChecks } = makeEntrySources({ ...base, connections, inForce: inForce.view });
  const clockGuard = new ClockGuard({ client: connections.state, clock, maxSkewMs: config.lock.maxClockSkewMs, logger });
  const replicas = new ReplicaRegistry(connections.state, base.keys);
  const withMetrics = options.http !== undefined;
  const observability = await startObservability({ ...base, withMetrics, connections, catalog, inForce: inForce.view });
  const publishStaticNames = (names: readonly string[]): Promise<void> => entryStore.publishStaticNames(names);
  const shared = { ...base, connections, publishStaticNames, observability, inForce, audit, catalog, clockGuard };
  const runtime = makeDeploymentRuntime(shared);
  // The HTTP part (its server, the API's handlers, the dashboard and their packages) loads with --http only.
  const httpPart = options.http === undefined ? undefined : await import('./http-part.js');
  const http = await httpPart?.startHttp({
    ...shared,
    catalog,
    clockGuard,
    inForce: inForce.view,
    entryStore,
    replicas,
    runtime,
    metrics: observability.metrics,
    access: options.httpAccess ?? {},
    address: options.http,
  });
  const isLeader = (): boolean => runtime.supervisor.leading;
  const heartbeat = replicaHeartbeat({ ...base, registry: replicas, isLeader, httpAddress: http?.address });
  return { ...shared, catalog, clockGuard, runtime, http, heartbeat, entryChecks };
}

/**
 * Connects and starts the parts, adding each one's stop to the scope as it starts. `beat run` stops
 * in the reverse order of the adds: the catalog, the runtime (its deployment watch; its supervisor:
 * the session after its publish in flight, the leader's tasks, then the lock's release; its outcome
 * tracker), the heartbeat, RedBeat, tracing, and last the connections and HTTP together. A standby
 * takes over on the release, so nothing before it may be slow to stop.
 */
async function startParts(parts: Parts, signal: AbortSignal): Promise<LifecycleScope> {
  const { config, logger: log, connections, observability, http, heartbeat, catalog, runtime, keys, entryChecks } = parts;
  const scope = new LifecycleScope({ logger: log });
  // Added before connecting, so that a failed connect closes them; the probes answer until the end.
  scope.add('connections and http', () =>
    Promise.allSettled([connections.close([runtime.outcomes?.client]), http?.close(), entryChecks.close()]),
  );
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
    // A one-server URL that reaches a Redis Cluster's node, and a deployment that tsbeat 0.2.x left
    // partitioned, are refused before anything connects that could write (the broker, RedBeat, the
    // lock): exit 2, naming the fix.
    const onState = stateContext(config, stateUrlFor(config));
    await connections.connect(signal, async (state) => {
      await refuseClusterNode(state, onState);
      await refusePartitionedDeployment(state, keys, config.name);
    });
  } catch (error) {
    await scope.stopAll();
    throw error;
  }
  await stopIfAborted();
  scope.add('tracing', () => observability.tracing?.stop());
  // RedBeat gives its lock back and writes what is queued, before the connections close.
  scope.add('redbeat', () => connections.redbeat?.stop());
  await checkRedisServer(connections.state, log);
  await parts.clockGuard.check();
  await catalog.load();
  // The last look: from the catalog's start to the campaign's nothing waits, and once campaigning
  // the service is started (a signal then stops it as any other: the lock handed over).
  await stopIfAborted();
  catalog.start();
  // Out of start order (the catalog started before it): after the lock is handed over, so that the
  // listings lose this replica as the next leader takes over.
  scope.add('replica heartbeat', () => heartbeat.stop());
  await runtime.start();
  scope.add('runtime', () => runtime.stop());
  // Listed once campaigning: a standby is listed as one from then on.
  heartbeat.start();
  // Out of start order too: the catalog's looks end before the session stops and the lock is
  // handed over, so that none (which, on the leader, records source changes and forgets deleted
  // entries) runs during the hand-over.
  scope.add('entry sources', () => catalog.stop());
  return scope;
}
