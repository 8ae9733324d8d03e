import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argsRepr, kwargsRepr, pyFloat, saferepr } from '../../src/celery/repr.js';

/**
 * Each vector is a JSON text and what Celery's own `saferepr(json.loads(text), 1024)` printed for it
 * (celery 5.2.6; empty args as the tuple `()`, as beat sends them). Regenerate with
 * `/usr/bin/python3 test/support/gen-repr-vectors.py`.
 */
const vectors = JSON.parse(readFileSync(new URL('./fixtures/saferepr-vectors.json', import.meta.url), 'utf8')) as {
  json: string;
  repr: string;
}[];

describe('saferepr port (argsrepr / kwargsrepr)', () => {
  it.each(vectors.map((v) => [v.json.length > 60 ? `${v.json.slice(0, 60)}…` : v.json, v] as const))(
    'prints %s exactly as Celery does',
    (_title, v) => {
      const value = JSON.parse(v.json) as unknown;
      const printed = Array.isArray(value) ? argsRepr(value, 1024) : kwargsRepr(value as Record<string, unknown>, 1024);
      expect(printed).toBe(v.repr);
    },
  );

  it('cuts a long string at the last space within the budget and still closes the brackets', () => {
    const printed = argsRepr([`${'word '.repeat(300)}`, 1, [2]], 1024);
    expect(printed.startsWith("['word word")).toBe(true);
    expect(printed.endsWith("...', ...]")).toBe(true);
  });

  it('writes Python floats, not JavaScript ones, where the notations differ', () => {
    expect([1e-5, 1e-7, 1e16, 1.5e16, 1e21, 0.1, 100.25, -0.5, 1e-4].map(pyFloat)).toEqual([
      '1e-05',
      '1e-07',
      '1e+16',
      '1.5e+16',
      '1e+21',
      '0.1',
      '100.25',
      '-0.5',
      '0.0001',
    ]);
  });

  it('prints null, booleans and an empty tuple the Python way', () => {
    expect(argsRepr([], 1024)).toBe('()');
    expect(saferepr([null, true, false])).toBe('[None, True, False]');
    expect(kwargsRepr({}, 1024)).toBe('{}');
  });
});
