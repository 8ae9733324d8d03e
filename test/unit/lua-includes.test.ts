/** The Lua include loader: fragments in place, recursively, each once; a missing one or a cycle is an error naming the chain. */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assembleLua } from '../../src/redis/lua-includes.js';
import { lua } from '../../src/redis/scripts.js';

const fragments: Record<string, string> = {
  a: '--- @include "b"\nlocal a = b',
  b: 'local b = 1',
  c: '--- @include "d"',
  d: '--- @include "c"',
};
const read = (name: string): string | undefined => fragments[name];

describe('assembleLua', () => {
  it('puts each fragment in once, its own includes first, at the first include', () => {
    expect(assembleLua('s', '--- @include "a"\n--- @include "b"\nreturn a', read)).toBe('local b = 1\nlocal a = b\n\nreturn a');
  });

  it('names a missing fragment and the chain that asked for it', () => {
    expect(() => assembleLua('s', '--- @include "a"\n--- @include "nope"', read)).toThrow(
      /s includes "nope", but there is no fragment lua\/includes\/nope\.lua \(s → nope\)/,
    );
    expect(() => assembleLua('s', '--- @include "nope"', read)).toThrow(expect.objectContaining({ code: 'LUA_SCRIPT_INVALID' }));
  });

  it('refuses a cycle', () => {
    expect(() => assembleLua('s', '--- @include "c"', read)).toThrow(/cycle: s → c → d → c/);
  });

  it('leaves other comments alone', () => {
    expect(assembleLua('s', '-- @include "a" is not an include line\n--- see @include "a"', read)).toBe(
      '-- @include "a" is not an include line\n--- see @include "a"',
    );
  });

  it('every shipped script assembles, with no include line left and each fragment once, and opens with its contract', () => {
    const names = readdirSync(new URL('../../src/redis/lua/', import.meta.url))
      .filter((file) => file.endsWith('.lua'))
      .map((file) => file.slice(0, -'.lua'.length));
    expect(names.length).toBeGreaterThanOrEqual(11);
    for (const name of names) {
      const text = lua(name);
      expect(text, name).not.toMatch(/@include/);
      expect(text.match(/^local function wrongType\(/gm)?.length, name).toBe(1);
      // The contract: what KEYS and ARGV hold, what it replies, when it errs, what it writes.
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(text)?.[1] ?? '';
      for (const part of ['KEYS[1]', 'ARGV[1]', 'Reply', 'Errors', 'Writes']) expect(header, `${name}: ${part}`).toContain(part);
    }
  });
});
