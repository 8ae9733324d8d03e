/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own report,
 * so that CI logs state the outcome in a form any reader (or log scraper) understands. Before it,
 * the slowest files with their seconds: CI's whole run must stay under 20 minutes, and this list
 * is where a file that grew slow shows (and what test/support/slow-first.ts's order is kept by),
 * with the group of test/support/file-groups.ts it ran in, and each group's wall time (first file
 * started to last file ended: the groups run one after the other, so these are where the run's
 * minutes go); and the tests that passed only on their retry (vitest.config.ts), so that a flaky
 * test is named in every run it flakes in.
 */
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** How many of the slowest files the closing report names. */
const SLOWEST_SHOWN = 20;
/** How much of a flaky test's first error the closing report shows. */
const FLAKY_ERROR_CHARS = 300;

/** A file's own time: its set-up, its import and collection, and every test and hook in it. */
export function moduleSeconds(module: TestModule): number {
  const d = module.diagnostic();
  return (d.environmentSetupDuration + d.prepareDuration + d.collectDuration + d.setupDuration + d.duration) / 1000;
}

export default class SummaryReporter implements Reporter {
  private startedAt = Date.now();
  /** Each group's first file start and last file end (ms), by the group's name. */
  private readonly groupSpans = new Map<string, { from: number; to: number }>();

  onTestRunStart(): void {
    this.startedAt = Date.now();
    this.groupSpans.clear();
  }

  onTestModuleStart(module: TestModule): void {
    const now = Date.now();
    const span = this.groupSpans.get(module.project.name);
    if (span === undefined) this.groupSpans.set(module.project.name, { from: now, to: now });
    else span.from = Math.min(span.from, now);
  }

  onTestModuleEnd(module: TestModule): void {
    const span = this.groupSpans.get(module.project.name);
    if (span !== undefined) span.to = Math.max(span.to, Date.now());
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const flaky: string[] = [];
    for (const module of testModules) {
      let failedInModule = 0;
      for (const test of module.children.allTests()) {
        const result = test.result();
        const state = result.state;
        if (result.state === 'passed' && test.diagnostic()?.flaky === true) {
          const first = (result.errors?.[0]?.message ?? 'no error kept').split('\n')[0]?.slice(0, FLAKY_ERROR_CHARS);
          flaky.push(`${relative(process.cwd(), module.moduleId)} > ${test.fullName}\n      first run: ${first}`);
        }
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failedInModule += 1;
        else skipped += 1;
      }
      failed += failedInModule;
      // A file that fails outside its tests (its import, or a beforeAll that skips every test) has no
      // failed test but is a failure all the same: counted once, so the closing line never says 0 failed.
      if (module.state() === 'failed' && failedInModule === 0) failed += 1;
    }
    failed += unhandledErrors.length;
    if (testModules.length > 1) {
      const timed = testModules.map((m) => ({ file: relative(process.cwd(), m.moduleId), group: m.project.name, s: moduleSeconds(m) }));
      const sum = timed.reduce((total, t) => total + t.s, 0);
      const slowest = timed.sort((a, b) => b.s - a.s).slice(0, SLOWEST_SHOWN);
      const wall = (Date.now() - this.startedAt) / 1000;
      process.stdout.write(
        `\nslowest files (of ${testModules.length}; files' own time ${sum.toFixed(0)} s, wall ${wall.toFixed(0)} s):\n` +
          slowest.map((t) => `${t.s.toFixed(1).padStart(7)} s  ${t.file}${t.group ? `  (${t.group})` : ''}`).join('\n') +
          '\n',
      );
      const groups = [...this.groupSpans].map(([name, span]) => `${name || 'tests'} ${((span.to - span.from) / 1000).toFixed(0)} s`);
      if (groups.length > 0) process.stdout.write(`groups' wall time, in the order they ran: ${groups.join(', ')}\n`);
    }
    if (flaky.length > 0) {
      process.stdout.write(`\npassed only on their retry (flaky):\n${flaky.map((f) => `  ${f}`).join('\n')}\n`);
    }
    const retried = flaky.length > 0 ? ` (${flaky.length} of them on a retry)` : '';
    process.stdout.write(`\ntests: ${passed} passed${retried}, ${failed} failed, ${skipped} skipped\n`);
  }
}
