/**
 * The format of a dead letter (issue 70; docs/outcomes.md, "Retries and the dead-letter list") in
 * the dead-letter hash (keys.ts `deadLetterItems`): compact JSON
 *   {"id": its id, "e": entry name, "s": slot, epoch ms, "t": the last attempt's task id, "of": the slot's own
 *    task id (attempt 1), "a": attempts, "end": "failure" | "lost", "exc": the last exception's first line
 *    (absent when the outcome gave none), "at": when the slot failed for good, epoch ms,
 *    "r": the revision the slot's run was published under (absent: an entry of the config file)}
 * The slot and its own task id are what its message is published again from, as a retry attempt is
 * (celery/attempt-message.ts): the entry's message rendered for that slot.
 */
import { storedObject } from '../base/stored-object.js';
import type { DeadLetter } from '../ports/outcomes.js';

export type { DeadLetter };

export function encodeDeadLetter(d: DeadLetter): string {
  return JSON.stringify({
    id: d.id,
    e: d.entry,
    s: d.slotMs,
    t: d.taskId,
    of: d.retryOf,
    a: d.attempts,
    end: d.end,
    ...(d.exception === undefined ? {} : { exc: d.exception }),
    at: d.atMs,
    ...(d.revision === undefined || d.revision === '' ? {} : { r: d.revision }),
  });
}

/** A stored dead letter, or undefined for a value that is not one (skipped by readers, never fatal). */
export function decodeDeadLetter(text: string): DeadLetter | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const { id, e, s, t, of, a, end, exc, at, r } = o;
  if (typeof id !== 'string' || typeof e !== 'string' || typeof t !== 'string' || typeof of !== 'string') return undefined;
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof at !== 'number' || !Number.isFinite(at)) return undefined;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < 1) return undefined;
  if (end !== 'failure' && end !== 'lost') return undefined;
  if ((exc !== undefined && typeof exc !== 'string') || (r !== undefined && typeof r !== 'string')) return undefined;
  return {
    id,
    entry: e,
    slotMs: s,
    taskId: t,
    retryOf: of,
    attempts: a,
    end,
    ...(exc === undefined ? {} : { exception: exc }),
    atMs: at,
    ...(r === undefined ? {} : { revision: r }),
  };
}
