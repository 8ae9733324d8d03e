/** How a run's record ends, as retries see it: a loss is only a run given up at outcomeTimeout; the record keeps that and its attempt. */
import { describe, expect, it } from 'vitest';
import { attemptEndOf, attemptOf, exhaustedEnd, nextAttempt } from '../../src/runtime/attempt-end.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { advance } from '../../src/outcomes/tracker.js';
import { advanceParts } from '../../src/outcomes/canvas-outcome.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { decodeRun, encodeRun } from '../../src/redis/run-history-codec.js';

const published: RunRecord = { taskId: 't', slotMs: 1000, publishedAtMs: 1000, state: 'PENDING' };

describe('attemptEndOf', () => {
  it('marks a run given up at outcomeTimeout as lost, a plain task and a canvas alike', () => {
    const timedOut = advance(published, undefined, 1001 + 60_000, 60_000);
    expect(timedOut).toMatchObject({ state: 'unknown', lost: true });
    expect(attemptEndOf(timedOut)).toBe('lost');
    const canvas: RunRecord = { ...published, parts: [{ path: 'chain[0]', task: 'a', id: 'p', state: 'PENDING', final: true }] };
    expect(attemptEndOf(advanceParts(canvas, [undefined], 1001 + 60_000, 60_000))).toBe('lost');
  });

  it('reads SUCCESS, FAILURE and REVOKED, an unknown that tells of no loss, and nothing before the end', () => {
    expect(attemptEndOf(advance(published, { state: 'FAILURE', exception: 'E: x' }, 2000, 60_000))).toBe('failure');
    expect(attemptEndOf(advance(published, { state: 'SUCCESS' }, 2000, 60_000))).toBe('success');
    expect(attemptEndOf({ state: 'REVOKED' })).toBe('stopped');
    // Given up for want of task events, or as one of too many runs followed: no sign of a loss.
    expect(attemptEndOf({ state: 'unknown' })).toBe('unknown');
    for (const state of ['PENDING', 'STARTED', 'RETRY'] as const) expect(attemptEndOf({ state })).toBeUndefined();
  });

  it("keeps the loss and a retry's attempt through the history codec; a record without them is the slot's own run", () => {
    const retried: RunRecord = { ...published, state: 'unknown', finishedAtMs: 9, lost: true, attempt: 3, retryOf: 's' };
    expect(encodeRun(retried)).toContain('"lost":1,"att":3,"of":"s"');
    expect(decodeRun(encodeRun(retried))).toEqual(retried);
    expect(attemptOf(decodeRun(encodeRun(retried)) ?? published)).toBe(3);
    expect(attemptOf(published)).toBe(1);
    // Another tsbeat's values read as none: the run is shown, not dropped.
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"unknown","lost":"yes","att":1.5}')).toEqual({
      taskId: 't',
      slotMs: 1,
      publishedAtMs: 2,
      state: 'unknown',
    });
  });

  it('exhaustedEnd: a run that failed or was lost on its last attempt is exhausted; an earlier attempt, a success or an end not retried is not', () => {
    const policy: RetryPolicy = { attempts: 3, initialMs: 1000, factor: 2, maxMs: 60_000, on: ['failure', 'lost'] };
    const failed: RunRecord = { ...published, state: 'FAILURE', finishedAtMs: 2000 };
    expect(exhaustedEnd({ ...failed, attempt: 3, retryOf: 's' }, policy)).toBe('failure');
    expect(exhaustedEnd({ ...published, state: 'unknown', lost: true, attempt: 3, retryOf: 's' }, policy)).toBe('lost');
    expect(exhaustedEnd({ ...failed, attempt: 2, retryOf: 's' }, policy)).toBeUndefined();
    expect(exhaustedEnd(failed, policy)).toBeUndefined();
    expect(exhaustedEnd({ ...failed, state: 'SUCCESS', attempt: 3, retryOf: 's' }, policy)).toBeUndefined();
    // No retry, or one that leaves this end out: the run was never retried, so nothing ran out.
    expect(exhaustedEnd({ ...failed, attempt: 3 }, undefined)).toBeUndefined();
    expect(exhaustedEnd({ ...failed, attempt: 3 }, { ...policy, on: ['lost'] })).toBeUndefined();
    expect(exhaustedEnd(failed, { ...policy, attempts: 1 })).toBe('failure');
  });

  it('nextAttempt: none for a run whose task id is not a UUID (a manual run read from Redis may carry any text), instead of a throw that would stop the history writes', () => {
    const policy: RetryPolicy = { attempts: 3, initialMs: 1000, factor: 2, maxMs: 10_000, on: ['failure'] };
    const failed = (taskId: string): RunRecord => ({ ...published, taskId, state: 'FAILURE', finishedAtMs: 2000 });
    expect(nextAttempt('e', failed('6f1c2b9e-8d3a-4c7b-9e2f-1a2b3c4d5e6f'), policy, 2000)).toMatchObject({ attempt: 2, dueMs: 3000 });
    for (const id of ['x', '', 'not-a-uuid', '6f1c2b9e8d3a4c7b9e2f1a2b3c4d5e6f'])
      expect(() => nextAttempt('e', failed(id), policy, 2000)).not.toThrow();
    expect(nextAttempt('e', failed('x'), policy, 2000)).toBeUndefined();
    expect(nextAttempt('e', { ...failed('6f1c2b9e-8d3a-4c7b-9e2f-1a2b3c4d5e6f'), attempt: 2, retryOf: 'x' }, policy, 2000)).toBeUndefined();
  });
});
