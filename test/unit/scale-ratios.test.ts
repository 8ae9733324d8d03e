/**
 * The scheduler at 20,000 and at 200,000 entries in one process, every entry due at one instant
 * (issue 33), held to RATIOS measured in the same run, never to absolute times: the memory an entry
 * costs at rest, the memory a burst leaves behind once recorded (back to the steady state), and the
 * CPU time a run of the burst costs (linear: a 1,000,000 burst once cost 90× a 100,000 one).
 *
 * The real Runner (book, renderer, dispatch window, run log) against a dispatcher that answers at
 * once: what grows with the entry count is the scheduler's, which is what is held here (the
 * broker's share is bench/'s million workload, at 1,000,000).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import type { Dispatcher, PublishResult } from '../../src/ports/dispatcher.js';
import type { StateStore } from '../../src/ports/state.js';
import { Runner } from '../../src/runtime/runner.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const HOUR = 3_600_000;
/**
 * The states say each entry was seen an hour before this much after the start: far enough for any
 * start; once the memory at rest is measured, the runner's clock is moved to just before it.
 */
const LEAD_MS = 600_000;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const until = async (what: () => boolean, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

/** One size: heap per entry after the start and after the burst, CPU microseconds per run of the burst. */
async function measure(n: number): Promise<{ restPerEntry: number; afterBurstPerEntry: number; cpuPerRun: number }> {
  const beatSchedule: Record<string, unknown> = {};
  // Hourly entries with arguments of their own, as per-tenant entries are.
  for (let i = 0; i < n; i += 1) beatSchedule[`tenant-${i}`] = { task: 'reports.daily', args: [i, `tenant-${i}`], schedule: 3600 };
  const config = parseConfig({ name: 'scale', beatSchedule }, 'scale-ratios.test');
  let published = 0;
  const dispatcher: Dispatcher = {
    async dispatch(batch) {
      published += batch.length;
      return { fenced: false, outcomes: batch.map((): PublishResult => 'published') };
    },
  };
  let startMs = 0;
  let offsetMs = 0;
  const state: StateStore = {
    async load(names, nowMs) {
      startMs = nowMs;
      return new Map(names.map((name) => [name, { seenMs: nowMs - HOUR + LEAD_MS, runCount: 0 }]));
    },
  };
  let summed = false;
  const logger = createLogger({
    level: 'info',
    destination: { write: (text: string) => void (text.includes(`"${EVENTS.burst}"`) && (summed = true)) },
  });
  const before = heapAfterGc();
  const runner = new Runner({
    config,
    dispatcher,
    state,
    clock: { now: () => Date.now() + offsetMs },
    logger,
    messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
    lease: () => 'token-1',
    onFenced: () => undefined,
  });
  await runner.start();
  // At rest, before any template is compiled (at an entry's first run).
  const rest = heapAfterGc() - before;
  // The clock steps to 300 ms before the instant (the runner re-reads it within maxInterval).
  offsetMs = startMs + LEAD_MS - 300 - Date.now();
  await until(() => Date.now() + offsetMs >= startMs + LEAD_MS, 5000);
  const cpu = process.cpuUsage();
  await until(() => summed, 600_000);
  const used = process.cpuUsage(cpu);
  expect(published).toBe(n);
  const afterBurst = heapAfterGc() - before;
  await runner.stop();
  return { restPerEntry: rest / n, afterBurstPerEntry: afterBurst / n, cpuPerRun: (used.user + used.system) / n };
}

describe('20,000 against 200,000 entries, all due at one instant', () => {
  it('costs the same memory per entry at rest and after the burst, and the same CPU per run of the burst', async () => {
    const small = await measure(20_000);
    const large = await measure(200_000);
    const report = JSON.stringify({ small, large });
    // Per entry at rest: no structure grows faster than the entries.
    expect(large.restPerEntry, report).toBeLessThan(small.restPerEntry * 1.3);
    // After the burst, back to the steady state: what a burst made (templates of entries not due
    // again soon, its runs' slots and ids, log lines) is not kept.
    expect(large.afterBurstPerEntry, report).toBeLessThan(large.restPerEntry * 1.3);
    expect(small.afterBurstPerEntry, report).toBeLessThan(small.restPerEntry * 1.3);
    // Linear: a run of the large burst costs no more than twice one of the small (the JIT's first
    // compilation of the code is in the small one's figure, so the ratio is usually below 1).
    expect(large.cpuPerRun, report).toBeLessThan(small.cpuPerRun * 2);
  }, 900_000);
});
