/**
 * The composition root of `beat run`: logger, Redis connections, broker, leadership, the leader
 * session, HTTP, metrics, reload, and shutdown in reverse order. Every other module gets what it
 * needs passed in.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { makeOrigin } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import { maskUrl } from '../config/redis-url.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { configFingerprint, fingerprintFields } from '../control/fingerprint.js';
import { buildStatus } from '../control/status.js';
import { startHttpServer } from '../http/server.js';
import type { HttpAddress } from '../http/server.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { BeatMetrics } from '../observe/metrics.js';
import { NO_EVENTS } from '../ports/events.js';
import { ClockGuard } from '../redis/clock-guard.js';
import { connectWithRetry, createRedisClient } from '../redis/connect.js';
import { ControlStore } from '../redis/control-store.js';
import { schedulerKeys } from '../redis/keys.js';
import { Leadership } from '../redis/leadership.js';
import { checkRedisServer } from '../redis/server-checks.js';
import { publishRefusal } from '../redis/server-errors.js';
import { MemoryStateStore, RedisStateStore } from '../redis/state-store.js';
import type { DispatchResult, Dispatcher, DueRun } from '../ports/dispatcher.js';
import { DryRunDispatcher } from '../publish/dry-run-dispatcher.js';
import type { TriggerPublisher } from '../ports/control.js';
import { LeaderSession } from '../runtime/leader-session.js';
import { createPublishing, stateUrlFor } from '../publish/publishing.js';
import { DeploymentWatch, checkDeployment, warningsOf } from './deployment-watch.js';
import { reloadableConfig } from './reload.js';
import { Runner } from '../runtime/runner.js';
import type { Clock } from '../ports/clock.js';

export interface ServiceOptions {
  readonly config: ResolvedConfig;
  /**
   * Carries `instance` and `deployment` on every line (createLogger's `base`), so that lines logged
   * outside the service (a failed reload, say) carry them too.
   */
  readonly logger: Logger;
  /** This process's name in the lock, the leader record and the logs (newInstanceId). */
  readonly instanceId: string;
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
    instanceId: options.instanceId,
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
  const { logger: log, instanceId } = options;
  let config = options.config;
  const clock = options.clock ?? wallClock;
  const keys = schedulerKeys(config.state.prefix, config.name);
  // Metrics only when there is an endpoint to read them from: without --http nobody can. Then
  // prom-client is not even loaded (~30 ms and ~2 MB of every start), and no sampler of process
  // metrics (CPU, heap, event-loop lag every 100 ms) wakes the process 10 times a second.
  const metrics: BeatMetrics | undefined = options.http === undefined ? undefined : new (await import('../observe/metrics.js')).BeatMetrics();

  const stateUrl = stateUrlFor(config);
  const state = createRedisClient(stateUrl, config.broker.transportOptions, 'state', log, { reportFailover: true });
  const subscriber = createRedisClient(stateUrl, config.broker.transportOptions, 'subscriber', log);
  const publishing = createPublishing(config, keys, log, state);
  const lockClients: Redis[] =
    config.lock.urls.length === 0 ? [state] : config.lock.urls.map((url, i) => createRedisClient(url, {}, `lock ${i + 1}`, log));
  const allClients = [state, subscriber, ...lockClients.filter((c) => c !== state)];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled([publishing.close(), ...allClients.map((c) => c.quit().catch(() => c.disconnect()))]);
  };

  // Said once per value, not on every read (/status reads the state too).
  const unreadable = new Set<string>();
  const stateStore = new RedisStateStore(state, keys, ({ key, field, text }) => {
    if (unreadable.has(`${field}\n${text}`)) return;
    unreadable.add(`${field}\n${text}`);
    log.warn(
      { event: EVENTS.stateUnreadable, key, entry: field },
      `the stored state of entry "${field}" in ${key} is not tsbeat's JSON (${JSON.stringify(text.slice(0, 60))}): the entry starts afresh from now, as if new. Restore the value, or remove it (HDEL ${key} ${field}) to say so`,
    );
  });
  const control = new ControlStore(state, keys);
  // Counts failures and dropped messages on the way through, without the runner knowing about metrics.
  // Not async functions: their parameters would be kept, with every message of the batch, until
  // the reply. Only the names wait for it (see Runner.runDue).
  const namesOf = (runs: readonly DueRun[]): string[] => runs.map((r) => r.entry.name);
  // A leader that cannot publish because Redis or the broker refuses it (a stray key at the fence,
  // a missing permission, a read-only replica, a vhost that does not exist) hands over instead of
  // keeping the lock and failing every publish; taking the lock again rewrites the fence.
  const handOverIf = (error: unknown): void => {
    const refusal = publishRefusal(error);
    if (refusal !== undefined && leadership.isLeader) leadership.relinquish(`cannot publish: ${refusal.message}`);
  };
  const counted = (names: readonly string[], result: Promise<DispatchResult>): Promise<DispatchResult> =>
    result.then(
      (result) => {
        if (result.fenced || 'ahead' in result) return result;
        result.outcomes.forEach((o, i) => o === 'dropped' && metrics?.dropped.inc({ entry: names[i] ?? '' }));
        // A batch that only partly went out (AMQP) is a failed publish too, as a thrown one is.
        if (result.failure !== undefined) {
          metrics?.publishErrors.inc();
          handOverIf(result.failure);
        }
        return result;
      },
      (error: unknown) => {
        metrics?.publishErrors.inc();
        handOverIf(error);
        throw error;
      },
    );
  const speedups = publishing.dispatcher.speedups;
  const dispatcher: Dispatcher = {
    dispatch: (runs, token, nowMs) => counted(namesOf(runs), publishing.dispatcher.dispatch(runs, token, nowMs)),
    ...(speedups === undefined
      ? {}
      : {
          speedups: {
            prepare: (template) => speedups.prepare(template),
            rehearse: (runs) => speedups.rehearse(runs),
            stage: (runs, token, nowMs) => {
              const staged = speedups.stage(runs, token, nowMs);
              if (staged === undefined) return undefined;
              const names = namesOf(runs);
              return { send: () => counted(names, staged.send()), discard: () => staged.discard() };
            },
          },
        }),
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
        handOverIf(error);
        throw error;
      }
    },
  };
  const env = messageEnv();
  let session: LeaderSession | undefined;
  let stopping = false;
  // The last run of each entry seen published by this process's earlier sessions: a later session
  // that finds the stored state behind it knows Redis lost data (see Runner's knownRuns).
  const knownRuns = new Map<string, number>();
  let stateLost: { atMs: number; entries: number } | undefined;
  const clockGuard = new ClockGuard({ client: state, clock, maxSkewMs: config.lock.maxClockSkewMs, logger: log });
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
            const stalled = runner !== undefined && runner.lastWakeMs > 0 && performance.now() - runner.lastWakeMs > Math.max(STALL_MS, 5 * config.maxIntervalMs);
            return stalled ? { ok: false, reason: 'the scheduler loop has stalled' } : { ok: true, reason: session ? 'leading' : 'standing by' };
          },
          ready: async () => {
            if (stopping) return { ok: false, reason: 'stopping' };
            if (state.status !== 'ready') return { ok: false, reason: `Redis ${state.status}` };
            if (clockGuard.refusal !== undefined) return { ok: false, reason: `not leading: ${clockGuard.refusal}` };
            if (session && !publishing.ready()) return { ok: false, reason: publishing.status };
            const found = watch.current;
            // No replica can lead: not ready, whatever else holds.
            if (found && found.lockProblems.length > 0) return { ok: false, reason: found.lockProblems.map((p) => p.message).join('; ') };
            // Still ready (it publishes on), but the reason says what the log said.
            const lostNote = stateLost === undefined ? '' : `; the stored state of ${stateLost.entries} entries was lost at ${new Date(stateLost.atMs).toISOString()} (see beat.state.lost)`;
            // Ready still: a rolling update that changes the config passes through this state.
            if (found?.mismatch) return { ok: true, reason: `standby, ready to take over; WARNING: ${found.mismatch.message}${lostNote}` };
            return { ok: true, reason: `${session ? 'leading' : 'standby, ready to take over'}${lostNote}` };
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

  // Terminal lines leave instance and deployment out (see createLogger): this line says them once.
  log.info({ event: EVENTS.start, broker: maskUrl(config.broker.url), entries: config.entries.length }, `starting as ${instanceId} of deployment "${config.name}"; connecting to Redis`);
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
    leaderFields: () => fingerprintFields(fingerprint),
  });
  leadership.onRenewFailure = () => metrics?.lockRenewFailures.inc();

  // Leadership changes and reloads are handled one at a time: a session is fully stopped before the next starts.
  let transition: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(step: () => Promise<T>): Promise<T | undefined> => {
    const next = transition.then(step).catch((error: unknown) => {
      log.error({ event: EVENTS.tickError, err: error }, 'leadership transition failed');
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
      onClockAhead: (ahead) => leadership.relinquish(clockGuard.reportAhead(ahead)),
      controlIntervalMs: Math.min(1000, config.maxIntervalMs),
      knownRuns,
      events: {
        ...NO_EVENTS,
        published: (run, lateness) => {
          if (!metrics) return;
          metrics.countPublished(run.entry.name, run.entry.task, run.destination.declareQueue ?? run.destination.routingKey);
          metrics.lateness.observe(lateness / 1000);
        },
        stateLost: (entries) => {
          stateLost = { atMs: clock.now(), entries: entries.length };
          metrics?.stateLost.inc(entries.length);
        },
      },
    });
    session = current;
    try {
      await current.start(control);
    } catch (error) {
      session = undefined;
      await current.stop();
      log.error({ event: EVENTS.tickError, err: error }, 'could not load the schedule state; standing by');
      leadership.relinquish('state could not be loaded');
    }
  };
  const stopSession = async (): Promise<void> => {
    const current = session;
    session = undefined;
    await current?.stop();
    if (current) for (const [name, slotMs] of current.runner.lastRuns()) knownRuns.set(name, slotMs);
  };

  await leadership.start({
    onLead: () => {
      metrics?.leader.set(1);
      clockGuard.watch(config.lock.renewEveryMs, (reason) => leadership.relinquish(reason));
      void enqueue(startSession);
    },
    onLose: () => {
      metrics?.leader.set(0);
      clockGuard.unwatch();
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
              log.warn({ event: EVENTS.lockError, err: error }, 'could not publish the reloaded config\'s fingerprint; standbys may report a config difference');
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
        clockGuard.unwatch();
        await Promise.allSettled([closeAll(), http?.close()]);
        log.info({ event: EVENTS.stop, reason }, 'stopped');
        done.resolve();
      })()),
  };
}
