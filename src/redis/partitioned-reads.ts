/**
 * What the commands, /status and the dashboard read of every entry (stored states, run histories,
 * failing entries, reports of slots that never ran), of a deployment of several partitions: each entry's from its partition's keys, the
 * whole from every partition's together. With one partition, the stores themselves.
 */
import type { Redis } from 'ioredis';
import { partitionOf } from '../core/partition.js';
import type { FinishedRuns, RunRecord } from '../ports/outcomes.js';
import type { EntryState } from '../ports/state.js';
import type { EntryFailure } from '../ports/events.js';
import { silentLogger } from '../base/log.js';
import { RedisEntryFailures } from './entry-failures.js';
import { partitionKeys } from './keys.js';
import { RedisMissedSlots } from './missed-slots-store.js';
import type { MissedReport } from './missed-slots-store.js';
import { RedisRunHistory } from './run-history-store.js';
import { RedisStateStore } from './state-store.js';

export interface Deployment {
  readonly prefix: string;
  readonly name: string;
  readonly partitions: number;
}

export type StatesRead = Pick<RedisStateStore, 'readAll' | 'readSome'>;
export type RunsRead = Pick<RedisRunHistory, 'latest' | 'finished' | 'list' | 'recent' | 'failureStreaks' | 'lastStates'>;
export type FailuresRead = Pick<RedisEntryFailures, 'read' | 'some'>;
export type MissedRead = Pick<RedisMissedSlots, 'recent'>;

export interface PartitionedReads {
  readonly states: StatesRead;
  readonly runs: RunsRead;
  readonly failures: FailuresRead;
  readonly missed: MissedRead;
}

/** The reads of every partition of `deployment`, each entry's routed to its partition. */
export function partitionedReads(client: Redis, deployment: Deployment): PartitionedReads {
  const { prefix, name, partitions } = deployment;
  const keys = Array.from({ length: partitions }, (_, p) => partitionKeys(prefix, name, p, partitions));
  const states = keys.map((k) => new RedisStateStore(client, k));
  const runs = keys.map((k) => new RedisRunHistory(client, k));
  const failures = keys.map((k) => new RedisEntryFailures(client, k));
  // Read only: the logger is for a write that fails, and nothing writes through these.
  const missed = keys.map((k) => new RedisMissedSlots(client, k, silentLogger));
  const at = <T>(list: readonly T[], entry: string): T => list[partitionOf(entry, partitions)] as T;
  /** Asks each partition about its own names only, and puts the answers together. */
  const byNames = async <V>(names: readonly string[], ask: (p: number, mine: string[]) => Promise<Map<string, V>>) => {
    const split = new Map<number, string[]>();
    for (const entry of names) {
      const p = partitionOf(entry, partitions);
      split.set(p, [...(split.get(p) ?? []), entry]);
    }
    const answers = await Promise.all([...split].map(([p, mine]) => ask(p, mine)));
    return new Map<string, V>(answers.flatMap((m) => [...m]));
  };
  const merged = async <V>(reads: readonly Promise<Map<string, V>>[]): Promise<Map<string, V>> =>
    new Map<string, V>((await Promise.all(reads)).flatMap((m) => [...m]));
  return {
    states: {
      readAll: (): Promise<Map<string, EntryState>> => merged(states.map((s) => s.readAll())),
      readSome: (names) => byNames(names, (p, mine) => (states[p] as RedisStateStore).readSome(mine)),
    },
    runs: {
      latest: (names): Promise<Map<string, RunRecord>> => byNames(names, (p, mine) => (runs[p] as RedisRunHistory).latest(mine)),
      finished: (names): Promise<Map<string, FinishedRuns>> => byNames(names, (p, mine) => (runs[p] as RedisRunHistory).finished(mine)),
      list: (entry, limit) => at(runs, entry).list(entry, limit),
      recent: (names, limit): Promise<Map<string, RunRecord[]>> =>
        byNames(names, (p, mine) => (runs[p] as RedisRunHistory).recent(mine, limit)),
      failureStreaks: () => merged(runs.map((r) => r.failureStreaks())),
      lastStates: () => merged(runs.map((r) => r.lastStates())),
    },
    failures: {
      read: (): Promise<Map<string, EntryFailure>> => merged(failures.map((f) => f.read())),
      some: (names) => byNames(names, (p, mine) => (failures[p] as RedisEntryFailures).some(mine)),
    },
    missed: {
      recent: (names): Promise<Map<string, MissedReport[]>> => byNames(names, (p, mine) => (missed[p] as RedisMissedSlots).recent(mine)),
    },
  };
}
