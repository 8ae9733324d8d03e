/**
 * The start order of the suite's files (test/support/slow-first.ts): the named slow files exist
 * (a renamed one would silently start late again) and come first, then integration, CLI and unit files.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLOW_FILES, startRank } from '../support/slow-first.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('slow files first', () => {
  it('names files that exist, each once', () => {
    expect(SLOW_FILES.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
    expect(new Set(SLOW_FILES).size).toBe(SLOW_FILES.length);
  });

  it('starts the named files in their order, then integration, CLI and unit files', () => {
    const files = [
      'test/unit/heap.test.ts',
      'test/cli/cli.test.ts',
      'test/integration/http.test.ts',
      ...[...SLOW_FILES].reverse(),
      'test/support/other.test.ts',
    ];
    expect([...files].sort((a, b) => startRank(a) - startRank(b))).toEqual([
      ...SLOW_FILES,
      'test/integration/http.test.ts',
      'test/cli/cli.test.ts',
      'test/unit/heap.test.ts',
      'test/support/other.test.ts',
    ]);
  });
});
