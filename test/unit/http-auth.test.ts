/**
 * Who may use the HTTP endpoints (src/http/auth.ts): the token compared whole (length and content),
 * loopback told apart from other addresses as Node reports them (IPv4, IPv6, IPv4-mapped IPv6),
 * and each refusal's status: a write with no token configured is 403, a missing or wrong token 401,
 * a read from beyond loopback needs the token unless reads are public.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ADMIN, VIEWER } from '../../src/core/grants.js';
import {
  callerOf,
  authorizeRead,
  authorizeWrite,
  challenge,
  hostOf,
  isLoopback,
  parseTokenFile,
  tokenMatches,
  tokenName,
} from '../../src/http/auth.js';

const TOKEN = 'a-token-of-sixteen-chars';

function req(remoteAddress: string, authorization?: string, host = '127.0.0.1:9808', localAddress = '127.0.0.1'): IncomingMessage {
  const headers = { host, ...(authorization === undefined ? {} : { authorization }) };
  return { socket: { remoteAddress, localAddress }, headers } as unknown as IncomingMessage;
}

describe('HTTP access', () => {
  it('matches a token only when it is the same string', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true);
    for (const other of ['', TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), ` ${TOKEN}`])
      expect(tokenMatches(other, TOKEN)).toBe(false);
  });

  it('knows loopback addresses as Node reports them', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.127', '::ffff:10.0.0.1', 'fe80::1', '::', '0.0.0.0', '127.0.0.1.evil', undefined])
      expect(isLoopback(a), String(a)).toBe(false);
  });

  it('refuses writes without a configured token (403), without or with a wrong bearer token (401)', () => {
    expect(authorizeWrite(req('127.0.0.1', `Bearer ${TOKEN}`), {})).toMatchObject({ status: 403, code: 'API_FORBIDDEN' });
    expect(authorizeWrite(req('127.0.0.1'), { token: TOKEN })).toMatchObject({ status: 401 });
    expect(authorizeWrite(req('127.0.0.1', `Basic ${TOKEN}`), { token: TOKEN })).toMatchObject({ status: 401 });
    expect(authorizeWrite(req('127.0.0.1', 'Bearer wrong'), { token: TOKEN })).toMatchObject({ status: 401 });
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}`), { token: TOKEN })).toBeUndefined();
    expect(authorizeWrite(req('10.1.1.1', `bearer  ${TOKEN}`), { token: TOKEN })).toBeUndefined();
    expect(challenge(req('127.0.0.1'))).toBe('Bearer realm="tsbeat"');
    expect(challenge(req('127.0.0.1', 'Bearer wrong'))).toBe('Bearer realm="tsbeat", error="invalid_token"');
  });

  it('answers reads from loopback, and from elsewhere only with the token or when reads are public', () => {
    expect(authorizeRead(req('127.0.0.1'), {})).toBeUndefined();
    expect(authorizeRead(req('10.1.1.1'), {})).toMatchObject({ status: 403 });
    expect(authorizeRead(req('10.1.1.1'), { token: TOKEN })).toMatchObject({ status: 401 });
    expect(authorizeRead(req('10.1.1.1', `Bearer ${TOKEN}`), { token: TOKEN })).toBeUndefined();
    expect(authorizeRead(req('10.1.1.1'), { publicReads: true })).toBeUndefined();
  });

  it('shows entries without a token only to requests whose Host names this server, whatever the address', () => {
    for (const host of [
      'localhost',
      'localhost:9808',
      '127.0.0.1',
      '127.0.0.1:80',
      '[::1]:9808',
      '[::1]',
      'LOCALHOST.',
      'beat.internal:9808',
    ]) {
      expect(authorizeRead(req('127.0.0.1', undefined, host), { allowedHosts: ['beat.internal'] }), host).toBeUndefined();
    }
    // The bound address names this server too.
    expect(authorizeRead(req('10.0.0.9', undefined, '10.0.0.5:9808', '10.0.0.5'), { publicReads: true })).toBeUndefined();
    for (const host of ['evil.example', 'evil.example:9808', '127.0.0.1.evil.example', 'localhost.evil', '', '[::2]:1', '10.0.0.5']) {
      for (const access of [{}, { publicReads: true }, { token: TOKEN }, { allowedHosts: ['beat.internal'] }]) {
        expect(authorizeRead(req('127.0.0.1', undefined, host), access), `${host} ${JSON.stringify(access)}`).toMatchObject({
          status: 403,
          code: 'API_FOREIGN_HOST',
        });
      }
    }
    // A token is a credential a rebinding page cannot send: it is taken whatever the Host.
    expect(authorizeRead(req('10.1.1.1', `Bearer ${TOKEN}`, 'evil.example'), { token: TOKEN })).toBeUndefined();
    expect(authorizeRead(req('127.0.0.1', 'Bearer wrong-token-123456789', 'localhost'), { token: TOKEN })).toMatchObject({ status: 401 });
    // The dashboard's session counts as the token does.
    expect(authorizeRead(req('10.1.1.1', undefined, 'evil.example'), { token: TOKEN }, true)).toBeUndefined();
    expect(hostOf('[FE80::1]:80')).toBe('fe80::1');
  });

  it('trusts a loopback address as loopback unless it is listed as not loopback (a proxy on this host)', () => {
    expect(authorizeRead(req('127.0.0.2'), {})).toBeUndefined();
    expect(authorizeRead(req('127.0.0.2'), { notLoopback: ['127.0.0.2'] })).toMatchObject({ status: 403, code: 'API_FORBIDDEN' });
    expect(authorizeRead(req('::ffff:127.0.0.2'), { notLoopback: ['127.0.0.2'], token: TOKEN })).toMatchObject({ status: 401 });
    expect(authorizeRead(req('127.0.0.2', `Bearer ${TOKEN}`), { notLoopback: ['127.0.0.2'], token: TOKEN })).toBeUndefined();
  });

  it('reads a token file of one token (as before) or of named lines with scopes', () => {
    expect(parseTokenFile(`${TOKEN}\n`)).toEqual([{ name: 'api', token: TOKEN, grants: ADMIN }]);
    const tokens = parseTokenFile(`# who may\nci:${TOKEN}\n\nviewer:read:${TOKEN}-2\nops:write:${TOKEN}-3\n`);
    expect(tokens).toEqual([
      { name: 'ci', token: TOKEN, grants: ADMIN },
      { name: 'viewer', token: `${TOKEN}-2`, grants: VIEWER },
      { name: 'ops', token: `${TOKEN}-3`, grants: ADMIN },
    ]);
    expect(() => parseTokenFile('short')).toThrow(/at least 16 printable/);
    expect(() => parseTokenFile(`a:${TOKEN}\nb:short`)).toThrow(/^line 2: expected NAME:TOKEN/);
    expect(() => parseTokenFile(`a:${TOKEN}\na:${TOKEN}x`)).toThrow(/^line 2: the name "a" is given twice/);

    const access = { tokens };
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}`), access)).toBeUndefined();
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}-2`), access)).toMatchObject({ status: 403, code: 'API_FORBIDDEN' });
    expect(authorizeRead(req('10.1.1.1', `Bearer ${TOKEN}-2`), access)).toBeUndefined();
    expect(tokenName(req('10.1.1.1', `Bearer ${TOKEN}-3`), access)).toBe('ops');
    expect(tokenName(req('10.1.1.1', 'Bearer nothing-like-a-token'), access)).toBeUndefined();
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}-2`), { tokens: [tokens[1]!] })).toMatchObject({ status: 403 });
  });

  it('reads NAME:GRANTS:TOKEN lines, naming the line and the fix of a bad one, and never the token', () => {
    const tokens = parseTokenFile(
      `billing-ci:editor@team=billing;viewer:${TOKEN}\nops:operator@owner=ops:${TOKEN}-2\nwide:editor@team in (billing,ops):${TOKEN}-3\nodd:9f:${TOKEN}-4\n`,
    );
    expect(tokens.map((t) => [t.name, t.grants.map((g) => g.text).join(';')])).toEqual([
      ['billing-ci', 'editor@team=billing;viewer'],
      ['ops', 'operator@owner=ops'],
      ['wide', 'editor@team in (billing,ops)'],
      // A middle field that is no word is part of the token, as a NAME:TOKEN line always allowed.
      ['odd', 'admin'],
    ]);
    expect(tokens[1]!.grants[0]!.scope).toEqual({ kind: 'owner', owner: 'ops' });
    expect(tokens[3]!.token).toBe(`9f:${TOKEN}-4`);
    // A misspelt role is refused, never read as part of an admin token.
    const misspelt = () => parseTokenFile(`a:${TOKEN}\nb:edtor@team=billing:${TOKEN}-2`);
    expect(misspelt).toThrow(
      /^line 2: the grants of "b": "edtor@team=billing": unknown role "edtor"; the roles are viewer, operator, editor, admin/,
    );
    expect(() => parseTokenFile(`a:${TOKEN}\nb:editor@team in (billing:${TOKEN}-2`)).toThrow(
      /^line 2: the grants of "b": .*does not parse/,
    );
    expect(() => parseTokenFile(`a:${TOKEN}\nb:editor;:${TOKEN}-2`)).toThrow(/^line 2: the grants of "b": .*an empty grant/);
    expect(() => parseTokenFile(`a:${TOKEN}\nb:${TOKEN}`)).toThrow(/^line 2: the token of "b" is another line's too/);
    for (const bad of [misspelt, () => parseTokenFile(`a:${TOKEN}\nb:viewer:short`)]) {
      try {
        bad();
      } catch (error) {
        expect(String(error)).not.toContain(TOKEN);
      }
    }
    // A token of viewer grants only may not write at all; a scoped editor passes the route's rule
    // (the verbs decide which entries).
    const access = { tokens };
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}-2`), access)).toBeUndefined();
    const viewer = parseTokenFile(`v:viewer@team=billing:${TOKEN}\nw:viewer:${TOKEN}-2`);
    expect(authorizeWrite(req('10.1.1.1', `Bearer ${TOKEN}`), { tokens: viewer })).toMatchObject({ status: 403, code: 'API_FORBIDDEN' });
    expect(callerOf(req('10.1.1.1', `Bearer ${TOKEN}`), access)).toMatchObject({ who: 'billing-ci' });
    expect(callerOf(req('127.0.0.1'), access)).toEqual({ who: 'anonymous', grants: VIEWER });
  });
});
