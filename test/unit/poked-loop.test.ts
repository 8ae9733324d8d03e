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
  it('runs loops of one interval, started apart, at the same instants of the grid', async () => {
    const first: number[] = [];
    const second: number[] = [];
    const a = loop(first);
    const b = loop(second);
    const origin = Math.round(performance.now());
    const grid = (k: number) => Math.ceil((origin + 1) / 1000) * 1000 + (k - 1) * 1000;
    a.start();
    await vi.advanceTimersByTimeAsync(370);
    b.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(first.slice(0, 3)).toEqual([grid(1), grid(2), grid(3)]);
    expect(second.slice(-2)).toEqual(first.slice(-2));
    await Promise.all([a.stop(), b.stop()]);
  });

  it('after a poke, runs again at the next mark of the grid, never more than an interval later', async () => {
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
    expect(after[0]! - pokedAt).toBeLessThanOrEqual(1000);
    await l.stop();
  });
});
