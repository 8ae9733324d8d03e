/**
 * The composition root of `beat run`: logger, Redis connections, broker, leadership, the supervisor
 * of the leader's sessions, HTTP, metrics, reload, and shutdown in reverse order. Every other module
 * gets what it needs passed in; this one only builds and connects them.
 */
import type { Redis } from 'ioredis';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { startHttpServer } from '../http/server.js';
import { findToken, tokensOf } from '../http/auth.js';
import { fanOutEvents } from '../ports/events.js';
import { startAlerts } from './alerts.js';
import { startSentryCheckIns } from './sentry.js';
import { NO_OUTCOME_EVENTS } from '../ports/outcomes.js';
import { trackerTask, trackingEvents } from '../outcomes/scheduler-events.js';
import { RedisRunHistory } from '../redis/run-history-store.js';
import { RedisMissedSlots } from '../redis/missed-slots-store.js';
import { RedisPassedSlots } from '../redis/passed-slots-store.js';
import { startOutcomes } from './outcomes.js';
import { Dashboard } from '../dashboard/routes.js';
import { dashboardEntriesApi, dashboardSources } from './dashboard-sources.js';
import { writeBackSink } from './django-write-back.js';
import { ClockGuard } from '../redis/clock-guard.js';
import { connectWithRetry, createRedisClient } from '../redis/connect.js';
import { ControlStore } from '../redis/control-store.js';
import { schedulerKeys } from '../redis/keys.js';
import { Leadership } from '../redis/leadership.js';
import { checkRedisServer } from '../redis/server-checks.js';
import { RedisEntryStore } from '../redis/entry-store.js';
import { queueNameContextOf } from '../config/queue-names.js';
import { RedisEntryFailures } from '../redis/entry-failures.js';
import { ReplicaRegistry } from '../redis/replica-registry.js';
import { RedisStateStore } from '../redis/state-store.js';
import { backfillApi } from './backfill-api.js';
import { EntryCatalog } from '../runtime/entry-catalog.js';
import { createRedBeat } from '../redbeat/wiring.js';
import { openDjangoEntries } from '../django/tenants.js';
import type { EntrySource } from '../ports/entries.js';
import { createPublishing, stateUrlFor } from '../publish/publishing.js';
import { DeploymentWatch, checkDeployment } from './deployment-watch.js';
import { entriesHandlers } from './entries-api.js';
import { auditReader, sourceChangeRecorder } from './audit-api.js';
import { forgetOwnedNow } from '../redis/entry-owned.js';
import { meteredDispatcher, meteredTriggers } from './metered-dispatcher.js';
import { probes, scheduleMetrics } from './probes.js';
import { ReplicaHeartbeat } from './replica-heartbeat.js';
import { deferred, messageEnv, wallClock } from './running.js';
import type { RunningService, ServiceOptions } from './running.js';
import { Supervisor } from './supervisor.js';
import { startTracing } from './tracing.js';

