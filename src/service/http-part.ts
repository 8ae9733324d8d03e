/**
 * HTTP (with --http only): the probes, /metrics, /status, the entries, backfill and audit APIs, and
 * the dashboard, on one server, the process's. What they tell of leading, stored state, control,
 * failing entries, missed slots, runs and the lock is the partition's (one, partition-runtime.ts).
 * With `partitions` > 1, what they read and ask of an entry goes to its partition's keys, what they
 * read of every entry to every partition's; /status, /readyz and the dashboard list who leads each
 * partition (its lock and leader record) and whether this replica does (and /status the entries
 * it holds of each), and the partition gauges of /metrics read every partition runtime's
 * supervisor. The runtime entries /status and the dashboard list are those this replica holds (of
 * the partitions it leads); the entries API reads the store, and a backfill finds an entry this
 * replica does not hold there (entry-lookup.ts).
 */
import type { Logger } from '../base/log.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { Dashboard } from '../dashboard/routes.js';
import { findToken, tokensOf } from '../http/auth.js';
import type { HttpAccess } from '../http/auth.js';
import { startHttpServer } from '../http/server.js';
import type { HttpAddress } from '../http/server.js';
import type { BeatMetrics } from '../observe/metrics.js';
import type { Clock } from '../ports/clock.js';
import type { ClockGuard } from '../redis/clock-guard.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';
import { RedisRunHistory } from '../redis/run-history-store.js';
import { PartitionedControl } from '../redis/partitioned-control.js';
import type { ControlClient } from '../redis/partitioned-control.js';
import { partitionedReads } from '../redis/partitioned-reads.js';
import type { FailuresRead, MissedRead, RunsRead, StatesRead } from '../redis/partitioned-reads.js';
import type { LeaderInfo } from '../control/status.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { auditReader } from './audit-api.js';
import { backfillApi } from './backfill-api.js';
import type { Connections } from './connections.js';
import { dashboardEntriesApi, dashboardSources } from './dashboard-sources.js';
import type { DashboardInputs } from './dashboard-sources.js';
import { partitionOf } from '../core/partition.js';
import { entriesHandlers } from './entries-api.js';
import { entryLookup } from './entry-lookup.js';
import type { AuditSettings, InForce } from './in-force.js';
import type { PartitionRuntime } from './partition-runtime.js';
import { partitionMetrics, probes, scheduleMetrics } from './probes.js';
import { messageEnv } from './running.js';

export interface HttpPart {
  readonly address: HttpAddress;
  close(): Promise<void>;
}

interface Made {
  /** The deployment's keys (the audit trail's). */
  readonly keys: SchedulerKeys;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly instanceId: string;
  readonly access: HttpAccess;
  readonly connections: Connections;
  readonly catalog: EntryCatalog;
  readonly entryStore: RedisEntryStore;
  readonly clockGuard: ClockGuard;
  readonly replicas: ReplicaRegistry;
  /**
   * Partition 0's runtime: with one partition, the one whose control, failures, missed slots, runs
   * and lock the parts below read; with several, whose config in force and deployment watch they read.
   */
  readonly partition: PartitionRuntime;
  /** Every partition's runtime (one unless `partitions` says more), for who leads which. */
  readonly partitions: readonly PartitionRuntime[];
  readonly inForce: InForce;
  readonly audit: AuditSettings;
}

/** Serves on `address` when there is one (metrics are made exactly then); else nothing. */
export async function startHttp(
  options: Made & { metrics: BeatMetrics | undefined; address: HttpAddress | undefined },
): Promise<HttpPart | undefined> {
  const { metrics } = options;
  if (metrics === undefined || options.address === undefined) return undefined;
  const { keys, logger: log, clock, instanceId, connections, partition, partitions } = options;
  const { supervisor } = partition;
  const several = partitions.length > 1;
  const reads = readsOf(options);
  metrics.readScheduleFrom(
    scheduleMetrics(
      supervisor,
      partitions.slice(1).map((p) => p.supervisor),
    ),
  );
  metrics.readPartitionsFrom(partitionMetrics(partitions.map((p) => p.supervisor)));
  const answers = probes({
    instanceId,
    clock,
    supervisor,
    redis: connections.state,
    clockGuard: options.clockGuard,
    publishing: connections.publishing,
    watch: partition.watch,
    ...reads,
    replicas: options.replicas,
    catalog: options.catalog,
    ...(several ? { partitions: () => partitions.map((p) => ({ leading: p.supervisor.leading, entries: p.entriesHeld() })) } : {}),
    ...(reads.leaders === undefined ? {} : { partitionLeaders: reads.leaders }),
    sourceTrouble: () => connections.django?.health().reason,
  });
  const entries = entriesApi(options, reads);
  const dashboard = makeDashboard(options, entries, reads);
  const server = await startHttpServer(
    options.address,
    {
      metrics,
      ...answers,
      entries,
      audit: auditReader(connections.state, keys),
      access: options.access,
      routes: dashboard.handle.bind(dashboard),
      session: (req) => dashboard.sessionOf(req),
    },
    log,
  );
  return { address: server.address, close: () => server.close() };
}

