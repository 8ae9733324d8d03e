import { defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/support/slow-first.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real processes (celery workers, beat replicas); give them room,
    // but keep each file in its own process so a failure names its file.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two files at a time: vitest's default (one fewer than the cores) is one on the 2-core CI
    // machine, and most integration files spend their time waiting (on a lock's TTL, a worker, a
    // schedule's next second), not computing: ten of them took 139 s of CPU in 637 s run one at a
    // time. Not more than two: their assertions on failover gaps and lateness need the CPU when
    // they need it. Every file has its own Redis DB or private servers, queue names and temp dirs.
    // On a machine busy with other work: `npm test -- --maxWorkers=1`.
    maxWorkers: 2,
    // The slowest files start first, so that the run does not end on one of them alone.
    sequence: { sequencer: SlowFirstSequencer },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
