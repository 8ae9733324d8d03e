/**
 * The order files start in: the slow ones first, so that a run with two files at a time does not
 * end on one long file running alone while the other worker idles. Vitest's own order is by the
 * durations of the last run when its cache has them (in node_modules/.vite, which `npm ci`
 * removes, so never in CI) and otherwise by file size, which starts a two-minute file of 130 lines
 * after dozens of quick unit files. Here: the files named below first (the slowest of a whole run,
 * as the closing report of test/support/summary-reporter.ts lists them), then the other integration
 * files, then the CLI files, then the unit files; within each group vitest's own order.
 */
import { relative, sep } from 'node:path';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/** The slowest files of a whole run, slowest first (about 1.5 and 1.3 minutes on the 2-core CI machine). */
export const SLOW_FILES: readonly string[] = ['test/integration/run-exactly-once.test.ts', 'test/integration/container.test.ts'];

/** After the named files, by folder: integration files take seconds to minutes, unit files mostly well under a second. */
const FOLDERS: readonly string[] = ['test/integration/', 'test/cli/'];

/** Where a file starts: its place among SLOW_FILES, else after them by folder. */
export function startRank(file: string): number {
  const named = SLOW_FILES.indexOf(file);
  if (named !== -1) return named;
  const folder = FOLDERS.findIndex((f) => file.startsWith(f));
  return SLOW_FILES.length + (folder === -1 ? FOLDERS.length : folder);
}

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => startRank(relative(this.ctx.config.root, spec.moduleId).split(sep).join('/'));
    // Array.prototype.sort is stable: files of one rank keep vitest's order among themselves.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
