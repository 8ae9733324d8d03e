/**
 * Who asks for an operation, and why. Every operator verb (src/operations/) takes one and hands it to
 * the store's write as the audit event's `who`, `grant` and `note`: the one place where a door's
 * caller (a token's name, a dashboard session's, the CLI's or the client's `user@host`) becomes the
 * record. Each verb also asks here whether the caller's grants allow it, before it writes anything:
 * every door (the CLI, /api, the dashboard, the client) inherits the same decision.
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { decide, decideDeployment, decideOwner, grantFor } from '../core/grants.js';
import type { Action, Grant, ScopedEntry } from '../core/grants.js';
import { storedLabels } from '../core/labels.js';
import { ownerOf } from '../control/entry-plan.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { AuditContext } from '../redis/audit-log.js';

export interface Operator {
  /** A token's name, `dashboard:<token name>`, or `user@host` (redis/audit-log.ts localActor()). */
  readonly who: string;
  /** Why, in one line (base/note-text.ts): each door checks it where it reads it. */
  readonly note?: string | undefined;
  /**
   * What the caller may do (core/grants.ts): a token's grants from the tokens file, a signed-in
   * person's from the config's claim mapping. Undefined for the CLI, which writes to Redis with the
   * machine's own credentials and so holds every role.
   */
  readonly grants?: readonly Grant[] | undefined;
}

/** The operator as the stores' audited writes take it, with the grant that allowed the change (their cap and log come from the store's own settings). */
export function auditBy(by: Operator, grant?: Grant): AuditContext {
  return { who: by.who, note: by.note, ...(grant === undefined ? {} : { grant: grant.text }) };
}

/**
 * The grant that allows `action` on every one of `entries` (each as it is, and as a change would
 * leave it), or FORBIDDEN naming the grant that is missing; undefined for a caller without grants
 * (the CLI). Asked before the write: nothing is written when it throws.
 */
export function authorize(by: Operator, action: Action, entries: readonly ScopedEntry[]): Grant | undefined {
  if (by.grants === undefined) return undefined;
  const decision = decide(by.grants, action, entries);
  if (decision.allowed) return decision.grant;
  throw forbidden(by, decision.refusal);
}

/** The grant that allows `action` on the deployment as a whole (the stop), or FORBIDDEN. */
export function authorizeDeployment(by: Operator, action: Action): Grant | undefined {
  if (by.grants === undefined) return undefined;
  const decision = decideDeployment(by.grants, action);
  if (decision.allowed) return decision.grant;
  throw forbidden(by, decision.refusal);
}

/** The grant that allows `action` as owner `owner` (core/grants.ts decideOwner), or FORBIDDEN; undefined for the CLI. */
export function authorizeOwner(by: Operator, action: Action, owner: string): Grant | undefined {
  if (by.grants === undefined) return undefined;
  const decision = decideOwner(by.grants, action, owner);
  if (decision.allowed) return decision.grant;
  throw forbidden(by, decision.refusal);
}

/** FORBIDDEN (403) for `by`, saying `refusal`: nothing was done. */
export function forbidden(by: Operator, refusal: string): BeatError {
  return new BeatError(ErrorCode.Forbidden, `${by.who}: ${refusal}; nothing was done`);
}

/** Whether the caller may read `entry` (a caller without grants reads everything). */
export function mayRead(by: Pick<Operator, 'grants'> | undefined, entry: ScopedEntry): boolean {
  return by?.grants === undefined || grantFor(by.grants, 'read', entry) !== undefined;
}

/** An entry definition's name, owner and labels, as a scope is checked against them. */
export function scopedEntry(name: string, definition: unknown): ScopedEntry {
  return { name, owner: ownerOf(definition), labels: storedLabels(definition) };
}

/** A running entry's name, owner and labels, as a grant's scope is checked against them. */
export function scopeOf(entry: Pick<ResolvedEntry, 'name' | 'owner' | 'labels'>): ScopedEntry {
  return { name: entry.name, owner: entry.owner, labels: entry.labels };
}
