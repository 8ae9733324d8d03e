/**
 * PauseWatch: pauses of the process seen by the monotonic clock. The clock is a variable here
 * (a pause is the clock moving while no timer runs); timers are vitest's.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PauseWatch } from '../../src/base/pause-watch.js';

let monotonic = 0;
const watches: PauseWatch[] = [];

function watch(): PauseWatch {
  const w = new PauseWatch({ everyMs: 100, pauseMs: 250, now: () => monotonic });
  watches.push(w);
  w.start();
  return w;
}

/** `ms` of time in which the process runs: timers fire as the clock moves. */
async function run(ms: number): Promise<void> {
  for (let i = 0; i < ms / 10; i += 1) {
    monotonic += 10;
    await vi.advanceTimersByTimeAsync(10);
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  monotonic = 1000;
});

afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
  vi.useRealTimers();
});

describe('PauseWatch', () => {
  it('notices nothing while the process runs', async () => {
    const w = watch();
    await run(2000);
    expect(w.last()).toBeUndefined();
  });

  it('notices a pause that is ending now, before its timer has run again', async () => {
    const w = watch();
    await run(150);
    // Frozen: the clock moves, no timer runs.
    monotonic += 1000;
    expect(w.last()).toEqual({ endMs: 2150, lengthMs: 1050 });
    await run(500);
    expect(w.last()).toEqual({ endMs: 2150, lengthMs: 1050 });
  });

  it('notices a pause its timer saw end, and only one longer than pauseMs (a beat apart included)', async () => {
    const w = watch();
    await run(100);
    // 120 ms between two beats 100 ms apart: 220 ms without a beat.
    monotonic += 120;
    await run(100);
    expect(w.last()).toBeUndefined();
    monotonic += 300;
    await run(100);
    expect(w.last()?.lengthMs).toBe(400);
  });
});
