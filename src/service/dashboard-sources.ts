/**
 * What the dashboard (src/dashboard/) reads and writes, taken from the running service: the entries
 * in force (the config file's and the runtime catalog's), their status as /status computes it, the
 * deployment (leader, lock, connections) and
 * the control keys that `beat pause/resume/trigger` use.
 */
import type { RedisClient } from '../redis/connect.js';
import { ENV } from '../base/env.js';
import { VERSION } from '../base/version.js';
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { keepsRunHistory } from '../config/outcome-sources.js';
import { lastRunBy, nextRunMs } from '../control/status.js';
import { entryViews, groupStatuses } from '../operations/read-verbs.js';
import { chunksOf, yieldToLoop } from '../base/chunks.js';
import { DEFAULTS } from '../base/defaults.js';
import type { DashboardSources } from '../dashboard/sources.js';
import { tokenDigest, tokensEqual } from '../dashboard/sessions.js';
import { ADMIN } from '../core/grants.js';
import type { Grant } from '../core/grants.js';
import type { EntrySet, RunColumns } from '../dashboard/entry-rows.js';
import type { EntryView } from '../control/entry-view-schema.js';
import type { Runner } from '../runtime/runner.js';
import type { Clock } from '../ports/clock.js';
import type { ControlStore } from '../redis/control-store.js';
import type { ControlStores } from '../operations/control-verbs.js';
import type { RedisStateStore } from '../redis/state-store.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';
import type { RedisMissedSlots } from '../redis/missed-slots-store.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';
import type { RedisEntryFailures } from '../redis/failing-entries-store.js';
import type { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import { replicaStatuses } from '../control/replicas.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import type { RedBeatSource } from '../redbeat/source.js';
import type { DjangoEntries } from '../django/source.js';
import { warningsOf } from './deployment-watch.js';
import type { DeploymentWatch } from './deployment-watch.js';

export interface DashboardInputs {
  readonly instanceId: string;
  readonly clock: Clock;
  /** The runner is the leader's scheduler loop (its book has every entry's next slot), while it leads. */
  readonly supervisor: { readonly config: ResolvedConfig; readonly leading: boolean; readonly runner?: BookView | undefined };
  readonly catalog: Pick<EntryCatalog, 'entries' | 'problems' | 'version'>;
  readonly states: Pick<RedisStateStore, 'readSome'>;
  /** The entries whose runs are refused because of the entry alone. */
  readonly failures?: Pick<RedisEntryFailures, 'read'>;
  /** The schedule's queues the leader finds nobody consumes. */
  readonly unconsumed?: Pick<RedisUnconsumedQueues, 'read'>;
  readonly control: ControlStores & Pick<ControlStore, 'paused' | 'pauseNotes' | 'notes' | 'leader' | 'waitingByGroup'>;
  readonly replicas: Pick<ReplicaRegistry, 'read'>;
  /** The run histories in Redis, which every replica reads alike (the leader writes them). */
  readonly runs: Pick<RedisRunHistory, 'list' | 'recent' | 'latest' | 'finished' | 'failureStreaks' | 'lastStates'>;
  /** RedBeat's entries as it holds them, when it is a source. */
  readonly redbeat?: Pick<RedBeatSource, 'written'>;
  readonly django?: Pick<DjangoEntries, 'written'>;
  /** The leader's reports of slots that never ran. */
  readonly missed: Pick<RedisMissedSlots, 'recent'>;
  readonly redis: { readonly status: string };
  /** The client that holds the lock key (the first of a Redlock quorum). */
  readonly lockClient: Pick<RedisClient, 'pttl'>;
  readonly lockKey: string;
  readonly publishing: { readonly status: string };
  readonly watch: Pick<DeploymentWatch, 'current'>;
  readonly messageEnv: MessageEnv;
  /** The API token; by default BEAT_API_TOKEN's value (the entries API's --api-token-file joins here). */
  readonly apiToken?: () => string | undefined;
  readonly writeTokenName?: (token: string) => string | undefined;
  /** The grants of a token's session by its token's digest (DashboardSources.tokenGrants); by default the one token's, admin. */
  readonly tokenGrants?: (digest: string) => readonly Grant[] | undefined;
  readonly storedEntry?: (name: string) => Promise<unknown>;
}

type BookView = Pick<Runner, 'view'>;

const envToken = (): string | undefined => process.env[ENV.apiToken] || undefined;

/** The leader's next slot of an entry, as its book has it (see StatusInput.nextSlots); undefined: compute it. */
export function bookedSlots(runner: BookView | undefined): ((name: string) => number | null | undefined) | undefined {
  if (runner === undefined) return undefined;
  return (name) => {
    const view = runner.view(name);
    // A pause the book has not seen yet (or a resume): status decides from the paused set, and computes.
    return view === undefined || view.paused ? undefined : (view.nextSlotMs ?? null);
  };
}

/** The entries in force (the config file's, then the catalog's), with a lookup by name. */
interface HeldSet {
  readonly config: ResolvedConfig;
  readonly version: number;
  readonly set: EntrySet;
  readonly byName: Map<string, ResolvedEntry>;
}

/**
 * The entry set, made again only when the config or the catalog changed: the dashboard keeps its
 * rows for as long as the same set is handed over.
 */
function heldEntrySet(inputs: DashboardInputs): () => HeldSet {
  let held: HeldSet | undefined;
  return () => {
    const config = inputs.supervisor.config;
    const version = inputs.catalog.version;
    if (held === undefined || held.config !== config || held.version !== version) {
      const names = new Set(config.entries.map((e) => e.name));
      const entries = [...config.entries, ...inputs.catalog.entries().filter((e) => !names.has(e.name))];
      const invalid = inputs.catalog.problems().map((p) => ({
        name: p.name,
        origin: p.origin,
        problems: p.problems.map(({ path, message }) => ({ path, message })),
      }));
      held = { config, version, set: { config, entries, invalid }, byName: new Map(entries.map((e) => [e.name, e])) };
    }
    return held;
  };
}

/** What the deployment's page says of this replica and its connections. */
function connectionsView(inputs: DashboardInputs, nowMs: number) {
  const { supervisor } = inputs;
  return {
    deployment: supervisor.config.name,
    role: supervisor.leading ? 'leader' : 'standby',
    redis: `Redis ${inputs.redis.status}`,
    broker: inputs.publishing.status,
    warnings: warningsOf(inputs.watch.current),
    nowMs,
  };
}

/** The deployment's page: its leader and lock, replicas and connections. */
async function deploymentView(inputs: DashboardInputs) {
  const nowMs = inputs.clock.now();
  const [leader, ttl, replicas] = await Promise.all([
    inputs.control.leader(),
    inputs.lockClient.pttl(inputs.lockKey),
    inputs.replicas.read(),
  ]);
  return {
    leader: leader ? { instance: leader.instance, since: new Date(leader.sinceMs).toISOString() } : null,
    lockExpiresInMs: ttl >= 0 ? ttl : null,
    replicas: replicaStatuses(replicas, leader),
    ...connectionsView(inputs, nowMs),
  };
}

/** The views of the named entries, as /status computes them (operations/read-verbs.ts). */
function entryViewsOf(inputs: DashboardInputs, held: HeldSet, names: readonly string[]): Promise<Map<string, EntryView>> {
  const { supervisor } = inputs;
  const entries = names.map((n) => held.byName.get(n)).filter((e): e is ResolvedEntry => e !== undefined);
  return entryViews(inputs, {
    config: held.config,
    entries,
    self: { instance: inputs.instanceId, role: supervisor.leading ? 'leader' : 'standby' },
    nowMs: inputs.clock.now(),
    nextSlots: bookedSlots(supervisor.runner),
  });
}

/** Every entry's next run, last run and run count, for the entries page's columns. */
async function runColumns(inputs: DashboardInputs, set: EntrySet): Promise<Map<string, RunColumns>> {
  const paused = await inputs.control.paused();
  const nextSlots = bookedSlots(inputs.supervisor.runner);
  const nowMs = inputs.clock.now();
  const out = new Map<string, RunColumns>();
  // A slice of entries at a time: its states read (HMGET) and decoded, its next fires the
  // leader's book's (a standby computes them), then the loop is free until the next slice's
  // reply, never held by one decode of every state.
  for (const chunk of chunksOf(set.entries, DEFAULTS.loopSlice)) {
    const states = await inputs.states.readSome(chunk.map((e) => e.name));
    for (const entry of chunk) {
      const state = states.get(entry.name);
      const next = nextRunMs(entry, state, paused.has(entry.name), nowMs, nextSlots);
      const last = lastRunBy(state) === 'trigger' ? state?.publishedAtMs : state?.slotMs;
      out.set(entry.name, { nextMs: next ?? null, lastMs: last ?? null, runCount: state?.runCount ?? 0 });
    }
    await yieldToLoop();
  }
  return out;
}

export function dashboardSources(inputs: DashboardInputs): DashboardSources {
  const { supervisor, clock } = inputs;
  const current = heldEntrySet(inputs);
  return {
    instanceId: inputs.instanceId,
    version: VERSION,
    now: () => clock.now(),
    entrySet: () => current().set,
    paused: () => inputs.control.paused(),
    status: async (names) => entryViewsOf(inputs, current(), names),
    runColumns: async () => runColumns(inputs, current().set),
    deployment: async () => deploymentView(inputs),
    control: inputs.control,
    runs: async (entries, limit) => (keepsRunHistory(supervisor.config) ? inputs.runs.recent(entries, limit) : undefined),
    finished: async (entries) => (keepsRunHistory(supervisor.config) ? inputs.runs.finished(entries) : undefined),
    failureStreaks: async () => (keepsRunHistory(supervisor.config) ? inputs.runs.failureStreaks() : undefined),
    lastStates: async () => (keepsRunHistory(supervisor.config) ? inputs.runs.lastStates() : undefined),
    written: async (name, origin) => {
      const source = origin === 'redbeat' ? inputs.redbeat : origin === 'django' ? inputs.django : undefined;
      return (await source?.written(name)) ?? null;
    },
    missed: (entries) => inputs.missed.recent(entries),
    groups: async (entries) => (await groupStatuses(inputs, entries)) ?? [],
    messageEnv: inputs.messageEnv,
    apiToken: inputs.apiToken ?? envToken,
    ...(inputs.writeTokenName === undefined ? {} : { writeTokenName: inputs.writeTokenName }),
    tokenGrants:
      inputs.tokenGrants ??
      ((digest) => {
        const token = (inputs.apiToken ?? envToken)();
        return token !== undefined && tokensEqual(tokenDigest(token), digest) ? ADMIN : undefined;
      }),
    ...(inputs.storedEntry === undefined ? {} : { storedEntry: inputs.storedEntry }),
  };
}