interface Reads {
  readonly states: StatesRead;
  readonly control: ControlClient;
  readonly runs: RunsRead;
  readonly failures: FailuresRead;
  /** The reports of the entries' slots that never ran. */
  readonly missed: MissedRead;
  /** With several partitions, each one's leader record (index: the partition), as `beat status` reads them. */
  readonly leaders?: () => Promise<(LeaderInfo | undefined)[]>;
}

/**
 * What the endpoints read and ask of the entries: the partition's stores, or with several partitions
 * each entry's partition's (redis/partitioned-control.ts, partitioned-reads.ts).
 */
function readsOf(options: Made): Reads {
  const { partition, partitions, connections, inForce } = options;
  if (partitions.length === 1)
    return {
      states: partition.states,
      control: partition.control,
      runs: new RedisRunHistory(connections.state, partition.keys),
      failures: partition.failures,
      missed: partition.missedSlots,
    };
  const config = inForce.config();
  const deployment = { prefix: config.state.prefix, name: config.name, partitions: partitions.length };
  const control = new PartitionedControl(connections.state, deployment, options.audit);
  return { ...partitionedReads(connections.state, deployment), control, leaders: () => control.leaders() };
}

type EntriesApi = ReturnType<typeof entriesHandlers> & ReturnType<typeof backfillApi>;

/** /api/entries and the backfill requests. */
function entriesApi(options: Made, reads: Reads): EntriesApi {
  const { clock, audit, inForce } = options;
  return {
    ...entriesHandlers({
      store: options.entryStore,
      client: options.connections.state,
      staticNames: staticNamesOf(() => inForce.config()),
      now: () => clock.now(),
      failures: reads.failures,
      audit,
    }),
    ...backfillApi({
      findEntry: entryLookup(inForce, options.catalog, options.entryStore, options.partitions.length),
      config: () => inForce.config(),
      states: reads.states,
      control: reads.control,
      now: () => clock.now(),
      audit: (who, note) => ({ ...audit, who, note }),
    }),
  };
}

function makeDashboard(options: Made, entries: EntriesApi, reads: Reads): Dashboard {
  const { clock, instanceId, connections, partition, partitions, access } = options;
  const { redbeat, django } = connections;
  const leaders = reads.leaders;
  return new Dashboard(
    dashboardSources({
      instanceId,
      clock,
      supervisor: partitions.length === 1 ? partition.supervisor : partitionedSupervisor(partitions),
      ...(leaders === undefined ? {} : { partitions: { leaders, lockKeys: partitions.map((p) => p.keys.lock) } }),
      catalog: options.catalog,
      states: reads.states,
      failures: reads.failures,
      control: reads.control,
      replicas: options.replicas,
      redis: connections.state,
      lockClient: connections.lockClients[0] ?? connections.state,
      lockKey: partition.keys.lock,
      runs: reads.runs,
      ...(redbeat === undefined ? {} : { redbeat: redbeat.source }),
      ...(django === undefined ? {} : { django }),
      missed: reads.missed,
      publishing: connections.publishing,
      watch: partition.watch,
      messageEnv: messageEnv(),
      apiToken: () => tokensOf(access).find((t) => t.scope === 'write')?.token,
      ...(access.tokens === undefined
        ? {}
        : {
            writeTokenName: (token: string) => {
              const found = findToken(token, tokensOf(access));
              return found?.scope === 'write' ? found.name : undefined;
            },
          }),
      entriesApi: dashboardEntriesApi(entries, options.entryStore),
    }),
    options.logger,
  );
}

/**
 * The partitions' supervisors as the dashboard reads one: the config in force (partition 0's, every
 * partition's being the same), leading while any partition leads, and each entry's next slot from
 * its own partition's runner (there while that partition leads; else the dashboard computes it).
 */
function partitionedSupervisor(partitions: readonly PartitionRuntime[]): DashboardInputs['supervisor'] {
  const first = partitions[0] as PartitionRuntime;
  const book = { view: (name: string) => partitions[partitionOf(name, partitions.length)]?.supervisor.runner?.view(name) };
  return {
    get config() {
      return first.supervisor.config;
    },
    get leading() {
      return partitions.some((p) => p.supervisor.leading);
    },
    runner: book,
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
