/**
 * How a run ended, as retries see it (core/retry.ts AttemptEnd), from its history record: which
 * `unknown` is a loss (given up at outcomeTimeout, or its worker went away mid-run: `lost`) and which tells nothing (no task event
 * heard, too many runs followed); undefined while the run is not final.
 */
import { afterAttempt } from '../core/retry.js';
import type { AttemptEnd, RetryPolicy } from '../core/retry.js';
import { attemptTaskId, deadLetterId, derivesAttempts } from '../celery/task-id.js';
import { isFinal } from '../ports/outcomes.js';
import type { DeadLetter, RunRecord } from '../ports/outcomes.js';

export function attemptEndOf(record: Pick<RunRecord, 'state' | 'lost' | 'revokedBy'>): AttemptEnd | undefined {
  if (!isFinal(record.state)) return undefined;
  // Revoked by the entry's overlap policy for its next slot: whatever it ended in, that slot took its place.
  if (record.revokedBy !== undefined) return 'stopped';
  switch (record.state) {
    case 'SUCCESS':
      return 'success';
    case 'FAILURE':
      return 'failure';
    case 'REVOKED':
      return 'stopped';
    default:
      return record.lost === true ? 'lost' : 'unknown';
  }
}

/** A run's attempt: its record's, else 1 (the slot's own run). */
export function attemptOf(record: Pick<RunRecord, 'attempt'>): number {
  return record.attempt ?? 1;
}

/**
 * How `record` (a run that just became final) failed for good with its attempts used up under
 * `policy`: its end, or undefined when it is not (it succeeded, another attempt follows, or its
 * entry does not retry this end: a run without retries is not one whose retries ran out).
 */
export function exhaustedEnd(record: RunRecord, policy: RetryPolicy | undefined): 'failure' | 'lost' | undefined {
  const end = attemptEndOf(record);
  if (end === undefined || policy === undefined) return undefined;
  const decision = afterAttempt(end, attemptOf(record), record.finishedAtMs ?? 0, policy, false);
  return decision.kind === 'failed' && decision.why === 'exhausted' ? decision.end : undefined;
}

/**
 * The slot's next attempt after `record` (a run that just became final) under `policy`, or
 * undefined when there is none (it succeeded, was stopped, is not known to have failed, or failed
 * for good), or when its slot's task id is not a UUID to derive the attempt's id from (a manual
 * run's id is read from Redis: any text could be there). The wait counts from its finish (else `nowMs`).
 */
export function nextAttempt(
  entry: string,
  record: RunRecord,
  policy: RetryPolicy | undefined,
  nowMs: number,
): { entry: string; slotMs: number; attempt: number; taskId: string; retryOf: string; dueMs: number } | undefined {
  const end = attemptEndOf(record);
  if (end === undefined || policy === undefined) return undefined;
  const decision = afterAttempt(end, attemptOf(record), record.finishedAtMs ?? nowMs, policy, false);
  if (decision.kind !== 'retry') return undefined;
  const retryOf = record.retryOf ?? record.taskId;
  if (!derivesAttempts(retryOf)) return undefined;
  return {
    entry,
    slotMs: record.slotMs,
    attempt: decision.attempt,
    taskId: attemptTaskId(retryOf, decision.attempt),
    retryOf,
    dueMs: decision.dueMs,
  };
}

/**
 * The slot's dead letter after `record` (a run that just became final), or undefined: when it failed
 * for good (core/retry.ts afterAttempt: its attempts exhausted, or not retried) and its entry keeps
 * such slots (`deadLetter`, config/retry-schema.ts deadLettersOf). `policy` is the retry policy in
 * force (undefined: none, or a broker that publishes no attempts); `revision` the one its run was
 * published under. Its time is the run's finish, else `nowMs`.
 */
export function deadLetterOf(
  entry: string,
  record: RunRecord,
  policy: RetryPolicy | undefined,
  keeps: boolean,
  nowMs: number,
  revision?: string,
): DeadLetter | undefined {
  const end = attemptEndOf(record);
  if (end === undefined || !keeps) return undefined;
  const atMs = record.finishedAtMs ?? nowMs;
  const decision = afterAttempt(end, attemptOf(record), atMs, policy, keeps);
  if (decision.kind !== 'failed' || !decision.deadLetter) return undefined;
  const retryOf = record.retryOf ?? record.taskId;
  return {
    id: deadLetterId(entry, retryOf),
    entry,
    slotMs: record.slotMs,
    taskId: record.taskId,
    retryOf,
    attempts: decision.attempts,
    end: decision.end,
    ...(record.exception === undefined ? {} : { exception: record.exception }),
    atMs,
    ...(revision === undefined || revision === '' ? {} : { revision }),
  };
}
