/**
 * One partition's runtime, over the partition's keys (redis/keys.ts partitionKeys): its stored
 * state, its records of failing entries and of missed and passed-over slots, its outcome tracker
 * (the run histories), its lock and fence, the supervisor of its leader's sessions, its control
 * requests, and the watch for a second deployment on its lock. Made from what the process shares
 * (service.ts: the connections, the process's sinks and leader tasks) and what it gives this
 * partition of its own (PartitionParts: its slice of the catalog, its view of the clock guard), then
 * started, each stop added to the partition's own lifecycle scope. `beat run` runs one per partition
 * (`partitions`, default 1: one, whose keys are the deployment's); each campaigns for its own lock,
 * with several only when the partition map gives it this replica, and hands it over when the map
 * gives it another (partition-seats.ts: its seat).
 *
 * How the process's parts serve several partitions (issue 34, steps D and E):
 * - one catalog per process over the runtime entry store (sources-part.ts, the deployment's keys),
 *   holding the entries of the partitions the process leads alone (step E): a partition's are read
 *   when its lock is taken, before its runner starts, filtered by name before they are decoded, and
 *   forgotten when it is lost or handed over; a standby holds none. Each partition's supervisor and
 *   sessions see only its entries (runtime/catalog-slices.ts), and schedule only the config file's
 *   entries of their partition (Supervisor ownsEntry; the config file itself is every replica's);
 *   the store's writes are heard on the deployment's channel by every replica, read by the one
 *   that holds the entry's partition; `entriesHeld` counts what the process holds of a partition;
 * - one transport per process, a dispatcher fenced over each partition's keys (Publishing.fencedFor);
 *   one budget per process (runtime/process-budget.ts: templates kept, batches planned or in flight,
 *   published batches awaiting their recording) that the partitions' runners share, in turn;
 * - the clock guard's one watcher runs while any partition leads (clock-watchers.ts); the process's
 *   sinks hear leadership as "any partition led" (partition-sinks.ts); the deployment's own work
 *   (sending alerts, the audit of source changes) is partition 0's leader's, and the sender of the
 *   check-ins this process queued runs while it leads any partition;
 * - the config in force is partition 0's supervisor's; states and runs followed are every
 *   partition's (in-force.ts); /status, /readyz, `beat status` and the dashboard list who leads
 *   each partition (its lock and leader record) and every entry's partition, and control and reads
 *   about an entry go to its partition (redis/partitioned-control.ts, partitioned-reads.ts);
 * - the metrics are the process's: the partition gauges (partitions led, entries held) read every
 *   runtime's supervisor at scrape time (probes.ts partitionMetrics), and each partition adds a sink
 *   that counts what it publishes by partition (metrics.ts partitionEvents);
 * - RedBeat as a source is refused with partitions > 1 (its lock and write-back follow one leader).
 *
 * What is left (issue 34):
 * - the runtime store stays one hash per deployment: a take-over reads its partitions' names from
 *   the partition index (redis/entry-index.ts) and their records alone, but every replica hears
 *   every write (the changes zset is the deployment's). The config file is parsed whole by every
 *   replica. The dashboard and /status list the runtime entries this replica
 *   holds (`beat status` reads the store whole); the ping recovery of alerts covers the entries
 *   partition 0's leader holds; a partition's supervisor keeps the last run it saw published of
 *   each entry it led (its check for lost state across sessions: a number an entry) after losing
 *   it; a partition handed over to a joining replica is read by the taker after it takes the lock
 *   (reading it before, from the map, would shorten the gap);
 * - step G (the rest): one result backend connection and one task-event consumer shared by the
 *   partitions' trackers (one each today), RedBeat as a source; fewer Redis calls than one lock
 *   attempt and one deployment watch per partition every lock.retryEvery on a standby;
 * - partitions spread the replicas' work, not Redis's: every partition's fenced publish runs on the
 *   one Redis, whose single thread bounds a burst however many replicas share it (bench/RESULTS.md
 *   "What bounds the burst of 4,000,000"); past it, the partitions' keys over a Redis Cluster;
 * - the partition map is computed by each replica from the registry (step F) and not stored:
 *   `beat status` computes it the same way (ASSIGNED); /status and the dashboard show who leads.
 *
 * Changing the count on a deployment with state is `beat partitions set N` (commands/partitions.ts):
 * the deployment records its count, and a partition leads only under it (partition-count-part.ts:
 * each lock attempt asks, and each session confirms before it starts).
 */
