/**
 * Who may use the HTTP endpoints (src/http/auth.ts): the token compared whole (length and content),
 * loopback told apart from other addresses as Node reports them (IPv4, IPv6, IPv4-mapped IPv6),
 * and each refusal's status: a write with no token configured is 403, a missing or wrong token 401,
 * a read from beyond loopback needs the token unless reads are public.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authorizeRead, authorizeWrite, challenge, isLoopback, tokenMatches } from '../../src/http/auth.js';

const TOKEN = 'a-token-of-sixteen-chars';

function req(remoteAddress: string, authorization?: string): IncomingMessage {
  return { socket: { remoteAddress }, headers: authorization === undefined ? {} : { authorization } } as unknown as IncomingMessage;
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
});
