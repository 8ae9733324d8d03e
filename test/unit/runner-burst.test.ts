/**
 * A burst larger than the log's sample and the recording backlog (DEFAULTS.fireLogSample,
 * dispatchRecordBacklog) through the Runner, on fake timers as in runner.test.ts: what is logged at
 * info and at debug, that every run goes out once and is recorded, and that a stop in the middle of
 * the burst ends it at its next batch.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import { EVENTS } from '../../src/base/log-events.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { createLogger } from '../../src/base/log.js';
import type { LogLevel } from '../../src/base/log.js';
import type { Dispatcher, PublishResult } from '../../src/ports/dispatcher.js';
import type { StateStore } from '../../src/ports/state.js';
import { Runner } from '../../src/runtime/runner.js';

const T0 = Date.parse('2026-11-21T06:00:30.000Z');
const MINUTE = Date.parse('2026-11-21T06:01:00.000Z');
/** More runs than the sample logged at info and than the backlog of batches recorded after the last. */
const N = Math.max(DEFAULTS.fireLogSample * 3, (DEFAULTS.dispatchRecordBacklog + 5) * DEFAULTS.dispatchBatchRuns);

/** N entries due at the same minute, each with its index as its argument. */
function burstConfig(): ResolvedConfig {
  const beatSchedule: Record<string, unknown> = {};
  for (let i = 0; i < N; i += 1) beatSchedule[`e${i}`] = { task: 't.burst', args: [i], schedule: { crontab: { minute: 1, hour: 6 } } };
  return parseConfig({ name: 'burst', maxInterval: '200ms', beatSchedule }, 'runner-burst.test');
}

const newState: StateStore = {
  async load(names, nowMs) {
    return new Map(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
  },
};

/** A dispatcher counting each entry's runs; `gate` (if given) is awaited before each call answers. */
function countingDispatcher(gate?: () => Promise<void>) {
  const runs = new Map<string, number>();
  let calls = 0;
  const dispatcher: Dispatcher = {
    async dispatch(batch) {
      calls += 1;
      if (gate !== undefined) await gate();
      for (const run of batch) runs.set(run.entry.name, (runs.get(run.entry.name) ?? 0) + 1);
      return { fenced: false, outcomes: batch.map((): PublishResult => 'published') };
    },
  };
  return { dispatcher, runs, calls: () => calls };
}

function startRunner(config: ResolvedConfig, dispatcher: Dispatcher, level: LogLevel) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level,
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  const runner = new Runner({
    config,
    dispatcher,
    state: newState,
    clock: { now: () => Date.now() },
    logger,
    messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
    lease: () => 'token-1',
    onFenced: () => undefined,
  });
  return { runner, lines, started: runner.start() };
}

/** The runner fills its book a slice per turn of the event loop: the fake timers let the turns run. */
async function loaded(started: Promise<void>): Promise<void> {
  let done = false;
  void started.then(() => (done = true));
  while (!done) await vi.advanceTimersToNextTimerAsync();
  await started;
}

const events = (lines: readonly Record<string, unknown>[], event: string) => lines.filter((l) => l['event'] === event);

let config: ResolvedConfig;
let running: Runner | undefined;

beforeEach(() => {
  config ??= burstConfig();
  vi.useFakeTimers({
    now: T0,
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'],
  });
});

afterEach(async () => {
  await running?.stop();
  running = undefined;
  vi.useRealTimers();
});

describe('a burst larger than the log sample and the recording backlog', () => {
  it('publishes every run once and records it; at info logs the sample and one summary line', async () => {
    const { dispatcher, runs } = countingDispatcher();
    const { runner, lines, started } = startRunner(config, dispatcher, 'info');
    running = runner;
    await loaded(started);
    await vi.advanceTimersByTimeAsync(MINUTE - T0 + 5000);
    expect(runs.size).toBe(N);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    const fires = events(lines, EVENTS.fire);
    expect(fires).toHaveLength(DEFAULTS.fireLogSample);
    expect(new Set(fires.map((l) => l['entry'])).size).toBe(DEFAULTS.fireLogSample);
    const [burst, ...more] = events(lines, EVENTS.burst);
    expect(more).toEqual([]);
    expect(burst).toMatchObject({ published: N, stale: 0, logged: DEFAULTS.fireLogSample, firstSlot: new Date(MINUTE).toISOString() });
    // Recorded: every entry's next slot is the next day's (its book cursor moved past this one).
    expect(runner.view('e0')?.nextSlotMs).toBe(MINUTE + 86_400_000);
    expect(runner.view(`e${N - 1}`)?.nextSlotMs).toBe(MINUTE + 86_400_000);
  });

  it('at debug logs every run', async () => {
    const { dispatcher } = countingDispatcher();
    const { runner, lines, started } = startRunner(config, dispatcher, 'debug');
    running = runner;
    await loaded(started);
    await vi.advanceTimersByTimeAsync(MINUTE - T0 + 5000);
    const fires = events(lines, EVENTS.fire);
    expect(new Set(fires.map((l) => l['entry'])).size).toBe(N);
    expect(fires).toHaveLength(N);
    expect(fires.filter((l) => l['level'] === 'info')).toHaveLength(DEFAULTS.fireLogSample);
    expect(fires.filter((l) => l['level'] === 'debug')).toHaveLength(N - DEFAULTS.fireLogSample);
    expect(events(lines, EVENTS.burst)).toHaveLength(1);
  });

  it('a stop in the middle of the burst ends it at its next batch, without waiting for the rest', async () => {
    const waiting: (() => void)[] = [];
    const gate = () => new Promise<void>((resolve) => waiting.push(resolve));
    const { dispatcher, runs, calls } = countingDispatcher(gate);
    const { runner, started } = startRunner(config, dispatcher, 'info');
    await loaded(started);
    await vi.advanceTimersByTimeAsync(MINUTE - T0 + 10);
    // The first batches are out and unanswered: stop, then let them answer.
    const before = calls();
    expect(before).toBeGreaterThanOrEqual(1);
    const stopped = runner.stop();
    for (let i = 0; i < 10; i += 1) {
      for (const answer of waiting.splice(0)) answer();
      await vi.advanceTimersByTimeAsync(1);
    }
    await stopped;
    expect(calls()).toBeLessThanOrEqual(before + DEFAULTS.dispatchMaxInFlight);
    expect(runs.size).toBeLessThan(N / 10);
  });
});
