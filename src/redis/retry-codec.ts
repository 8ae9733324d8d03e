/**
 * The format of a pending attempt in the retries zset (keys.ts `retries`): compact JSON
 *   {"e": entry name, "s": slot, epoch ms, "a": attempt (2 or more), "id": its task id, "of": the slot's first task id,
 *    "r": the revision the slot's run was published under (absent: not checked, an entry of the config file)}
 * with the keys always in that order, so that the same (entry, slot, attempt) is always the same
 * member: lua/run-history.lua adds it with ZADD NX, and a second add of it changes nothing.
 */
import { storedObject } from '../base/stored-object.js';
import type { PendingAttempt } from '../ports/outcomes.js';

/** A slot's next attempt, due at `dueMs` (ports/outcomes.ts PendingAttempt). */
export type PendingRetry = PendingAttempt;

export function encodeRetryMember(r: Omit<PendingRetry, 'dueMs'>): string {
  const member = { e: r.entry, s: r.slotMs, a: r.attempt, id: r.taskId, of: r.retryOf };
  return JSON.stringify(r.revision === undefined || r.revision === '' ? member : { ...member, r: r.revision });
}

/** A member and its score, or undefined for a value that is not one (skipped, not fatal). */
export function decodeRetryMember(text: string, score: number): PendingRetry | undefined {
  const o = storedObject(text);
  if (o === undefined || !Number.isFinite(score)) return undefined;
  const { e, s, a, id, of, r } = o;
  if (typeof e !== 'string' || typeof id !== 'string' || typeof of !== 'string') return undefined;
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof a !== 'number' || !Number.isInteger(a) || a < 2) return undefined;
  if (r !== undefined && typeof r !== 'string') return undefined;
  return r === undefined
    ? { entry: e, slotMs: s, attempt: a, taskId: id, retryOf: of, dueMs: score }
    : { entry: e, slotMs: s, attempt: a, taskId: id, retryOf: of, revision: r, dueMs: score };
}
