/**
 * The replies of the fenced scripts, decoded here and only here: each script's contract header
 * (src/redis/lua/*.lua, "Reply") names its codes, and the dispatchers read them through these
 * names. The per-run codes are publish-fenced.lua's, claim-fenced.lua's and commit-fenced.lua's;
 * the trigger scripts reply with the port's TriggerResult values.
 */
import type { BackfillSlotOutcome, BackfillStepResult } from '../ports/control-source.js';
import { TriggerResult } from '../ports/control-source.js';

/** A batch script's status (its reply's first element). */
export const BatchStatus = {
  Done: 1,
  /** The caller does not hold the fence: nothing was read or written. */
  Fenced: -1,
  /** A slot is further ahead of Redis's clock than allowed: { -2, redisMs, slotMs }. */
  Ahead: -2,
  /** The deployment is stopped (`beat pause --all`, includes/stop.lua): nothing was published or written. */
  Stopped: -3,
} as const;

/** A batch script's code for one run (the reply's elements after the status). */
export const RunCode = {
  /** The stored slot is at or after this one: published before, nothing written. */
  Stale: 0,
  /** Fresh: state moved forward (published; claim-fenced: publish it; commit-fenced: recorded). */
  Fresh: 1,
  /** The entry changed since its revision was read: nothing written. */
  Superseded: 2,
  /** One of the run's queue keys holds another Redis type (this entry alone): nothing written. */
  Refused: 3,
} as const;
export type RunCode = (typeof RunCode)[keyof typeof RunCode];

export type BatchReply =
  | { readonly kind: 'fenced' }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'ahead'; readonly redisMs: number; readonly slotMs: number }
  /**
   * `codes[i]` is the code of the i-th of the runs sent; `wrongTypes`, publish-fenced.lua's list
   * keys that hold another Redis type (key to TYPE's name), behind the refused runs.
   */
  | { readonly kind: 'done'; readonly codes: readonly unknown[]; readonly wrongTypes: ReadonlyMap<string, string> };

const NO_WRONG_TYPES: ReadonlyMap<string, string> = new Map();

/** A batch script's reply for `runs` runs: { status, c1 .. cR, k1, t1, k2, t2 … }, or { -2, now, slot }, or { -3 }. */
export function readBatchReply(reply: readonly unknown[], runs: number): BatchReply {
  if (reply[0] === BatchStatus.Fenced) return { kind: 'fenced' };
  if (reply[0] === BatchStatus.Stopped) return { kind: 'stopped' };
  if (reply[0] === BatchStatus.Ahead) return { kind: 'ahead', redisMs: reply[1] as number, slotMs: reply[2] as number };
  let wrongTypes = NO_WRONG_TYPES;
  if (reply.length > runs + 1) {
    const found = new Map<string, string>();
    for (let i = runs + 1; i + 1 < reply.length; i += 2) found.set(String(reply[i]), String(reply[i + 1]));
    wrongTypes = found;
  }
  return { kind: 'done', codes: reply.slice(1, runs + 1), wrongTypes };
}

/** trigger-fenced.lua's reply: a TriggerResult, or { 3, key, type } when a queue key holds another type. */
export function readTriggerReply(reply: unknown): TriggerResult | { readonly refusedKey: string; readonly type: string } {
  if (Array.isArray(reply)) return { refusedKey: String(reply[1]), type: String(reply[2]) };
  return reply as TriggerResult;
}

/** backfill-fenced.lua's per-slot codes. */
const BACKFILL_SLOT_CODES: Readonly<Record<number, BackfillSlotOutcome>> = {
  1: 'published',
  0: 'recorded',
  4: 'ahead',
  5: 'unrecorded',
  6: 'overlap',
};

/** backfill-fenced.lua's reply: { 1, c1 .. cR } done, { 0 } withdrawn, { -1 } fenced, { -3 } stopped, { 2 } superseded, { 3, key, type } refused. */
export function readBackfillReply(reply: readonly unknown[]): BackfillStepResult {
  switch (reply[0]) {
    case BatchStatus.Fenced:
      return { kind: 'fenced' };
    case BatchStatus.Stopped:
      return { kind: 'deploymentStopped' };
    case TriggerResult.Withdrawn:
      return { kind: 'withdrawn' };
    case RunCode.Superseded:
      return { kind: 'superseded' };
    case RunCode.Refused:
      return {
        kind: 'refused',
        reason: `its key ${JSON.stringify(String(reply[1]))} holds a ${String(reply[2])}: route the entry to another queue, or remove that key`,
      };
    default:
      return { kind: 'done', outcomes: reply.slice(1).map((code) => BACKFILL_SLOT_CODES[code as number] ?? 'recorded') };
  }
}
