/**
 * What the warm-up (src/runtime/warm-up.ts) looks at while the runner sleeps, through the Runner on
 * fake timers as in runner-burst.test.ts, at 2,000 and 20,000 entries due at one instant, held to
 * ratios between the two sizes: each entry is looked at a bounded number of times before its instant
 * (a walk of every entry due within the horizon on every wake-up was 11 walks of the whole book per
 * instant), the minute after the burst looks at none, and the wake-ups do not grow with the entries.
 *
 * Looks are counted where they happen: each entry the book's heap hands out (EntryBook.dueBy) and
 * each "is its template compiled?" (RunRenderer.isCompiled).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedConfig, ResolvedEntry } from '../../src/config/resolve.js';
import type { Dispatcher, PublishResult } from '../../src/ports/dispatcher.js';
import type { StateStore } from '../../src/ports/state.js';
import { EntryBook } from '../../src/runtime/entry-book.js';
import { RunRenderer } from '../../src/runtime/dispatch-window.js';
import { Runner } from '../../src/runtime/runner.js';
import { WarmUp } from '../../src/runtime/warm-up.js';
import { createLogger } from '../../src/base/log.js';

const S = 1000;
const T0 = Date.parse('2026-11-21T06:00:30.000Z');
const MINUTE = Date.parse('2026-11-21T06:01:00.000Z');

/** `n` entries due at 06:01 every hour, and `more` besides. */
function configOf(n: number, more: Record<string, unknown> = {}): ResolvedConfig {
  const beatSchedule: Record<string, unknown> = { ...more };
  for (let i = 0; i < n; i += 1) beatSchedule[`e${i}`] = { task: 't.burst', args: [i], schedule: { crontab: { minute: 1, hour: '*' } } };
  // One wake-up a second, as by default.
  return parseConfig({ name: 'warm', maxInterval: '1s', beatSchedule }, 'runner-warm-up.test');
}

