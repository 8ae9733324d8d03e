/**
 * What the dashboard (src/dashboard/) reads and writes, taken from the running service: the entries
 * in force (the config file's and the runtime catalog's), their status as /status computes it, the
 * deployment (leader, lock, connections) and the control keys that `beat pause/resume/trigger` use.
 */
import type { Redis } from 'ioredis';
import { ENV } from '../base/env.js';
import { VERSION } from '../base/version.js';
import type { MessageEnv } from '../celery/message.js';
import type { ResolvedConfig } from '../config/resolve.js';
import { followsOutcomes } from '../config/resolve.js';
import { buildStatus } from '../control/status.js';
import type { DashboardSources, EntriesApi } from '../dashboard/sources.js';
import type { StatusEntry } from '../dashboard/entry-rows.js';
import type { Clock } from '../ports/clock.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisStateStore } from '../redis/state-store.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';
import type { RedisMissedSlots } from '../redis/missed-slots-store.js';
import type { ReplicaRegistry } from '../redis/replica-registry.js';
import type { RedisEntryFailures } from '../redis/entry-failures.js';
import { replicaStatuses } from '../control/replicas.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { errorAnswer } from '../http/entries-api.js';
import type { EntriesHandlers } from '../http/entries-api.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import type { RedBeatSource } from '../redbeat/source.js';
import { warningsOf } from './deployment-watch.js';
import type { DeploymentWatch } from './deployment-watch.js';

export interface DashboardInputs {
  readonly instanceId: string;
  readonly clock: Clock;
  readonly supervisor: { readonly config: ResolvedConfig; readonly leading: boolean };
  readonly catalog: Pick<EntryCatalog, 'entries' | 'problems'>;
  readonly states: Pick<RedisStateStore, 'readAll'>;
  /** The entries whose runs are refused because of the entry alone. */
  readonly failures?: Pick<RedisEntryFailures, 'read'>;
  readonly control: Pick<ControlStore, 'paused' | 'pauseNotes' | 'notes' | 'leader' | 'setPaused' | 'requestTrigger' | 'wasTriggered'>;
  readonly replicas: Pick<ReplicaRegistry, 'read'>;
  /** The run histories in Redis, which every replica reads alike (the leader writes them). */
  readonly runs: Pick<RedisRunHistory, 'recent' | 'finished' | 'failureStreaks' | 'lastStates'>;
  /** RedBeat's entries as it holds them, when it is a source. */
  readonly redbeat?: Pick<RedBeatSource, 'written'>;
  /** The leader's reports of slots that never ran. */
  readonly missed: Pick<RedisMissedSlots, 'recent'>;
  readonly redis: { readonly status: string };
  /** The client that holds the lock key (the first of a Redlock quorum). */
  readonly lockClient: Pick<Redis, 'pttl'>;
  readonly lockKey: string;
  readonly publishing: { readonly status: string };
  readonly watch: Pick<DeploymentWatch, 'current'>;
  readonly messageEnv: MessageEnv;
  /** The API token; by default BEAT_API_TOKEN's value (the entries API's --api-token-file joins here). */
  readonly apiToken?: () => string | undefined;
  readonly writeTokenName?: (token: string) => string | undefined;
  readonly entriesApi?: EntriesApi;
}

const envToken = (): string | undefined => process.env[ENV.apiToken] || undefined;

