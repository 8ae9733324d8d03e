/**
 * What the process's parts made before the partition's runtime (entry sources, alerts) ask of it
 * once the service runs: the config in force (a reload changes it), whether this replica leads, the
 * stored states and the runs followed. The partition's supervisor, state store and outcome tracker
 * are made after those parts, since they need the events the parts raise; this view is bound to
 * them once they exist (late.ts). With one partition (partition-runtime.ts) it reads that partition;
 * with several, the config in force and `leading` are partition 0's (the deployment's own duties,
 * such as recording source changes in the audit trail, go to its leader), the states and runs are
 * every partition's together.
 */
import type { Logger } from '../base/log.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { RunRecord } from '../ports/outcomes.js';
import type { EntryState } from '../ports/state.js';
import type { EntryCatalog } from '../runtime/entry-catalog.js';
import { late } from './late.js';
import type { Supervisor } from './supervisor.js';

/** The stored states of the entries (RedisStateStore.readAll). */
export interface StatesReader {
  readAll(): Promise<Map<string, EntryState>>;
}

/** A run followed and not finished yet, as the outcome tracker lists it. */
export interface UnfinishedRun {
  readonly entry: string;
  readonly record: RunRecord;
}

export interface InForce {
  /** The config in force (the last one reloaded). */
  config(): ResolvedConfig;
  /** True while this replica leads (a session runs) partition 0, the one of the deployment's own duties. */
  leading(): boolean;
  /** True while this replica leads partition `partition`. */
  leads(partition: number): boolean;
  /** The stored states of the entries. */
  readonly states: StatesReader;
  /** The runs followed and not finished yet; none without a resultBackend or taskEvents. */
  unfinished(): readonly UnfinishedRun[];
}

/** What a partition's runtime binds the view to. */
export interface InForceBinding {
  readonly supervisor: Pick<Supervisor, 'config' | 'leading'>;
  readonly states: StatesReader;
  readonly unfinished: () => readonly UnfinishedRun[];
}

export interface LateInForce {
  readonly view: InForce;
  bind(partition: number, binding: InForceBinding): void;
}

export function lateInForce(): LateInForce {
  const first = late<InForceBinding>('the partition (the config in force, leading, the states, the runs followed)');
  const bound: InForceBinding[] = [];
  return {
    view: {
      config: () => first.get().supervisor.config,
      leading: () => first.get().supervisor.leading,
      leads: (partition) => bound[partition]?.supervisor.leading ?? false,
      states: {
        readAll: async () => {
          if (bound.length <= 1) return first.get().states.readAll();
          const all = new Map<string, EntryState>();
          for (const states of await Promise.all(bound.map((b) => b.states.readAll()))) for (const [k, v] of states) all.set(k, v);
          return all;
        },
      },
      unfinished: () => (bound.length <= 1 ? first.get().unfinished() : bound.flatMap((b) => b.unfinished())),
    },
    bind: (partition, binding) => {
      bound[partition] = binding;
      if (partition === 0) first.set(binding);
    },
  };
}

/** The entry in force of this name: the config file's, else a runtime one. */
export function entryNamedIn(inForce: InForce, catalog: Pick<EntryCatalog, 'find'>): (name: string) => ResolvedEntry | undefined {
  return (name) => inForce.config().entries.find((e) => e.name === name) ?? catalog.find(name);
}

/** The audit trail's cap as the config now says (a reload may change it), and beat run's log for its `beat.audit` lines. */
export interface AuditSettings {
  readonly maxEvents: number | undefined;
  readonly logger: Logger;
}

export function auditSettingsOf(inForce: InForce, logger: Logger): AuditSettings {
  return {
    get maxEvents(): number | undefined {
      return inForce.config().auditMaxEvents;
    },
    logger,
  };
}
