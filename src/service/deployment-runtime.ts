/**
 * The deployment's runtime, over its keys: its stored state, its records of failing entries and of
 * missed and passed-over slots, its outcome tracker (the run histories), its lock and fence, the
 * supervisor of its leader's sessions, its control requests, and the watch for a second deployment
 * on its lock. Made from what the process shares (service.ts: the connections, the sinks and leader
 * tasks, the catalog), then started, each stop added to its own lifecycle scope.
 */
import { EVENTS } from '../base/log-events.js';
import { LifecycleScope } from '../base/lifecycle.js';
import type { Logger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { trackerTask, trackingEvents } from '../outcomes/scheduler-events.js';
import type { Clock } from '../ports/clock.js';
import { fanOutEvents } from '../ports/events.js';
import type { ControlStore } from '../redis/control-store.js';
import { RedisEntryFailures } from '../redis/failing-entries-store.js';
import { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import { consumerCheckTask } from './consumer-check.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { Leadership } from '../redis/leadership.js';
import { RedisMissedSlots } from '../redis/missed-slots-store.js';
import { RedisPassedSlots } from '../redis/passed-slots-store.js';
import { RedisStateStore } from '../redis/state-store.js';
import type { RuntimeEntries } from '../runtime/entry-catalog.js';
import type { ClockGuard } from '../redis/clock-guard.js';
import type { Connections } from './connections.js';
import type { DeploymentWatch } from './deployment-watch.js';
import type { AuditSettings, LateInForce } from './in-force-view.js';
import { late } from './late.js';
import { makeLeadership } from './leadership-part.js';
import type { Observability } from './observability-part.js';
import { startOutcomes } from './outcomes-part.js';
import { followsOutcomes } from '../config/resolve.js';
import type { Outcomes } from './outcomes-part.js';
import type { Supervisor } from './supervisor.js';
import { canvasOutcomeParts } from '../celery/canvas.js';
import type { RunPart } from '../ports/outcomes.js';
import type { PublishedRun } from '../ports/events.js';

/** What the process lends the runtime. */
export interface SharedParts {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly instanceId: string;
  readonly connections: Connections;
  /** Records the config file's entry names for the runtime store's writers (the leader does it). */
  readonly publishStaticNames: (names: readonly string[]) => Promise<void>;
  readonly observability: Observability;
  /** Bound to the runtime once it is made (its supervisor, states and runs followed). */
  readonly inForce: LateInForce;
  readonly audit: AuditSettings;
  readonly keys: SchedulerKeys;
  /** The runtime entries (the process's catalog). */
  readonly catalog: RuntimeEntries;
  readonly clockGuard: Pick<ClockGuard, 'check' | 'watch' | 'unwatch' | 'reportAhead'>;
}

export interface DeploymentRuntime {
  readonly keys: SchedulerKeys;
  readonly states: RedisStateStore;
  readonly failures: RedisEntryFailures;
  /** The schedule's queues nobody consumes, as the leader's consumer check last found them. */
  readonly unconsumed: RedisUnconsumedQueues;
  readonly missedSlots: RedisMissedSlots;
  readonly outcomes: Outcomes | undefined;
  readonly control: ControlStore;
  /** Leads while a session runs; applies a reload between two sessions; reports for /status. */
  readonly supervisor: Supervisor;
  readonly watch: DeploymentWatch;
  /** Campaigns for the lock and starts its watch. */
  start(): Promise<void>;
  /** The watch, the session (after its publish in flight) and the lock's hand-over, then the outcome tracker. */
  stop(): Promise<void>;
}

/** Makes the deployment's runtime; nothing runs until `start`. */
export function makeDeploymentRuntime(shared: SharedParts): DeploymentRuntime {
  const { config, logger: log, clock, connections, observability, keys } = shared;
  const { state } = connections;
  const states = new RedisStateStore(state, keys, warnUnreadableOnce(log));
  const missedSlots = new RedisMissedSlots(state, keys, log);
  // The record of passed-over slots writes under the lease of the lock that hears its events.
  const lock = late<Pick<Leadership, 'currentLease'>>("the lock (the lease's token)");
  const passedSlots = new RedisPassedSlots(state, keys, log, () => lock.get().currentLease()?.token, config.lock.maxClockSkewMs);
  const outcomes = startOutcomes(config, keys, state, log, clock, observability.outcomeEvents, observability.pausing, (name) =>
    shared.catalog.find(name),
  );
  const failures = new RedisEntryFailures(state, keys);
  const unconsumed = new RedisUnconsumedQueues(state, keys);
  const counted = fanOutEvents([...observability.sinks, failures.events(), unconsumed.events(), missedSlots.events, passedSlots.events]);
  const tracked = outcomes === undefined ? counted : trackingEvents(counted, outcomes.tracker, clock, pendingParts);
  const probe = connections.publishing.consumers;
  const consumerCheck =
    probe === undefined
      ? []
      : [
          consumerCheckTask({
            probe,
            config: () => shared.inForce.view.config(),
            runtimeEntries: () => shared.catalog.entries(),
            events: counted,
            now: () => clock.now(),
            logger: log,
          }),
        ];
  const { control, leadership, supervisor, watch } = makeLeadership({
    ...shared,
    fenced: connections.publishing,
    states,
    events: observability.around(tracked),
    leaderTasks: [...(outcomes ? [trackerTask(outcomes.tracker, outcomes.onError)] : []), ...observability.leaderTasks, ...consumerCheck],
    // Overlap policies count on outcomes: not on task events read by default, which workers may not send.
    running: followsOutcomes(config) ? outcomes?.tracker : undefined,
    beforeSession: () => passedSlots.begin(clock.now()),
  });
  lock.set(leadership);
  shared.inForce.bind({ supervisor, states, unfinished: () => outcomes?.tracker.unfinished() ?? [] });
  const scope = new LifecycleScope({ logger: log });
  return {
    keys,
    states,
    failures,
    unconsumed,
    missedSlots,
    outcomes,
    control,
    supervisor,
    watch,
    start: async () => {
      scope.add('outcomes', () => outcomes?.tracker.stop());
      await supervisor.campaign();
      scope.add('leadership', () => supervisor.stop());
      watch.start();
      scope.add('deployment watch', () => watch.stop());
    },
    stop: () => scope.stopAll(),
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

/** A canvas run's parts as the tracker follows them from its publish: all PENDING. */
function pendingParts(entry: PublishedRun['entry'], runId: string): RunPart[] {
  return canvasOutcomeParts(entry, runId).map((part) => ({ ...part, state: 'PENDING' }));
}
