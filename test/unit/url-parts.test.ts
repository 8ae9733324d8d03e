import { describe, expect, it } from 'vitest';
import { splitScheme, splitUrlParts } from '../../src/config/url-parts.js';

const never = (problem: string): Error => {
  throw new Error(`unexpected refusal: ${problem}`);
};

describe('splitScheme', () => {
  it('lower-cases the name, keeps the prefix as written, and is undefined without scheme://', () => {
    expect(splitScheme('AMQPS://h/x')).toEqual({ prefix: 'AMQPS://', name: 'amqps', rest: 'h/x' });
    expect(splitScheme('redis+socket:///run/r.sock')).toEqual({ prefix: 'redis+socket://', name: 'redis+socket', rest: '/run/r.sock' });
    expect(splitScheme('localhost:6379')).toBeUndefined();
    expect(splitScheme('1redis://h')).toBeUndefined();
  });
});

describe('splitUrlParts (urlsplit as kombu uses it)', () => {
  it('returns the pieces as written: still %-encoded, the port unchecked', () => {
    expect(splitUrlParts('u%40:p%2F@h%41:99999/%2F?a=%41#frag', never)).toEqual({
      user: 'u%40',
      password: 'p%2F',
      host: 'h%41',
      port: '99999',
      path: '/%2F',
      query: new Map([['a', 'A']]),
    });
  });

  it("tells no user info (undefined) from an empty one (''), like urlsplit's None and ''", () => {
    expect(splitUrlParts('h', never)).toMatchObject({ user: undefined, password: undefined, host: 'h', port: undefined, path: '' });
    expect(splitUrlParts('@h:', never)).toMatchObject({ user: '', password: undefined, port: '' });
    expect(splitUrlParts(':@h', never)).toMatchObject({ user: '', password: '' });
  });

  it("splits the user info at the last '@' and the user name at the first ':'", () => {
    expect(splitUrlParts('us:pa:ss@wo@rd@host', never)).toMatchObject({ user: 'us', password: 'pa:ss@wo@rd', host: 'host' });
  });

  it('removes the brackets of an IPv6 host and reads the port after them', () => {
    expect(splitUrlParts('[fe80::1]:5672//', never)).toMatchObject({ host: 'fe80::1', port: '5672', path: '//' });
    expect(splitUrlParts('[::1]', never)).toMatchObject({ host: '::1', port: undefined });
  });

  it('cuts the path at the query or the fragment; the last value of a repeated key wins', () => {
    expect(splitUrlParts('h/0?a=1&b=2&a=3#x?c=4', never)).toMatchObject({
      path: '/0',
      query: new Map([
        ['a', '3'],
        ['b', '2'],
      ]),
    });
    expect(splitUrlParts('h/vh#x', never)).toMatchObject({ path: '/vh', query: new Map() });
  });

  it("refuses an '@' after the host part through the caller's fail, with no piece of the password", () => {
    for (const rest of [':SEC/RET@h/0', 'u:SEC?RET@h', 'u:SEC#RET@h', 'h/path@x']) {
      const problems: string[] = [];
      const fail = (problem: string): Error => {
        problems.push(problem);
        return new Error(problem);
      };
      expect(() => splitUrlParts(rest, fail)).toThrow(/^an '@' follows the host part/);
      expect(problems).toHaveLength(1);
      expect(problems[0]).not.toMatch(/SEC|RET/);
    }
  });
});
