/**
 * The scheduler loop (Runner) against a fake dispatcher and state store, on vitest's fake timers:
 * `Date.now()` is the fake clock the runner reads, `vi.setSystemTime` steps it without firing
 * timers (a wall-clock step), `vi.advanceTimersByTimeAsync` lets time pass. The fake dispatcher
 * publishes whatever it is given, with no per-slot check of its own, so a slot the runner hands over
 * twice shows up twice.
 */
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedConfig } from '../../src/config/resolve.js';
import { jitterFor } from '../../src/core/schedule.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { EVENTS } from '../../src/base/log-events.js';
import { DEFAULTS } from '../../src/base/defaults.js';
import { FIRST_BATCH_RUNS } from '../../src/runtime/dispatch-window.js';
import { createLogger } from '../../src/base/log.js';
import type { DispatchResult, Dispatcher, DueRun, PublishResult, SlotAhead } from '../../src/ports/dispatcher.js';
import type { EntryState, StateStore } from '../../src/ports/state.js';
import type { Clock } from '../../src/ports/clock.js';
import { Runner, STOP_PUBLISH_WAIT_MS } from '../../src/runtime/runner.js';
import { SUPERSEDED_RETRY_MS } from '../../src/runtime/entry-book.js';
import type { Pause } from '../../src/base/pause-watch.js';
import { NO_EVENTS } from '../../src/ports/events.js';
import type { EntryFailure, SchedulerEvents } from '../../src/ports/events.js';

const S = 1000;
const T0 = Date.parse('2026-11-21T06:00:00.000Z');

interface Published {
  readonly entry: string;
  readonly slotMs: number;
  /** The clock when the dispatcher was called. */
  readonly atMs: number;
  readonly id: string;
}

type Behaviour = (runs: readonly DueRun[], token: string) => DispatchResult | Error | undefined;

function configOf(beatSchedule: Record<string, unknown>): ResolvedConfig {
  return parseConfig({ name: 'unit', maxInterval: '200ms', beatSchedule }, 'runner.test');
}

/**
 * A dispatcher that publishes everything it is given, unless `behaviour` says otherwise for a call;
 * runs it is told to `refuse` come back 'unsent' with a failure (a broker that did not confirm them).
 */
function fakeDispatcher(behaviour: Behaviour = () => undefined, refuse: (run: DueRun) => boolean = () => false) {
  const published: Published[] = [];
  const calls: { atMs: number; token: string; runs: number }[] = [];
  const dispatcher: Dispatcher = {
    async dispatch(runs, token, nowMs) {
      calls.push({ atMs: Date.now(), token, runs: runs.length });
      const override = behaviour(runs, token);
      if (override instanceof Error) throw override;
      if (override !== undefined) return override;
      const outcomes = runs.map((run): PublishResult => (refuse(run) ? 'unsent' : 'published'));
      runs.forEach(
        (run, i) =>
          outcomes[i] === 'published' && published.push({ entry: run.entry.name, slotMs: run.slotMs, atMs: nowMs, id: run.message.id }),
      );
      const unsent = outcomes.filter((o) => o === 'unsent').length;
      return unsent === 0
        ? { fenced: false, outcomes }
        : { fenced: false, outcomes, failure: new Error(`${unsent} of ${runs.length} runs not confirmed by the broker`) };
    },
  };
  return { dispatcher, published, calls };
}

/** The runner's private armAt (a timer for an instant of the wall clock), for a spy that records what it is armed for. */
interface ArmsAt {
  armAt(dueMs: number, fire: () => void, behind: (leftMs: number) => void): void;
}

/** A state store with fixed stored states; entries not in it are new and "seen" now (as the Redis store records them). */
function fakeState(stored: Record<string, EntryState> = {}): StateStore {
  return {
    async load(names, nowMs) {
      return new Map(names.map((name) => [name, stored[name] ?? { seenMs: nowMs, runCount: 0 }]));
    },
  };
}

function captureLogs() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { lines, logger };
}

const runners: Runner[] = [];

interface Setup {
  readonly config: ResolvedConfig;
  readonly dispatcher: Dispatcher;
  readonly state?: StateStore;
  readonly lease?: () => string | undefined;
  readonly onFenced?: () => void;
  readonly onClockAhead?: (ahead: SlotAhead) => void;
  readonly onPublishFailed?: (error: unknown) => void;
  readonly logger?: ReturnType<typeof captureLogs>['logger'];
  readonly beforeCatchUp?: () => Promise<void>;
  readonly pauses?: { last(): Pause | undefined; watchFrom?(fromMs: number | undefined): void };
  readonly onSuperseded?: (names: readonly string[]) => void;
  readonly events?: SchedulerEvents;
  readonly clock?: Clock;
}

async function startRunner(setup: Setup): Promise<Runner> {
  const runner = new Runner({
    config: setup.config,
    dispatcher: setup.dispatcher,
    state: setup.state ?? fakeState(),
    clock: setup.clock ?? { now: () => Date.now() },
    logger: setup.logger ?? captureLogs().logger,
    messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
    lease: setup.lease ?? (() => 'token-1'),
    onFenced: setup.onFenced ?? (() => undefined),
    ...(setup.onClockAhead === undefined ? {} : { onClockAhead: setup.onClockAhead }),
    ...(setup.onPublishFailed === undefined ? {} : { onPublishFailed: setup.onPublishFailed }),
    ...(setup.beforeCatchUp === undefined
      ? {}
      : { readFirst: { read: setup.beforeCatchUp, pauses: { last: () => undefined, watchFrom: () => undefined, ...setup.pauses } } }),
    ...(setup.onSuperseded === undefined ? {} : { onSuperseded: setup.onSuperseded }),
    ...(setup.events === undefined ? {} : { events: setup.events }),
  });
  runners.push(runner);
  await runner.start();
  return runner;
}

