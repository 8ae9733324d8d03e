/**
 * Plan and apply of an owner's entries (`beat plan --owner`, `beat apply`, the client's plan and
 * apply): what an apply would do, and the apply itself in one atomic write of the store's script
 * with its one audit event under the caller, never touching another owner's entry or one with none
 * (redis/owner-apply.ts).
 */
import type { AuditContext } from '../redis/audit-log.js';
import type { RedisClient } from '../redis/connect.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import { applyOwner, planOwner } from '../redis/owner-apply.js';
import type { ApplyResult } from '../redis/owner-apply.js';
import type { EntryPlan } from '../control/entry-plan.js';
import { auditBy } from './operator.js';
import type { Operator } from './operator.js';

export interface PlanStores {
  readonly client: RedisClient;
  readonly keys: Parameters<typeof planOwner>[1];
  readonly store: RedisEntryStore;
  /** The audit trail's cap and log (beat run's; the CLI's and the client's have no log). */
  readonly auditSettings?: Omit<AuditContext, 'who' | 'note'>;
}

type PlanRequest = Parameters<typeof planOwner>[3];
type ApplyRequest = Omit<Parameters<typeof applyOwner>[3], 'audit'>;

/** What applying `request.inputs` for `request.owner` would do, entry by entry, with the digest an apply may be held to. */
export function planEntries(stores: PlanStores, request: PlanRequest): Promise<EntryPlan> {
  return planOwner(stores.client, stores.keys, stores.store, request);
}

/** Makes the owner's entries be the inputs, all at once; OWNER_CONFLICT or PLAN_STALE writes nothing. */
export function applyEntries(stores: PlanStores, by: Operator, request: ApplyRequest): Promise<ApplyResult> {
  return applyOwner(stores.client, stores.keys, stores.store, { ...request, audit: { ...stores.auditSettings, ...auditBy(by) } });
}
