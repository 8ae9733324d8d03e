/**
 * The layering of src/ (scripts/layers.mjs, docs/design.md "Architecture") holds: no folder imports one it
 * may not, neither the folders nor the modules form a cycle, and no source file outgrows its subject.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script, without type declarations
import { checkLayers } from '../../scripts/layers.mjs';

const ROOT = join(import.meta.dirname, '..', '..');

interface LayerReport {
  files: number;
  cycles: string[][];
  problems: string[];
}
const check = checkLayers as (root: string) => LayerReport;

describe('layering of src/', () => {
  it('has no import against the layers, no folder cycle and no file over the size limit', () => {
    const report = check(ROOT);
    expect(report.files).toBeGreaterThan(50);
    expect(report.problems).toEqual([]);
    expect(report.cycles).toEqual([]);
  });

  describe('on a copy with a violation', () => {
    const copy = mkdtempSync(join(tmpdir(), 'tsbeat-layers-'));
    cpSync(join(ROOT, 'src'), join(copy, 'src'), { recursive: true });
    afterAll(() => rmSync(copy, { recursive: true, force: true }));

    it('names an upward import, type-only or dynamic, and the cycle it makes', () => {
      writeFileSync(
        join(copy, 'src', 'core', 'upward.ts'),
        "import type { Runner } from '../runtime/runner.js';\nexport const load = () => import('../service/service.js');\nexport type R = Runner;\n",
      );
      const report = check(copy);
      expect(report.problems).toContain(
        'src/core/upward.ts imports ../runtime/runner.js: src/core may not import src/runtime (it may import core/cron, time, base)',
      );
      expect(
        report.problems.some((p) => p.startsWith('src/core/upward.ts imports ../service/service.js: src/core may not import src/service')),
      ).toBe(true);
      expect(report.cycles.length).toBeGreaterThan(0);
    });

    it('names two modules of one folder that import each other, type-only too', () => {
      writeFileSync(join(copy, 'src', 'base', 'ping.ts'), "import type { Pong } from './pong.js';\nexport type Ping = { pong?: Pong };\n");
      writeFileSync(join(copy, 'src', 'base', 'pong.ts'), "import type { Ping } from './ping.js';\nexport type Pong = { ping?: Ping };\n");
      const report = check(copy);
      expect(report.problems.filter((p) => p.startsWith('module cycle:'))).toEqual([
        'module cycle: src/base/ping.ts -> src/base/pong.ts -> src/base/ping.ts; move what both need into a module of its own',
      ]);
    });

    it('names a folder the layers do not know, and no file for its length alone (a file is one idea, whatever its length)', () => {
      writeFileSync(join(copy, 'src', 'core', 'long.ts'), 'export const x = 1;\n'.repeat(451));
      mkdirSync(join(copy, 'src', 'extra'));
      writeFileSync(join(copy, 'src', 'extra', 'thing.ts'), 'export const y = 2;\n');
      const report = check(copy);
      expect(report.problems.filter((p) => p.startsWith('src/core/long.ts'))).toEqual([]);
      expect(report.problems).toContain(
        'src/extra/thing.ts: folder src/extra is not in LAYERS (scripts/layers.mjs); add it with the folders it may import',
      );
    });
  });
});
