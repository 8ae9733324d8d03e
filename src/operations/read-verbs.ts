/**
 * The reading verbs every door shares: the views of named entries (the dashboard's rows, the API's
 * entry), an entry's run history and the audit trail, as `beat history` and `beat audit` read them.
 * Reads write nothing, so they take no operator.
 */
import type { AuditEvent } from '../control/audit-events.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { statusParts } from '../control/status-parts.js';
import { buildStatus } from '../control/status.js';
import type { StatusInput } from '../control/status.js';
import { keepsRunHistory } from '../config/outcome-sources.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisEntryFailures } from '../redis/failing-entries-store.js';
import type { RedisStateStore } from '../redis/state-store.js';
import type { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import { runView } from '../control/run-view.js';
import type { RunView } from '../control/run-view.js';
import type { AuditLog } from '../redis/audit-log.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';

/** What the views of named entries read: each entry's state, the control keys, the leader's findings, the run histories. */
export interface EntryViewReads {
  readonly states: Pick<RedisStateStore, 'readSome'>;
  readonly control: Pick<ControlStore, 'paused' | 'pauseNotes' | 'notes' | 'leader'>;
  readonly failures?: Pick<RedisEntryFailures, 'read'> | undefined;
  readonly unconsumed?: Pick<RedisUnconsumedQueues, 'read'> | undefined;
  /** Read only when the config keeps run histories (a resultBackend, or task events). */
  readonly runs?: Pick<RedisRunHistory, 'latest' | 'finished'> | undefined;
}

/**
 * The views of `entries` (entries of `config` in force), as `/status` shows them, read for those
 * entries alone: a page of the dashboard's list, one entry of the API. Each part read on its own:
 * a key something else wrote costs its part (the view shows it empty; `/status` names the key).
 */
export async function entryViews(
  reads: EntryViewReads,
  target: {
    readonly config: ResolvedConfig;
    readonly entries: readonly ResolvedEntry[];
    readonly self: StatusInput['self'];
    readonly nowMs: number;
    readonly nextSlots?: StatusInput['nextSlots'] | undefined;
  },
): Promise<Map<string, EntryView>> {
  const { config, entries } = target;
  if (entries.length === 0) return new Map();
  const names = entries.map((e) => e.name);
  const part = statusParts([]);
  const outcomes = keepsRunHistory(config) ? reads.runs : undefined;
  // The pause notes and notes hashes hold a field only for the entries given one: small.
  const [states, paused, pauseNotes, notes, leader, failing, unconsumed, latest, finished] = await Promise.all([
    part(reads.states.readSome(names), new Map()),
    part(reads.control.paused(), new Set<string>()),
    part(reads.control.pauseNotes(), new Map()),
    part(reads.control.notes(), new Map()),
    part(reads.control.leader(), undefined),
    part(reads.failures?.read(), undefined),
    part(reads.unconsumed?.read(), undefined),
    part(outcomes?.latest(names), undefined),
    part(outcomes?.finished(names), undefined),
  ]);
  const status = buildStatus({
    ...(failing === undefined ? {} : { failing }),
    ...(unconsumed === undefined ? {} : { unconsumed }),
    ...(latest === undefined ? {} : { outcomes: latest }),
    ...(finished === undefined ? {} : { finished }),
    ...(target.nextSlots === undefined ? {} : { nextSlots: target.nextSlots }),
    pauseNotes,
    notes,
    config: { ...config, entries },
    states,
    paused,
    leader,
    self: target.self,
    nowMs: target.nowMs,
  });
  return new Map(status.entries.map((e) => [e.name, e]));
}

/** An entry's last runs, newest first, at most `limit`, their times in `zone` (none when the deployment keeps no outcomes). */
export async function entryHistory(runs: Pick<RedisRunHistory, 'list'>, entry: string, limit: number, zone: string): Promise<RunView[]> {
  return (await runs.list(entry, limit)).map((r) => runView(r, zone));
}

/** Up to `limit` audit events older than `before`, newest first, of one entry or all. */
export function auditTrail(log: Pick<AuditLog, 'read'>, query: { entry?: string; limit: number; before?: string }): Promise<AuditEvent[]> {
  return log.read(query);
}
