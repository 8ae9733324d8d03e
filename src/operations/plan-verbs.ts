/**
 * Plan and apply of an owner's entries (`beat plan --owner`, `beat apply`, the client's plan and
 * apply): what an apply would do, and the apply itself in one atomic write of the store's script
 * with its one audit event under the caller, never touching another owner's entry or one with none
 * (redis/owner-apply.ts), nor one outside the caller's grants.
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { deploymentGrant } from '../core/grants.js';
import type { ScopedEntry } from '../core/grants.js';
import type { AuditContext } from '../redis/audit-log.js';
import type { RedisClient } from '../redis/connect.js';
import type { RedisEntryStore } from '../redis/entry-store.js';
import { applyOwner, planOwner } from '../redis/owner-apply.js';
import type { ApplyResult } from '../redis/owner-apply.js';
import type { EntryPlan } from '../control/entry-plan.js';
import { auditBy, authorize, authorizeOwner, scopedEntry } from './operator.js';
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

/**
 * What applying `request.inputs` for `request.owner` would do, entry by entry, with the digest an
 * apply may be held to. A caller with grants is decided as its apply would be (FORBIDDEN, nothing
 * shown: the owner needs an editor grant on it or on the deployment, then each entry its own): a plan shows the stored fields of the entries it would change or remove, which only who
 * may change them sees.
 */
export async function planEntries(stores: PlanStores, by: Operator, request: PlanRequest): Promise<EntryPlan> {
  const scoped = by.grants !== undefined && deploymentGrant(by.grants, 'edit') === undefined;
  if (scoped) authorizeOwner(by, 'edit', request.owner);
  const plan = await planOwner(stores.client, stores.keys, stores.store, request);
  if (scoped) authorize(by, 'edit', await planScope(stores, plan, request.inputs));
  return plan;
}

/**
 * The entries a plan's apply is decided on: every one it adds, changes or removes, as stored and as
 * the inputs make it, and the names it claims that another owner (or none) holds.
 */
async function planScope(stores: PlanStores, plan: EntryPlan, inputs: PlanRequest['inputs']): Promise<ScopedEntry[]> {
  const byName = new Map(inputs.map((i) => [i.name, i]));
  const touched = plan.entries.filter((item) => item.action === 'add' || item.action === 'change' || item.action === 'remove');
  const before = await Promise.all(touched.filter((item) => item.action !== 'add').map(async (item) => stores.store.get(item.name)));
  return [
    ...before.flatMap((stored) => (stored === undefined ? [] : [scopedEntry(stored.name, stored.entry)])),
    ...touched.flatMap((item) => {
      const input = byName.get(item.name);
      return item.action === 'remove' || input === undefined ? [] : [scopedEntry(item.name, input.entry)];
    }),
    // The owner's entries the inputs name, even unchanged: a plan naming an entry is a claim on it.
    ...plan.entries.filter((item) => item.action === 'conflict').map((item) => ({ name: item.name, owner: item.heldBy ?? undefined })),
  ];
}

/**
 * Makes the owner's entries be the inputs, all at once; OWNER_CONFLICT or PLAN_STALE writes nothing.
 * A caller with grants needs an editor grant on the owner (owner=OWNER) or on the whole deployment,
 * and is decided on every entry the plan adds, changes or removes, as stored and as
 * the inputs make it (FORBIDDEN: nothing written); the apply is then held to that plan's digest, so
 * that what is written is what was decided on (a write meanwhile makes it PLAN_STALE).
 */
export async function applyEntries(stores: PlanStores, by: Operator, request: ApplyRequest): Promise<ApplyResult> {
  // The CLI (every role), or a grant on the whole deployment: every entry is in scope.
  const wide = by.grants === undefined ? undefined : deploymentGrant(by.grants, 'edit');
  if (by.grants === undefined || wide !== undefined)
    return applyOwner(stores.client, stores.keys, stores.store, { ...request, audit: { ...stores.auditSettings, ...auditBy(by, wide) } });
  // The owner first: only its own editor (or the deployment's) writes as it, whatever the entries' labels.
  authorizeOwner(by, 'edit', request.owner);
  const plan = await planOwner(stores.client, stores.keys, stores.store, request);
  if (request.planDigest !== undefined && request.planDigest !== plan.digest)
    throw new BeatError(
      ErrorCode.PlanStale,
      `the store or the entries changed since the plan (its digest was ${request.planDigest}, now ${plan.digest}); nothing written: plan again and review it`,
    );
  const grant = authorize(by, 'edit', await planScope(stores, plan, request.inputs));
  return applyOwner(stores.client, stores.keys, stores.store, {
    ...request,
    planDigest: plan.digest,
    audit: { ...stores.auditSettings, ...auditBy(by, grant) },
  });
}
