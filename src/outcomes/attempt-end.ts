/**
 * How a run ended, as retries see it (core/retry.ts AttemptEnd), from its history record: which
 * `unknown` is a loss (given up at outcomeTimeout: `lost`) and which tells nothing (no task event
 * heard, too many runs followed); undefined while the run is not final.
 */
import type { AttemptEnd } from '../core/retry.js';
import { isFinal } from '../ports/outcomes.js';
import type { RunRecord } from '../ports/outcomes.js';

export function attemptEndOf(record: Pick<RunRecord, 'state' | 'lost'>): AttemptEnd | undefined {
  if (!isFinal(record.state)) return undefined;
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
