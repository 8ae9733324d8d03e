/**
 * auth.oidc as the config takes it (config/oidc-schema.ts): the grants each claim value maps to,
 * parsed once; a person's grants from their claim; missing fields named as missing. And the session
 * a sign-in opens (dashboard/sessions.ts): refused once the sign-in's own end (the ID token's exp)
 * has passed, however recently it was used; asked again of the provider at most every
 * recheckSeconds, ended when it answers revoked, kept but unable to write while it cannot be reached.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/base/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { grantsOfClaim } from '../../src/config/oidc-schema.js';
import { Sessions } from '../../src/dashboard/sessions.js';
import type { Standing } from '../../src/dashboard/sessions.js';

const OIDC = {
  issuer: 'https://login.example.com/realms/acme',
  clientId: 'tsbeat',
  redirectUrl: 'https://beat.example.com/ui/callback',
  roles: { claim: 'groups', map: { billing: 'operator@team=billing;viewer', ops: 'editor@owner=ops', admins: 'admin' } },
};

function problemsOf(oidc: unknown): string[] {
  try {
    parseConfig({ auth: { oidc } }, 'test');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('auth.oidc', () => {
  it('resolves each claim value to its grants, and the default scopes', () => {
    const config = parseConfig({ auth: { oidc: OIDC } }, 'test');
    expect(config.oidc?.scopes).toEqual(['openid', 'email', 'profile']);
    expect(config.oidc?.claim).toBe('groups');
    expect(config.oidc?.grantsOf.get('billing')?.map((g) => g.text)).toEqual(['operator@team=billing', 'viewer']);
    expect(config.oidc?.grantsOf.get('ops')?.[0]?.scope).toEqual({ kind: 'owner', owner: 'ops' });
    expect(parseConfig({}, 'test').oidc).toBeUndefined();
  });

  it("gives a person the grants of every value of their claim that the map names, once each, in the claim's order", () => {
    const config = parseConfig({ auth: { oidc: OIDC } }, 'test');
    const settings = config.oidc!;
    expect(grantsOfClaim(settings, ['ops', 'unknown', 'billing', 'ops']).grants.map((g) => g.text)).toEqual([
      'editor@owner=ops',
      'operator@team=billing',
      'viewer',
    ]);
    // One string, as some providers give a single group.
    expect(grantsOfClaim(settings, 'admins').grants.map((g) => g.text)).toEqual(['admin']);
    expect(grantsOfClaim(settings, undefined)).toEqual({ grants: [], values: [] });
    expect(grantsOfClaim(settings, [42, 'nobody'])).toEqual({ grants: [], values: ['nobody'] });
  });

  it('names a missing field as missing, with what it must be', () => {
    expect(problemsOf({ clientId: 'tsbeat', redirectUrl: OIDC.redirectUrl, roles: { claim: 'groups', map: { a: 'viewer' } } })).toEqual([
      'auth.oidc.issuer: auth.oidc.issuer is missing: it must be the identity provider\'s issuer URL, such as "https://login.example.com/realms/acme"',
    ]);
    expect(problemsOf({ ...OIDC, roles: { claim: 'groups' } })).toEqual([
      'auth.oidc.roles.map: auth.oidc.roles.map is missing: it must be a mapping of each value of the claim to grants, such as {billing: "operator@team=billing"}',
    ]);
    const { roles: _roles, ...withoutRoles } = OIDC;
    expect(problemsOf(withoutRoles)).toEqual([
      'auth.oidc.roles: auth.oidc.roles is missing: it must name the claim whose values give grants and map them, such as {claim: groups, map: {billing: "operator@team=billing"}}',
    ]);
    expect(problemsOf({ ...OIDC, roles: { claim: 'groups', map: {} } })).toEqual([
      'auth.oidc.roles.map: auth.oidc.roles.map is empty: nobody who signs in could do anything; map a value of the claim, such as billing: operator@team=billing',
    ]);
    expect(problemsOf({ ...OIDC, clientSecret: 's3cret' })).toEqual([
      'auth.oidc.clientSecret: auth.oidc.clientSecret: the client secret is never written in the config; put it in a file named by clientSecretFile (a mounted secret) or in $BEAT_OIDC_CLIENT_SECRET',
    ]);
  });

  it('takes plain http only for a loopback issuer and redirect', () => {
    expect(problemsOf({ ...OIDC, issuer: 'http://127.0.0.1:8080', redirectUrl: 'http://localhost:9808/ui/callback' })).toEqual([]);
    expect(problemsOf({ ...OIDC, issuer: 'not a url' })).toEqual([
      'auth.oidc.issuer: auth.oidc.issuer "not a url" is not a URL; write one such as "https://login.example.com/realms/acme"',
    ]);
  });
});

describe('auth.oidc.recheckSeconds', () => {
  it('is 5 by default, 0 (every request) to 300, and refused outside naming the range', () => {
    expect(parseConfig({ auth: { oidc: OIDC } }, 'test').oidc?.recheckSeconds).toBe(5);
    expect(parseConfig({ auth: { oidc: { ...OIDC, recheckSeconds: 0 } } }, 'test').oidc?.recheckSeconds).toBe(0);
    expect(problemsOf({ ...OIDC, recheckSeconds: 301 })).toEqual([
      'auth.oidc.recheckSeconds: auth.oidc.recheckSeconds must be a whole number of seconds from 0 (every request) to 300, got "301"; default 5',
    ]);
    expect(problemsOf({ ...OIDC, recheckSeconds: -1 })).toHaveLength(1);
    expect(problemsOf({ ...OIDC, recheckSeconds: 1.5 })).toHaveLength(1);
    expect(problemsOf({ ...OIDC, recheckSeconds: '5' })).toHaveLength(1);
  });
});

describe('a signed-in session', () => {
  const req = (cookie: string): IncomingMessage => ({ headers: { cookie } }) as unknown as IncomingMessage;

  it('is refused at the first request after its sign-in expired, however recently it was used', () => {
    let nowMs = 1_000_000;
    const sessions = new Sessions(30 * 60_000, 100, () => nowMs);
    const { cookie } = sessions.open(false, { who: 'sso:alice <alice@example.com>', notAfterMs: nowMs + 60_000 });
    // The cookie itself lasts no longer than the sign-in.
    expect(cookie).toMatch(/; Max-Age=60(;|$)/);
    const sent = req(cookie.split(';')[0]!);
    nowMs += 59_000;
    expect(sessions.find(sent)?.holder.who).toBe('sso:alice <alice@example.com>');
    nowMs += 1_000;
    expect(sessions.find(sent)).toBeUndefined();
    // Gone, not only hidden: a clock set back does not revive it.
    nowMs -= 10_000;
    expect(sessions.find(sent)).toBeUndefined();
  });

  it("a token's session (no sign-in end) slides with use as before", () => {
    let nowMs = 0;
    const sessions = new Sessions(60_000, 100, () => nowMs);
    const sent = req(sessions.open(false, { who: 'dashboard:ci' }).cookie.split(';')[0]!);
    for (let i = 0; i < 5; i += 1) {
      nowMs += 50_000;
      expect(sessions.find(sent)?.holder.who).toBe('dashboard:ci');
    }
  });

  /** A provider whose answers the test sets, counting the questions and the tokens they carried. */
  function provider(first: Standing) {
    const asked: string[] = [];
    let answer = first;
    return {
      asked,
      answer: (next: Standing) => (answer = next),
      ask: (_holder: unknown, accessToken: string): Promise<Standing> => {
        asked.push(accessToken);
        return Promise.resolve(answer);
      },
    };
  }

  it('is asked again of the provider at most every recheckSeconds, and ends at the first answer that it was revoked', async () => {
    let nowMs = 0;
    const sessions = new Sessions(30 * 60_000, 100, () => nowMs);
    const sent = req(
      sessions.open(false, { who: 'sso:alice', identity: { subject: 'alice' } }, 'access-token-of-alice').cookie.split(';')[0]!,
    );
    const idp = provider('valid');
    // Just signed in: nothing to ask within the interval, however often the page polls.
    for (let i = 0; i < 4; i += 1) {
      nowMs += 1_000;
      await sessions.recheck(sent, 5_000, idp.ask);
    }
    expect(idp.asked).toEqual([]);
    nowMs += 1_000;
    await sessions.recheck(sent, 5_000, idp.ask);
    expect(idp.asked).toEqual(['access-token-of-alice']);
    // Requests that come while a question is in flight share its answer.
    nowMs += 5_000;
    await Promise.all([sessions.recheck(sent, 5_000, idp.ask), sessions.recheck(sent, 5_000, idp.ask)]);
    expect(idp.asked).toHaveLength(2);
    idp.answer('revoked');
    nowMs += 5_000;
    await sessions.recheck(sent, 5_000, idp.ask);
    expect(sessions.find(sent)).toBeUndefined();
  });

  it('with recheckSeconds 0, at every request', async () => {
    const sessions = new Sessions(30 * 60_000, 100, () => 0);
    const sent = req(sessions.open(false, { who: 'sso:alice' }, 'token').cookie.split(';')[0]!);
    const idp = provider('valid');
    for (let i = 0; i < 3; i += 1) await sessions.recheck(sent, 0, idp.ask);
    expect(idp.asked).toHaveLength(3);
  });

  it('kept, unverified (no writes), while the provider cannot be reached; verified again once it answers', async () => {
    let nowMs = 0;
    const sessions = new Sessions(30 * 60_000, 100, () => nowMs);
    const sent = req(sessions.open(false, { who: 'sso:alice' }, 'token').cookie.split(';')[0]!);
    const idp = provider('unreachable');
    nowMs += 5_000;
    await sessions.recheck(sent, 5_000, idp.ask);
    expect(sessions.find(sent)?.unverified).toBe(true);
    // Not asked again before the interval: the outage is not hammered at each request.
    nowMs += 1_000;
    await sessions.recheck(sent, 5_000, idp.ask);
    expect(idp.asked).toHaveLength(1);
    idp.answer('valid');
    nowMs += 5_000;
    await sessions.recheck(sent, 5_000, idp.ask);
    expect(sessions.find(sent)?.unverified).toBe(false);
  });

  it("a token's session is never asked of a provider", async () => {
    const sessions = new Sessions(30 * 60_000, 100, () => 0);
    const sent = req(sessions.open(false, { who: 'dashboard:ci' }).cookie.split(';')[0]!);
    const idp = provider('revoked');
    await sessions.recheck(sent, 0, idp.ask);
    expect(idp.asked).toEqual([]);
    expect(sessions.find(sent)?.holder.who).toBe('dashboard:ci');
  });
});
