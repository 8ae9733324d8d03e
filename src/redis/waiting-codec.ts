/**
 * The format of a run waiting for its concurrency group in the waiting zset (keys.ts `waiting`):
 * compact JSON {"q": group, "e": entry, "s": slot epoch ms, "id": its task id, "r": the revision it was
 * taken under (absent: not checked, an entry of the config file), "u": until when it may wait, epoch
 * ms}, keys always in that order, scored by its slot: the zset's order is the order runs came due.
 */
import { storedObject } from '../base/stored-object.js';
import type { WaitingRun } from '../ports/waiting-runs.js';

export function encodeWaitingMember(w: WaitingRun): string {
  const head = { q: w.group, e: w.entry, s: w.slotMs, id: w.taskId };
  return JSON.stringify(
    w.revision === undefined || w.revision === '' ? { ...head, u: w.untilMs } : { ...head, r: w.revision, u: w.untilMs },
  );
}

/** A member, or undefined for a value that is not one (something else wrote it). */
export function decodeWaitingMember(text: string): WaitingRun | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const { q, e, s, id, r, u } = o;
  if (typeof q !== 'string' || typeof e !== 'string' || typeof id !== 'string') return undefined;
  if (typeof s !== 'number' || !Number.isFinite(s) || typeof u !== 'number' || !Number.isFinite(u)) return undefined;
  if (r !== undefined && typeof r !== 'string') return undefined;
  const run = { group: q, entry: e, slotMs: s, taskId: id, untilMs: u };
  return r === undefined ? run : { ...run, revision: r };
}
