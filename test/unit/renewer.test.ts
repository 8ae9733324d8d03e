/** The one renewer (src/base/renewer.ts): its cadence within a TTL, and never two renewals at a time. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Renewer, renewalPeriodMs } from '../../src/base/renewer.js';

describe('the renewer', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews three times within a TTL by default (lock.renewEvery unset)', () => {
    expect(renewalPeriodMs(10_000)).toBe(3333);
    expect(renewalPeriodMs(1000)).toBe(333);
  });

  it('skips a renewal due while the last one is still in flight, and stop() waits for that one', async () => {
    const started: number[] = [];
    let finish: () => void = () => undefined;
    const renewer = new Renewer({
      everyMs: 100,
      atStart: true,
      renew: () => {
        started.push(Date.now());
        return new Promise<void>((resolve) => {
          finish = resolve;
        });
      },
    });
    const t0 = Date.now();
    renewer.start();
    expect(started).toEqual([t0]);
    // Two ticks pass while the first renewal hangs: neither starts another.
    await vi.advanceTimersByTimeAsync(250);
    expect(started).toEqual([t0]);
    finish();
    await vi.advanceTimersByTimeAsync(50);
    expect(started).toEqual([t0, t0 + 300]);
    let stopped = false;
    const stopping = renewer.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(stopped).toBe(false);
    expect(started).toHaveLength(2);
    finish();
    await stopping;
    expect(renewer.running).toBe(false);
  });

  it('waits one period before the first renewal unless asked to renew at start', async () => {
    const renew = vi.fn(() => Promise.resolve());
    const renewer = new Renewer({ everyMs: 100, atStart: false, renew });
    renewer.start();
    expect(renew).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(100);
    expect(renew).toHaveBeenCalledTimes(1);
    await renewer.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(renew).toHaveBeenCalledTimes(1);
  });
});
