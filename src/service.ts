/**
 * The composition root of `beat run`: logger, Redis connections, broker, leadership, the leader
 * session, HTTP, metrics, reload, and shutdown in reverse order. Every other module gets what it
 * needs passed in.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { makeOrigin } from './celery/message.js';
import type { MessageEnv } from './celery/message.js';
import { maskUrl } from './broker/redis-url.js';
import type { ResolvedConfig } from './config/resolve.js';
import { configFingerprint, fingerprintFields } from './control/fingerprint.js';
import { buildStatus } from './control/status.js';
import { errorMessage } from './errors.js';
import { startHttpServer } from './http/server.js';
import type { HttpAddress } from './http/server.js';
import { EVENTS } from './log-events.js';
import type { Logger } from './log.js';
import type { BeatMetrics } from './metrics.js';
import { connectWithRetry, createRedisClient } from './redis/connect.js';
import { ControlStore } from './redis/control-store.js';
import { schedulerKeys } from './redis/keys.js';
import { Leadership, newInstanceId } from './redis/leadership.js';
import { checkRedisServer } from './redis/server-checks.js';
import { MemoryStateStore, RedisStateStore } from './redis/state-store.js';
import type { DispatchResult, Dispatcher, DueRun } from './runtime/dispatch.js';
import { DryRunDispatcher } from './runtime/dry-run.js';
import type { TriggerPublisher } from './runtime/control-loop.js';
import { LeaderSession } from './runtime/leader-session.js';
import { createPublishing, stateUrlFor } from './runtime/publishing.js';
import { DeploymentWatch, checkDeployment, warningsOf } from './runtime/deployment-watch.js';
import { reloadableConfig } from './runtime/reload.js';
import { Runner } from './runtime/runner.js';
import type { Clock } from './runtime/runner.js';

export interface ServiceOptions {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Serve /healthz, /readyz, /metrics, /status here. */
  readonly http?: HttpAddress | undefined;
}

export interface RunningService {
  /** Resolves when the service has stopped. */
  readonly done: Promise<void>;
  /** Finishes the publish in flight, hands over leadership, closes connections. */
  stop(reason: string): Promise<void>;
  /** Applies a new config without losing state; false (and the old schedule kept) when it cannot. */
  reload(next: ResolvedConfig): Promise<boolean>;
  readonly instanceId: string;
  readonly httpAddress: HttpAddress | undefined;
}

const wallClock: Clock = { now: () => Date.now() };
/** A leader whose loop has not woken for this long (or 5 loop intervals) is reported unhealthy. */
const STALL_MS = 5000;

