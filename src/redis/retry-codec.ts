/**
 * The format of a pending attempt in the retries zset (keys.ts `retries`): compact JSON
 *   {"e": entry name, "s": slot, epoch ms, "a": attempt (2 or more), "id": its task id, "of": the slot's first task id}
 * with the keys always in that order, so that the same (entry, slot, attempt) is always the same
 * member: lua/run-history.lua adds it with ZADD NX, and a second add of it changes nothing.
 */
import { storedObject } from '../base/stored-object.js';

/** A slot's next attempt, due at `dueMs` (core/retry.ts). */
export interface PendingRetry {
  readonly entry: string;
  readonly slotMs: number;
  readonly attempt: number;
  readonly taskId: string;
  /** The task id of the slot's own run (attempt 1). */
  readonly retryOf: string;
  readonly dueMs: number;
}

export function encodeRetryMember(r: Omit<PendingRetry, 'dueMs'>): string {
  return JSON.stringify({ e: r.entry, s: r.slotMs, a: r.attempt, id: r.taskId, of: r.retryOf });
}

/** A member and its score, or undefined for a value that is not one (skipped, not fatal). */
export function decodeRetryMember(text: string, score: number): PendingRetry | undefined {
  const o = storedObject(text);
  if (o === undefined || !Number.isFinite(score)) return undefined;
  const { e, s, a, id, of } = o;
  if (typeof e !== 'string' || typeof id !== 'string' || typeof of !== 'string') return undefined;
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof a !== 'number' || !Number.isInteger(a) || a < 2) return undefined;
  return { entry: e, slotMs: s, attempt: a, taskId: id, retryOf: of, dueMs: score };
}