export function dashboardSources(inputs: DashboardInputs): DashboardSources {
  const { supervisor, clock } = inputs;
  return {
    instanceId: inputs.instanceId,
    version: VERSION,
    now: () => clock.now(),
    snapshot: async () => {
      const config = supervisor.config;
      const names = new Set(config.entries.map((e) => e.name));
      const entries = [...config.entries, ...inputs.catalog.entries().filter((e) => !names.has(e.name))];
      // The pause notes and notes hashes hold a field only for the entries given one: small.
      const [states, paused, pauseNotes, notes, leader, failing] = await Promise.all([
        inputs.states.readAll(),
        inputs.control.paused(),
        inputs.control.pauseNotes(),
        inputs.control.notes(),
        inputs.control.leader(),
        inputs.failures?.read(),
      ]);
      const nowMs = clock.now();
      const status = buildStatus({
        ...(failing === undefined ? {} : { failing }),
        pauseNotes,
        notes,
        config: { ...config, entries },
        states,
        paused,
        leader,
        self: { instance: inputs.instanceId, role: supervisor.leading ? 'leader' : 'standby' },
        nowMs,
      });
      const invalid = inputs.catalog.problems().map((p) => ({
        name: p.name,
        origin: p.origin,
        problems: p.problems.map(({ path, message }) => ({ path, message })),
      }));
      return {
        config,
        entries,
        invalid,
        status: new Map(status.entries.map((e) => [e.name, e as StatusEntry])),
        nowMs,
      };
    },
    deployment: async () => {
      const nowMs = clock.now();
      const [leader, ttl, replicas] = await Promise.all([
        inputs.control.leader(),
        inputs.lockClient.pttl(inputs.lockKey),
        inputs.replicas.read(nowMs),
      ]);
      return {
        deployment: supervisor.config.name,
        role: supervisor.leading ? 'leader' : 'standby',
        leader: leader ? { instance: leader.instance, since: new Date(leader.sinceMs).toISOString() } : null,
        lockExpiresInMs: ttl >= 0 ? ttl : null,
        replicas: replicaStatuses(replicas, leader, nowMs),
        redis: `Redis ${inputs.redis.status}`,
        broker: inputs.publishing.status,
        warnings: warningsOf(inputs.watch.current),
        nowMs,
      };
    },
    control: inputs.control,
    runs: async (entries, limit) => (followsOutcomes(supervisor.config) ? inputs.runs.recent(entries, limit) : undefined),
    finished: async (entries) => (followsOutcomes(supervisor.config) ? inputs.runs.finished(entries) : undefined),
    failureStreaks: async () => (followsOutcomes(supervisor.config) ? inputs.runs.failureStreaks() : undefined),
    lastStates: async () => (followsOutcomes(supervisor.config) ? inputs.runs.lastStates() : undefined),
    written: async (name, origin) => (origin === 'redbeat' ? ((await inputs.redbeat?.written(name)) ?? null) : null),
    missed: (entries) => inputs.missed.recent(entries),
    messageEnv: inputs.messageEnv,
    apiToken: inputs.apiToken ?? envToken,
    ...(inputs.writeTokenName === undefined ? {} : { writeTokenName: inputs.writeTokenName }),
    ...(inputs.entriesApi === undefined ? {} : { entriesApi: inputs.entriesApi }),
  };
}

/** The dashboard's create, edit and delete of runtime entries, answered as the entries API answers them. */
export function dashboardEntriesApi(entries: EntriesHandlers, store: RedisEntryStore): EntriesApi {
  const answer = async (call: () => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> => {
    try {
      return await call();
    } catch (error) {
      const refused = errorAnswer(error);
      if (refused === undefined) throw error;
      return refused;
    }
  };
  return {
    stored: async (name) => (await store.get(name))?.entry,
    put: (name, body, by) =>
      answer(async () => {
        const { created, entry } = await entries.put(name, body, by?.who ?? 'dashboard', undefined, by?.note);
        return { status: created ? 201 : 200, body: entry };
      }),
    remove: (name, by) =>
      answer(async () => {
        if (!(await entries.remove(name, false, by?.who ?? 'dashboard', undefined, by?.note)))
          return { status: 404, body: { error: `no runtime entry ${JSON.stringify(name)}`, code: 'UNKNOWN_ENTRY', problems: [] } };
        return { status: 204, body: null };
      }),
    ...(entries.backfill === undefined
      ? {}
      : {
          backfill: (name, body, by) =>
            answer(() => entries.backfill?.(name, body, by?.who ?? 'dashboard', by?.note) ?? Promise.reject(new Error('no backfills'))),
        }),
  };
}
