/**
 * Runner.beforePublish: entries of the sources the publish script cannot fence (RedBeat, django) are
 * checked before each wake-up that publishes them, the changes the check brings are in force for
 * that wake-up, and it publishes only what was due when the check began. A fake dispatcher and
 * vitest's fake clock, as test/unit/runner.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { parseEntryDefinition } from '../../src/config/entry-definition.js';
import { parseConfig } from '../../src/config/load.js';
import { resolveEntry } from '../../src/config/resolve.js';
import type { EntryOrigin, ResolvedEntry } from '../../src/config/resolve.js';
import type { Dispatcher } from '../../src/ports/dispatcher.js';
import type { RunRecord, RunningRuns } from '../../src/ports/outcomes.js';
import type { StateStore } from '../../src/ports/state.js';
import { Runner } from '../../src/runtime/runner.js';

const S = 1000;
const T0 = Date.parse('2026-11-21T06:00:00.000Z');

function djangoEntry(name: string, args: unknown[], every: number, overlap?: string): ResolvedEntry {
  const parsed = parseEntryDefinition({ task: 't.d', schedule: every, args, ...(overlap === undefined ? {} : { overlap }) });
  if (!parsed.ok) throw new Error(name);
  return resolveEntry(name, parsed.entry, { zone: 'UTC', deployment: 'default' }, 'django', undefined, undefined, {
    incarnation: 'd1',
    revision: '@d1',
  });
}

const state: StateStore = {
  async load(names, nowMs) {
    return new Map(names.map((name) => [name, { seenMs: nowMs, runCount: 0 }]));
  },
};

/** What each dispatch call was handed: when, and each run's entry, slot and args. */
interface Call {
  readonly atMs: number;
  readonly runs: readonly { entry: string; slotMs: number; args: unknown }[];
}

/** A dispatcher that publishes every run and records each call in `calls`. */
function recordingDispatcher(calls: Call[]): Dispatcher {
  return {
    async dispatch(runs) {
      calls.push({ atMs: Date.now(), runs: runs.map((r) => ({ entry: r.entry.name, slotMs: r.slotMs, args: r.entry.args })) });
      return { fenced: false, outcomes: runs.map(() => 'published' as const) };
    },
  };
}

/** The Runner options every test here shares (each adds its config, dispatcher and check). */
const fixedOptions = {
  state,
  clock: { now: () => Date.now() },
  logger: createLogger({ level: 'silent' }),
  messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
  lease: () => 'token-1',
  onFenced: () => undefined,
};

/** Each dispatch call's runs as `entry@slot:args` (slot from T0), sorted. */
function runsOf(calls: readonly Call[]): string[][] {
  return calls.map((c) => c.runs.map((r) => `${r.entry}@${String(r.slotMs - T0)}:${JSON.stringify(r.args)}`).sort());
}

let runner: Runner | undefined;

beforeEach(() => {
  vi.useFakeTimers({
    now: T0,
    toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'Date'],
  });
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  vi.useRealTimers();
});