/** The real service: leads or stands by, publishes through the fenced script. */
export async function startService(options: ServiceOptions, signal: AbortSignal): Promise<RunningService> {
  const { logger: log, instanceId, config } = options;
  const clock = options.clock ?? wallClock;
  const keys = schedulerKeys(config.state.prefix, config.name);
  // Metrics only when there is an endpoint to read them from: without --http nobody can. Then
  // prom-client is not even loaded (~30 ms and ~2 MB of every start), and no sampler of process
  // metrics (CPU, heap, event-loop lag every 100 ms) wakes the process 10 times a second.
  const metrics =
    options.http === undefined
      ? undefined
      : new (await import('../observe/metrics.js')).BeatMetrics({ maxEntries: config.metricsMaxEntries });
  // A span per published run over OTLP, only with OTEL_EXPORTER_OTLP_ENDPOINT set (else nothing of
  // OpenTelemetry is loaded).
  const tracing = await startTracing({ env: process.env, logger: log, now: () => clock.now(), instanceId, deployment: config.name });
  const djangoSettings = config.sources?.django;
  const django = djangoSettings === undefined ? undefined : openDjangoEntries(djangoSettings, log, () => clock.now());

  const stateUrl = stateUrlFor(config);
  const state = createRedisClient(stateUrl, config.broker.transportOptions, 'state', log, { reportFailover: true });
  const subscriber = createRedisClient(stateUrl, config.broker.transportOptions, 'subscriber', log);
  const publishing = createPublishing(config, keys, log, state);
  const lockClients: Redis[] =
    config.lock.urls.length === 0 ? [state] : config.lock.urls.map((url, i) => createRedisClient(url, {}, `lock ${i + 1}`, log));
  const redbeat = createRedBeat({ config, state, stateUrl, stateKey: keys.state, instanceId, logger: log });
  const allClients = [state, subscriber, ...lockClients.filter((c) => c !== state), ...(redbeat?.client ? [redbeat.client] : [])];
  // Run outcomes (resultBackend): the leader follows each run it published (src/outcomes/).
  const entryNamed = (name: string): ResolvedEntry | undefined =>
    supervisor.config.entries.find((e) => e.name === name) ?? catalog.find(name);
  const outcomes = startOutcomes(
    config,
    keys,
    state,
    log,
    clock,
    {
      finished: (entry, record) => {
        (metrics?.outcomes ?? NO_OUTCOME_EVENTS).finished(entry, record);
        alerts.outcomeEvents.finished(entry, record);
      },
    },
    {
      pauseAfter: (name) => entryNamed(name)?.pauseOnFailure,
      paused: (entry, record) => {
        log.warn(
          { event: EVENTS.pausedOnFailure, entry, id: record.taskId, exception: record.exception },
          `paused ${entry}: ${String(entryNamed(entry)?.pauseOnFailure)} failed runs in a row (pauseOnFailure); beat resume ${entry} starts it again`,
        );
        alerts.pausedOnFailure(entry, record);
      },
    },
  );
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([
      publishing.close(),
      django?.close(),
      ...allClients.map((c) => c.quit().catch(() => c.disconnect())),
      outcomes?.client?.quit().catch(() => outcomes.client?.disconnect()),
    ]);
  };

  const stateStore = new RedisStateStore(state, keys, warnUnreadableOnce(log));
  const missedSlots = new RedisMissedSlots(state, keys, log);
  // `leadership` is made below; the token is asked for only while a session runs.
  const passedSlots = new RedisPassedSlots(state, keys, log, () => leadership.currentLease()?.token, config.lock.maxClockSkewMs);
  const alerts = startAlerts({
    config,
    current: () => supervisor.config,
    client: state,
    keys,
    logger: log,
    now: () => clock.now(),
    entries: () => [...supervisor.config.entries, ...catalog.entries()],
    states: stateStore,
    entryNamed,
    ...(outcomes === undefined ? {} : { unfinished: () => outcomes.tracker.unfinished() }),
  });
  const sentry = startSentryCheckIns(config, log, () => clock.now());
  const failures = new RedisEntryFailures(state, keys);
  const counted = fanOutEvents([
    ...(metrics ? [metrics.events] : []),
    failures.events(),
    alerts.events,
    ...(sentry ? [sentry.events] : []),
    ...writeBackSink(django, () => clock.now()),
    ...(tracing ? [tracing.events] : []),
    missedSlots.events,
    passedSlots.events,
  ]);
  const tracked = outcomes === undefined ? counted : trackingEvents(counted, outcomes.tracker, clock);
  const events = redbeat?.events(tracked) ?? tracked;
  const staticNames = new Set(config.entries.map((e) => e.name));
  const entryStore = new RedisEntryStore(state, keys, staticNames, queueNameContextOf(config));
  const catalog = new EntryCatalog({
    sources: [entryStore, ...(redbeat === undefined ? [] : [redbeat.source]), ...(django === undefined ? [] : [django])] as EntrySource[],
    logger: log,
    intervalMs: config.maxIntervalMs,
    defaults: { zone: config.timezone, alerts: config.alerts, calendars: config.calendars },
    staticNames,
    onSourceChanges: sourceChangeRecorder(state, keys, {
      leading: (): boolean => supervisor.leading,
      maxEvents: (): number | undefined => supervisor.config.auditMaxEvents,
      logger: log,
      now: () => clock.now(),
    }),
    // Deleted at their source (not unreadable): the leader removes their history and pending outcome.
    onSourceDeletes: (names) => {
      if (!supervisor.leading) return;
      forgetOwnedNow(state, keys, names).catch((error: unknown) =>
        log.warn(
          { event: EVENTS.sourceForgetFailed, err: errorMessage(error), count: names.length },
          'could not remove what tsbeat kept of deleted entries',
        ),
      );
    },
  });
  // Pub/sub messages sent while a connection was down are lost: look again once both are back.
  for (const client of [state, subscriber]) client.on('ready', () => catalog.poke());
  // The audit trail's cap as the config now says (a reload may change it), and beat run's log for its `beat.audit` lines.
  const auditSettings = {
    get maxEvents(): number | undefined {
      return supervisor.config.auditMaxEvents;
    },
    logger: log,
  };
  const control = new ControlStore(state, keys, auditSettings);
  const replicas = new ReplicaRegistry(state, keys);
  const clockGuard = new ClockGuard({ client: state, clock, maxSkewMs: config.lock.maxClockSkewMs, logger: log });
  const leadership = new Leadership({
    instanceId,
    keys,
    ttlMs: config.lock.ttlMs,
    renewEveryMs: config.lock.renewEveryMs,
    retryEveryMs: config.lock.retryEveryMs,
    lockClients,
    state,
    subscriber,
    logger: log,
    now: () => clock.now(),
    mayLead: () => clockGuard.check(),
    events,
  });
  const handOver = (reason: string): void => leadership.relinquish(reason);
  const supervisor = new Supervisor({
    config,
    logger: log,
    clock,
    messageEnv: messageEnv(),
    dispatcher: meteredDispatcher(publishing.dispatcher, events, handOver),
    triggers: meteredTriggers(publishing.triggers, events, handOver),
    state: stateStore,
    control,
    leadership,
    clockGuard,
    events,
    catalog,
    ...(outcomes === undefined ? {} : { running: outcomes.tracker }),
    ...(publishing.revoker === undefined ? {} : { revoker: publishing.revoker }),
    leaderTasks: [
      ...(outcomes ? [trackerTask(outcomes.tracker, outcomes.onError)] : []),
      alerts.sender,
      ...(sentry ? [sentry.sender] : []),
    ],
    publishStaticNames: (names) => entryStore.publishStaticNames(names),
    beforeSession: () => passedSlots.begin(clock.now()),
  });
  const knownNames = new Map<string, readonly string[] | undefined>();
  const watch = new DeploymentWatch({
    check: () =>
      checkDeployment({
        control,
        lockClients,
        lockKey: keys.lock,
        deployment: config.name,
        own: supervisor.fingerprint,
        known: knownNames,
      }),
    intervalMs: config.lock.retryEveryMs,
    isLeader: () => supervisor.leading,
    logger: log,
  });

  metrics?.readScheduleFrom(scheduleMetrics(supervisor));
  const answers = probes({
    instanceId,
    clock,
    supervisor,
    redis: state,
    clockGuard,
    publishing,
    watch,
    states: stateStore,
    control,
    replicas,
    catalog,
    runs: new RedisRunHistory(state, keys),
    failures,
    sourceTrouble: () => django?.health().reason,
  });
  const entries = {
    ...entriesHandlers({
      store: entryStore,
      client: state,
      staticNames: staticNamesOf(() => supervisor.config),
      now: () => clock.now(),
      failures,
      audit: auditSettings,
    }),
    ...backfillApi({
      findEntry: (name) => supervisor.config.entries.find((e) => e.name === name) ?? catalog.find(name),
      states: stateStore,
      control,
      now: () => clock.now(),
      audit: (who, note) => ({ ...auditSettings, who, note }),
    }),
  };
  const dashboard =
    metrics && options.http
      ? new Dashboard(
          dashboardSources({
            instanceId,
            clock,
            supervisor,
            catalog,
            states: stateStore,
            failures,
            control,
            replicas,
            redis: state,
            lockClient: lockClients[0] ?? state,
            lockKey: keys.lock,
            runs: new RedisRunHistory(state, keys),
            ...(redbeat === undefined ? {} : { redbeat: redbeat.source }),
            ...(django === undefined ? {} : { django }),
            missed: missedSlots,
            publishing,
            watch,
            messageEnv: messageEnv(),
            apiToken: () => tokensOf(options.httpAccess ?? {}).find((t) => t.scope === 'write')?.token,
            ...(options.httpAccess?.tokens === undefined
              ? {}
              : {
                  writeTokenName: (token: string) => {
                    const found = findToken(token, tokensOf(options.httpAccess ?? {}));
                    return found?.scope === 'write' ? found.name : undefined;
                  },
                }),
            entriesApi: dashboardEntriesApi(entries, entryStore),
          }),
          log,
        )
      : undefined;
  const routes = dashboard === undefined ? undefined : dashboard.handle.bind(dashboard);
  const http =
    metrics && options.http
      ? await startHttpServer(
          options.http,
          {
            metrics,
            ...answers,
            entries,
            audit: auditReader(state, keys),
            access: options.httpAccess ?? {},
            routes,
            ...(dashboard === undefined ? {} : { session: (req) => dashboard.sessionOf(req) }),
          },
          log,
        )
      : undefined;

  const heartbeat = new ReplicaHeartbeat({
    registry: replicas,
    instanceId,
    clock,
    logger: log,
    ttlMs: config.lock.ttlMs,
    isLeader: () => supervisor.leading,
    http: () =>
      http === undefined ? null : `${http.address.host.includes(':') ? `[${http.address.host}]` : http.address.host}:${http.address.port}`,
  });

  // Terminal lines leave instance and deployment out (see createLogger): this line says them once.
  log.info(
    { event: EVENTS.start, broker: maskUrl(config.broker.url), entries: config.entries.length },
    `starting as ${instanceId} of deployment "${config.name}"; connecting to Redis`,
  );
  try {
    await Promise.all([...allClients.map((c) => connectWithRetry(c, signal)), publishing.connect()]);
    // A broker that refuses the URL itself (a vhost that does not exist) at start is a config error.
    const refused = publishing.refusal();
    if (refused !== undefined) throw refused;
  } catch (error) {
    await Promise.allSettled([closeAll(), http?.close()]);
    throw error;
  }
  await checkRedisServer(state, log);
  await clockGuard.check();
  await catalog.load();
  catalog.start();
  heartbeat.start();
  await supervisor.campaign();
  watch.start();

  const done = deferred();
  let stopped: Promise<void> | undefined;
  return {
    done: done.promise,
    instanceId,
    httpAddress: http?.address,
    reload: (next) => supervisor.reload(next),
    stop: (reason) =>
      (stopped ??= (async () => {
        log.info({ event: EVENTS.stop, reason }, 'stopping');
        watch.stop();
        await catalog.stop();
        await supervisor.stop();
        // After the lock is handed over: the listings lose this replica as the next leader takes over.
        await heartbeat.stop();
        await redbeat?.stop();
        await outcomes?.tracker.stop();
        await tracing?.stop();
        await Promise.allSettled([closeAll(), http?.close()]);
        log.info({ event: EVENTS.stop, reason }, 'stopped');
        done.resolve();
      })()),
  };
}

/** The config file's entry names, computed again only after a reload. */
function staticNamesOf(config: () => ResolvedConfig): () => ReadonlySet<string> {
  let seen: ResolvedConfig | undefined;
  let names: ReadonlySet<string> = new Set();
  return () => {
    const now = config();
    if (now !== seen) {
      seen = now;
      names = new Set(now.entries.map((e) => e.name));
    }
    return names;
  };
}

/** Warns of an entry's unreadable stored state once per value, not on every read (/status reads the state too). */
function warnUnreadableOnce(log: Logger): (found: { key: string; field: string; text: string }) => void {
  const said = new Set<string>();
  return ({ key, field, text }) => {
    if (said.has(`${field}\n${text}`)) return;
    said.add(`${field}\n${text}`);
    log.warn(
      { event: EVENTS.stateUnreadable, key, entry: field },
      `the stored state of entry "${field}" in ${key} is not tsbeat's JSON (${JSON.stringify(text.slice(0, 60))}): the entry starts afresh from now, as if new, and the value is replaced by a first sighting (its start is quoted here). Nothing to do, unless its history matters: then stop beat and restore the value from a backup`,
    );
  };
}
