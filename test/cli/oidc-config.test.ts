/**
 * `auth.oidc` (the dashboard's single sign-on) refused by `beat check` with exit 2, each problem
 * naming its setting, its line and the fix: a missing field, an unknown role, a scope that does not
 * parse, a claim value that maps to nothing, a plain-http issuer off loopback, a redirect URL that
 * is not the dashboard's callback, scopes without openid. A good one passes without contacting the
 * provider (beat run does, at start: test/integration/dashboard-sso.test.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-oidc-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, lines: string[]): string {
  writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  return name;
}

const ENTRY = ['beatSchedule:', '  a: { task: t, schedule: 5 }'];

describe('beat check on auth.oidc', () => {
  it('refuses every bad field at once with exit 2, each named with its line and the fix', async () => {
    const file = writeConfig('bad.yaml', [
      ...ENTRY,
      'auth:',
      '  oidc:',
      '    issuer: http://login.example.com/realms/acme',
      '    redirectUrl: https://beat.example.com/callback',
      '    scopes: [email, groups]',
      '    roles:',
      '      claim: groups',
      '      map:',
      '        billing: operatr@team=billing',
      '        ops: editor@team in ops',
      '        staff: ""',
    ]);
    const r = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      [
        'bad.yaml: 7 problems',
        '  auth.oidc.issuer (line 5): auth.oidc.issuer "http://login.example.com/realms/acme" must be https:// (plain http only on localhost or 127.0.0.1): sign-in codes and tokens cross it',
        '  auth.oidc.clientId (line 5): auth.oidc.clientId is missing: it must be the client id tsbeat is registered under at the provider',
        '  auth.oidc.redirectUrl (line 6): auth.oidc.redirectUrl "https://beat.example.com/callback" must end in /ui/callback (the dashboard\'s callback), with no query: such as "https://beat.example.com/ui/callback"; register the same URL at the provider',
        '  auth.oidc.scopes (line 7): auth.oidc.scopes must include "openid" (without it the provider signs nobody in): [openid, email, groups]',
        '  auth.oidc.roles.map.billing (line 11): auth.oidc.roles.map.billing: "operatr@team=billing": unknown role "operatr"; the roles are viewer, operator, editor, admin',
        '  auth.oidc.roles.map.ops (line 12): auth.oidc.roles.map.ops: "editor@team in ops": the scope "team in ops" does not parse at character 9: found "ops", expected "(" and a list of values; write owner=NAME or a label selector such as team=billing',
        '  auth.oidc.roles.map.staff (line 13): auth.oidc.roles.map.staff maps to nothing: give grants such as viewer or operator@team=staff, or remove the line',
        '',
      ].join('\n'),
    );
  });

  it('passes a good auth.oidc without contacting the provider', async () => {
    const file = writeConfig('good.yaml', [
      ...ENTRY,
      'auth:',
      '  oidc:',
      '    issuer: https://login.invalid/realms/acme',
      '    clientId: tsbeat',
      '    clientSecretFile: /var/run/secrets/tsbeat-oidc/client-secret',
      '    redirectUrl: https://beat.example.com/ui/callback',
      '    scopes: [openid, email, groups]',
      '    roles:',
      '      claim: groups',
      '      map:',
      '        billing: operator@team=billing;viewer',
      '        ops: editor@owner=ops',
    ]);
    const r = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
