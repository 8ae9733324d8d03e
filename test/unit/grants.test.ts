/**
 * Grants (src/core/grants.ts): the tokens file's and SSO's `ROLE[@SCOPE];…`, and the one decision
 * every verb asks of them: each role × scope × action, all-or-nothing over the entries an action
 * touches, and the deployment-wide verbs only for a grant without a scope.
 */
import { describe, expect, it } from 'vitest';
import type { Action, Grant, ScopedEntry } from '../../src/core/grants.js';
import { ADMIN, ROLES, decide, decideDeployment, grantsText, parseGrants } from '../../src/core/grants.js';

function grants(text: string): readonly Grant[] {
  const parsed = parseGrants(text);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.grants;
}

const billing: ScopedEntry = { name: 'invoice', owner: 'billing-ci', labels: { team: 'billing', tier: 'batch' } };
const billingCritical: ScopedEntry = { name: 'ledger', labels: { team: 'billing', tier: 'critical' } };
const ops: ScopedEntry = { name: 'backup', owner: 'ops', labels: { team: 'ops' } };
const bare: ScopedEntry = { name: 'plain' };
const ACTIONS: readonly Action[] = ['read', 'operate', 'edit', 'administer'];

describe('parseGrants', () => {
  it('reads roles alone, on an owner and on a label selector', () => {
    expect(grants('billing-ci:editor@team=billing;viewer'.split(':')[1] as string).map((g) => [g.role, g.scope.kind, g.text])).toEqual([
      ['editor', 'labels', 'editor@team=billing'],
      ['viewer', 'deployment', 'viewer'],
    ]);
    expect(grants('operator@owner=billing')[0]?.scope).toEqual({ kind: 'owner', owner: 'billing' });
    expect(grants('operator@owner in (billing)')[0]?.scope.kind).toBe('labels');
    expect(grants('operator@owner=billing,team=x')[0]?.scope.kind).toBe('labels');
    expect(grants(' admin ; viewer@tier!=critical ').map((g) => g.text)).toEqual(['admin', 'viewer@tier!=critical']);
  });

  it.each([
    ['editr', /unknown role "editr"; the roles are viewer, operator, editor, admin/],
    ['editor@team in billing', /"editor@team in billing": the scope "team in billing" does not parse at character/],
    ['editor@', /an empty scope; write editor alone for the whole deployment/],
    ['viewer;;admin', /an empty grant; write ROLE or ROLE@SCOPE, separated by ";"/],
    ['', /an empty grant/],
    ['Admin', /unknown role "Admin"/],
  ])('refuses %j naming the grant and the fix', (text, message) => {
    const parsed = parseGrants(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(message);
  });
});

describe('decide', () => {
  it('each role allows its own actions and the lower ones, in its scope only', () => {
    const expected: Record<string, readonly Action[]> = {
      viewer: ['read'],
      operator: ['read', 'operate'],
      editor: ['read', 'operate', 'edit'],
      admin: ['read', 'operate', 'edit', 'administer'],
    };
    for (const role of ROLES) {
      for (const scope of ['', '@team=billing', '@owner=billing-ci']) {
        const held = grants(`${role}${scope}`);
        for (const action of ACTIONS) {
          const allowed = expected[role]?.includes(action) ?? false;
          expect(decide(held, action, [billing]).allowed, `${role}${scope} ${action} billing`).toBe(allowed);
          expect(decide(held, action, [ops]).allowed, `${role}${scope} ${action} ops`).toBe(allowed && scope === '');
        }
      }
    }
  });

  it('refuses an action on several entries whole when one is outside, naming it and the grants', () => {
    const held = grants('editor@team=billing,tier!=critical;viewer');
    expect(decide(held, 'edit', [billing]).allowed).toBe(true);
    const refused = decide(held, 'edit', [billing, billingCritical]);
    expect(refused).toEqual({
      allowed: false,
      refusal:
        'entry "ledger" (no owner, labels team=billing,tier=critical) needs the role editor on a scope that holds it (the caller\'s grants: editor@team=billing,tier!=critical;viewer)',
    });
    expect(decide(held, 'read', [billing, billingCritical, ops]).allowed).toBe(true);
  });

  it("a refusal describes an entry's owner and labels only to a caller who may read it", () => {
    const refused = decide(grants('editor@team=billing'), 'edit', [ops]);
    expect(refused.allowed).toBe(false);
    if (refused.allowed) return;
    expect(refused.refusal).toMatch(
      /^entry "\S+" needs the role editor on a scope that holds it \(the caller's grants: editor@team=billing\)$/,
    );
    expect(decide(grants('editor@team=billing;viewer'), 'edit', [ops])).toMatchObject({
      refusal: expect.stringContaining('labels team=ops'),
    });
  });

  it('a change that moves an entry out of the scope is refused: both sides must be in it', () => {
    const held = grants('editor@team=billing');
    const movedOut: ScopedEntry = { ...billing, labels: { team: 'ops' } };
    expect(decide(held, 'edit', [billing, movedOut]).allowed).toBe(false);
    expect(decide(held, 'edit', [movedOut, billing]).allowed).toBe(false);
  });

  it('an owner scope holds only that owner’s entries, not unowned ones', () => {
    expect(decide(grants('editor@owner=billing-ci'), 'edit', [bare]).allowed).toBe(false);
    expect(decide(grants('editor@owner=billing-ci'), 'edit', [billing]).allowed).toBe(true);
  });

  it('names the grant it used, the first that allows', () => {
    const held = grants('viewer;operator@team=billing;admin@owner=billing-ci');
    const decided = decide(held, 'operate', [billing]);
    expect(decided.allowed && decided.grant.text).toBe('operator@team=billing');
  });

  it('nothing to touch is allowed to whoever may do the action somewhere', () => {
    expect(decide(grants('operator@team=billing'), 'operate', []).allowed).toBe(true);
    expect(decide(grants('viewer'), 'operate', [])).toEqual({
      allowed: false,
      refusal: "needs the role operator (the caller's grants: viewer)",
    });
  });
});

describe('decideDeployment', () => {
  it('only a grant without a scope may stop the deployment', () => {
    expect(decideDeployment(ADMIN, 'administer').allowed).toBe(true);
    expect(decideDeployment(grants('admin@team=billing'), 'administer')).toEqual({
      allowed: false,
      refusal: "needs the grant admin on the whole deployment (the caller's grants: admin@team=billing)",
    });
    expect(decideDeployment(grants('editor'), 'administer').allowed).toBe(false);
    expect(grantsText([])).toBe('none');
  });
});
