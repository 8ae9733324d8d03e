/**
 * The reading verbs every door shares: the views of named entries (the dashboard's rows, the API's
 * entry), an entry's run history and the audit trail, as `beat history` and `beat audit` read them.
 * The counts of the concurrency groups, as `beat status` and the dashboard's overview show them.
 * Reads write nothing; they take the operator's grants only to show what those may read.
 */
import { DEFAULTS } from '../base/defaults.js';
import type { ScopedEntry } from '../core/grants.js';
import { decideDeployment } from '../core/grants.js';
import { mayRead } from './operator.js';
import type { Operator } from './operator.js';
import type { AuditEvent } from '../control/audit-events.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { statusParts } from '../control/status-parts.js';
import { buildStatus } from '../control/status.js';
import type { GroupStatus, StatusInput } from '../control/status.js';
import { isFinal } from '../ports/outcomes.js';
import { keepsRunHistory } from '../config/outcome-sources.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisEntryFailures } from '../redis/failing-entries-store.js';
import type { RedisStateStore } from '../redis/state-store.js';
import type { RedisUnconsumedQueues } from '../redis/unconsumed-queues.js';
import { slotViews } from '../control/slot-view.js';
import type { SlotView } from '../control/entry-view-schema.js';
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

/** What a concurrency group's counts read: the waiting zset (by group) and each member entry's kept runs. */
export interface GroupReads {
  readonly control: Pick<ControlStore, 'waitingByGroup'>;
  readonly runs: Pick<RedisRunHistory, 'list'>;
}

/**
 * Each concurrency group of `entries` (config/concurrency.ts), by name: its limit, its entries' runs
 * in flight (published and not final in their histories, as a new leader counts them) and its runs
 * waiting for a place; undefined when no entry has a group. `beat status` and the dashboard's
 * overview both show these. `part`: how a key's fault is taken (see statusParts).
 */
export async function groupStatuses(
  reads: GroupReads,
  entries: readonly ResolvedEntry[],
  part: ReturnType<typeof statusParts> = statusParts([]),
): Promise<GroupStatus[] | undefined> {
  const members = entries.filter((e) => e.concurrency !== undefined);
  if (members.length === 0) return undefined;
  const [waiting, histories] = await Promise.all([
    part(reads.control.waitingByGroup(), new Map<string, number>()),
    Promise.all(members.map((e) => part(reads.runs.list(e.name, DEFAULTS.runHistoryLength), []))),
  ]);
  const groups = new Map<string, GroupStatus>();
  members.forEach((entry, i) => {
    const { group, limit } = entry.concurrency as NonNullable<ResolvedEntry['concurrency']>;
    const running = (histories[i] ?? []).filter((r) => !isFinal(r.state)).length;
    const before = groups.get(group);
    groups.set(group, {
      group,
      limit: Math.min(limit, before?.limit ?? limit),
      running: running + (before?.running ?? 0),
      waiting: waiting.get(group) ?? 0,
      entries: (before?.entries ?? 0) + 1,
    });
  });
  return [...groups.values()].sort((a, b) => a.group.localeCompare(b.group));
}

/**
 * An entry's last slots, newest first, at most `limit`, each with its attempts, their times in `zone`
 * (none when the deployment keeps no outcomes); `maxAttempts`: its retry policy's, when known. The
 * whole history is read: a slot's attempts are grouped from all of it.
 */
export async function entryHistory(
  runs: Pick<RedisRunHistory, 'list'>,
  entry: string,
  limit: number,
  zone: string,
  maxAttempts?: number,
): Promise<SlotView[]> {
  return slotViews(await runs.list(entry, DEFAULTS.runHistoryLength), zone, maxAttempts, limit);
}

/** Events read per page while looking for those a scoped reader (or `who`) keeps. */
const AUDIT_CHUNK = 500;

/**
 * Up to `limit` audit events older than `before`, newest first, of one entry or all, made by `who`
 * or anyone. With `by`'s grants, only the events of entries it may read (`scopeOf`: an entry's
 * owner and labels now; an entry gone is decided as one with neither, so only a reader of the whole
 * deployment sees it): a bulk event when it may read every entry it touched, an apply when its owner
 * is in scope, the deployment-wide stop only for a grant on the whole deployment.
 */
export async function auditTrail(
  log: Pick<AuditLog, 'read'>,
  query: { entry?: string | undefined; who?: string | undefined; limit: number; before?: string | undefined },
  by?: Pick<Operator, 'grants'>,
  scopeOf: (name: string) => ScopedEntry | undefined = () => undefined,
): Promise<AuditEventView[]> {
  const { who, ...asked } = query;
  if (who === undefined && by?.grants === undefined) return (await log.read(asked)).map(auditEventView);
  const keep = (event: AuditEvent): boolean => {
    if (who !== undefined && event.who !== who) return false;
    if (by?.grants === undefined) return true;
    const readable = (name: string) => mayRead(by, scopeOf(name) ?? { name });
    if (event.selector !== undefined) return (event.entries ?? []).every(readable);
    if (event.entry !== '') return readable(event.entry);
    const owner = event.action === 'apply' ? event.changes.find((c) => c.path === 'owner')?.after : undefined;
    if (owner !== undefined) return mayRead(by, { name: '', owner });
    return decideDeployment(by.grants, 'read').allowed;
  };
  const out: AuditEvent[] = [];
  let before = asked.before;
  // Bounded as the log bounds its own search for one entry's events: the whole stream at its default cap.
  for (let scanned = 0; out.length < query.limit && scanned < DEFAULTS.auditMaxEvents * 2;) {
    const page = await log.read({ ...asked, limit: AUDIT_CHUNK, before });
    for (const event of page) {
      if (keep(event)) out.push(event);
      if (out.length >= query.limit) break;
    }
    scanned += page.length;
    const last = page[page.length - 1];
    if (last?.id === undefined || page.length < AUDIT_CHUNK) break;
    before = last.id;
  }
  return out.map(auditEventView);
}

/** The stored event as every reader sees it (GET /api/audit, `beat audit --json`, the dashboard's audit tab, the client). */
export function auditEventView(event: AuditEvent): AuditEventView {
  return {
    id: event.id ?? '',
    at: new Date(event.atMs).toISOString(),
    who: event.who,
    ...(event.grant === undefined ? {} : { grant: event.grant }),
    entry: event.entry,
    action: event.action,
    changes: event.changes,
    ...(event.note === undefined ? {} : { note: event.note }),
    ...(event.taskId === undefined ? {} : { taskId: event.taskId }),
    ...(event.selector === undefined ? {} : { selector: event.selector, entries: event.entries ?? [] }),
  };
}
