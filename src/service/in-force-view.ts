/**
 * What the process's parts made before the leader's runtime (entry sources, alerts) ask of it once
 * the service runs: the config in force (a reload changes it), whether this replica leads, the
 * stored states and the runs followed. The supervisor, state store and outcome tracker are made
 * after those parts, since they need the events the parts raise; this view is bound to them once
 * they exist (late.ts, deployment-runtime.ts).
 */
import type { Logger } from '../base/log.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { configEntryNamed } from '../config/resolve.js';
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
  /** True while this replica leads (a session runs). */
  leading(): boolean;
  /** The stored states of the entries. */
  readonly states: StatesReader;
  /** The runs followed and not finished yet; none without a resultBackend or taskEvents. */
  unfinished(): readonly UnfinishedRun[];
}

/** What the deployment's runtime binds the view to. */
export interface InForceBinding {
  readonly supervisor: Pick<Supervisor, 'config' | 'leading'>;
  readonly states: StatesReader;
  readonly unfinished: () => readonly UnfinishedRun[];
}

export interface LateInForce {
  readonly view: InForce;
  bind(binding: InForceBinding): void;
}

export function lateInForce(): LateInForce {
  const bound = late<InForceBinding>('the runtime (the config in force, leading, the states, the runs followed)');
  return {
    view: {
      config: () => bound.get().supervisor.config,
      leading: () => bound.get().supervisor.leading,
      states: { readAll: () => bound.get().states.readAll() },
      unfinished: () => bound.get().unfinished(),
    },
    bind: (binding) => bound.set(binding),
  };
}

/** The entry in force of this name: the config file's, else a runtime one. */
export function entryNamedIn(inForce: InForce, catalog: Pick<EntryCatalog, 'find'>): (name: string) => ResolvedEntry | undefined {
  return (name) => configEntryNamed(inForce.config(), name) ?? catalog.find(name);
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
