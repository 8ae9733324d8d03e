/**
 * The order files start in: the slow ones first, so that a group of files run two or three at a
 * time does not end on one long file running alone while the other workers idle. Vitest's own
 * order is by the durations of the last run when its cache has them (in node_modules/.vite, which
 * `npm ci` removes, so never in CI) and otherwise by file size, which starts a two-minute file of
 * 130 lines after dozens of quick unit files. Here: the files named below first (the slowest of a
 * whole run, as the closing report of test/support/summary-reporter.ts lists them), then the other
 * integration files, then the CLI files, then the unit files; within each rank vitest's own order.
 */
import { relative, sep } from 'node:path';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/**
 * The slowest files of a whole run, slowest first (container ~1.4 min alone, the others 40-66 s on
 * the 2-core CI machine); the groups of test/support/file-groups.ts run one after the other, so
 * this order counts within each group (two or three files at a time), not across them.
 */
export const SLOW_FILES: readonly string[] = [
  'test/integration/container.test.ts',
  'test/integration/entries-bulk.test.ts',
  'test/integration/run-exactly-once.test.ts',
  'test/integration/dashboard-results.test.ts',
  'test/integration/amqp-worker.test.ts',
  'test/integration/sqs-worker.test.ts',
  'test/integration/dashboard.test.ts',
  'test/integration/run-connection-kill.test.ts',
  'test/integration/entry-chaos.test.ts',
  'test/integration/run-faults.test.ts',
  // A wheel built and installed into a fresh venv, then a Celery worker and the client's suite.
  'test/integration/python-client.test.ts',
  // Django's migrate and a shell per request, on a private PostgreSQL.
  'test/integration/django-example.test.ts',
];

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
