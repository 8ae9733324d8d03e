/**
 * Which slots of an entry to run now, given the last slot that ran and the current instant: the
 * missed-run policy (catch-up) in one pure function. The runner calls it when an entry's next slot
 * comes due; after downtime, a failover or a clock step it decides between firing once, skipping
 * and replaying.
 */
import { nextFires } from './schedule.js';
import type { FireWindow } from './schedule.js';
import type { Schedule } from './types.js';

export type CatchUpPolicy = 'once' | 'skip' | 'all';

export interface EntryTiming {
  readonly schedule: Schedule;
  readonly zone: string;
  readonly catchUp: CatchUpPolicy;
  /** Missed slots older than this (relative to now) are dropped; undefined = no limit. */
  readonly catchUpWindowMs: number | undefined;
  /**
   * The entry's `startAt`/`endAt`: slots outside do not exist, so none before the start is ever
   * caught up, and past the end the entry has no next slot.
   */
  readonly window?: FireWindow | undefined;
}

export interface DueOptions {
  /** A slot this close to now is on time, not missed (timer and publish latency). */
  readonly graceMs: number;
  /** At most this many slots per call with `all`; the rest come on the next call. */
  readonly maxSlots: number;
  /**
   * The entry's next slot after `lastSlotMs`, when the caller already has it (the runner keeps it
   * as the entry's heap key): one schedule computation fewer per run, in a burst's critical path.
   */
  readonly nextSlotMs?: number | undefined;
}

export type MissReason = 'catch_up_once' | 'skip_late' | 'outside_window';

export interface DuePlan {
  /** Slots to publish now, ascending; each one is later than the last slot that ran. */
  readonly slots: readonly number[];
  /** Due slots that will never run, counted up to `MISSED_COUNT_CAP`. */
  readonly missed: number;
  readonly missedReason: MissReason | undefined;
  /**
   * Where the entry stands once `slots` have run (or been passed over): the grid position the next
   * slot is computed from. Equals the last slot in `slots` when any run.
   */
  readonly cursorMs: number;
  /** The entry's next slot after `cursorMs`; undefined when the schedule has run out. */
  readonly nextSlotMs: number | undefined;
}

/** Counting missed slots is for the log line only; past this it says "at least". */
export const MISSED_COUNT_CAP = 10_000;
const SCAN_BATCH = 256;

function slotsBetween(timing: EntryTiming, anchorMs: number, afterMs: number, untilMs: number, limit: number): number[] {
  const out: number[] = [];
  let cursor = afterMs;
  // Most calls need one or two slots: start small and grow, so a daily schedule does not compute
  // a year of fires to find tonight's.
  let size = 2;
  while (out.length < limit) {
    const batch = nextFires(
      timing.schedule,
      { zone: timing.zone, afterMs: cursor, anchorMs, window: timing.window },
      Math.min(size, limit - out.length),
    );
    size = Math.min(SCAN_BATCH, size * 4);
    for (const slot of batch) {
      if (slot > untilMs) return out;
      out.push(slot);
    }
    const last = batch[batch.length - 1];
    if (batch.length === 0 || last === undefined) return out;
    cursor = last;
  }
  return out;
}

/**
 * The latest slot in (lowerMs, nowMs], or undefined. Probes backwards from now in growing windows,
 * so a long downtime costs a few probes instead of a walk over every missed slot.
 */
function latestSlot(timing: EntryTiming, anchorMs: number, lowerMs: number, nowMs: number): number | undefined {
  for (let window = 1000; ; window *= 4) {
    const after = Math.max(lowerMs, nowMs - window);
    const found = slotsBetween(timing, anchorMs, after, nowMs, MISSED_COUNT_CAP);
    if (found.length > 0) return found[found.length - 1];
    if (after === lowerMs) return undefined;
  }
}

function nextAfter(timing: EntryTiming, anchorMs: number, afterMs: number): number | undefined {
  return nextFires(timing.schedule, { zone: timing.zone, afterMs, anchorMs, window: timing.window }, 1)[0];
}

function countSlots(timing: EntryTiming, anchorMs: number, afterMs: number, untilMs: number): number {
  return untilMs <= afterMs ? 0 : slotsBetween(timing, anchorMs, afterMs, untilMs, MISSED_COUNT_CAP).length;
}

/**
 * Plans an entry at `nowMs`. `lastSlotMs` is the last slot that ran (or, for an entry that never
 * ran, when it was first seen: a new interval entry waits one interval). A clock that stepped back
 * (`nowMs` before `lastSlotMs`) finds nothing due, so no slot ever runs twice.
 */