/** Lets `ms` of time pass (clock and timers together). */
const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const slotsOf = (published: readonly Published[], entry: string) => published.filter((p) => p.entry === entry).map((p) => p.slotMs);

beforeEach(() => {
  vi.useFakeTimers({
    now: T0,
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'],
  });
});

afterEach(async () => {
  for (const runner of runners.splice(0)) await runner.stop();
  vi.useRealTimers();
});

describe('Runner', () => {
  it('a new interval entry waits one interval', async () => {
    const { dispatcher, published } = fakeDispatcher();
    await startRunner({ config: configOf({ fresh: { task: 't.fresh', schedule: 10 } }), dispatcher });
    await advance(10 * S - 1);
    expect(published).toEqual([]);
    await advance(300);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 10 * S]);
    expect(published[0]?.id).toBe(slotTaskId('unit', 'fresh', T0 + 10 * S));
  });

  it('an overdue entry fires once on start with the default policy', async () => {
    const { dispatcher, published } = fakeDispatcher();
    const { lines, logger } = captureLogs();
    // Last ran 35 s ago on a 10 s grid: the slots at -25 s, -15 s and -5 s were missed.
    const state = fakeState({ overdue: { slotMs: T0 - 35 * S, runCount: 7 } });
    await startRunner({ config: configOf({ overdue: { task: 't.overdue', schedule: 10 } }), dispatcher, state, logger });
    await advance(100);
    expect(published.map((p) => p.slotMs)).toEqual([T0 - 5 * S]);
    expect(lines.find((l) => l['event'] === EVENTS.catchUp)).toMatchObject({ entry: 'overdue', missed: 2, firing: 1, policy: 'once' });
    // …and then keeps its grid: the next slot is 10 s after the one it fired.
    await advance(5 * S - 200);
    expect(published).toHaveLength(1);
    await advance(400);
    expect(published.map((p) => p.slotMs)).toEqual([T0 - 5 * S, T0 + 5 * S]);
  });

  it('after a failed publish, reads the runtime entries again (beforeCatchUp) before the next one, once', async () => {
    let failing = true;
    const { dispatcher, published, calls } = fakeDispatcher(() => (failing ? new Error('Redis went away') : undefined));
    const reads: number[] = [];
    const beforeCatchUp = async (): Promise<void> => {
      reads.push(calls.length);
      failing = false;
    };
    await startRunner({ config: configOf({ e: { task: 't.e', schedule: 1, catchUp: 'all' } }), dispatcher, beforeCatchUp });
    await advance(S + 100);
    expect(calls).toHaveLength(1);
    expect(reads).toEqual([]);
    await advance(DEFAULTS.publishRetryMs);
    // Read after the failed call and before the retry, which publishes; not read again after that.
    expect(reads).toEqual([1]);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + S, T0 + 2 * S]);
    await advance(2 * S);
    expect(reads).toEqual([1]);
    expect(published.map((p) => p.slotMs)).toEqual([1, 2, 3, 4].map((k) => T0 + k * S));
  });

  it('backing off after a failed publish, tries again as soon as Redis is back (reconnected), once per failure', async () => {
    let failing = true;
    const { dispatcher, published, calls } = fakeDispatcher(() => (failing ? new Error('Redis went away') : undefined));
    const runner = await startRunner({ config: configOf({ e: { task: 't.e', schedule: 1, catchUp: 'all' } }), dispatcher });
    await advance(S + 100);
    expect(calls.map((c) => c.atMs)).toEqual([T0 + S]);
    // Back, and gone again at once: the early try fails, and then the whole backoff is slept, whatever
    // reconnects meanwhile (a connection that keeps coming back and dropping makes no loop).
    runner.reconnected();
    await advance(10);
    expect(calls.map((c) => c.atMs)).toEqual([T0 + S, T0 + S + 100]);
    failing = false;
    runner.reconnected();
    runner.reconnected();
    await advance(500);
    expect(calls).toHaveLength(2);
    await advance(DEFAULTS.publishRetryMs - 500 + 10);
    expect(calls).toHaveLength(3);
    expect((calls[2]?.atMs ?? 0) - (calls[1]?.atMs ?? 0)).toBeGreaterThanOrEqual(DEFAULTS.publishRetryMs);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + S, T0 + 2 * S]);
    // A new failure gets its own early try.
    failing = true;
    await advance(S);
    expect(calls).toHaveLength(4);
    failing = false;
    runner.reconnected();
    await advance(10);
    expect(calls).toHaveLength(5);
    expect(published.map((p) => p.slotMs)).toEqual([1, 2, 3].map((k) => T0 + k * S));
    // Not backing off: a reconnect wakes nothing.
    runner.reconnected();
    await advance(10);
    expect(calls).toHaveLength(5);
  });

  it('reads the runtime entries before it publishes after a pause its own timer barely saw, once per pause', async () => {
    const { dispatcher, published, calls } = fakeDispatcher();
    const { lines, logger } = captureLogs();
    const reads: number[] = [];
    let last: Pause | undefined;
    await startRunner({
      config: configOf({ e: { task: 't.e', schedule: 1 } }),
      dispatcher,
      logger,
      beforeCatchUp: async () => {
        reads.push(calls.length);
      },
      pauses: { last: () => last },
    });
    await advance(S + 100);
    expect(published).toHaveLength(1);
    expect(reads).toEqual([]);
    // The process was frozen for a second, ending just before its timer fired: on time, and yet.
    last = { endMs: 5000, lengthMs: 1000 };
    await advance(S);
    expect(reads).toEqual([1]);
    expect(published).toHaveLength(2);
    expect(lines.filter((l) => l['event'] === EVENTS.gapNoticed)).toMatchObject([{ pausedMs: 1000 }]);
    // The same pause is not read for again; the next one is.
    await advance(S);
    expect(reads).toEqual([1]);
    last = { endMs: 7000, lengthMs: 300 };
    await advance(S);
    expect(reads).toEqual([1, 3]);
    expect(published).toHaveLength(4);
  });

  it('has the pause watch beat from readFirstMaxMs before each publish on, and rest before that', async () => {
    const { dispatcher, published } = fakeDispatcher();
    // Where the watch is asked to begin, as ms from when it is asked.
    const asked: (number | undefined)[] = [];
    await startRunner({
      config: configOf({ e: { task: 't.e', schedule: 60 } }),
      dispatcher,
      beforeCatchUp: async () => undefined,
      pauses: { last: () => undefined, watchFrom: (fromMs) => asked.push(fromMs === undefined ? undefined : fromMs - performance.now()) },
    });
    await advance(60 * S + 100);
    expect(published).toHaveLength(1);
    // After the publish, the next is a minute away: the watch rests until 5 s before it.
    const last = asked.at(-1);
    expect(last).toBeGreaterThan(60 * S - DEFAULTS.readFirstMaxMs - 300);
    expect(last).toBeLessThanOrEqual(60 * S - DEFAULTS.readFirstMaxMs);
    // Within those 5 s it is asked to beat (an instant already past).
    await advance(57 * S);
    expect(asked.at(-1)).toBeLessThanOrEqual(0);
  });

  it('a run refused as superseded (its entry changed since it was read) is said, kept from its cursor and tried again after SUPERSEDED_RETRY_MS', async () => {
    let refusing = true;
    const { dispatcher, published, calls } = fakeDispatcher((runs) =>
      refusing ? { fenced: false, outcomes: runs.map((): PublishResult => 'superseded') } : undefined,
    );
    const told: string[][] = [];
    await startRunner({
      config: configOf({ e: { task: 't.e', schedule: 10, catchUp: 'all' } }),
      dispatcher,
      onSuperseded: (names) => {
        told.push([...names]);
        refusing = false;
      },
    });
    await advance(10 * S + 100);
    expect(told).toEqual([['e']]);
    expect(published).toEqual([]);
    await advance(SUPERSEDED_RETRY_MS - 200);
    expect(calls).toHaveLength(1);
    await advance(200);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 10 * S]);
  });

  it('an entry whose schedule spends its step budget is failed alone with its reason (log, failure record, retried with a backoff); a 1-second entry beside it keeps every slot', async () => {
    const { dispatcher, published } = fakeDispatcher();
    const { lines, logger } = captureLogs();
    const refusals: { failure: EntryFailure; changed: boolean }[] = [];
    const events: SchedulerEvents = { ...NO_EVENTS, entryRefused: (failure, changed) => void refusals.push({ failure, changed }) };
    const config = configOf({
      probe: { task: 't.probe', schedule: 1 },
      // Periods of 99,999 s that must start at midnight on a Monday February 29th: searched for centuries, if ever found.
      rare: {
        task: 't.rare',
        schedule: { rrule: 'FREQ=SECONDLY;INTERVAL=99999;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0' },
      },
    });
    await startRunner({ config, dispatcher, logger, events });
    await advance(10 * S + 100);
    expect(slotsOf(published, 'probe')).toEqual(Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * S));
    expect(slotsOf(published, 'rare')).toEqual([]);
    const failing = lines.filter((l) => l['event'] === EVENTS.entryFailing);
    expect(failing).toHaveLength(1);
    expect(failing[0]).toMatchObject({ entry: 'rare', task: 't.rare', code: 'SCHEDULE_BUDGET' });
    expect(String(failing[0]?.['reason'])).toMatch(/FREQ=SECONDLY;INTERVAL=99999.*took more than 25,000 steps/);
    // Reported at load and at each retry (1 s, 2 s, 4 s later): the record /status, the API and the metrics read.
    expect(refusals.map((r) => [r.failure.entry, r.failure.attempts, r.changed])).toEqual([
      ['rare', 1, true],
      ['rare', 2, false],
      ['rare', 3, false],
      ['rare', 4, false],
    ]);
    expect(refusals[0]?.failure.reason).toBe(failing[0]?.['reason']);
  });

  it('a clock that steps backwards never causes a second run of a slot', async () => {
    const { dispatcher, published } = fakeDispatcher();
    // catchUp "all" is the policy most eager to (re)play slots.
    const config = configOf({ every1s: { task: 't.s', schedule: 1, catchUp: 'all' } });
    await startRunner({ config, dispatcher });
    await advance(5 * S + 100);
    expect(slotsOf(published, 'every1s')).toEqual([1, 2, 3, 4, 5].map((k) => T0 + k * S));

    vi.setSystemTime(Date.now() - 3 * S); // NTP steps the clock back 3 s, to T0+2.1 s
    await advance(6 * S); // the clock reads T0+8.1 s
    const slots = slotsOf(published, 'every1s');
    expect(new Set(slots).size).toBe(slots.length);
    expect(slots).toEqual([...slots].sort((a, b) => a - b));
    // After the step the next slot is T0+6 s, published only once the clock has reached it again.
    expect(slots.slice(5)).toEqual([6, 7, 8].map((k) => T0 + k * S));
    for (const p of published) expect(p.atMs).toBeGreaterThanOrEqual(p.slotMs);

    // A restart while the clock is behind the last published slot (stored by a replica whose clock
    // was ahead): nothing runs until the clock has passed it.
    for (const runner of runners.splice(0)) await runner.stop();
    const { dispatcher: second, published: afterRestart } = fakeDispatcher();
    await startRunner({ config, dispatcher: second, state: fakeState({ every1s: { slotMs: T0 + 20 * S, runCount: 20 } }) });
    await advance(10 * S); // T0+18.1 s
    expect(afterRestart).toEqual([]);
    await advance(3 * S); // T0+21.1 s
    expect(afterRestart.map((p) => p.slotMs)).toEqual([T0 + 21 * S]);
  });

  it('a clock that steps forwards applies the missed-run policy (once/skip/all, catchUpWindow)', async () => {
    const { dispatcher, published } = fakeDispatcher();
    const { lines, logger } = captureLogs();
    const config = configOf({
      once: { task: 't.once', schedule: 10, catchUp: 'once' },
      skip: { task: 't.skip', schedule: 10, catchUp: 'skip' },
      all: { task: 't.all', schedule: 10, catchUp: 'all' },
      windowed: { task: 't.windowed', schedule: 10, catchUp: 'all', catchUpWindow: 25 },
    });
    await startRunner({ config, dispatcher, logger });
    await advance(10 * S + 100);
    for (const name of ['once', 'skip', 'all', 'windowed']) expect(slotsOf(published, name)).toEqual([T0 + 10 * S]);

    vi.setSystemTime(Date.now() + 45 * S); // the clock jumps to T0+55.1 s: slots 20, 30, 40, 50 were missed
    await advance(300);
    expect(slotsOf(published, 'once')).toEqual([T0 + 10 * S, T0 + 50 * S]);
    expect(slotsOf(published, 'skip')).toEqual([T0 + 10 * S]);
    expect(slotsOf(published, 'all')).toEqual([10, 20, 30, 40, 50].map((k) => T0 + k * S));
    // 25 s before T0+55.4 s is T0+30.4 s: slots 20 and 30 fall outside the window.
    expect(slotsOf(published, 'windowed')).toEqual([10, 40, 50].map((k) => T0 + k * S));
    expect(lines.find((l) => l['event'] === EVENTS.catchUp && l['entry'] === 'once')).toMatchObject({ missed: 3, reason: 'catch_up_once' });
    expect(lines.find((l) => l['event'] === EVENTS.skip && l['entry'] === 'skip')).toMatchObject({ missed: 4, reason: 'skip_late' });

    // Every policy is back on its grid for the next slot.
    await advance(5 * S);
    for (const name of ['once', 'skip', 'all', 'windowed']) expect(slotsOf(published, name).at(-1)).toBe(T0 + 60 * S);
  });

  it.each([
    { phaseMs: 50, label: 'falls due 50 ms into a burst' },
    { phaseMs: 0, label: 'shares the burst instant' },
  ])('publishes a 1 s entry that $label within a batch, not behind the whole burst (issue 69)', async ({ phaseMs }) => {
    // 4,020 every-minute entries, each batch of them taking 40 ms of the clock: a burst of ~330 ms.
    const BATCH_MS = 40;
    const minutes = FIRST_BATCH_RUNS + 8 * DEFAULTS.dispatchBatchRuns;
    const { dispatcher, published } = fakeDispatcher((runs) => {
      if (runs.some((run) => run.entry.name !== 'tick')) vi.setSystemTime(Date.now() + BATCH_MS);
      return undefined;
    });
    const schedule: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: minutes }, (_, i) => [`m${i}`, { task: 't.m', schedule: { cron: '* * * * *' } }]),
    );
    // Its grid starts at startAt (ahead of the first sighting: one behind it starts the grid there).
    schedule['tick'] = { task: 't.tick', schedule: 1, startAt: new Date(T0 + S + phaseMs).toISOString() };
    // The book is filled a slice at a time between turns of the event loop (timers here).
    const started = startRunner({ config: configOf(schedule), dispatcher });
    await advance(10);
    await started;
    await advance(2 * 60 * S + 900);
    for (const burst of [T0 + 60 * S, T0 + 120 * S]) {
      const slotMs = burst + phaseMs;
      const tick = published.filter((p) => p.entry === 'tick' && p.slotMs === slotMs);
      expect(tick).toHaveLength(1);
      // Held at most by the batch going out when it fell due.
      expect((tick[0] as Published).atMs - slotMs).toBeLessThanOrEqual(BATCH_MS);
      const ran = published.filter((p) => p.entry !== 'tick' && p.slotMs === burst);
      expect(new Set(ran.map((p) => p.entry)).size).toBe(minutes);
      expect(ran).toHaveLength(minutes);
    }
    // No slot of the 1 s entry lost or doubled across the bursts.
    const ticks = slotsOf(published, 'tick');
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(ticks).toEqual(Array.from({ length: ticks.length }, (_, k) => (ticks[0] as number) + k * S));
  });

  it('cuts a batch of a burst short when a frequent entry falls due while it is rendered (issue 69)', async () => {
    // Each read of the clock costs it 5 ms: a batch of 500 runs reads it between every 100 runs.
    const clock = {
      now: () => {
        vi.setSystemTime(Date.now() + 5);
        return Date.now();
      },
    };
    const calls: string[][] = [];
    const { dispatcher } = fakeDispatcher((runs) => {
      calls.push(runs.map((r) => r.entry.name));
      return undefined;
    });
    const schedule: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: FIRST_BATCH_RUNS + 8 * DEFAULTS.dispatchBatchRuns }, (_, i) => [
        `m${i}`,
        { task: 't.m', schedule: { cron: '* * * * *' } },
      ]),
    );
    // 1 s entries 10 ms apart in the second: some fall due while a batch of the burst is rendered.
    for (let k = 1; k < 30; k += 1)
      schedule[`tick${k}`] = { task: 't.tick', schedule: 1, startAt: new Date(T0 + S + 10 * k).toISOString() };
    const started = startRunner({ config: configOf(schedule), dispatcher, clock });
    await advance(10);
    await started;
    await advance(60 * S + 900);
    const isBurst = (names: readonly string[]): boolean => names.some((name) => name.startsWith('m'));
    const first = calls.findIndex(isBurst);
    const last = calls.findLastIndex(isBurst);
    // A burst batch cut short (past its first look, before its 500 runs), the ticks due then alone right after it.
    const cut = calls.findIndex(
      (names, i) =>
        i > first &&
        i < last &&
        isBurst(names) &&
        names.length >= 100 &&
        names.length < DEFAULTS.dispatchBatchRuns &&
        !isBurst(calls[i + 1] ?? []),
    );
    expect(cut).toBeGreaterThan(first);
    // Every run of the burst once.
    expect(calls.flat().filter((name) => name.startsWith('m')).length).toBe(FIRST_BATCH_RUNS + 8 * DEFAULTS.dispatchBatchRuns);
  });

  it('does not publish after losing the lease, and keeps the unpublished runs due', async () => {
    let token: string | undefined = 'token-1';
    // One entry more than a wake-up's first batch holds, so that a slot goes out in two batches. The lease
    // runs out while the first batch of the slot at T0+2 s is being published: the second batch must not go.
    const names = Array.from({ length: FIRST_BATCH_RUNS + 1 }, (_, i) => `e${i}`);
    const { dispatcher, published, calls } = fakeDispatcher((runs) => {
      if (runs[0]?.slotMs === T0 + 2 * S) token = undefined;
      return undefined;
    });
    const config = configOf(Object.fromEntries(names.map((name) => [name, { task: `t.${name}`, schedule: 1 }])));
    await startRunner({ config, dispatcher, lease: () => token });
    await advance(1 * S + 100);
    expect(published.map((p) => p.entry).sort()).toEqual([...names].sort());

    await advance(1 * S);
    const first = published.filter((p) => p.slotMs === T0 + 2 * S).map((p) => p.entry);
    expect(first).toHaveLength(FIRST_BATCH_RUNS);
    const [left, ...others] = names.filter((name) => !first.includes(name));
    expect(others).toEqual([]);
    expect(slotsOf(published, left as string)).toEqual([T0 + 1 * S]); // not sent: the lease was gone
    const callsWhenLost = calls.length;
    await advance(5 * S);
    expect(calls.length).toBe(callsWhenLost);

    // Leading again (same runner, for the sake of the test): its slot at T0+2 s was kept, not lost.
    // All replay with the default policy "once": the latest slot of each.
    token = 'token-2';
    await advance(300);
    expect(slotsOf(published, left as string)).toEqual([T0 + 1 * S, T0 + 7 * S]);
    expect(calls.slice(callsWhenLost).every((c) => c.token === 'token-2')).toBe(true);
  });

  it('keeps runs due when the dispatcher throws and publishes them on the next wake-up, after the error backoff (no hot loop)', async () => {
    // Redis is down from T0+10 s to T0+13 s: every publish attempt throws.
    const down = (): boolean => Date.now() >= T0 + 10 * S && Date.now() < T0 + 13 * S;
    const { dispatcher, published, calls } = fakeDispatcher(() => (down() ? new Error('connect ECONNREFUSED 127.0.0.1:6379') : undefined));
    const { lines, logger } = captureLogs();
    await startRunner({ config: configOf({ e: { task: 't.e', schedule: 10, catchUp: 'all' } }), dispatcher, logger });
    await advance(14 * S);
    const failed = calls.filter((c) => c.atMs >= T0 + 10 * S && c.atMs < T0 + 13 * S);
    // One attempt per backoff second, not one per event-loop turn.
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed.length).toBeLessThanOrEqual(4);
    expect(lines.filter((l) => l['event'] === EVENTS.publishRetry).length).toBe(failed.length);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 10 * S]);
    expect(published[0]?.atMs).toBeGreaterThanOrEqual(T0 + 13 * S);
    // …and it is back on the grid.
    await advance(7 * S);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 10 * S, T0 + 20 * S]);
  });

  it('logs the published runs of a partly sent batch as published and tries only the unsent ones again, after the error backoff', async () => {
    // The broker does not confirm b's messages from T0+10 s to T0+13 s (AMQP); a's go out.
    const refused = (run: DueRun): boolean => run.entry.name === 'b' && Date.now() >= T0 + 10 * S && Date.now() < T0 + 13 * S;
    const { dispatcher, published, calls } = fakeDispatcher(() => undefined, refused);
    const { lines, logger } = captureLogs();
    const entries = { a: { task: 't.a', schedule: 10, catchUp: 'all' }, b: { task: 't.b', schedule: 10, catchUp: 'all' } };
    await startRunner({ config: configOf(entries), dispatcher, logger });
    await advance(14 * S);
    // a once, logged as published once; never handed over again with b's retries.
    expect(slotsOf(published, 'a')).toEqual([T0 + 10 * S]);
    expect(lines.filter((l) => l['event'] === EVENTS.fire).map((l) => l['entry'])).toEqual(['a', 'b']);
    expect(lines.filter((l) => l['event'] === EVENTS.stale)).toEqual([]);
    // b: kept due, tried once per backoff second while refused, then published.
    const tries = calls.filter((c) => c.atMs >= T0 + 10 * S && c.atMs < T0 + 13 * S);
    expect(tries.length).toBeGreaterThanOrEqual(2);
    expect(tries.length).toBeLessThanOrEqual(4);
    expect(lines.filter((l) => l['event'] === EVENTS.publishRetry).map((l) => l['err'])).toEqual(
      tries.map(() => expect.objectContaining({ message: expect.stringContaining('not confirmed by the broker') })),
    );
    expect(slotsOf(published, 'b')).toEqual([T0 + 10 * S]);
    expect(published.find((p) => p.entry === 'b')?.atMs).toBeGreaterThanOrEqual(T0 + 13 * S);
    // Both back on the grid.
    await advance(7 * S);
    expect(slotsOf(published, 'a')).toEqual([T0 + 10 * S, T0 + 20 * S]);
    expect(slotsOf(published, 'b')).toEqual([T0 + 10 * S, T0 + 20 * S]);
  });

  it('reports each dropped run by its entry and each failed publish once (a batch partly out, or thrown), handing the failure on; nothing for a fenced reply', async () => {
    // One dispatch a wake-up (the three entries share their slots): 1st b's message reached no
    // queue; 2nd c unsent (a partial failure), retried by the 3rd; 4th thrown, retried by the 5th;
    // 6th fenced.
    const partial = new Error('1 of 3 runs not confirmed by the broker');
    const thrown = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    let call = 0;
    const reply = (runs: readonly DueRun[]): DispatchResult | Error | undefined => {
      call += 1;
      const outcomes = (unlucky: string, outcome: PublishResult): PublishResult[] =>
        runs.map((r) => (r.entry.name === unlucky ? outcome : 'published'));
      if (call === 1) return { fenced: false, outcomes: outcomes('b', 'dropped') };
      if (call === 2) return { fenced: false, outcomes: outcomes('c', 'unsent'), failure: partial };
      if (call === 4) return thrown;
      if (call >= 6) return { fenced: true };
      return undefined;
    };
    const { dispatcher } = fakeDispatcher(reply);
    const reported: unknown[][] = [];
    const events: SchedulerEvents = {
      ...NO_EVENTS,
      dropped: (entry) => reported.push(['dropped', entry]),
      publishFailed: (error) => reported.push(['publishFailed', error]),
    };
    const handedOn: unknown[] = [];
    let token: string | undefined = 'token-1';
    const entries = { a: { task: 't.a', schedule: 10 }, b: { task: 't.b', schedule: 10 }, c: { task: 't.c', schedule: 10 } };
    await startRunner({
      config: configOf(entries),
      dispatcher,
      events,
      lease: () => token,
      onFenced: () => (token = undefined),
      onPublishFailed: (error) => handedOn.push(error),
    });
    await advance(40 * S - 1);
    expect(call).toBe(5);
    expect(reported).toEqual([
      ['dropped', 'b'],
      ['publishFailed', partial],
      ['publishFailed', thrown],
    ]);
    expect(handedOn).toEqual([partial, thrown]);
    await advance(10 * S);
    expect([call, token, reported.length, handedOn.length]).toEqual([6, undefined, 3, 2]);
  });

  it('steps down when the dispatcher reports fenced, and the slot stays due for the next leader', async () => {
    let token: string | undefined = 'token-1';
    let fencedCalls = 0;
    const { dispatcher, published, calls } = fakeDispatcher((_, t) => (t === 'token-1' ? { fenced: true } : undefined));
    const { lines, logger } = captureLogs();
    // As Leadership.relinquish does: the lease is dropped at once.
    const onFenced = (): void => {
      fencedCalls += 1;
      token = undefined;
    };
    await startRunner({
      config: configOf({ f: { task: 't.f', schedule: 5, catchUp: 'all' } }),
      dispatcher,
      lease: () => token,
      onFenced,
      logger,
    });
    await advance(5 * S + 100);
    expect(fencedCalls).toBe(1);
    expect(published).toEqual([]);
    expect(lines.filter((l) => l['event'] === EVENTS.fenced)).toHaveLength(1);
    await advance(3 * S);
    expect(calls).toHaveLength(1); // no further attempt without a lease

    token = 'token-2';
    await advance(300);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 5 * S]);
  });

  it('the deployment stopped (the script refuses, before the leader heard): no retry while stopped, cursors kept; lifted, each entry catches up by its catchUp', async () => {
    let stopped = false;
    const { dispatcher, published, calls } = fakeDispatcher(() => (stopped ? { fenced: false, stopped: true } : undefined));
    const { lines, logger } = captureLogs();
    const config = configOf({
      once: { task: 't.once', schedule: 10, catchUp: 'once' },
      skip: { task: 't.skip', schedule: 10, catchUp: 'skip' },
      all: { task: 't.all', schedule: 10, catchUp: 'all' },
    });
    const runner = await startRunner({ config, dispatcher, logger });
    await advance(10 * S + 100);
    for (const name of ['once', 'skip', 'all']) expect(slotsOf(published, name)).toEqual([T0 + 10 * S]);
    const before = calls.length;

    stopped = true; // set in Redis; this leader has not read it
    await advance(35 * S); // T0+45.1 s: slots 20, 30 and 40 came due
    expect(calls.length - before).toBe(1); // the one refused attempt, then nothing (no hot loop)
    expect(runner.isStopped()).toBe(true);
    expect(published).toHaveLength(3);
    expect(lines.find((l) => l['event'] === EVENTS.deploymentStop)).toMatchObject({ by: 'publish script' });

    stopped = false;
    runner.setDeploymentStop(undefined);
    await advance(300);
    expect(slotsOf(published, 'once')).toEqual([T0 + 10 * S, T0 + 40 * S]);
    expect(slotsOf(published, 'skip')).toEqual([T0 + 10 * S]);
    expect(slotsOf(published, 'all')).toEqual([10, 20, 30, 40].map((k) => T0 + k * S));
    expect(lines.filter((l) => l['event'] === EVENTS.deploymentStop).at(-1)).toMatchObject({ cleared: true });
    await advance(5 * S);
    for (const name of ['once', 'skip', 'all']) expect(slotsOf(published, name).at(-1)).toBe(T0 + 50 * S);
  });

  it("steps down when the dispatcher refuses a slot ahead of Redis's clock (a clock stepped forward): logged once, nothing recorded, the slot due for the next leader", async () => {
    let token: string | undefined = 'token-1';
    const reported: SlotAhead[] = [];
    const ahead = { slotMs: T0 + 5 * S, redisMs: T0 + 5 * S - 3_600_000 };
    const { dispatcher, published } = fakeDispatcher((_, t) => (t === 'token-1' ? { fenced: false, ahead } : undefined));
    const { lines, logger } = captureLogs();
    const onClockAhead = (refused: SlotAhead): void => {
      reported.push(refused);
      token = undefined;
    };
    await startRunner({
      config: configOf({ f: { task: 't.f', schedule: 5, catchUp: 'all' } }),
      dispatcher,
      lease: () => token,
      onClockAhead,
      logger,
    });
    await advance(5 * S + 100);
    expect(reported).toEqual([ahead]);
    expect(published).toEqual([]);
    expect(lines.filter((l) => l['event'] === EVENTS.clockAhead)).toEqual([
      expect.objectContaining({ level: 'error', aheadMs: 3_600_000 }),
    ]);
    token = 'token-2';
    await advance(300);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 5 * S]);
  });

  it('stops within a bounded wait when the publish in flight never settles (a black-holed connection), and publishes nothing after', async () => {
    const { dispatcher, calls } = fakeDispatcher();
    const hanging: Dispatcher = {
      dispatch: (runs, token, nowMs) =>
        calls.length === 0
          ? (dispatcher.dispatch(runs, token, nowMs), new Promise<never>(() => undefined))
          : dispatcher.dispatch(runs, token, nowMs),
    };
    const { lines, logger } = captureLogs();
    const runner = await startRunner({ config: configOf({ h: { task: 't.h', schedule: 1 } }), dispatcher: hanging, logger });
    await advance(1 * S + 100);
    expect(calls).toHaveLength(1);
    runners.splice(runners.indexOf(runner), 1); // stopped here, not in afterEach
    let stopped = false;
    void runner.stop().then(() => {
      stopped = true;
    });
    await advance(STOP_PUBLISH_WAIT_MS - 100);
    expect(stopped).toBe(false);
    await advance(200);
    expect(stopped).toBe(true);
    expect(lines.find((l) => l['event'] === EVENTS.stopUnsettled)).toMatchObject({ level: 'warn', waitedMs: STOP_PUBLISH_WAIT_MS });
    await advance(5 * S);
    expect(calls).toHaveLength(1);
  });

  it('fires a jittered entry with catchUp "skip": the jitter delay is not lateness', async () => {
    // An entry whose first slot is delayed by more than the 1 s grace, so that the hazard shows.
    const name = Array.from({ length: 50 }, (_, i) => `jittered-${i}`).find((n) => jitterFor(n, T0 + 10 * S, 5 * S) > 2 * S) as string;
    const jitter = jitterFor(name, T0 + 10 * S, 5 * S);
    const { dispatcher, published } = fakeDispatcher();
    const { lines, logger } = captureLogs();
    await startRunner({ config: configOf({ [name]: { task: 't.j', schedule: 10, catchUp: 'skip', jitter: 5 } }), dispatcher, logger });
    await advance(10 * S + jitter - 50);
    expect(published).toEqual([]);
    await advance(400);
    expect(published.map((p) => p.slotMs)).toEqual([T0 + 10 * S]);
    expect(published[0]?.atMs).toBeGreaterThanOrEqual(T0 + 10 * S + jitter);
    expect(lines.filter((l) => l['event'] === EVENTS.skip)).toEqual([]);
  });

  async function runFor(runner: Runner, ms: number): Promise<void> {
    await runner.start();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await runner.stop();
  }

  /** At least `least` runs published, none before its slot, no slot twice. */
  function expectEachPublishedOnTime(published: readonly Published[], least: number): void {
    expect(published.length).toBeGreaterThanOrEqual(least);
    for (const run of published) expect(run.atMs).toBeGreaterThanOrEqual(run.slotMs);
    expect(new Set(published.map((r) => r.slotMs)).size).toBe(published.length);
  }

  function timedRunner(
    dispatcher: Dispatcher,
    lease: () => string | undefined = () => 'token',
    clock: Clock = { now: () => Date.now() },
  ): Runner {
    const runner = new Runner({
      config: configOf({ often: { task: 't.often', schedule: 0.1 } }),
      dispatcher,
      state: fakeState(),
      clock,
      logger: captureLogs().logger,
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      lease,
      onFenced: () => undefined,
    });
    runners.push(runner);
    return runner;
  }

  it('publishes each run at its instant, never before, each slot once', async () => {
    vi.useRealTimers();
    const { dispatcher, published } = fakeDispatcher();
    await runFor(timedRunner(dispatcher), 1200);
    expectEachPublishedOnTime(published, 6);
  });

  it("arms each wake-up for the entry's instant itself, not for a moment measured again after the tick", async () => {
    vi.useRealTimers();
    // A clock that has moved on a millisecond at each read: between a tick's last read and the
    // arming of the next wake-up, time always passes (on a loaded machine, CI saw one millisecond).
    let last = 0;
    const clock: Clock = { now: () => (last = Math.max(Date.now(), last + 1)) };
    const armed: number[] = [];
    const prototype = Runner.prototype as unknown as ArmsAt;
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const armAt = prototype.armAt;
    const at = vi.spyOn(prototype, 'armAt');
    at.mockImplementation(function (this: ArmsAt, dueMs, fire, behind) {
      armed.push(dueMs);
      armAt.call(this, dueMs, fire, behind);
    });
    onTestFinished(() => at.mockRestore());
    const { dispatcher, published } = fakeDispatcher();
    await runFor(
      timedRunner(dispatcher, () => 'token', clock),
      1500,
    );
    expect(published.length).toBeGreaterThanOrEqual(3);
    // Slots were armed as themselves, not a millisecond past (re-measured, every arming would be);
    // a tick late on a loaded machine finds its slot overdue and arms "now" instead, so not all.
    expect(published.filter((run) => armed.includes(run.slotMs)).length).toBeGreaterThanOrEqual(2);
  });

  it('a tick that ends at once (not leading, entries overdue) still lets timers run: no microtask loop', async () => {
    vi.useRealTimers();
    const { dispatcher, published } = fakeDispatcher();
    const state = fakeState({ overdue: { slotMs: Date.now() - 60 * S, runCount: 1 } });
    const runner = new Runner({
      config: configOf({ overdue: { task: 't.overdue', schedule: 1 } }),
      dispatcher,
      state,
      clock: { now: () => Date.now() },
      logger: captureLogs().logger,
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      lease: () => undefined,
      onFenced: () => undefined,
    });
    runners.push(runner);
    await runner.start();
    // Starved timers would never resolve this (the test would time out).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(published).toEqual([]);
  });

  it('a wall clock stepped back while the loop waits for an instant does not hold the loop: timers run and stop() returns while the clock is behind', async () => {
    vi.useRealTimers();
    const STEP = 3 * S;
    let offset = 0;
    // The wall clock itself (Date.now) steps, as NTP steps it: performance.now() does not.
    const wall = Date.now.bind(Date);
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall() + offset);
    onTestFinished(() => stepped.mockRestore());
    let stepAt: number | undefined;
    let turnedAt: number | undefined;
    const { dispatcher, published } = fakeDispatcher();
    // NTP steps the clock back in the last half second before the slot after the latest published,
    // while the loop's timer waits for that instant (the test's own looks at the clock, every 5 ms,
    // see it there). The latest, not the first: on a loaded machine a look may come past that half
    // second, and the step then comes before a later slot.
    const clock = {
      now: () => {
        const next = (published[published.length - 1]?.slotMs ?? Number.NaN) + S;
        const now = Date.now();
        if (stepAt === undefined && now >= next - S / 2 && now < next) {
          stepAt = next;
          offset = -STEP;
          setTimeout(() => {
            turnedAt = clock.now();
          }, 0);
        }
        return Date.now();
      },
    };
    const runner = new Runner({
      config: configOf({ second: { task: 't.second', schedule: 1 } }),
      dispatcher,
      state: fakeState(),
      clock,
      logger: captureLogs().logger,
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      lease: () => 'token',
      onFenced: () => undefined,
    });
    runners.push(runner);
    await runner.start();
    const until = async (done: () => boolean): Promise<void> => {
      while (!done()) {
        clock.now();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    await until(() => turnedAt !== undefined);
    // The event loop turned (a renewal timer, /healthz, a signal handler would have run) before the
    // clock had made up the step; a loop held by the wait turned only once it had.
    expect(turnedAt).toBeLessThan(stepAt as number);
    await runner.stop();
    expect(clock.now()).toBeLessThan(stepAt as number);
    // From the step on, with the clock behind, nothing may go out.
    expect(published.filter((p) => p.slotMs >= (stepAt as number))).toEqual([]);
  });
});
