/**
 * Plan and apply of one owner's runtime entries on the store (control/entry-plan.ts plans): the one
 * path `beat plan` / `beat apply`, POST /api/plan and POST /api/apply (and the client) share. An
 * apply is one write of the store (entries-write.lua: all or nothing), each op guarded by the version
 * the plan read, and one audit event.
 */
import type { RedisClient } from './connect.js';
import { BeatError, ConfigError, ErrorCode, shown } from '../base/errors.js';
import { owned, ownerOf, planEntries } from '../control/entry-plan.js';
import type { EntryPlan, PlannedInput } from '../control/entry-plan.js';
import { AuditLog, auditEvent, logAudit } from './audit-log.js';
import type { AuditContext } from './audit-log.js';
import { canonicalEntryJson } from './entry-record-codec.js';
import type { RedisEntryStore } from './entry-store.js';
import type { EntryWrite } from './entry-writes.js';
import type { SchedulerKeys } from './keys.js';
import { readOwnerEntries } from './owner-entries.js';

type PlanKeys = Pick<SchedulerKeys, 'state' | 'paused' | 'audit'>;

/**
 * The entries of a file or a request, each given the owner: as the plan compares them. One that
 * names another owner is refused (ENTRY_INVALID at `<base>.<name>.owner`): the owner is the caller's to say.
 */
export function ownedInputs(
  entries: readonly { readonly name: string; readonly entry: unknown }[],
  owner: string,
  source: string,
  base: readonly string[] = [],
): PlannedInput[] {
  const foreign = entries.filter((e) => {
    const named = ownerOf(e.entry);
    return named !== undefined && named !== owner;
  });
  if (foreign.length > 0)
    throw new ConfigError(
      source,
      foreign.map((e) => ({
        path: [...base, e.name, 'owner'].join('.'),
        message: `names owner ${shown(ownerOf(e.entry) ?? '')}, not ${shown(owner)}: remove the field (the owner given sets it) or apply as that owner`,
      })),
      ErrorCode.EntryInvalid,
    );
  return entries.map((e) => {
    const entry = owned(e.entry, owner);
    return { name: e.name, entry, json: canonicalEntryJson(entry) };
  });
}

/** Reads what the owner holds (and the file's names) and plans. The inputs are checked already. */
export async function planOwner(
  client: RedisClient,
  keys: PlanKeys,
  store: RedisEntryStore,
  options: {
    owner: string;
    inputs: readonly PlannedInput[];
    zone: string;
    deployment: string;
    nowMs: number;
    horizonMs?: number | undefined;
  },
): Promise<EntryPlan> {
  const { owner, inputs } = options;
  const stored = await readOwnerEntries(client, keys, store, owner, new Set(inputs.map((i) => i.name)));
  return await planEntries({ ...options, stored });
}

export interface ApplyResult {
  readonly plan: EntryPlan;
  /** The store's version after the write. */
  readonly version: number;
}

/**
 * Plans, then writes the plan in one guarded write, all or nothing. Throws OWNER_CONFLICT when
 * another owner or none holds a name of the inputs, PLAN_STALE when `planDigest` is given and is
 * not this plan's, ENTRY_CONFLICT when an entry changed between this read and the write.
 */
export async function applyOwner(
  client: RedisClient,
  keys: PlanKeys,
  store: RedisEntryStore,
  options: {
    owner: string;
    inputs: readonly PlannedInput[];
    zone: string;
    deployment: string;
    nowMs: number;
    planDigest?: string | undefined;
    audit: AuditContext;
    /** The inputs were checked as the store checks them (the CLI's file check): not checked again. */
    checked: boolean;
    source: string;
  },
): Promise<ApplyResult> {
  const plan = await planOwner(client, keys, store, options);
  if (plan.counts.conflict > 0) throw new BeatError(ErrorCode.OwnerConflict, `${conflictSentence(plan)}; nothing written`);
  if (options.planDigest !== undefined && options.planDigest !== plan.digest)
    throw new BeatError(
      ErrorCode.PlanStale,
      `the store or the entries changed since the plan (its digest was ${options.planDigest}, now ${plan.digest}); nothing written: plan again and review it`,
    );
  const inputs = new Map(options.inputs.map((i) => [i.name, i]));
  const writes: EntryWrite[] = [];
  for (const item of plan.entries) {
    const input = inputs.get(item.name);
    if ((item.action === 'add' || item.action === 'change') && input !== undefined)
      writes.push({ op: 'put', name: item.name, entry: input.entry, json: input.json, ifVersion: item.version });
    else if (item.action === 'remove') writes.push({ op: 'delete', name: item.name, ifVersion: item.version });
  }
  let version = await store.version();
  if (writes.length > 0) {
    // One write, so one script call: all or nothing. Audited once below, not entry by entry.
    const prepared = store.prepare(writes, {
      nowMs: options.nowMs,
      source: options.source,
      audit: options.audit,
      unaudited: writes.length,
      checked: options.checked,
    });
    version = (await store.apply(prepared)).version;
  }
  const { add, change, remove, unchanged } = plan.counts;
  const event = auditEvent(options.audit, options.nowMs, '', 'apply', [
    { path: 'owner', after: options.owner },
    { path: 'digest', after: plan.digest },
    { path: 'added', after: String(add) },
    { path: 'changed', after: String(change) },
    { path: 'removed', after: String(remove) },
    { path: 'unchanged', after: String(unchanged) },
  ]);
  await new AuditLog(client, keys, options.audit.maxEvents).record([event]);
  logAudit(options.audit.logger, [event]);
  return { plan, version };
}

/** The conflicts of a plan in a sentence: up to ten names with their holders, and the fix. */
export function conflictSentence(plan: EntryPlan): string {
  const held = plan.entries.filter((e) => e.action === 'conflict');
  const named = held
    .slice(0, 10)
    .map((e) => `${shown(e.name)} (${e.heldBy === null || e.heldBy === undefined ? 'no owner' : `owner ${e.heldBy}`})`)
    .join(', ');
  const more = held.length > 10 ? ` and ${held.length - 10} more` : '';
  return `${held.length} entr${held.length === 1 ? 'y' : 'ies'} of the file ${held.length === 1 ? 'is' : 'are'} held by another owner or by none: ${named}${more}; rename them in the file, or delete or hand them over first`;
}