const newState: StateStore = {
  async load(names, nowMs) {
    return new Map(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
  },
};

/** The renderer's private compileNew (every template it makes, kept or not), for a spy that records them. */
interface CompilesNew {
  compileNew(entry: ResolvedEntry, keep: boolean): unknown;
}

/** Publishes everything; `prepared` has each template compiled (RunRenderer's compileNew), with when. */
function dispatcher() {
  const runs: { entry: string; slotMs: number }[] = [];
  const prepared: { entry: string; atMs: number }[] = [];
  const d: Dispatcher = {
    async dispatch(batch) {
      for (const run of batch) runs.push({ entry: run.entry.name, slotMs: run.slotMs });
      return { fenced: false, outcomes: batch.map((): PublishResult => 'published') };
    },
  };
  const prototype = RunRenderer.prototype as unknown as CompilesNew;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const compileNew = prototype.compileNew;
  vi.spyOn(prototype, 'compileNew').mockImplementation(function (this: CompilesNew, entry, keep) {
    prepared.push({ entry: entry.name, atMs: Date.now() });
    return compileNew.call(this, entry, keep);
  });
  return { dispatcher: d, runs, prepared };
}

/** Counts the entries looked at and the warm-up's wake-ups from here on (until `reset`). */
function counting() {
  const dueBy = vi.spyOn(EntryBook.prototype, 'dueBy');
  const isCompiled = vi.spyOn(RunRenderer.prototype, 'isCompiled');
  const whileSleeping = vi.spyOn(WarmUp.prototype, 'whileSleeping');
  const counts = () => {
    const walked = dueBy.mock.results.reduce((sum, r) => sum + (r.type === 'return' ? r.value.length : 0), 0);
    return { walked, looks: walked + isCompiled.mock.calls.length, wakeUps: whileSleeping.mock.calls.length };
  };
  const reset = () => {
    for (const spy of [dueBy, isCompiled, whileSleeping]) spy.mockClear();
  };
  return { counts, reset };
}

let running: Runner | undefined;

/** Starts a Runner (the class given: one loaded with a speed-up off) and lets the fake time fill its book. */
async function start(config: ResolvedConfig, d: Dispatcher, RunnerClass: typeof Runner = Runner): Promise<Runner> {
  const runner = new RunnerClass({
    config,
    dispatcher: d,
    state: newState,
    clock: { now: () => Date.now() },
    logger: createLogger({ level: 'warn', destination: { write: () => undefined } }),
    messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
    lease: () => 'token-1',
    onFenced: () => undefined,
  });
  running = runner;
  // The book is filled a slice per turn of the event loop: the fake timers let the turns run.
  let done = false;
  const started = runner.start().then(() => (done = true));
  while (!done) await vi.advanceTimersToNextTimerAsync();
  await started;
  return runner;
}

beforeEach(() => {
  vi.useFakeTimers({
    now: T0,
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'],
  });
});

/** Stops the runner, letting the fake time pass for a tick in flight to end. */
async function stop(): Promise<void> {
  let stopped = false;
  const stopping = running?.stop().then(() => (stopped = true));
  running = undefined;
  while (stopping !== undefined && !stopped) await vi.advanceTimersByTimeAsync(100);
}

afterEach(async () => {
  await stop();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** One size: looks per entry before the instant, looks and wake-ups in the 55 s after the burst. */
async function measure(n: number) {
  const { dispatcher: d, runs, prepared } = dispatcher();
  const { counts, reset } = counting();
  await start(configOf(n), d);
  reset();
  await vi.advanceTimersByTimeAsync(MINUTE - 200 - T0);
  const before = { looksPerEntry: counts().looks / n, compiled: new Set(prepared.map((p) => p.entry)).size };
  await vi.advanceTimersByTimeAsync(5200);
  expect(runs).toHaveLength(n);
  reset();
  await vi.advanceTimersByTimeAsync(55 * S);
  return { before, after: counts() };
}

describe('the warm-up looks at an entry due once, not at every wake-up', () => {
  it('2,000 and 20,000 entries due at one instant: a bounded number of looks per entry before it, none in the minute after, the same wake-ups', async () => {
    const small = await measure(2000);
    await stop();
    vi.restoreAllMocks();
    vi.setSystemTime(T0);
    const large = await measure(20_000);
    // Every template compiled ahead of the instant.
    expect(small.before.compiled).toBe(2000);
    expect(large.before.compiled).toBe(20_000);
    // A walk of the entries due and the filter of those not compiled: about 2 looks an entry,
    // whatever the size (a walk on each of the 11 wake-ups in the horizon was ~23).
    expect(small.before.looksPerEntry).toBeLessThan(4);
    expect(large.before.looksPerEntry).toBeLessThan(small.before.looksPerEntry * 1.1);
    // The minute after the burst: every entry due an hour later, nothing looked at.
    expect(small.after.looks).toBeLessThanOrEqual(10);
    expect(large.after.looks).toBeLessThanOrEqual(10);
    // One wake-up a second at either size.
    expect(small.after.wakeUps).toBeGreaterThanOrEqual(50);
    expect(Math.abs(large.after.wakeUps - small.after.wakeUps)).toBeLessThanOrEqual(2);
  }, 60_000);

  it('an entry moved within the horizon after the walk is compiled ahead of each run without another walk of the book', async () => {
    const { dispatcher: d, runs, prepared } = dispatcher();
    // `fifteen` gives its template back after each run (next run more than 10 s away) and must get
    // it again before the next; `second` is moved within the horizon at every wake-up.
    const config = configOf(2000, { fifteen: { task: 't.fifteen', schedule: 15 }, second: { task: 't.second', schedule: 1 } });
    const { counts, reset } = counting();
    await start(config, d);
    reset();
    await vi.advanceTimersByTimeAsync(MINUTE + 35 * S - T0);
    const slots = (entry: string) => runs.filter((r) => r.entry === entry).map((r) => r.slotMs);
    expect(slots('fifteen')).toEqual([T0 + 15 * S, T0 + 30 * S, T0 + 45 * S, T0 + 60 * S]);
    expect(slots('second')).toHaveLength(65);
    const fifteen = prepared.filter((p) => p.entry === 'fifteen').map((p) => p.atMs);
    // Once before each run: the fifth for the run at T0 + 75 s, within the horizon now.
    expect(fifteen).toHaveLength(5);
    fifteen.forEach((atMs, i) => expect(atMs).toBeLessThan(T0 + (i + 1) * 15 * S));
    expect(prepared.filter((p) => p.entry === 'second')).toHaveLength(1);
    // The 2,000 entries were walked once before their instant: not on each of the wake-ups in their horizon.
    expect(counts().walked).toBeLessThan(2000 + 500);
  });
});
