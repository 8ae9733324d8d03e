/**
 * The dashboard's results of an entry over its kept runs (src/dashboard/run-results.ts), and the
 * list's failing filter and result sorts, and the day strips (src/dashboard/day-strip.ts). Expected
 * values are worked out by hand from the records.
 */
import { describe, expect, it } from 'vitest';
import { slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import { buildIndex, pageOf } from '../../src/dashboard/entry-rows.js';
import type { RowQuery } from '../../src/dashboard/entry-rows.js';
import { dayStrip, stripStart } from '../../src/dashboard/day-strip.js';
import { resultOf, slotWires } from '../../src/dashboard/run-results.js';
import type { ResultWire } from '../../src/dashboard/wire.js';
import type { RunRecord, RunState } from '../../src/ports/outcomes.js';

const T0 = Date.parse('2027-01-10T12:00:00Z');
const run = (i: number, state: RunState, extra: Partial<RunRecord> = {}): RunRecord => ({
  taskId: `id-${i}`,
  slotMs: T0 + i * 60_000,
  publishedAtMs: T0 + i * 60_000 + 5,
  state,
  ...(state === 'PENDING' || state === 'STARTED' ? {} : { finishedAtMs: T0 + i * 60_000 + 2000, runtimeMs: 1995 }),
  ...extra,
});

describe('an entry results over its kept runs', () => {
  it('names the newest finished run, the last success and failure, the rate, and since when it fails', () => {
    // Newest first: one pending, two failures, a success, a failure, a success.
    const records = [
      run(6, 'PENDING'),
      run(5, 'FAILURE', { exception: 'RuntimeError: upstream 502' }),
      run(4, 'FAILURE', { exception: 'RuntimeError: upstream 503' }),
      run(3, 'SUCCESS'),
      run(2, 'FAILURE', { exception: 'ValueError: x' }),
      run(1, 'SUCCESS'),
    ];
    const r = resultOf(records, 'Europe/Paris');
    expect(r.last).toEqual({
      state: 'FAILURE',
      at: '2027-01-10T13:05:02+01:00',
      atMs: T0 + 5 * 60_000 + 2000,
      runtimeSeconds: 1.995,
      exception: 'RuntimeError: upstream 502',
    });
    expect(r.lastSuccess).toBe('2027-01-10T13:03:02+01:00');
    expect(r.lastFailure).toBe('2027-01-10T13:05:02+01:00');
    // The streak of failures began with run 4.
    expect(r.failingSince).toBe('2027-01-10T13:04:02+01:00');
    expect(r.successRate).toBe(2 / 5);
    expect([r.finished, r.kept, r.running]).toEqual([5, 6, true]);
  });

  it('has no last run, rate or streak before any run finished; a success ends a streak', () => {
    expect(resultOf([run(1, 'STARTED')], 'UTC')).toMatchObject({ last: null, successRate: null, failingSince: null, running: true });
    expect(resultOf([run(2, 'SUCCESS'), run(1, 'FAILURE')], 'UTC')).toMatchObject({ failingSince: null, successRate: 0.5 });
    // unknown: finished, no runtime shown, not a success.
    expect(resultOf([run(1, 'unknown')], 'UTC').last).toMatchObject({ state: 'unknown', runtimeSeconds: null });
  });

  it('takes the last finished run, the last success and failure and the streak from the finished hash, over a trimmed history', () => {
    // The history kept only two successes; the finished hash remembers a failure that fell out of it.
    const records = [run(9, 'SUCCESS'), run(8, 'SUCCESS')];
    const finished = {
      last: run(9, 'SUCCESS'),
      lastSuccessMs: T0 + 9 * 60_000 + 2000,
      lastFailureMs: T0 + 2 * 60_000 + 2000,
      failureStreak: 0,
    };
    const r = resultOf(records, 'UTC', finished);
    expect(r.lastFailure).toBe('2027-01-10T12:02:02+00:00');
    expect(r.lastSuccess).toBe('2027-01-10T12:09:02+00:00');
    expect(r.failureStreak).toBe(0);
    // A newer finish than the history's (a failover: the new leader's list is behind) is the one shown.
    const failed = resultOf(records, 'UTC', { ...finished, last: run(10, 'FAILURE', { exception: 'E: x' }), failureStreak: 1 });
    expect(failed.last).toMatchObject({ state: 'FAILURE', exception: 'E: x', atMs: T0 + 10 * 60_000 + 2000 });
    expect(failed.failureStreak).toBe(1);
    // Without a summary: from the history alone, the streak not known.
    expect(resultOf(records, 'UTC').failureStreak).toBeNull();
    expect(resultOf(records, 'UTC').lastFailure).toBeNull();
  });

  /** One run's row: a slot of one attempt. */
  const runWire = (record: RunRecord, deployment: string, entry: string, zone: string) =>
    slotWires([record], deployment, entry, zone, undefined)[0]!;

  it("shows a retried slot as one row, the last attempt's, marked as its own run was, with its attempts and its policy's", () => {
    const slotMs = T0 + 60_000;
    const own: RunRecord = { ...run(1, 'FAILURE'), slotMs, taskId: 'own', origin: 'trigger' };
    const retry: RunRecord = { ...run(2, 'SUCCESS'), slotMs, taskId: 'own-2', attempt: 2, retryOf: 'own' };
    const [slot, ...others] = slotWires([retry, own], 'dep', 'e', 'UTC', 3);
    expect(others).toEqual([]);
    expect(slot).toMatchObject({
      taskId: 'own-2',
      state: 'SUCCESS',
      by: 'trigger',
      slotMs,
      attemptCount: 2,
      maxAttempts: 3,
      slotTaskId: 'own',
    });
    expect(slot!.attempts.map((a) => [a.taskId, a.attempt, a.state])).toEqual([
      ['own', 1, 'FAILURE'],
      ['own-2', 2, 'SUCCESS'],
    ]);
  });

  it("marks a run by its record's origin when there is one (backfill, trigger), else by its task id", () => {
    const slotMs = T0 + 60_000;
    const scheduledId = slotTaskId('dep', 'e', slotMs);
    const backfilled: RunRecord = { ...run(1, 'SUCCESS'), taskId: scheduledId, origin: 'backfill' };
    expect(runWire(backfilled, 'dep', 'e', 'UTC').by).toBe('backfill');
    expect(runWire({ ...run(1, 'SUCCESS'), origin: 'trigger' as const }, 'dep', 'e', 'UTC').by).toBe('trigger');
    // An origin this version does not know: told by the task id.
    expect(runWire({ ...run(1, 'SUCCESS'), taskId: scheduledId, origin: 'later' } as unknown as RunRecord, 'dep', 'e', 'UTC').by).toBe(
      'schedule',
    );
  });

  it("marks a run whose task id is not its slot's as triggered", () => {
    const slotMs = T0 + 60_000;
    const scheduled = runWire({ ...run(1, 'SUCCESS'), taskId: slotTaskId('dep', 'e', slotMs) }, 'dep', 'e', 'UTC');
    expect(scheduled.by).toBe('schedule');
    expect(runWire(run(1, 'SUCCESS'), 'dep', 'e', 'UTC').by).toBe('trigger');
    // The same id under another deployment is not this slot's.
    expect(runWire({ ...run(1, 'SUCCESS'), taskId: slotTaskId('other', 'e', slotMs) }, 'dep', 'e', 'UTC').by).toBe('trigger');
  });
});

describe('the entry list by results', () => {
  const config = parseConfig(
    {
      name: 'dash',
      beatSchedule: Object.fromEntries(['ok', 'bad', 'flaky', 'none'].map((n) => [n, { task: `app.${n}`, schedule: 60 }])),
    },
    'test',
  );
  const rows = buildIndex({ config, entries: config.entries, invalid: [] });
  const results = new Map<string, ResultWire>([
    ['ok', resultOf([run(3, 'SUCCESS'), run(2, 'SUCCESS')], 'UTC')],
    ['bad', resultOf([run(2, 'FAILURE'), run(1, 'FAILURE')], 'UTC')],
    ['flaky', resultOf([run(4, 'SUCCESS'), run(3, 'FAILURE'), run(2, 'FAILURE'), run(1, 'FAILURE')], 'UTC')],
  ]);
  // What the routes read: the failures hash (bad failed twice in a row), the finished hash, the rates.
  const index = {
    failing: new Map([['bad', 2]]),
    lastStates: new Map([...results].map(([name, r]) => [name, { state: r.last!.state, atMs: r.last!.atMs ?? undefined }])),
    successRates: new Map([...results].map(([name, r]) => [name, r.successRate])),
  };
  const query = (q: Partial<RowQuery>): RowQuery => ({
    q: '',
    state: undefined,
    origin: undefined,
    queue: undefined,
    failing: false,
    sort: 'name',
    descending: false,
    offset: 0,
    limit: 100,
    ...q,
  });
  const names = async (q: Partial<RowQuery>) => pageOf(await rows, query(q), new Set(), T0, index).rows.map((r) => r.name);

  it('keeps only the entries with failed runs in a row (the failures hash)', async () => {
    expect(await names({ failing: true })).toEqual(['bad']);
  });

  it('sorts failures first, then successes (newest finish first), then entries with none; by success rate with none last', async () => {
    expect(await names({ sort: 'result' })).toEqual(['bad', 'flaky', 'ok', 'none']);
    expect(await names({ sort: 'success' })).toEqual(['bad', 'flaky', 'ok', 'none']);
    expect(await names({ sort: 'success', descending: true })).toEqual(['ok', 'flaky', 'bad', 'none']);
  });
});

describe('the day strip of an entry', () => {
  const config = parseConfig({ name: 'dash', beatSchedule: { minutely: { task: 'app.m', schedule: 60 } } }, 'test');
  const entry = config.entries[0]!;
  const M = 60_000;
  // Hour strip: 60 cells of a minute; the last holds now (T0 + 30 min).
  const start = stripStart(T0 + 30 * M, 60, M);

  it('colours each minute by what became of its slot: from the history and the reports of slots that never ran', () => {
    expect(start).toBe(T0 - 29 * M);
    const runs: RunRecord[] = [run(0, 'SUCCESS'), run(1, 'FAILURE'), run(2, 'PENDING'), run(3, 'unknown')];
    const cells = dayStrip(
      entry,
      runs,
      [
        { firstSlotMs: T0 + 4 * M, count: 3, reason: 'skip_late' },
        { firstSlotMs: T0 + 7 * M, count: 1, reason: 'overlap' },
        { firstSlotMs: T0 + 8 * M, count: 2, reason: 'paused' },
      ],
      start,
      60,
      M,
    );
    const at = (minute: number) => cells[29 + minute];
    // Runs' slots are T0 + i min (the helper's), so cell 29 + i holds run i.
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((m) => at(m)?.kind)).toEqual([
      'succeeded',
      'failed',
      'running',
      'unknown',
      'missed',
      'missed',
      'missed',
      'skipped',
      'paused',
      'paused',
    ]);
    expect(at(10)).toBeNull();
    expect(cells.slice(0, 29).every((c) => c === null)).toBe(true);
  });

  it('colours a PENDING run unconsumed, not running, while its queue is flagged unconsumed; a started one still runs', () => {
    const runs: RunRecord[] = [run(0, 'PENDING'), run(1, 'STARTED'), run(2, 'SUCCESS')];
    const kinds = (unconsumed: boolean) =>
      dayStrip(entry, runs, [], start, 60, M, unconsumed)
        .slice(29, 32)
        .map((c) => c?.kind);
    expect(kinds(true)).toEqual(['unconsumed', 'running', 'succeeded']);
    expect(kinds(false)).toEqual(['running', 'running', 'succeeded']);
  });

  it('shows the gravest kind of a cell that holds several slots, and counts each', () => {
    // A day strip: 15-minute cells; slots 0..14 min all fall in one.
    const dayStart = stripStart(T0 + 10 * M, 96, 15 * M);
    const cells = dayStrip(
      entry,
      [run(0, 'SUCCESS'), run(1, 'SUCCESS'), run(2, 'FAILURE')],
      [{ firstSlotMs: T0 + 3 * M, count: 2, reason: 'overlap' }],
      dayStart,
      96,
      15 * M,
    );
    const filled = cells.filter((c) => c !== null);
    expect(filled).toEqual([{ kind: 'failed', counts: { succeeded: 2, failed: 1, skipped: 2 } }]);
    expect(cells.indexOf(filled[0]!)).toBe(95);
  });
});