function messageEnv(): MessageEnv {
  return { origin: makeOrigin(process.pid, hostname()), replyTo: randomUUID() };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** `beat run --dry-run`: real-time scheduling, in-memory state, one JSON line per message on `write`. */
export async function startDryRun(options: ServiceOptions, write: (line: string) => void): Promise<RunningService> {
  const make = (config: ResolvedConfig, state: MemoryStateStore, dispatcher: DryRunDispatcher): Runner =>
    new Runner({ config, dispatcher, state, clock: options.clock ?? wallClock, logger: options.logger, messageEnv: env, lease: () => 'dry-run', onFenced: () => undefined });
  const env = messageEnv();
  const state = new MemoryStateStore();
  const dispatcher = new DryRunDispatcher(write);
  let config = options.config;
  let runner = make(config, state, dispatcher);
  await runner.start();
  const done = deferred();
  return {
    done: done.promise,
    instanceId: 'dry-run',
    httpAddress: undefined,
    reload: async (next) => {
      config = reloadableConfig(config, next, options.logger);
      await runner.stop();
      runner = make(config, state, dispatcher);
      await runner.start();
      return true;
    },
    stop: async () => {
      await runner.stop();
      done.resolve();
    },
  };
}

/** The real service: leads or stands by, publishes through the fenced script. */
export async function startService(options: ServiceOptions, signal: AbortSignal): Promise<RunningService> {
  const { logger } = options;
  let config = options.config;
  const clock = options.clock ?? wallClock;
  const instanceId = newInstanceId(hostname(), process.pid);
  const keys = schedulerKeys(config.state.prefix, config.name);
  const log = logger.child({ instance: instanceId, deployment: config.name });
  // Metrics only when there is an endpoint to read them from: without --http nobody can. Then
  // prom-client is not even loaded (~30 ms and ~2 MB of every start), and no sampler of process
  // metrics (CPU, heap, event-loop lag every 100 ms) wakes the process 10 times a second.
  const metrics: BeatMetrics | undefined = options.http === undefined ? undefined : new (await import('./metrics.js')).BeatMetrics();

  const stateUrl = stateUrlFor(config);
  const state = createRedisClient(stateUrl, config.broker.transportOptions, 'state', log);
  const subscriber = createRedisClient(stateUrl, config.broker.transportOptions, 'subscriber', log);
  const publishing = createPublishing(config, keys, log, state);
  const lockClients: Redis[] =
    config.lock.urls.length === 0 ? [state] : config.lock.urls.map((url, i) => createRedisClient(url, {}, `lock ${i + 1}`, log));
  const allClients = [state, subscriber, ...lockClients.filter((c) => c !== state)];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([publishing.close(), ...allClients.map((c) => c.quit().catch(() => c.disconnect()))]);
  };

  const stateStore = new RedisStateStore(state, keys);
  const control = new ControlStore(state, keys);
  // Counts failures and dropped messages on the way through, without the runner knowing about metrics.
  // Not async functions: their parameters would be kept, with every message of the batch, until
  // the reply. Only the names wait for it (see Runner.runDue).
  const namesOf = (runs: readonly DueRun[]): string[] => runs.map((r) => r.entry.name);
  const counted = (names: readonly string[], result: Promise<DispatchResult>): Promise<DispatchResult> =>
    result.then(
      (result) => {
        if (result.fenced) return result;
        result.outcomes.forEach((o, i) => o === 'dropped' && metrics?.dropped.inc({ entry: names[i] ?? '' }));
        // A batch that only partly went out (AMQP) is a failed publish too, as a thrown one is.
        if (result.failure !== undefined) metrics?.publishErrors.inc();
        return result;
      },
      (error: unknown) => {
        metrics?.publishErrors.inc();
        throw error;
      },
    );
  const dispatcher: Dispatcher = {
    dispatch: (runs, token, nowMs) => counted(namesOf(runs), publishing.dispatcher.dispatch(runs, token, nowMs)),
    prepare: (template) => publishing.dispatcher.prepare?.(template),
    rehearse: (runs) => publishing.dispatcher.rehearse?.(runs),
    stage: (runs, token, nowMs) => {
      const staged = publishing.dispatcher.stage?.(runs, token, nowMs);
      if (staged === undefined) return undefined;
      const names = namesOf(runs);
      return { send: () => counted(names, staged.send()), discard: () => staged.discard() };
    },
  };
  // Manual runs (`beat trigger`) are published messages too: counted like scheduled ones, which
  // they were not (tsbeat_messages_published_total missed every triggered run).
  const triggers: TriggerPublisher = {
    publishTrigger: async (message, requestText, token, nowMs) => {
      try {
        const result = await publishing.triggers.publishTrigger(message, requestText, token, nowMs);
        if (result === 1) metrics?.published.inc({ entry: message.entry, task: message.task, queue: message.destination.declareQueue ?? message.destination.routingKey });
        return result;
      } catch (error) {
        metrics?.publishErrors.inc();
        throw error;
      }
    },
  };
  const env = messageEnv();
  let session: LeaderSession | undefined;
  let stopping = false;
  let fingerprint = configFingerprint(config);
  const knownNames = new Map<string, readonly string[] | undefined>();
  const watch = new DeploymentWatch({
    check: () => checkDeployment({ control, lockClients, lockKey: keys.lock, deployment: config.name, own: fingerprint, known: knownNames }),
    intervalMs: config.lock.retryEveryMs,
    isLeader: () => session !== undefined,
    logger: log,
  });

  const http = metrics && options.http
    ? await startHttpServer(
        options.http,
        {
          metrics,
          health: () => {
            const runner = session?.runner;
            const stalled = runner !== undefined && runner.lastWakeMs > 0 && clock.now() - runner.lastWakeMs > Math.max(STALL_MS, 5 * config.maxIntervalMs);
            return stalled ? { ok: false, reason: 'the scheduler loop has stalled' } : { ok: true, reason: session ? 'leading' : 'standing by' };
          },
          ready: async () => {
            if (stopping) return { ok: false, reason: 'stopping' };
            if (state.status !== 'ready') return { ok: false, reason: `Redis ${state.status}` };
            if (session && !publishing.ready()) return { ok: false, reason: publishing.status };
            const found = watch.current;
            // No replica can lead: not ready, whatever else holds.
            if (found && found.lockProblems.length > 0) return { ok: false, reason: found.lockProblems.map((p) => p.message).join('; ') };
            // Ready still: a rolling update that changes the config passes through this state.
            if (found?.mismatch) return { ok: true, reason: `standby, ready to take over; WARNING: ${found.mismatch.message}` };
            return { ok: true, reason: session ? 'leading' : 'standby, ready to take over' };
          },
          status: async () => {
            const [states, paused, leader] = await Promise.all([stateStore.readAll(), control.paused(), control.leader()]);
            return buildStatus({ config, states, paused, leader, self: { instance: instanceId, role: session ? 'leader' : 'standby' }, nowMs: clock.now(), warnings: warningsOf(watch.current) });
          },
        },
        log,
      )
    : undefined;
  if (metrics) metrics.source = {
    entries: () => {
      const enabled = config.entries.filter((e) => e.enabled).length;
      const paused = session ? [...session.runner.snapshot()].filter((s) => s.paused).length : 0;
      return { enabled, disabled: config.entries.length - enabled, paused };
    },
    nextFires: () => (session ? [...session.runner.snapshot()].map((s) => [s.name, s.nextSlotMs] as const) : []),
  };

  log.info({ event: EVENTS.start, broker: maskUrl(config.broker.url), entries: config.entries.length }, 'starting; connecting to Redis');
  try {
    await Promise.all([...allClients.map((c) => connectWithRetry(c, signal)), publishing.connect()]);
  } catch (error) {
    await Promise.allSettled([closeAll(), http?.close()]);
    throw error;
  }
  await checkRedisServer(state, clock, log);

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
    leaderFields: () => fingerprintFields(fingerprint),
  });
  leadership.onRenewFailure = () => metrics?.lockRenewFailures.inc();

  // Leadership changes and reloads are handled one at a time: a session is fully stopped before the next starts.
  let transition: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(step: () => Promise<T>): Promise<T | undefined> => {
    const next = transition.then(step).catch((error: unknown) => {
      log.error({ event: EVENTS.tickError, err: errorMessage(error) }, 'leadership transition failed');
      return undefined;
    });
    transition = next;
    return next;
  };
  const startSession = async (): Promise<void> => {
    // A lock won while shutting down must not start a session that nobody would stop.
    if (stopping) return;
    const current = new LeaderSession({
      config,
      dispatcher,
      triggers,
      state: stateStore,
      control,
      clock,
      logger: log,
      messageEnv: env,
      lease: () => leadership.currentLease()?.token,
      onFenced: () => leadership.relinquish('another instance holds the fence'),
      onPublished: metrics
        ? (run, lateness) => {
            metrics.countPublished(run.entry.name, run.entry.task, run.destination.declareQueue ?? run.destination.routingKey);
            metrics.lateness.observe(lateness / 1000);
          }
        : undefined,
      controlIntervalMs: Math.min(1000, config.maxIntervalMs),
    });
    session = current;
    try {
      await current.start(control);
    } catch (error) {
      session = undefined;
      await current.stop();
      log.error({ event: EVENTS.tickError, err: errorMessage(error) }, 'could not load the schedule state; standing by');
      leadership.relinquish('state could not be loaded');
    }
  };
  const stopSession = async (): Promise<void> => {
    const current = session;
    session = undefined;
    await current?.stop();
  };

  await leadership.start({
    onLead: () => {
      metrics?.leader.set(1);
      void enqueue(startSession);
    },
    onLose: () => {
      metrics?.leader.set(0);
      void enqueue(async () => {
        await stopSession();
        log.info({ event: EVENTS.standby }, 'standing by');
      });
    },
    onControl: () => session?.poke(),
  });
  metrics?.leader.set(0);
  log.info({ event: EVENTS.standby }, 'campaigning for leadership');
  watch.start();

  const done = deferred();
  let stopped: Promise<void> | undefined;
  return {
    done: done.promise,
    instanceId,
    httpAddress: http?.address,
    reload: async (next) =>
      (await enqueue(async () => {
        config = reloadableConfig(config, next, log);
        fingerprint = configFingerprint(config);
        if (session) {
          await stopSession();
          await startSession();
          const token = leadership.currentLease()?.token;
          if (token !== undefined) {
            await control.updateLeaderFingerprint(token, fingerprint).catch((error: unknown) => {
              log.warn({ event: EVENTS.lockError, err: errorMessage(error) }, 'could not publish the reloaded config\'s fingerprint; standbys may report a config difference');
            });
          }
        }
        log.info({ event: EVENTS.reload, entries: config.entries.length }, 'config reloaded');
        return true;
      })) ?? false,
    stop: (reason) =>
      (stopped ??= (async () => {
        stopping = true;
        log.info({ event: EVENTS.stop, reason }, 'stopping');
        watch.stop();
        await enqueue(stopSession);
        await leadership.stop();
        await Promise.allSettled([closeAll(), http?.close()]);
        log.info({ event: EVENTS.stop, reason }, 'stopped');
        done.resolve();
      })()),
  };
}