export function planDue(timing: EntryTiming, lastSlotMs: number, nowMs: number, options: DueOptions): DuePlan {
  const anchor = lastSlotMs;
  const first = options.nextSlotMs ?? nextAfter(timing, anchor, lastSlotMs);
  if (first === undefined || first > nowMs) {
    return { slots: [], missed: 0, missedReason: undefined, cursorMs: lastSlotMs, nextSlotMs: first };
  }
  const second = nextAfter(timing, anchor, first);
  if ((second === undefined || second > nowMs) && (timing.catchUpWindowMs === undefined || first > nowMs - timing.catchUpWindowMs)) {
    // The common case, on time or after a short delay: exactly one slot is due.
    if (timing.catchUp === 'skip' && nowMs - first > options.graceMs) {
      return { slots: [], missed: 1, missedReason: 'skip_late', cursorMs: first, nextSlotMs: second };
    }
    return { slots: [first], missed: 0, missedReason: undefined, cursorMs: first, nextSlotMs: second };
  }
  const finish = (slots: number[], missed: number, reason: MissReason, cursorMs: number): DuePlan => ({
    slots,
    missed,
    missedReason: missed > 0 ? reason : undefined,
    cursorMs,
    nextSlotMs: nextAfter(timing, anchor, cursorMs),
  });

  // Slots older than the catch-up window are dropped whatever the policy; the cursor stays on the
  // schedule's grid (the last dropped slot), so intervals keep their phase.
  let cursor = lastSlotMs;
  let dropped = 0;
  if (timing.catchUpWindowMs !== undefined && first <= nowMs - timing.catchUpWindowMs) {
    const windowStart = nowMs - timing.catchUpWindowMs;
    dropped = countSlots(timing, anchor, lastSlotMs, windowStart);
    cursor = latestSlot(timing, anchor, lastSlotMs, windowStart) ?? lastSlotMs;
  }

  if (timing.catchUp === 'all') {
    const slots = slotsBetween(timing, anchor, cursor, nowMs, options.maxSlots);
    return finish(slots, dropped, 'outside_window', slots[slots.length - 1] ?? cursor);
  }
  const latest = latestSlot(timing, anchor, cursor, nowMs);
  if (latest === undefined) return finish([], dropped, 'outside_window', cursor);
  const earlier = countSlots(timing, anchor, cursor, latest - 1);
  const reason: MissReason = earlier > 0 ? (timing.catchUp === 'once' ? 'catch_up_once' : 'skip_late') : 'outside_window';
  if (timing.catchUp === 'skip' && nowMs - latest > options.graceMs) {
    // Late, so skipped too: the entry waits for its next slot. Nothing is stored; the cursor moves on.
    return finish([], dropped + earlier + 1, 'skip_late', latest);
  }
  return finish([latest], dropped + earlier, reason, latest);
}

/**
 * A delay in [0, jitterMs) that depends only on the entry and the slot, so every replica and every
 * restart agrees on it (a leader that takes over mid-jitter publishes at the same moment).
 */
export function jitterFor(entryName: string, slotMs: number, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  // FNV-1a over the name and the slot: cheap, well spread, no dependency.
  let hash = 0x811c9dc5;
  const text = `${entryName}\u0000${slotMs}`;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return Math.floor((hash / 0x1_0000_0000) * jitterMs);
}

/**
 * The cursor after skipping every slot up to `untilMs` (a pause, say): the last slot at or before
 * it on the entry's own grid, or `cursorMs` when there is none. Nothing is published for them.
 */
export function skipThrough(schedule: Schedule, zone: string, cursorMs: number, untilMs: number, window?: FireWindow): number {
  return passOver(schedule, zone, cursorMs, untilMs, window).cursorMs;
}

/**
 * Passes over the slots after `cursorMs` up to `untilMs` (included): where the cursor lands, and how
 * many slots that was (counted up to MISSED_COUNT_CAP).
 */
export function passOver(
  schedule: Schedule,
  zone: string,
  cursorMs: number,
  untilMs: number,
  window?: FireWindow,
): { readonly cursorMs: number; readonly count: number } {
  if (untilMs <= cursorMs) return { cursorMs, count: 0 };
  const plan = planDue({ schedule, zone, catchUp: 'skip', catchUpWindowMs: undefined, window }, cursorMs, untilMs, {
    graceMs: -1,
    maxSlots: 1,
  });
  return { cursorMs: plan.cursorMs, count: plan.missed };
}
