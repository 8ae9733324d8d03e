/**
 * What the read-only HTTP endpoints answer: /healthz (the process and its scheduler loop are
 * alive), /readyz (connected, and leading or a standby able to take over), /status (the deployment
 * as `beat status` shows it), and what the schedule gauges of /metrics read. Everything here reads;
 * nothing changes the schedule.
 */
import { buildStatus } from '../control/status.js';
import { deploymentStopText, deploymentStopView } from '../control/deployment-stop.js';
import { statusParts } from '../control/status-parts.js';
import type { DeploymentStatus } from '../control/status.js';
import { DEFAULTS } from '../base/defaults.js';
import type { HttpHandlers, Probe } from '../http/api-ports.js';
import type { MetricsSource } from '../observe/metrics.js';
import type { Clock } from '../ports/clock.js';
import type { RunHistory } from '../ports/outcomes.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisStateStore } from '../redis/state-store.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';
import type { RedisEntryFailures } from '../redis/failing-entries-store.js';
import type { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { warningsOf } from './deployment-watch.js';
import type { DeploymentWatch } from './deployment-watch.js';
import type { Supervisor } from './supervisor.js';
import { keepsRunHistory } from '../config/outcome-sources.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { pushAll } from '../base/chunks.js';
import type { AlertOutbox } from '../ports/alerts.js';

/**
 * /healthz reports a leader whose scheduler loop has not woken for this long, or for this many of
 * its loop intervals (maxInterval) if that is longer, as stalled: the loop wakes at least once per
 * interval, so a longer silence is a blocked event loop or a hung loop, not a quiet schedule.
 */
const HEALTH_STALL_MS = 5000;
const HEALTH_STALL_INTERVALS = 5;

export interface ProbeSources {
  readonly instanceId: string;
  readonly clock: Clock;
  readonly supervisor: Pick<Supervisor, 'config' | 'leading' | 'runner' | 'stopping' | 'stateLost'> &
    Partial<Pick<Supervisor, 'cannotLead'>>;
  /** The state Redis connection (ioredis's `status`: 'ready' when connected). */
  readonly redis: { readonly status: string };
  /** Why the local clock keeps this replica from leading, if it does. */
  readonly clockGuard: { readonly refusal: string | undefined };
  /** The broker connection. */
  readonly publishing: { ready(): boolean; readonly status: string };
  readonly watch: Pick<DeploymentWatch, 'current'>;
  readonly states: Pick<RedisStateStore, 'readAll'>;
  readonly control: Pick<ControlStore, 'paused' | 'pauseNotes' | 'notes' | 'leader'> & Partial<Pick<ControlStore, 'deploymentStop'>>;
  /** The replicas registry (leader and standbys, with their heartbeats). */
  readonly replicas: Pick<ReplicaRegistry, 'read'>;
  /** The runtime entries this replica keeps (in force, and those that do not run). */
  readonly catalog?: Pick<EntryCatalog, 'entries' | 'problems'> & Partial<Pick<EntryCatalog, 'outOfSync'>>;
  /** The entries' run histories (read only with a resultBackend or taskEvents). */
  readonly runs: Pick<RunHistory, 'latest' | 'finished' | 'faults'>;
  /** The entries whose runs are refused because of the entry alone. */
  readonly failures?: Pick<RedisEntryFailures, 'read'>;
  /** The schedule's queues the leader finds nobody consumes. */
  readonly unconsumed?: Pick<RedisUnconsumedQueues, 'read'>;
  /** The alerts not yet taken by their receivers. */
  readonly alertOutbox?: Pick<AlertOutbox, 'pending'>;
  /** Why a source of runtime entries cannot be read now (the django database is away), if it cannot. */
  readonly sourceTrouble?: () => string | undefined;
}

/** The readiness reason's first words: leading, or a standby. */
function roleText(sources: ProbeSources): string {
  return sources.supervisor.leading ? 'leading' : 'standby, ready to take over';
}

export function probes(sources: ProbeSources): Omit<HttpHandlers, 'metrics'> {
  return {
    health: () => healthProbe(sources),
    ready: () => readyProbe(sources),
    status: (page = { offset: 0, limit: DEFAULTS.statusPageMax }) => statusOf(sources, page),
  };
}

/** Alive unless the scheduler loop has not woken for several of its intervals. */
function healthProbe(sources: ProbeSources): Probe {
  const { supervisor } = sources;
  const runner = supervisor.runner;
  const stallMs = Math.max(HEALTH_STALL_MS, HEALTH_STALL_INTERVALS * supervisor.config.maxIntervalMs);
  const stalled = runner !== undefined && runner.lastWakeMs > 0 && performance.now() - runner.lastWakeMs > stallMs;
  return stalled
    ? { ok: false, reason: 'the scheduler loop has stalled' }
    : { ok: true, reason: sources.supervisor.leading ? 'leading' : 'standing by' };
}

async function readyProbe(sources: ProbeSources): Promise<Probe> {
  const { supervisor } = sources;
  // Each reason comes with its `brief`, what a client that may not read the schedule is told: the
  // same verdict and cause, without the hosts, keys and settings the reason names (server.ts chooses).
  if (supervisor.stopping) return { ok: false, reason: 'stopping', brief: 'stopping' };
  if (sources.redis.status !== 'ready')
    return { ok: false, reason: `Redis ${sources.redis.status}`, brief: `Redis ${sources.redis.status}` };
  if (sources.clockGuard.refusal !== undefined) {
    return { ok: false, reason: `not leading: ${sources.clockGuard.refusal}`, brief: "not leading: the local clock is off from Redis's" };
  }
  if (sources.supervisor.leading && !sources.publishing.ready()) {
    return { ok: false, reason: sources.publishing.status, brief: 'leading, and the broker is not ready' };
  }
  // A key of the deployment that keeps it from leading (every replica alike): not ready, naming it.
  const refusal = supervisor.cannotLead;
  if (refusal !== undefined && !supervisor.leading) {
    return {
      ok: false,
      reason: `cannot lead: ${refusal}`,
      brief: 'cannot lead: a key of the deployment holds a value tsbeat never writes',
    };
  }
  const found = sources.watch.current;
  // No replica can lead: not ready, whatever else holds.
  if (found && found.lockProblems.length > 0) {
    return { ok: false, reason: found.lockProblems.map((p) => p.message).join('; '), brief: 'no replica can take the lock' };
  }
  // Stopped (beat pause --all): still ready, since the process is healthy and a restart or a
  // failover would not lift the stop; the reason says it, so that a readiness dashboard shows it.
  const stop = await sources.control.deploymentStop?.().catch(() => undefined);
  const stopNote = stop === undefined ? '' : `; ${deploymentStopText(deploymentStopView(stop))}`;
  const notes = `${stopNote}${readyNotes(sources)}`;
  const briefNotes = `${stop === undefined ? '' : '; DEPLOYMENT STOPPED (beat pause --all): nothing is published'}${readyNotes(sources, true)}`;
  // Ready still: a rolling update that changes the config passes through this state.
  if (found?.mismatch) {
    return {
      ok: true,
      reason: `standby, ready to take over; WARNING: ${found.mismatch.message}${notes}`,
      brief: `standby, ready to take over; WARNING: this replica's config differs from the leader's${briefNotes}`,
    };
  }
  return { ok: true, reason: `${roleText(sources)}${notes}`, brief: `${roleText(sources)}${briefNotes}` };
}

/** What a ready replica's reason adds: the state lost, a source away, runtime entries out of sync ('' when none). */
function readyNotes(sources: ProbeSources, brief = false): string {
  // Still ready (it publishes on), but the reason says what the log said.
  const lost = sources.supervisor.stateLost;
  if (brief) {
    const sync = sources.catalog?.outOfSync?.();
    return [
      lost === undefined ? '' : '; the stored state of some entries was lost',
      sources.sourceTrouble?.() === undefined ? '' : '; WARNING: a source of entries is away',
      sync === undefined ? '' : '; WARNING: runtime entries not in sync',
    ].join('');
  }
  const lostNote =
    lost === undefined
      ? ''
      : `; the stored state of ${lost.entries} entries was lost at ${new Date(lost.atMs).toISOString()} (see beat.state.lost)`;
  // Still ready: the entries known keep running while their source is away.
  const trouble = sources.sourceTrouble?.();
  const troubleNote =
    trouble === undefined ? '' : `; WARNING: ${trouble}; the entries known keep running, changes wait (beat.entries.sync_failed)`;
  // Still ready, as for a source away; but said, with since when: changes and deletes wait meanwhile.
  const sync = sources.catalog?.outOfSync?.();
  const syncNote =
    sync === undefined
      ? ''
      : `; WARNING: runtime entries not in sync since ${new Date(sync.sinceMs).toISOString()} (${sync.reason}); retrying (beat.entries.sync_failed)`;
  return `${lostNote}${troubleNote}${syncNote}`;
}

/** One page of the status: the entries `page.offset` to `page.offset + page.limit`, and `next` when there are more. */
async function statusOf(sources: ProbeSources, page: { offset: number; limit: number }): Promise<DeploymentStatus & { next?: number }> {
  const { supervisor, clock } = sources;
  const config = supervisor.config;
  const nowMs = clock.now();
  const { fileEntries, runtimePage, total, end } = entriesPage(config.entries, sources.catalog, page);
  const names = [...fileEntries, ...(runtimePage ?? [])].map((e) => e.name);
  // Each part read on its own: a key something else wrote costs its part, named among the warnings.
  const keyWarnings: string[] = [];
  const part = statusParts(keyWarnings);
  const [stop, states, paused, pauseNotes, notes, leader, replicas, outcomes, finished, failing, unconsumed, alertOutbox] =
    await Promise.all([
      part(sources.control.deploymentStop?.(), undefined),
      part(sources.states.readAll(), new Map()),
      part(sources.control.paused(), new Set<string>()),
      part(sources.control.pauseNotes(), new Map()),
      part(sources.control.notes(), new Map()),
      part(sources.control.leader(), undefined),
      part(sources.replicas.read(), []),
      !keepsRunHistory(config) ? undefined : part(sources.runs.latest(names), undefined),
      !keepsRunHistory(config) ? undefined : part(sources.runs.finished(names), undefined),
      part(sources.failures?.read(), undefined),
      part(sources.unconsumed?.read(), undefined),
      part(sources.alertOutbox?.pending(), undefined),
    ]);
  pushAll(keyWarnings, sources.runs.faults?.() ?? []);
  const status = buildStatus({
    stop,
    alertOutbox,
    ...(failing === undefined ? {} : { failing }),
    ...(unconsumed === undefined ? {} : { unconsumed }),
    ...(outcomes === undefined ? {} : { outcomes }),
    ...(finished === undefined ? {} : { finished }),
    pauseNotes,
    notes,
    config: { ...supervisor.config, entries: fileEntries },
    states,
    paused,
    leader,
    replicas,
    self: { instance: sources.instanceId, role: supervisor.leading ? 'leader' : 'standby' },
    nowMs,
    warnings: [...warningsOf(sources.watch.current), ...keyWarnings],
    ...(sources.catalog === undefined
      ? {}
      : {
          runtime: {
            entries: runtimePage ?? [],
            problems: [...sources.catalog.problems()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
          },
        }),
  });
  return end < total ? { ...status, next: end } : status;
}

/**
 * One page of the entries: the file's in order, then the runtime ones by name. Only the page is
 * built on: the work and the reply are bounded by the page, not by the number of entries.
 */
function entriesPage(
  fileAll: readonly ResolvedEntry[],
  catalog: ProbeSources['catalog'],
  page: { offset: number; limit: number },
): { fileEntries: ResolvedEntry[]; runtimePage: ResolvedEntry[] | undefined; total: number; end: number } {
  const runtimeAll =
    catalog === undefined ? undefined : [...catalog.entries()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const fileCount = fileAll.length;
  const total = fileCount + (runtimeAll?.length ?? 0);
  const end = Math.min(total, page.offset + page.limit);
  const fileEntries = fileAll.slice(Math.min(page.offset, fileCount), Math.min(end, fileCount));
  const runtimePage = runtimeAll?.slice(Math.max(0, page.offset - fileCount), Math.max(0, end - fileCount));
  return { fileEntries, runtimePage, total, end };
}

/** The schedule as the gauges of /metrics show it: every entry counted, paused and next fires while leading. */
export function scheduleMetrics(
  supervisor: Pick<Supervisor, 'config' | 'runner'>,
  catalog?: Pick<EntryCatalog, 'find'>,
  control?: Pick<ControlStore, 'deploymentStop'> & Partial<Pick<ControlStore, 'deadLetterCount'>>,
): MetricsSource {
  // The file's entries by name, made again only when a reload brings another config.
  let fileEntries: { config: unknown; byName: ReadonlyMap<string, ResolvedEntry> } | undefined;
  const fileEntry = (name: string): ResolvedEntry | undefined => {
    const { config } = supervisor;
    if (fileEntries?.config !== config) fileEntries = { config, byName: new Map(config.entries.map((e) => [e.name, e])) };
    return fileEntries.byName.get(name);
  };
  return {
    labels: (entry) => (fileEntry(entry) ?? catalog?.find(entry))?.labels ?? {},
    entries: () => {
      const { entries } = supervisor.config;
      const enabled = entries.filter((e) => e.enabled).length;
      const paused = supervisor.runner?.pausedCount() ?? 0;
      return { enabled, disabled: entries.length - enabled, paused };
    },
    nextFires: () => [...(supervisor.runner?.snapshot() ?? [])].map((s) => [s.name, s.nextSlotMs] as const),
    nextFire: (entry) => supervisor.runner?.view(entry)?.nextSlotMs,
    ...(control === undefined
      ? {}
      : {
          deploymentStopped: () =>
            control.deploymentStop().then(
              (stop) => stop !== undefined,
              () => undefined,
            ),
          ...(control.deadLetterCount === undefined
            ? {}
            : {
                deadLetters: () =>
                  (control.deadLetterCount?.() ?? Promise.resolve(undefined)).then(
                    (n) => n,
                    () => undefined,
                  ),
              }),
        }),
  };
}
