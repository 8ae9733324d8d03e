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
    // One file at a time (vitest's default on the 2-core CI machine, said here so that nobody
    // raises it by accident). Two at a time took the test phase from ~21 to ~15 minutes, but three
    // timing assertions failed in the first such run (a confirm before a broker crash, a dashboard
    // view replaced while read, a takeover's gap): files that measure failover gaps and lateness need
    // the CPU when they need it. Every file has its own Redis DB or private servers, queue names and
    // temp dirs, so `npm test -- --maxWorkers=2` works on a machine with cores to spare.
    maxWorkers: 1,
    // The slowest files start first, so that the run does not end on one of them alone.
    sequence: { sequencer: SlowFirstSequencer },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
