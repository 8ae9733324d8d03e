import { defineConfig } from 'vitest/config';
import { ALONE, CONTENT_WORKERS, IN_PAIRS } from './test/support/file-groups.js';
import SlowFirstSequencer from './test/support/slow-first.js';

/** What every group shares. */
const common = {
  // Integration tests start real processes (celery workers, beat replicas); give them room,
  // but keep each file in its own process so a failure names its file.
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // A test that fails is run once more before it counts as failed: the integration tests race real
  // servers and processes on a 2-core machine, where a neighbour's load can stretch one wait past its
  // bound. One that passes only on its second run is named in the closing report (summary-reporter)
  // with its first error, so a flaky test stays visible; one that fails twice fails the run.
  retry: 1,
  pool: 'forks',
} as const;

export default defineConfig({
  test: {
    // The slowest files start first within each group, so that a group does not end on one of them alone.
    sequence: { sequencer: SlowFirstSequencer },
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Three groups, one after the other (sequence.groupOrder), by how many files may share the
    // 2-core CI machine without a timing assertion failing: test/support/file-groups.ts says which
    // file is where and why. One file at a time throughout took the test phase to ~24 minutes.
    projects: [
      {
        test: {
          ...common,
          name: 'content',
          include: ['test/**/*.test.ts'],
          exclude: [...ALONE, ...IN_PAIRS],
          maxWorkers: CONTENT_WORKERS,
          sequence: { groupOrder: 0 },
        },
      },
      { test: { ...common, name: 'in-pairs', include: [...IN_PAIRS], maxWorkers: 2, sequence: { groupOrder: 1 } } },
      { test: { ...common, name: 'alone', include: [...ALONE], maxWorkers: 1, sequence: { groupOrder: 2 } } },
    ],
  },
});
