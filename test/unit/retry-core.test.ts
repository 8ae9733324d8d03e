/** The pure core of retries (core/retry.ts) and the attempts' task ids (celery/task-id.ts). */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { afterAttempt, backoffMs, backoffSchedule } from '../../src/core/retry.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { attemptTaskId, slotTaskId } from '../../src/celery/task-id.js';

const POLICY: RetryPolicy = { attempts: 3, initialMs: 30_000, factor: 2, maxMs: 600_000, on: ['failure', 'lost'] };
const ENDED = Date.UTC(2026, 10, 26, 12, 0, 0);

describe('afterAttempt', () => {
  it('retries a failure or a lost run after the backoff, counted from its end, until the attempts are spent', () => {
    expect(afterAttempt('failure', 1, ENDED, POLICY, true)).toEqual({ kind: 'retry', attempt: 2, dueMs: ENDED + 30_000, waitMs: 30_000 });
    expect(afterAttempt('lost', 2, ENDED, POLICY, true)).toEqual({ kind: 'retry', attempt: 3, dueMs: ENDED + 60_000, waitMs: 60_000 });
    expect(afterAttempt('failure', 3, ENDED, POLICY, true)).toEqual({
      kind: 'failed',
      why: 'exhausted',
      end: 'failure',
      attempts: 3,
      deadLetter: true,
    });
    // Past the policy's attempts (a policy lowered while attempts were pending): no more.
    expect(afterAttempt('lost', 7, ENDED, POLICY, false)).toEqual({
      kind: 'failed',
      why: 'exhausted',
      end: 'lost',
      attempts: 7,
      deadLetter: false,
    });
  });

  it('ends the slot at a success, a revoke or an unknown end, whatever the policy', () => {
    for (const end of ['success', 'stopped', 'unknown'] as const) {
      expect(afterAttempt(end, 1, ENDED, POLICY, true)).toEqual({ kind: 'done' });
      expect(afterAttempt(end, 3, ENDED, undefined, true)).toEqual({ kind: 'done' });
    }
  });

  it('fails for good, not retried, without a policy or when its `on` leaves the end out; deadLetter says where it goes', () => {
    expect(afterAttempt('failure', 1, ENDED, undefined, true)).toEqual({
      kind: 'failed',
      why: 'notRetried',
      end: 'failure',
      attempts: 1,
      deadLetter: true,
    });
    expect(afterAttempt('failure', 1, ENDED, undefined, false)).toEqual({
      kind: 'failed',
      why: 'notRetried',
      end: 'failure',
      attempts: 1,
      deadLetter: false,
    });
    const onlyLost: RetryPolicy = { ...POLICY, on: ['lost'] };
    expect(afterAttempt('failure', 1, ENDED, onlyLost, true)).toMatchObject({ kind: 'failed', why: 'notRetried' });
    expect(afterAttempt('lost', 1, ENDED, onlyLost, true)).toMatchObject({ kind: 'retry', attempt: 2 });
    // attempts: 1 is no retry: the first failure is the last.
    expect(afterAttempt('failure', 1, ENDED, { ...POLICY, attempts: 1 }, true)).toMatchObject({
      kind: 'failed',
      why: 'exhausted',
      attempts: 1,
    });
  });
});

describe('backoff', () => {
  it('multiplies by the factor after each attempt up to max, and never overflows past it', () => {
    expect(backoffSchedule(POLICY)).toEqual([30_000, 60_000]);
    expect(backoffSchedule({ ...POLICY, attempts: 7 })).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000]);
    expect(backoffSchedule({ ...POLICY, attempts: 4, factor: 1 })).toEqual([30_000, 30_000, 30_000]);
    expect(backoffSchedule({ ...POLICY, attempts: 1 })).toEqual([]);
    expect(backoffMs({ initialMs: 1000, factor: 10, maxMs: 86_400_000 }, 100)).toBe(86_400_000);
    expect(backoffMs({ initialMs: 1500, factor: 1.5, maxMs: 86_400_000 }, 2)).toBe(2250);
  });
});

describe('attemptTaskId', () => {
  const slot = slotTaskId('prod', 'nightly', Date.UTC(2026, 10, 26, 3, 0, 0));

  it('keeps the slot id for attempt 1, derives a stable, distinct id for each later attempt, and refuses attempt 0', () => {
    expect(attemptTaskId(slot, 1)).toBe(slot);
    const ids = [2, 3, 4].map((n) => attemptTaskId(slot, n));
    expect(new Set([slot, ...ids]).size).toBe(4);
    expect(attemptTaskId(slot, 2)).toBe(ids[0]);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(() => attemptTaskId(slot, 0)).toThrow(RangeError);
  });

  it("is Python's uuid.uuid5(uuid.UUID(slot_id), f'attempt\\n{n}'), as the docs say", () => {
    const python = spawnSync(
      '/usr/bin/python3',
      ['-c', 'import sys, uuid; print(uuid.uuid5(uuid.UUID(sys.argv[1]), "attempt\\n3"))', slot],
      {
        encoding: 'utf8',
      },
    );
    expect(python.status, python.stderr).toBe(0);
    expect(python.stdout.trim()).toBe(attemptTaskId(slot, 3));
  });
});