import { EVENTS } from '../base/log-events.js';
import { LifecycleScope } from '../base/lifecycle.js';
import type { Logger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { trackerTask, trackingEvents } from '../outcomes/scheduler-events.js';
import type { Clock } from '../ports/clock.js';
import { fanOutEvents } from '../ports/events.js';
import type { ControlStore } from '../redis/control-store.js';
import { RedisEntryFailures } from '../redis/entry-failures.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { Leadership } from '../redis/leadership.js';
import { RedisMissedSlots } from '../redis/missed-slots-store.js';
import { RedisPassedSlots } from '../redis/passed-slots-store.js';
import { RedisStateStore } from '../redis/state-store.js';
import { partitionOf } from '../core/partition.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { RuntimeEntries } from '../runtime/catalog-slices.js';
import type { ProcessBudget } from '../runtime/process-budget.js';
import type { PartitionClockGuard } from './clock-watchers.js';
import type { PartitionCountGuard } from './partition-count-part.js';
import type { Connections } from './connections.js';
import type { DeploymentWatch } from './deployment-watch.js';
import type { AuditSettings, LateInForce } from './in-force.js';
import { late } from './late.js';
import { makeLeadership } from './leadership-part.js';
import type { Observability } from './observability-part.js';
import { startOutcomes } from './outcomes.js';
import type { Outcomes } from './outcomes.js';
import type { PartitionSeat } from './partition-seats.js';
import type { LeaderTask, Supervisor } from './supervisor.js';

/** What the process lends each of its partitions. */
export interface SharedParts {
  readonly config: ResolvedConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly instanceId: string;
  readonly connections: Connections;
  /** Records the config file's entry names for the runtime store's writers (the leader does it). */
  readonly publishStaticNames: (names: readonly string[]) => Promise<void>;
  readonly observability: Observability;
  /** Bound to each partition once it is made (its supervisor, states and runs followed). */
  readonly inForce: LateInForce;
  readonly audit: AuditSettings;
  /** The deployment's recorded partition count, confirmed before each session leads (partition-count-part.ts). */
  readonly partitionCount: Pick<PartitionCountGuard, 'confirm'>;
  /** The bounds the partitions' runners share: templates kept, batches planned or in flight (runtime/process-budget.ts). */
  readonly budget: ProcessBudget;
}

/** What the process gives one partition of its own (service.ts): its share of the process's parts. */
export interface PartitionParts {
  readonly partition: number;
  readonly partitions: number;
  readonly keys: SchedulerKeys;
  /** The catalog's runtime entries of this partition (catalog-slices.ts). */
  readonly catalog: RuntimeEntries;
  /** How many runtime entries of this partition the catalog holds (EntryCatalog.heldCount). */
  readonly runtimeHeld: () => number;
  readonly clockGuard: PartitionClockGuard;
  /** The process's sinks as this partition tells them (service.ts: leading is any partition's). */
  readonly sinks: readonly SchedulerEvents[];
  /** The process's leader tasks that this partition's sessions run (the deployment's: partition 0's). */
  readonly leaderTasks: readonly LeaderTask[];
  /** With partitions > 1, its place in the partition map (partition-seats.ts): gates its campaign, hands it over. */
  readonly seat?: PartitionSeat;
}

export interface PartitionRuntime {
  readonly partition: number;
  readonly partitions: number;
  readonly keys: SchedulerKeys;
  readonly states: RedisStateStore;
  readonly failures: RedisEntryFailures;
  readonly missedSlots: RedisMissedSlots;
  readonly outcomes: Outcomes | undefined;
  readonly control: ControlStore;
  /** Leads while a session runs; applies a reload between two sessions; reports for /status. */
  readonly supervisor: Supervisor;
  readonly watch: DeploymentWatch;
  /**
   * The entries this process holds of the partition: while it leads, the config file's of the
   * partition and the runtime ones its catalog slice holds; 0 on a standby (with partitions > 1;
   * with one, the catalog holds every runtime entry on a standby too, and they are counted).
   */
  entriesHeld(): number;
  /** Campaigns for the partition's lock and starts its watch. */
  start(): Promise<void>;
  /** The watch, the session (after its publish in flight) and the lock's hand-over, then the outcome tracker. */
  stop(): Promise<void>;
}

/** Makes partition `own.partition` of `own.partitions`, whose keys are `own.keys`; nothing runs until `start`. */
export function makePartitionRuntime(lent: SharedParts, own: PartitionParts): PartitionRuntime {
  const { partition, partitions, keys } = own;
  // With several, each line of a partition's lock, sessions and records says which partition it is.
  const shared = partitions === 1 ? lent : { ...lent, logger: lent.logger.child({ partition }) };
  const { config, logger: log, clock, connections, observability } = shared;
  const { state } = connections;
  const states = new RedisStateStore(state, keys, warnUnreadableOnce(log));
  const missedSlots = new RedisMissedSlots(state, keys, log);
  // The record of passed-over slots writes under the lease of the lock that hears its events.
  const lock = late<Pick<Leadership, 'currentLease'>>("the partition's lock (the lease's token)");
  const passedSlots = new RedisPassedSlots(state, keys, log, () => lock.get().currentLease()?.token, config.lock.maxClockSkewMs);
  const outcomes = startOutcomes(config, keys, state, log, clock, observability.outcomeEvents, observability.pausing);
  const failures = new RedisEntryFailures(state, keys);
  // With several partitions, what this one publishes is counted by partition too (metrics.ts).
  const byPartition = partitions === 1 || observability.metrics === undefined ? [] : [observability.metrics.partitionEvents(partition)];
  const seatEvents = own.seat === undefined ? [] : [own.seat.events];
  const counted = fanOutEvents([...own.sinks, failures.events(), missedSlots.events, passedSlots.events, ...byPartition, ...seatEvents]);
  const tracked = outcomes === undefined ? counted : trackingEvents(counted, outcomes.tracker, clock);
  const { control, leadership, supervisor, watch } = makeLeadership({
    ...shared,
    keys,
    catalog: own.catalog,
    clockGuard: own.clockGuard,
    // One partition is the deployment: its transport's own dispatcher, over the same keys.
    fenced: partitions === 1 ? connections.publishing : connections.publishing.fencedFor(keys),
    ...(partitions === 1 ? {} : { ownsEntry: (name: string) => partitionOf(name, partitions) === partition }),
    states,
    events: observability.around(tracked),
    leaderTasks: [...(outcomes ? [trackerTask(outcomes.tracker, outcomes.onError)] : []), ...own.leaderTasks],
    running: outcomes?.tracker,
    beforeSession: async () => {
      await lent.partitionCount.confirm();
      await passedSlots.begin(clock.now());
    },
    ...(own.seat === undefined ? {} : { seat: own.seat }),
  });
  lock.set(leadership);
  own.seat?.bind({
    leading: () => supervisor.leading,
    handOver: (reason) => supervisor.handOver(reason),
    campaignNow: () => leadership.campaignNow(),
  });
  shared.inForce.bind(partition, { supervisor, states, unfinished: () => outcomes?.tracker.unfinished() ?? [] });
  const scope = new LifecycleScope({ logger: log });
  const fileEntries = fileEntriesOf(supervisor, partitions === 1 ? undefined : (name) => partitionOf(name, partitions) === partition);
  return {
    partition,
    partitions,
    keys,
    states,
    failures,
    missedSlots,
    outcomes,
    control,
    supervisor,
    watch,
    entriesHeld: () => (supervisor.leading ? fileEntries() : 0) + own.runtimeHeld(),
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

/** How many of the config file's entries in force the partition schedules (`owns`; absent: all), counted again after a reload. */
function fileEntriesOf(supervisor: Pick<Supervisor, 'config'>, owns: ((name: string) => boolean) | undefined): () => number {
  let seen: ResolvedConfig | undefined;
  let count = 0;
  return () => {
    const config = supervisor.config;
    if (config !== seen) {
      seen = config;
      count = owns === undefined ? config.entries.length : config.entries.filter((e) => owns(e.name)).length;
    }
    return count;
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
