/**
 * Who may do what: grants, each a role on a scope, and the one decision every door's verb asks of them.
 *
 * A grant is `ROLE` (the whole deployment) or `ROLE@SCOPE`; a caller holds one or more, written
 * `editor@team=billing;viewer`. The roles nest (viewer < operator < editor < admin), as Kubernetes'
 * aggregated ClusterRoles and Temporal's namespace roles do, so one grant of a higher role covers the
 * lower verbs in its scope. A scope is an owner (`owner=billing`: the entries `beat apply --owner
 * billing` made) or a label selector in the syntax `-l` takes (`team=billing,tier!=critical`); a
 * selector of exactly one `owner=NAME` requirement is the owner scope (select on a label called
 * `owner` with `owner in (NAME)`).
 *
 * Pure: the entries an action touches are given, before and after the change, and the answer is the
 * grant that allows it or the refusal naming the grant that is missing.
 */
import type { LabelSelector } from './label-selector.js';
import { parseSelector, selectorProblemText, selects } from './label-selector.js';
import type { Labels } from './labels.js';

export const ROLES = ['viewer', 'operator', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a verb needs: reading, operating (pause, resume, trigger, backfill), editing (put, delete, apply), administering (the stop, settings). */
export type Action = 'read' | 'operate' | 'edit' | 'administer';

const ROLE_FOR: Readonly<Record<Action, Role>> = { read: 'viewer', operate: 'operator', edit: 'editor', administer: 'admin' };

export type GrantScope =
  | { readonly kind: 'deployment' }
  | { readonly kind: 'owner'; readonly owner: string }
  | { readonly kind: 'labels'; readonly selector: LabelSelector };

export interface Grant {
  readonly role: Role;
  readonly scope: GrantScope;
  /** As written (`editor@team=billing`), for refusals and the audit event's `grant`. */
  readonly text: string;
}

/** What a scope is checked against: an entry's owner and labels (undefined: it has none). */
export interface ScopedEntry {
  readonly name: string;
  readonly owner?: string | undefined;
  readonly labels?: Labels | undefined;
}

export type GrantsParse = { readonly ok: true; readonly grants: readonly Grant[] } | { readonly ok: false; readonly problem: string };

/** The grants every caller had before roles: a write token is `admin`, a read token `viewer`. */
export const ADMIN: readonly Grant[] = [{ role: 'admin', scope: { kind: 'deployment' }, text: 'admin' }];
export const VIEWER: readonly Grant[] = [{ role: 'viewer', scope: { kind: 'deployment' }, text: 'viewer' }];

/** Reads `ROLE[@SCOPE];…`; a problem names the grant, what is wrong and the fix. */
export function parseGrants(text: string): GrantsParse {
  const parts = text.split(';').map((p) => p.trim());
  if (parts.some((p) => p === '')) return { ok: false, problem: `"${text}": an empty grant; write ROLE or ROLE@SCOPE, separated by ";"` };
  const grants: Grant[] = [];
  for (const part of parts) {
    const at = part.indexOf('@');
    const role = at === -1 ? part : part.slice(0, at);
    if (!(ROLES as readonly string[]).includes(role)) {
      return { ok: false, problem: `"${part}": unknown role "${role}"; the roles are ${ROLES.join(', ')}` };
    }
    if (at === -1) {
      grants.push({ role: role as Role, scope: { kind: 'deployment' }, text: part });
      continue;
    }
    const scopeText = part.slice(at + 1);
    const parsed = parseSelector(scopeText);
    if (!parsed.ok) {
      return {
        ok: false,
        problem: `"${part}": the scope "${scopeText}" does not parse ${selectorProblemText(parsed.problem)}; write owner=NAME or a label selector such as team=billing`,
      };
    }
    if (parsed.selector.requirements.length === 0) {
      return {
        ok: false,
        problem: `"${part}": an empty scope; write ${role} alone for the whole deployment, or ${role}@owner=NAME, ${role}@team=billing`,
      };
    }
    grants.push({ role: role as Role, scope: scopeOf(parsed.selector), text: part });
  }
  return { ok: true, grants };
}

function scopeOf(selector: LabelSelector): GrantScope {
  const [only, ...rest] = selector.requirements;
  if (
    only !== undefined &&
    rest.length === 0 &&
    only.key === 'owner' &&
    only.operator === 'in' &&
    only.values.length === 1 &&
    /^owner\s*==?/.test(selector.text)
  ) {
    return { kind: 'owner', owner: only.values[0] as string };
  }
  return { kind: 'labels', selector };
}

function covers(scope: GrantScope, entry: ScopedEntry): boolean {
  switch (scope.kind) {
    case 'deployment':
      return true;
    case 'owner':
      return entry.owner === scope.owner;
    case 'labels':
      return selects(scope.selector, entry.labels);
  }
}

function allows(grant: Grant, action: Action): boolean {
  return ROLES.indexOf(grant.role) >= ROLES.indexOf(ROLE_FOR[action]);
}

/** The first grant that allows `action` on `entry`, if any. */
export function grantFor(grants: readonly Grant[], action: Action, entry: ScopedEntry): Grant | undefined {
  return grants.find((g) => allows(g, action) && covers(g.scope, entry));
}

/** The grant that allows `action` on the whole deployment (the stop, settings), if any. */
export function deploymentGrant(grants: readonly Grant[], action: Action): Grant | undefined {
  return grants.find((g) => allows(g, action) && g.scope.kind === 'deployment');
}

export type Decision = { readonly allowed: true; readonly grant: Grant } | { readonly allowed: false; readonly refusal: string };

/**
 * May `action` touch every one of `entries`? An entry a change moves (a put that changes its labels or
 * owner) is given twice, as it is and as it would be: both must be in scope, so that no one writes an
 * entry into or out of another team's reach. All or nothing: one entry outside refuses the whole action.
 */
export function decide(grants: readonly Grant[], action: Action, entries: readonly ScopedEntry[]): Decision {
  let used: Grant | undefined;
  for (const entry of entries) {
    const grant = grantFor(grants, action, entry);
    if (grant === undefined) return { allowed: false, refusal: missing(grants, action, entry) };
    used ??= grant;
  }
  if (used !== undefined) return { allowed: true, grant: used };
  // Nothing to touch: allowed to whoever may do the action somewhere (a list that comes back empty).
  const any = grants.find((g) => allows(g, action));
  return any === undefined
    ? { allowed: false, refusal: `needs the role ${ROLE_FOR[action]} (the caller's grants: ${grantsText(grants)})` }
    : { allowed: true, grant: any };
}

/** May `action` be done on the deployment as a whole? Only a grant without a scope allows it. */
export function decideDeployment(grants: readonly Grant[], action: Action): Decision {
  const grant = deploymentGrant(grants, action);
  if (grant !== undefined) return { allowed: true, grant };
  return {
    allowed: false,
    refusal: `needs the grant ${ROLE_FOR[action]} on the whole deployment (the caller's grants: ${grantsText(grants)})`,
  };
}

/**
 * The refusal for `entry`: its owner and labels only when the caller may read it (a scoped caller
 * learns nothing of another team's entry from a refusal; the doors answer such an entry as absent
 * before deciding, so this names only entries the caller gave or may read).
 */
/**
 * May `action` be done as owner `owner` (an apply's or a plan's owner, a put that sets an entry's
 * `owner`)? Only a grant on `owner=OWNER` or on the whole deployment allows it: a label-scoped
 * editor whose entries carry its labels could otherwise make entries another owner's apply then
 * holds (and prunes, or keeps out of its way).
 */
export function decideOwner(grants: readonly Grant[], action: Action, owner: string): Decision {
  const grant = grants.find(
    (g) => allows(g, action) && (g.scope.kind === 'deployment' || (g.scope.kind === 'owner' && g.scope.owner === owner)),
  );
  if (grant !== undefined) return { allowed: true, grant };
  return {
    allowed: false,
    refusal: `writing as owner ${owner} needs the role ${ROLE_FOR[action]} on owner=${owner} or on the whole deployment (the caller's grants: ${grantsText(grants)})`,
  };
}

function missing(grants: readonly Grant[], action: Action, entry: ScopedEntry): string {
  if (grantFor(grants, 'read', entry) === undefined)
    return `entry "${entry.name}" needs the role ${ROLE_FOR[action]} on a scope that holds it (the caller's grants: ${grantsText(grants)})`;
  const where = [
    entry.owner === undefined ? 'no owner' : `owner ${entry.owner}`,
    entry.labels === undefined || Object.keys(entry.labels).length === 0
      ? 'no labels'
      : `labels ${Object.entries(entry.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`,
  ];
  return `entry "${entry.name}" (${where.join(', ')}) needs the role ${ROLE_FOR[action]} on a scope that holds it (the caller's grants: ${grantsText(grants)})`;
}

/** `editor@team=billing;viewer`, as the tokens file writes it. */
export function grantsText(grants: readonly Grant[]): string {
  return grants.length === 0 ? 'none' : grants.map((g) => g.text).join(';');
}
