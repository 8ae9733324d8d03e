/**
 * Thousands of queues flagged unconsumed in one look (issue 66, finding 5): 20,000 runtime entries,
 * 2,000 of them due at one instant, each on a queue of its own that nobody consumes, against the
 * same entries on one queue, in the same run (real `beat run` processes, a private redis-server).
 * The leader's consumer check flags every queue of the burst at one look, and each flag went to the
 * alert sink, which walked every entry in force to find the entries routed to that queue: 2,000
 * walks of 20,000 entries stalled the event loop for seconds (5,000 of 99,000: 57 s, and the lock
 * was lost). The look's own walk now goes with each flag. Measured: the loop's longest stall
 * (prom-client's nodejs_eventloop_lag_max_seconds, which restarts at each scrape) from before the
 * instant to after the flags, as a ratio of the one-queue run's.
 */
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { isoFromMillis } from '../../src/celery/time.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { sleep, waitUntil } from '../support/beat-process.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, httpRequest, parsePrometheus, sampleValue } from '../support/ops.js';

const N = 20_000;
const BURST = 2000;
const WRITE_CHUNK = 5000;

describe('thousands of queues nobody consumes, flagged in one look', () => {
  const suite = beatSuite();

  /** The loop's longest stall (s) from just before the burst's instant to just after its queues are flagged, and how many were. */
  async function stallOfFlagging(name: string, queueOf: (i: number) => string): Promise<{ stallS: number; flagged: number }> {
    const file = suite.dir.write(`${name}.json`, {
      name,
      broker: { url: suite.redis.url(0) },
      // A look a second, a queue flagged once two looks a second apart found it unread.
      consumers: { every: '1s', unconsumedAfter: '1s', replyWindow: '100ms' },
      beatSchedule: {},
    });
    const beat = suite.fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 20_000);
    // The instant leaves the leader time to read the entries.
    const atMs = Math.ceil((Date.now() + 20_000) / 1000) * 1000;
    const store = new RedisEntryStore(suite.client, schedulerKeys('tsbeat', name));
    const idle = { crontab: { minute: '0', hour: '0', day_of_month: '1', month_of_year: '1' } };
    for (let from = 0; from < N; from += WRITE_CHUNK) {
      const puts = Array.from({ length: Math.min(WRITE_CHUNK, N - from) }, (_, k) => {
        const i = from + k;
        const entry =
          i < BURST
            ? { task: 'bench.burst', args: [i], schedule: { clocked: isoFromMillis(atMs) }, options: { queue: queueOf(i) } }
            : { task: 'bench.idle', args: [i], schedule: idle, options: { queue: `${name}-idle` } };
        return { op: 'put' as const, name: `e-${i}`, entry };
      });
      await store.write(puts, { nowMs: Date.now() });
    }
    await waitUntil(
      'the leader to hold the entries',
      () => beat.logs.some((l) => l.event === EVENTS.entriesChanged && l['total'] === N) || undefined,
      atMs - Date.now() - 1500,
      () => beat.tail(),
    );
    await sleep(Math.max(0, atMs - 1000 - Date.now()));
    // A scrape restarts the stall's maximum.
    await httpRequest(port, '/metrics');
    const queues = new Set(Array.from({ length: BURST }, (_, i) => queueOf(i)));
    await waitUntil(
      "every burst queue's flag",
      () => beat.events(EVENTS.queueUnconsumed).length >= queues.size || undefined,
      60_000,
      () => beat.tail(),
    );
    await sleep(500);
    const metrics = parsePrometheus((await httpRequest(port, '/metrics')).body);
    expect(beat.events(EVENTS.lockLost), beat.tail()).toEqual([]);
    const flagged = beat.events(EVENTS.queueUnconsumed).filter((l) => queues.has(String(l['queue']))).length;
    beat.signal('SIGTERM');
    await beat.waitForExit(20_000);
    return { stallS: sampleValue(metrics, 'nodejs_eventloop_lag_max_seconds') ?? Number.NaN, flagged };
  }

  it('stalls the loop no longer for 2,000 queues than for one (the alert sink walked every entry per flagged queue)', async () => {
    const one = await stallOfFlagging('flag-one', () => 'flag-one-burst');
    const many = await stallOfFlagging('flag-many', (i) => `flag-many-${i}`);
    expect(one.flagged).toBe(1);
    expect(many.flagged).toBe(BURST);
    // Before: many 3-6 s here against one's ~0.1-0.2 s.
    expect(many.stallS, `longest stall: ${many.stallS} s with ${BURST} queues, ${one.stallS} s with one`).toBeLessThan(4 * one.stallS);
  }, 240_000);
});
