import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { argsRepr, kwargsRepr, pyFloat, saferepr } from '../../src/celery/repr.js';
import { prng } from '../support/prng.js';

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

const PIECES = ['a', "'", ' ', '\\', 'ü', '😀', '"', 'word ', '\n', 'x'.repeat(40)];
const NUMBERS = [0, -0, 1, -7, 1e-5, 0.1, 100.25, 1e16, 1.5e16, 1e21, 2 ** 53, Number.MAX_VALUE, 3.14159];

/** A JSON-like value (what args and kwargs hold), nested up to `depth` more levels. */
function value(next: () => number, depth: number, size: number): unknown {
  const kind = Math.floor(next() * (depth > 0 ? 8 : 5));
  const count = Math.floor(next() * size);
  if (kind === 0) return null;
  if (kind === 1) return next() < 0.5;
  if (kind === 2) return NUMBERS[Math.floor(next() * NUMBERS.length)];
  if (kind === 3 || kind === 4) return Array.from({ length: count }, () => PIECES[Math.floor(next() * PIECES.length)]).join('');
  if (kind === 5 || kind === 6) return Array.from({ length: count }, () => value(next, depth - 1, size));
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`${PIECES[Math.floor(next() * PIECES.length)] as string}${i}`, value(next, depth - 1, size)]),
  );
}

describe('saferepr written straight (the repr speed-up) against the token stream', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('prints every value exactly as the stream does, around the budget too', async () => {
    vi.stubEnv('BEAT_SPEEDUPS_OFF', 'repr');
    vi.resetModules();
    const stream = await import('../../src/celery/repr.js');
    vi.unstubAllEnvs();
    vi.resetModules();
    const direct = await import('../../src/celery/repr.js');
    const { SPEEDUPS } = await import('../../src/base/speedups.js');
    expect(SPEEDUPS.repr).toBe(true);
    const next = prng(33);
    const checked = { values: 0, atBudget: 0 };
    for (let i = 0; i < 1000; i += 1) {
      const v = value(next, 5, i % 3 === 0 ? 30 : 6);
      const args = Array.isArray(v) ? v : [v];
      const kwargs = { k: v, "it's": [v, v] };
      for (const maxlen of [1024, 80, 20]) {
        expect(direct.argsRepr(args, maxlen)).toBe(stream.argsRepr(args, maxlen));
        expect(direct.kwargsRepr(kwargs, maxlen)).toBe(stream.kwargsRepr(kwargs, maxlen));
        expect(direct.saferepr(v, maxlen, 2)).toBe(stream.saferepr(v, maxlen, 2));
      }
      checked.values += 1;
    }
    // Texts of every length around the budget: the straight path takes those below it, the stream the rest.
    for (let n = 1000; n < 1040; n += 1) {
      for (const args of [
        ['x'.repeat(n - 4)],
        [`it's ${'y'.repeat(n - 10)}`],
        [1, 'z'.repeat(n - 9)],
        ['😀'.repeat(Math.floor(n / 4)), 2],
      ]) {
        expect(direct.argsRepr(args, 1024)).toBe(stream.argsRepr(args, 1024));
        checked.atBudget += 1;
      }
    }
    expect(checked).toEqual({ values: 1000, atBudget: 160 });
  });
});