describe('Runner.beforePublish', () => {
  it('checks the due entries of the checked origins, applies what the check brings, and publishes what was due when it began', async () => {
    const calls: Call[] = [];
    const dispatcher = recordingDispatcher(calls);
    const checks: { atMs: number; due: Record<string, readonly string[]> }[] = [];
    const check = async (due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> => {
      checks.push({ atMs: Date.now(), due: Object.fromEntries(due) });
      // The second check finds the row edited; the look takes 1.2 s, past the file entry's next slot.
      if (checks.length === 2) {
        await new Promise((resolve) => setTimeout(resolve, 1200));
        await runner?.applyChanges([djangoEntry('d', ['v2'], 2)], []);
      }
    };
    runner = new Runner({
      ...fixedOptions,
      config: parseConfig({ name: 'unit', maxInterval: '10s', beatSchedule: { f: { task: 't.f', schedule: 1, catchUp: 'all' } } }, 'unit'),
      dispatcher,
      beforePublish: { origins: new Set<EntryOrigin>(['django', 'redbeat']), check },
    });
    await runner.start([djangoEntry('d', ['v1'], 2)]);

    // T0+1s: only the file's entry is due, nothing checked. T0+2s: the django row too, checked.
    await vi.advanceTimersByTimeAsync(2 * S + 100);
    expect(checks).toEqual([{ atMs: T0 + 2 * S, due: { django: ['d'] } }]);
    expect(runsOf(calls)).toEqual([['f@1000:[]'], ['d@2000:["v1"]', 'f@2000:[]']]);

    // T0+4s: the check finds the edit; the wake-up publishes the new args, and only what was due at
    // T0+4s: the file entry's T0+5s slot, due during the check, goes out in a wake-up of its own.
    calls.length = 0;
    await vi.advanceTimersByTimeAsync(2 * S);
    expect(checks.map((c) => c.atMs - T0)).toEqual([2 * S, 4 * S]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(runsOf(calls)).toEqual([['f@3000:[]'], ['d@4000:["v2"]', 'f@4000:[]'], ['f@5000:[]']]);
  });

  it('takes no unchecked run of a frequent entry into a burst it falls due during (issue 69)', async () => {
    // A 1 s django row on a grid 50 ms after the whole second, beside a burst of 1,020 file entries
    // every minute whose batches take 40 ms of the clock: its run of T0+60.05 s falls due while the
    // burst goes out, and must wait for a check of its own.
    const events: string[] = [];
    const dispatcher: Dispatcher = {
      async dispatch(runs) {
        const mine = runs.filter((r) => r.entry.name === 'd').map((r) => r.slotMs - T0);
        if (mine.length > 0) events.push(`publish d@${mine.join(',')}`);
        if (runs.some((r) => r.entry.name !== 'd')) vi.setSystemTime(Date.now() + 40);
        return { fenced: false, outcomes: runs.map(() => 'published' as const) };
      },
    };
    const check = async (due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> => {
      if (due.get('django')?.includes('d') === true) events.push(`check d at ${String(Date.now() - T0)}`);
    };
    const minutes = Object.fromEntries(Array.from({ length: 1020 }, (_, i) => [`m${i}`, { task: 't.m', schedule: { cron: '* * * * *' } }]));
    vi.setSystemTime(T0 + 50);
    runner = new Runner({
      ...fixedOptions,
      config: parseConfig({ name: 'unit', maxInterval: '10s', beatSchedule: minutes }, 'unit'),
      dispatcher,
      beforePublish: { origins: new Set<EntryOrigin>(['django']), check },
    });
    // The book is filled a slice at a time between turns of the event loop (timers here).
    const started = runner.start([djangoEntry('d', ['v1'], 1)]);
    await vi.advanceTimersByTimeAsync(10);
    await started;
    await vi.advanceTimersByTimeAsync(60 * S + 500);
    const at = events.indexOf('publish d@60050');
    expect(at).toBeGreaterThan(0);
    // Checked at or after its slot, and before it went out.
    const before = events[at - 1] ?? '';
    expect(before).toMatch(/^check d at /);
    expect(Number(before.slice('check d at '.length))).toBeGreaterThanOrEqual(60_050);
  });

  it('publishes no slot that fell due after a wake-up found nothing checked due (held up between the two)', async () => {
    const calls: Call[] = [];
    const dispatcher = recordingDispatcher(calls);
    // The row is edited at T0+1.5s: a check from then on finds it and brings the new args.
    const checks: number[] = [];
    const check = async (due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> => {
      checks.push(Date.now() + heldUpMs - T0);
      if (due.get('django')?.includes('d') === true) await runner?.applyChanges([djangoEntry('d', ['v2'], 2)], []);
    };
    // The process is held up (preempted, stopped) for 5 ms right after the wake-up of T0+1999 ms
    // found nothing checked due: past d's slot of T0+2s, which that wake-up must leave to the next.
    let heldUpMs = 0;
    let holdUp = false;
    runner = new Runner({
      ...fixedOptions,
      config: parseConfig({ name: 'unit', maxInterval: '10s' }, 'unit'),
      dispatcher,
      clock: { now: () => Date.now() + heldUpMs },
      lease: () => {
        if (holdUp) {
          holdUp = false;
          heldUpMs += 5;
        }
        return 'token-1';
      },
      beforePublish: { origins: new Set<EntryOrigin>(['django']), check },
    });
    await runner.start([djangoEntry('d', ['v1'], 2)]);
    await vi.advanceTimersByTimeAsync(1999);
    expect(calls).toEqual([]);
    // A wake-up at T0+1999 ms (a change applied, say), with nothing due then.
    holdUp = true;
    await runner.applyChanges([], []);
    await vi.advanceTimersByTimeAsync(100);
    expect(holdUp).toBe(false);
    // Published once, as the check after the slot fell due found the row.
    expect(runsOf(calls)).toEqual([['d@2000:["v2"]']]);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toBeGreaterThanOrEqual(2000);
  });

  it('checks an entry whose buffered slot is released (overlap bufferOne) before it publishes it', async () => {
    const calls: Call[] = [];
    const dispatcher = recordingDispatcher(calls);
    // The previous run of d runs until `finish` is called.
    let unfinished: RunRecord | undefined;
    let finished: ((entry: string) => void) | undefined;
    const running: RunningRuns = {
      unfinishedRun: () => unfinished,
      ready: () => Promise.resolve(),
      onFinished: (listener) => {
        finished = listener;
        return () => undefined;
      },
    };
    const checks: { atMs: number; due: Record<string, readonly string[]> }[] = [];
    const check = async (due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> => {
      checks.push({ atMs: Date.now(), due: Object.fromEntries(due) });
      // The row was edited while its slot waited: the check before the release finds it.
      if (Date.now() === T0 + 4500) await runner?.applyChanges([djangoEntry('d', ['v2'], 2, 'bufferOne')], []);
    };
    runner = new Runner({
      ...fixedOptions,
      config: parseConfig({ name: 'unit', maxInterval: '10s' }, 'unit'),
      dispatcher,
      running,
      beforePublish: { origins: new Set<EntryOrigin>(['django']), check },
    });
    await runner.start([djangoEntry('d', ['v1'], 2, 'bufferOne')]);
    await vi.advanceTimersByTimeAsync(2 * S + 100);
    expect(runsOf(calls)).toEqual([['d@2000:["v1"]']]);
    // T0+4s: the run of T0+2s still runs: the slot is buffered, nothing published.
    unfinished = { taskId: 'd-2', slotMs: T0 + 2 * S, publishedAtMs: T0 + 2 * S, state: 'STARTED' };
    await vi.advanceTimersByTimeAsync(2 * S);
    expect(runsOf(calls)).toHaveLength(1);
    // T0+4.5s: it finishes; the released slot is checked first and goes out as the row is now.
    await vi.advanceTimersByTimeAsync(400);
    unfinished = undefined;
    finished?.('d');
    await vi.advanceTimersByTimeAsync(100);
    expect(checks.map((c) => [c.atMs - T0, c.due])).toEqual([
      [2 * S, { django: ['d'] }],
      [4 * S, { django: ['d'] }],
      [4500, { django: ['d'] }],
    ]);
    expect(runsOf(calls)).toEqual([['d@2000:["v1"]'], ['d@4000:["v2"]']]);
  });

  it('releases no buffered slot whose previous run finished during the check of other entries: the next wake-up checks it first', async () => {
    const calls: Call[] = [];
    const dispatcher = recordingDispatcher(calls);
    let unfinished: RunRecord | undefined;
    let finished: ((entry: string) => void) | undefined;
    const running: RunningRuns = {
      unfinishedRun: (name) => (name === 'd' ? unfinished : undefined),
      ready: () => Promise.resolve(),
      onFinished: (listener) => {
        finished = listener;
        return () => undefined;
      },
    };
    let edited = false;
    const checks: { atMs: number; due: Record<string, readonly string[]> }[] = [];
    const check = async (due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<void> => {
      checks.push({ atMs: Date.now(), due: Object.fromEntries(due) });
      const names = due.get('django') ?? [];
      // d's row was edited while its slot waited: a check of d from then on brings the new args.
      if (edited && names.includes('d')) await runner?.applyChanges([djangoEntry('d', ['v2'], 2, 'bufferOne')], []);
      // While e's row is checked (its slot of T0+5s), d's previous run finishes.
      if (names.includes('e') && unfinished !== undefined) {
        unfinished = undefined;
        finished?.('d');
      }
    };
    runner = new Runner({
      ...fixedOptions,
      config: parseConfig({ name: 'unit', maxInterval: '10s' }, 'unit'),
      dispatcher,
      running,
      beforePublish: { origins: new Set<EntryOrigin>(['django']), check },
    });
    await runner.start([djangoEntry('d', ['v1'], 2, 'bufferOne'), djangoEntry('e', ['e'], 5)]);
    await vi.advanceTimersByTimeAsync(2 * S + 100);
    // T0+4s: the run of T0+2s still runs: d's slot is buffered. T0+5s: e's slot, checked.
    unfinished = { taskId: 'd-2', slotMs: T0 + 2 * S, publishedAtMs: T0 + 2 * S, state: 'STARTED' };
    edited = true;
    await vi.advanceTimersByTimeAsync(3 * S);
    // The wake-up of T0+5s publishes e alone; the next one (at once) checks d, then releases its slot.
    expect(checks.map((c) => c.due)).toEqual([{ django: ['d'] }, { django: ['d'] }, { django: ['e'] }, { django: ['d'] }]);
    expect(checks.slice(0, 3).map((c) => c.atMs - T0)).toEqual([2 * S, 4 * S, 5 * S]);
    expect(runsOf(calls)).toEqual([['d@2000:["v1"]'], ['e@5000:["e"]'], ['d@4000:["v2"]']]);
  });
});
