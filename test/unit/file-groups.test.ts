/**
 * The groups of test/support/file-groups.ts: every named file exists (a renamed one would
 * silently move to the group of three at a time, beside files it must not share the machine with)
 * and is named once, in one group.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ALONE, IN_PAIRS } from '../support/file-groups.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('file groups', () => {
  it('name files that exist, each once and in one group only', () => {
    const named = [...ALONE, ...IN_PAIRS];
    expect(named.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
    expect(named.filter((f, i) => named.indexOf(f) !== i)).toEqual([]);
    expect(named.filter((f) => !/^test\/(unit|cli|integration)\/[\w-]+\.test\.ts$/.test(f))).toEqual([]);
  });
});
