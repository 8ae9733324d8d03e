/**
 * canonicalEntryJson writes an entry whose keys are in order as it is, and copies it with sorted
 * keys only when they are not: the text must be the same either way. The oracle is the definition,
 * written here on its own: every object's keys sorted (an object lists array-index keys first, in
 * numeric order, whatever the order they were added in), on random JSON values of keys chosen to
 * mix words, array indices, numbers past them and prefixes of each other.
 */
import { describe, expect, it } from 'vitest';
import { canonicalEntryJson } from '../../src/redis/entry-record-codec.js';
import { int, pick, prng } from '../support/prng.js';
import type { Rand } from '../support/prng.js';

/** The definition: JSON.stringify of a copy whose every object was built from its keys in sorted order. */
function sortedCopyJson(value: unknown): string {
  const copy = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(copy);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) out[key] = copy((v as Record<string, unknown>)[key]);
    return out;
  };
  return JSON.stringify(copy(value));
}

const KEYS = [
  'a',
  'b',
  'ab',
  'B',
  'task',
  'args',
  '0',
  '1',
  '9',
  '10',
  '99',
  '123456789',
  '4294967294',
  '4294967295',
  '10000000000',
  '',
  'é',
];

function randomValue(r: Rand, depth: number): unknown {
  const kind = depth > 3 ? int(r, 0, 3) : int(r, 0, 5);
  if (kind === 0) return int(r, -5, 5);
  if (kind === 1) return pick(r, ['x', '', 'ü', 'a"b']);
  if (kind === 2) return pick(r, [true, false, null]);
  if (kind === 3) return 1.5;
  if (kind === 4) return Array.from({ length: int(r, 0, 3) }, () => randomValue(r, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = int(r, 0, 5); i > 0; i -= 1) out[pick(r, KEYS)] = randomValue(r, depth + 1);
  return out;
}

describe('canonicalEntryJson', () => {
  it("writes what sorting every object's keys writes, on 20,000 random values (sorted and not)", () => {
    const r = prng(33);
    let unsorted = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const value = randomValue(r, 0);
      const expected = sortedCopyJson(value);
      if (JSON.stringify(value) !== expected) unsorted += 1;
      expect(canonicalEntryJson(value), JSON.stringify(value)).toBe(expected);
      // Its own output, read back, is already canonical.
      expect(canonicalEntryJson(JSON.parse(expected))).toBe(expected);
    }
    // Values that needed the copy, many times (the others take the fast path).
    expect(unsorted).toBeGreaterThan(1_000);
  });

  it('keeps integer-like keys where objects put them, beyond the array indices too', () => {
    expect(canonicalEntryJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
    expect(canonicalEntryJson({ 9: 1, 10: 2, a: 3 })).toBe('{"9":1,"10":2,"a":3}');
    expect(canonicalEntryJson({ '99999999999': 1, '100000000000': 2 })).toBe('{"100000000000":2,"99999999999":1}');
    expect(canonicalEntryJson({ '4294967295': 1, '5': 2 })).toBe('{"5":2,"4294967295":1}');
  });
});
