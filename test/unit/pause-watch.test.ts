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

/** A pause of `ms`: the clock moves, and the timers due meanwhile run only as it ends. */
async function pause(ms: number): Promise<void> {
  monotonic += ms;
  await vi.advanceTimersByTimeAsync(ms);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
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

  describe('watching from an instant (a little before the next publish)', () => {
    it('rests until then: a pause over before the window opens is not one (no beat was due in it); one after is', async () => {
      const w = watch();
      w.watchFrom(monotonic + 1000);
      await run(500);
      await pause(400);
      expect(w.last()).toBeUndefined();
      await run(200);
      expect(w.last()).toBeUndefined();
      await pause(300);
      expect(w.last()?.lengthMs).toBe(300);
    });

    it("sees a pause that spans the window's start by the lateness of the timer that opens it", async () => {
      const w = watch();
      w.watchFrom(monotonic + 1000);
      await run(900);
      // Frozen from 100 ms before the window until 900 ms into it; the rest's timer has not run yet.
      monotonic += 1000;
      expect(w.last()).toEqual({ endMs: 2900, lengthMs: 1000 });
      await run(200);
      expect(w.last()).toEqual({ endMs: 2900, lengthMs: 1000 });
    });

    it('sees it when it is told to watch from another instant before the late timer has run', async () => {
      const w = watch();
      w.watchFrom(monotonic + 1000);
      await run(900);
      monotonic += 1000;
      // A change handled before the late timer (the next publish moved): the pause is still seen.
      w.watchFrom(monotonic + 60_000);
      expect(w.last()).toEqual({ endMs: 2900, lengthMs: 1000 });
    });

    it('rests until a window a year off in steps Node can time: no beat nor warning every millisecond', async () => {
      vi.useRealTimers();
      const warnings: string[] = [];
      const warned = (warning: Error): void => void warnings.push(warning.name);
      process.on('warning', warned);
      let reads = 0;
      const w = new PauseWatch({ everyMs: 100, pauseMs: 250, now: () => ((reads += 1), performance.now()) });
      watches.push(w);
      try {
        w.watchFrom(performance.now() + 365 * 86_400_000);
        w.start();
        const armed = reads;
        await new Promise((resolve) => setTimeout(resolve, 100));
        // Node's longest timer is 2^31 - 1 ms: a longer one fired after 1 ms, each time warning.
        expect(warnings).toEqual([]);
        expect(reads - armed).toBe(0);
        expect(w.last()).toBeUndefined();
      } finally {
        process.off('warning', warned);
      }
    });

    it('rests with no timer at all while nothing is due, and beats at once when told an instant past', async () => {
      const w = watch();
      w.watchFrom(undefined);
      expect(vi.getTimerCount()).toBe(0);
      monotonic += 5000;
      expect(w.last()).toBeUndefined();
      w.watchFrom(monotonic - 1);
      expect(vi.getTimerCount()).toBe(1);
      await run(100);
      monotonic += 300;
      await run(100);
      expect(w.last()?.lengthMs).toBe(400);
    });
  });
});
