/**
 * PokedLoop runs on its interval's grid of the monotonic clock, so that loops of one interval
 * started at different moments (the control loop, the catalog's look, the alert sender) wake the
 * process together. vitest's fake timers, the monotonic clock (performance.now) faked with them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PokedLoop } from '../../src/base/poked-loop.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

function loop(runs: number[]): PokedLoop {
  return new PokedLoop({
    intervalMs: 1000,
    run: () => {
      runs.push(Math.round(performance.now()));
      return Promise.resolve();
    },
    runAtStart: false,
  });
}

describe('PokedLoop', () => {
  it('runs first an interval after its start, then, with another loop of its interval started apart, at the same instants of the grid', async () => {
    const first: number[] = [];
    const second: number[] = [];
    const a = loop(first);
    const b = loop(second);
    const origin = Math.round(performance.now());
    a.start();
    await vi.advanceTimersByTimeAsync(370);
    b.start();
    await vi.advanceTimersByTimeAsync(4000);
    expect(first[0]).toBe(origin + 1000);
    expect(second[0]).toBe(origin + 1370);
    // From the second run on, both on the marks of the grid (a mark nearer than a tenth of the interval is skipped).
    for (const runs of [first, second]) for (const at of runs.slice(1)) expect(at % 1000).toBe(0);
    expect(second.slice(-2)).toEqual(first.slice(-2));
    await Promise.all([a.stop(), b.stop()]);
  });

  it('rests at least a tenth of its interval after a run: a slow run that ends near a mark skips it', async () => {
    const starts: number[] = [];
    const slow = new PokedLoop({
      intervalMs: 1000,
      run: async () => {
        starts.push(Math.round(performance.now()));
        await new Promise((resolve) => setTimeout(resolve, 950 - (performance.now() % 1000)));
      },
      runAtStart: true,
    });
    slow.start();
    await vi.advanceTimersByTimeAsync(6000);
    expect(starts.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1950);
    // The run in progress waits on a fake timer: stopping waits for it.
    const stopped = slow.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
  });

  it('after a poke, runs again at the next mark of the grid, never more than an interval and a tenth later', async () => {
    const runs: number[] = [];
    const l = loop(runs);
    l.start();
    await vi.advanceTimersByTimeAsync(1500);
    l.poke();
    const pokedAt = Math.round(performance.now());
    await vi.advanceTimersByTimeAsync(1000);
    expect(runs).toContain(pokedAt);
    const after = runs.filter((t) => t > pokedAt);
    expect(after).toHaveLength(1);
    expect(after[0]! % 1000).toBe(0);
    expect(after[0]! - pokedAt).toBeLessThanOrEqual(1100);
    await l.stop();
  });

  it('rest: the next run waits at least that long, on a mark of the grid; a poke ends the rest', async () => {
    const runs: number[] = [];
    let restMs = 0;
    const resting = new PokedLoop({
      intervalMs: 1000,
      run: () => {
        runs.push(Math.round(performance.now()));
        resting.rest(restMs);
        return Promise.resolve();
      },
      runAtStart: true,
    });
    const origin = Math.round(performance.now());
    restMs = 4500;
    resting.start();
    await vi.advanceTimersByTimeAsync(10_000);
    // At start, then on the first mark at least 4.5 s on, and so on.
    expect(runs.slice(0, 3)).toEqual([origin, origin + 5000, origin + 10_000]);
    // A poke runs at once, and its run's rest (none now) puts the next back on the next mark.
    restMs = 0;
    await vi.advanceTimersByTimeAsync(1200);
    resting.poke();
    await vi.advanceTimersByTimeAsync(2000);
    expect(runs.slice(3)).toEqual([origin + 11_200, origin + 12_000, origin + 13_000]);
    await resting.stop();
  });
});
