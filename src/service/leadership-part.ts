/**
 * The deployment's leadership: its lock (and fence), the supervisor of its leader's sessions, its
 * control requests (pause, resume, trigger), and the watch for a second deployment on its lock.
 */
import { brokerKindIfKnown } from '../config/broker-kinds.js';
import { WaitingStore } from '../redis/waiting-store.js';
import type { RedisClient } from '../redis/connect.js';
import type { Logger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import type { Clock } from '../ports/clock.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { StateStore } from '../ports/state.js';
import { ControlStore } from '../redis/control-store.js';
import { recordDefinition } from '../redis/definition-store.js';
import { storeBudget } from '../redis/entry-store.js';
import { definitionOf } from '../control/deployment-definition.js';
import { EVENTS } from '../base/log-events.js';
import type { SchedulerKeys } from '../redis/keys.js';
import { Leadership } from '../redis/leadership.js';
import type { RuntimeEntries } from '../runtime/entry-catalog.js';
import type { Fenced } from '../publish/publishing.js';
import type { ClockGuard } from '../redis/clock-guard.js';
import type { Connections } from './connections.js';
import { DeploymentWatch, checkDeployment } from './deployment-watch.js';
import type { AuditSettings } from './in-force-view.js';
import { meteredTriggers } from './metered-triggers.js';
import { messageEnv } from './running.js';
import { Supervisor } from './supervisor.js';
import type { LeaderTask } from './supervisor.js';

export interface LeadershipPart {
  readonly control: ControlStore;
  readonly leadership: Leadership;
  readonly supervisor: Supervisor;
  readonly watch: DeploymentWatch;
}

/** Makes the deployment's lock, its supervisor and its watch. */
export function makeLeadership(options: {
  config: ResolvedConfig;
  keys: SchedulerKeys;
  logger: Logger;
  clock: Clock;
  instanceId: string;
  connections: Connections;
  /** The process's check of its clock against Redis's. */
  clockGuard: Pick<ClockGuard, 'check' | 'watch' | 'unwatch' | 'reportAhead'>;
  /** The dispatcher and trigger publisher fenced over the deployment's keys. */
  fenced: Fenced;
  catalog: RuntimeEntries;
  publishStaticNames: (names: readonly string[]) => Promise<void>;
  states: StateStore;
  events: SchedulerEvents;
  leaderTasks: readonly LeaderTask[];
  running: RunningRuns | undefined;
  beforeSession: () => Promise<void>;
  audit: AuditSettings;
}): LeadershipPart {
  const { config, keys, logger: log, clock, instanceId, connections, clockGuard, events, running } = options;
  const { state, subscriber, lockClients, publishing } = connections;
  const control = new ControlStore(state, keys, options.audit);
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
    dispatcher: options.fenced.dispatcher,
    triggers: meteredTriggers(options.fenced.triggers, events, handOver),
    state: options.states,
    control,
    leadership,
    clockGuard,
    events,
    catalog: options.catalog,
    ...(running === undefined
      ? {}
      : {
          running,
          waiting: new WaitingStore(state, keys, config.lock.maxClockSkewMs),
          groupsWait: brokerKindIfKnown(config.broker.url)?.sharesRedis !== false,
        }),
    ...(publishing.revoker === undefined ? {} : { revoker: publishing.revoker }),
    leaderTasks: options.leaderTasks,
    publishStaticNames: options.publishStaticNames,
    recordDefinition: (current, configHash) => recordLeaderDefinition(state, keys, current, configHash, log, clock),
    beforeSession: options.beforeSession,
  });
  // A leader backing off after a failed publish (Redis gone) tries again as soon as Redis is back:
  // the state's connection, and a Redis broker's own.
  const reconnected = (): void => supervisor.runner?.reconnected();
  state.on('ready', reconnected);
  publishing.onReady?.(reconnected);
  const watch = deploymentWatch({ config, keys, logger: log, lockClients, control, supervisor });
  return { control, leadership, supervisor, watch };
}

/**
 * Records the definition of the config this leader runs (`beat plan --config` compares with it),
 * when it changed; a failure or a definition too large is logged, and scheduling goes on.
 */
async function recordLeaderDefinition(
  client: RedisClient,
  keys: SchedulerKeys,
  config: ResolvedConfig,
  configHash: string,
  log: Logger,
  clock: Clock,
): Promise<void> {
  const definition = definitionOf(config, configHash);
  if (definition === undefined) return;
  try {
    const recorded = await recordDefinition(client, keys, definition, {
      nowMs: clock.now(),
      maxBytes: storeBudget(config).maxStoreBytes,
      limitName: 'entryLimits.maxStoreBytes',
    });
    if (recorded.outcome === 'refused')
      log.warn({ event: EVENTS.definitionNotRecorded }, `${recorded.reason}: beat plan --config cannot compare with it; raise the limit`);
  } catch (error) {
    log.warn(
      { event: EVENTS.definitionNotRecorded, err: error },
      "could not record the config's definition; beat plan --config compares with the last one recorded until a reload or the next leader",
    );
  }
}

/** Looks, every lock.retryEvery, for another deployment (another config) on the same lock. */
function deploymentWatch(options: {
  config: ResolvedConfig;
  keys: SchedulerKeys;
  logger: Logger;
  lockClients: readonly RedisClient[];
  control: ControlStore;
  supervisor: Supervisor;
}): DeploymentWatch {
  const { config, supervisor } = options;
  const knownNames = new Map<string, readonly string[] | undefined>();
  return new DeploymentWatch({
    check: () =>
      checkDeployment({
        control: options.control,
        lockClients: options.lockClients,
        lockKey: options.keys.lock,
        deployment: config.name,
        own: supervisor.fingerprint,
        known: knownNames,
      }),
    intervalMs: config.lock.retryEveryMs,
    isLeader: () => supervisor.leading,
    logger: options.logger,
  });
}
