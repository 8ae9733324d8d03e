/**
 * Retries of a slot's run (issue 70; docs/outcomes.md, "Retries and the dead-letter list"): given
 * how an attempt ended and the entry's policy, whether another attempt is due and when, or whether
 * the slot failed for good. Pure: the end's time is an argument, nothing is read or written. The
 * publish of an attempt, and keeping pending attempts across a failover, are the leader's.
 *
 * Attempts count the slot's runs, the first included (Temporal's MaximumAttempts, BullMQ's
 * `attempts`, Argo's `limit` + 1): attempt 1 is the slot's own run. The wait after attempt n is
 * `min(initial × factor^(n−1), max)`, from when attempt n ended, as Temporal and BullMQ count it.
 */

/** What ends an attempt in another: `failure` a final FAILURE, `lost` a run whose outcome never came (outcomeTimeout) or whose worker went away mid-run. */
export const RETRY_ON = ['failure', 'lost'] as const;
export type RetryOn = (typeof RETRY_ON)[number];

/** A retry policy in force: every field known, durations in ms (config/retry-schema.ts resolves the written one). */
export interface RetryPolicy {
  /** Runs of one slot, the first included (1: no retry). */
  readonly attempts: number;
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  readonly on: readonly RetryOn[];
}

/**
 * How an attempt ended, as retries see it: `success`; `failure` (FAILURE); `lost` (published, no
 * outcome within outcomeTimeout, or STARTED on a worker that stopped its heartbeats or was
 * started again); `stopped` (REVOKED: someone or
 * an overlap policy stopped it on purpose); `unknown` (given up without a sign of loss: no task
 * event was ever heard, or too many runs were followed). Only `failure` and `lost` may be retried.
 */
export type AttemptEnd = 'success' | 'failure' | 'lost' | 'stopped' | 'unknown';

export type RetryDecision =
  /** Nothing more to do for the slot: it succeeded, was stopped, or its end is not known. */
  | { readonly kind: 'done' }
  /** Attempt `attempt` is due at `dueMs`, `waitMs` after the one before ended. */
  | { readonly kind: 'retry'; readonly attempt: number; readonly dueMs: number; readonly waitMs: number }
  /**
   * The slot failed for good after `attempts` attempts: `exhausted` when its policy allowed no more,
   * `notRetried` when it has none or its `on` leaves this end out. `deadLetter`: it goes to the list.
   */
  | {
      readonly kind: 'failed';
      readonly why: 'exhausted' | 'notRetried';
      readonly end: 'failure' | 'lost';
      readonly attempts: number;
      readonly deadLetter: boolean;
    };

/** The wait before attempt `attempt` + 1, after attempt `attempt` (≥ 1) ended. */
export function backoffMs(policy: Pick<RetryPolicy, 'initialMs' | 'factor' | 'maxMs'>, attempt: number): number {
  // factor^(n−1) overflows to Infinity for a large n; min() still gives max.
  return Math.min(policy.maxMs, Math.round(policy.initialMs * policy.factor ** Math.max(0, attempt - 1)));
}

/**
 * What follows attempt `attempt` (1 = the slot's own run) of a slot that ended (`end`) at
 * `endedAtMs`, under `policy` (undefined: no retry); `deadLetter`: the entry's dead-letter setting
 * in force (config/retry-schema.ts deadLettersOf).
 */
export function afterAttempt(
  end: AttemptEnd,
  attempt: number,
  endedAtMs: number,
  policy: RetryPolicy | undefined,
  deadLetter: boolean,
): RetryDecision {
  if (end !== 'failure' && end !== 'lost') return { kind: 'done' };
  if (policy === undefined || !policy.on.includes(end)) return { kind: 'failed', why: 'notRetried', end, attempts: attempt, deadLetter };
  if (attempt >= policy.attempts) return { kind: 'failed', why: 'exhausted', end, attempts: attempt, deadLetter };
  const waitMs = backoffMs(policy, attempt);
  return { kind: 'retry', attempt: attempt + 1, dueMs: endedAtMs + waitMs, waitMs };
}

/**
 * The waits between a slot's attempts if every one is retried (attempts − 1 of them): what
 * `beat check` and the docs show of a policy, and what a test measures from the broker.
 */
export function backoffSchedule(policy: RetryPolicy): number[] {
  return Array.from({ length: Math.max(0, policy.attempts - 1) }, (_, i) => backoffMs(policy, i + 1));
}
