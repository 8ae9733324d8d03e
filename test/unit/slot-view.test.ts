/**
 * An entry's history by slot (src/control/slot-view.ts): a slot's run and its retry attempts are one
 * row, its state the last attempt's. The records are written as run-history.lua keeps them (newest
 * first, each attempt a run of its own, `attempt` and `retryOf` from the second on); the expected
 * slots are worked out by hand.
 */
import { describe, expect, it } from 'vitest';
import { attemptsText, slotViews, slotsOf } from '../../src/control/slot-view.js';
import type { RunRecord, RunState } from '../../src/ports/outcomes.js';

const T0 = Date.parse('2027-01-10T12:00:00Z');
const MIN = 60_000;

/** Attempt `attempt` of the slot `slot` minutes past T0 (its own run's id `s<slot>`), published `at` minutes past T0. */
function attempt(slot: number, n: number, state: RunState, at: number, extra: Partial<RunRecord> = {}): RunRecord {
  const own = `s${slot}`;
  return {
    taskId: n === 1 ? own : `${own}-${n}`,
    slotMs: T0 + slot * MIN,
    publishedAtMs: T0 + at * MIN,
    state,
    ...(state === 'PENDING' ? {} : { finishedAtMs: T0 + at * MIN + 1000, runtimeMs: 1000 }),
    ...(state === 'FAILURE' ? { exception: `ValueError: attempt ${n}` } : {}),
    ...(n === 1 ? {} : { attempt: n, retryOf: own }),
    ...extra,
  };
}

const ids = (slots: RunRecord[][]): string[][] => slots.map((s) => s.map((r) => r.taskId));

describe('slotsOf', () => {
  it('groups each slot with its retries, oldest attempt first, the slots newest first; a slot that was not retried stays one run', () => {
    // Newest first, as the history lists them: slot 10's retries run while slot 11 ran (overlap allow).
    const history = [
      attempt(10, 3, 'SUCCESS', 14),
      attempt(11, 1, 'SUCCESS', 11),
      attempt(10, 2, 'FAILURE', 12),
      attempt(10, 1, 'FAILURE', 10),
      attempt(9, 1, 'SUCCESS', 9),
    ];
    expect(ids(slotsOf(history))).toEqual([['s11'], ['s10', 's10-2', 's10-3'], ['s9']]);
  });

  it('groups the attempts left of a slot whose own run has left the history, by their retryOf', () => {
    // The history holds 20 runs: slot 1's first attempt has been pushed out, its 2nd and 3rd have not.
    const history = [attempt(2, 1, 'SUCCESS', 8), attempt(1, 3, 'FAILURE', 7), attempt(1, 2, 'FAILURE', 4)];
    const slots = slotsOf(history);
    expect(ids(slots)).toEqual([['s2'], ['s1-2', 's1-3']]);
    const [, first] = slotViews(history, 'UTC', 3, 20);
    // Attempts run count the one that left: the last attempt's number.
    expect(first).toMatchObject({ taskId: 's1-3', state: 'FAILURE', slotTaskId: 's1', attemptCount: 3, maxAttempts: 3 });
    expect(first!.attempts.map((a) => a.attempt)).toEqual([2, 3]);
    expect(attemptsText(first!)).toBe('3/3');
  });

  it('takes a run without attempt fields as a slot of its own, each; a retry written without retryOf joins the slot of its slotMs', () => {
    // Two triggered runs published for the same slot instant are two slots; written before attempts, none has the fields.
    const a = attempt(5, 1, 'SUCCESS', 5, { taskId: 'manual-a' });
    const b = attempt(5, 1, 'FAILURE', 6, { taskId: 'manual-b' });
    const { retryOf: _written, ...orphan } = attempt(5, 2, 'SUCCESS', 7);
    expect(ids(slotsOf([orphan, b, a]))).toEqual([['manual-b', 's5-2'], ['manual-a']]);
    expect(ids(slotsOf([b, a]))).toEqual([['manual-b'], ['manual-a']]);
  });

  it("gives the slot its last attempt's state, times and exception, and every attempt kept", () => {
    const history = [attempt(3, 2, 'PENDING', 5), attempt(3, 1, 'FAILURE', 3, { origin: 'backfill' })];
    const [slot] = slotViews(history, 'UTC', undefined, 20);
    expect(slot).toMatchObject({
      taskId: 's3-2',
      state: 'PENDING',
      slot: '2027-01-10T12:03:00+00:00',
      publishedAt: '2027-01-10T12:05:00+00:00',
      finishedAt: null,
      exception: null,
      // How the slot was published is its own run's.
      origin: 'backfill',
      slotTaskId: 's3',
      attemptCount: 2,
      maxAttempts: null,
    });
    expect(slot!.attempts).toEqual([
      {
        taskId: 's3',
        attempt: 1,
        state: 'FAILURE',
        publishedAt: '2027-01-10T12:03:00+00:00',
        startedAt: null,
        finishedAt: '2027-01-10T12:03:01+00:00',
        runtimeSeconds: 1,
        exception: 'ValueError: attempt 1',
      },
      {
        taskId: 's3-2',
        attempt: 2,
        state: 'PENDING',
        publishedAt: '2027-01-10T12:05:00+00:00',
        startedAt: null,
        finishedAt: null,
        runtimeSeconds: null,
        exception: null,
      },
    ]);
    expect(attemptsText(slot!)).toBe('2');
  });

  it('keeps at most `limit` slots, the newest, each whole', () => {
    const history = [attempt(2, 2, 'SUCCESS', 4), attempt(2, 1, 'FAILURE', 2), attempt(1, 1, 'SUCCESS', 1), attempt(0, 1, 'SUCCESS', 0)];
    expect(slotViews(history, 'UTC', 2, 2).map((s) => [s.slotTaskId, s.attempts.length])).toEqual([
      ['s2', 2],
      ['s1', 1],
    ]);
    expect(slotsOf([])).toEqual([]);
  });
});
