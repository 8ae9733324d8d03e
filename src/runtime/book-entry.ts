/**
 * The entry book's views (src/runtime/entry-book.ts): an entry as the book's users see it, what
 * takeDue hands out, the snapshots for metrics and status, and the helpers both sides use.
 */
import type { ResolvedEntry } from '../config/resolve.js';
import type { DuePlan } from '../core/schedule.js';
import { isFinished } from '../config/max-runs.js';
import type { ScheduleError } from '../base/step-budget.js';

/**
 * Where an entry stands in the book (src/runtime/entry-life.ts describes each phase and its
 * transitions).
 */
export type EntryPhase =
  | { readonly kind: 'waiting' }
  /** `passOverToMs`: a released bufferOne run passed over the slots up to here; the cursor moves there when it is recorded. */
  | { readonly kind: 'dispatching'; readonly passOverToMs: number | undefined }
  /** `slotMs`: the slot kept to publish when the previous run finishes (overlap bufferOne, bufferAll). */
  | { readonly kind: 'buffered'; readonly slotMs: number }
  | { readonly kind: 'paused' }
  | { readonly kind: 'finished' }
  | { readonly kind: 'removed' };

/** One entry in the book, as the book's users see it: an opaque handle, that only the book changes. */
export interface BookEntry {
  readonly entry: ResolvedEntry;
  /** Its phase: what the book may do with it next. */
  readonly phase: EntryPhase;
  /** When it is due next (its next slot plus its jitter), while it waits in the heap. */
  readonly key: number;
  /** The last slot that ran or was passed over (or the first-seen anchor): slots after it are pending. */
  readonly cursorMs: number;
  /** The last slot known to be published (stored, or published since): what the stored state must not fall behind. */
  readonly lastRunMs: number | undefined;
  /** The next slot, undefined when the schedule has run out. */
  readonly nextSlotMs: number | undefined;
  /**
   * Its scheduled runs: those of the stored state when loaded (its run count less its manual runs),
   * plus each run recorded since. Counted against `maxRuns`; manual runs (`beat trigger`) are
   * published apart from the book and never counted.
   */
  readonly runs: number;
}

/**
 * The key of an entry's last run in `knownRuns` (EntryBook.load, lastRuns): its name, and for a
 * runtime entry its incarnation too, so that what a session saw an entry publish is never taken
 * for the history of another entry created under its name later.
 */
export function knownRunKey(entry: ResolvedEntry): string {
  return entry.incarnation === undefined ? entry.name : `${entry.name}\u0000${entry.incarnation}`;
}

/** An entry taken off the heap at an instant, with what to run for it then. */
export interface Due {
  readonly held: BookEntry;
  /**
   * The missed-run policy's answer. With no slots the entry has already been moved on (its missed
   * slots passed over); with slots it stays off the heap until they are recorded (record, keepDue).
   */
  readonly plan: DuePlan;
  /** The entry's first pending slot when it was taken (the first of any slots the plan passes over). */
  readonly firstSlotMs: number | undefined;
}

/** One entry as metrics and status see it. */
export interface BookSnapshot {
  readonly name: string;
  readonly nextSlotMs: number | undefined;
  readonly paused: boolean;
  /** Scheduled runs counted against maxRuns (see BookEntry.runs). */
  readonly runs: number;
  /** maxRuns reached: the entry runs no more. */
  readonly finished: boolean;
}

/** A buffered slot taken for a dispatch, and the slots passed over by it (EntryBook.releaseBuffered). */
export interface BufferRelease {
  readonly slotMs: number;
  readonly passed: number;
  readonly firstPassedMs: number | undefined;
  /** Only for slots passed over for good (bufferAll's dropped): bufferOne's come back if the release is not sent. */
  readonly lastPassedMs?: number | undefined;
}

/** What a change of the paused set did, for the log and the event sink. */
export interface PauseChange {
  readonly paused: readonly string[];
  readonly resumed: readonly string[];
  /** Of the resumed entries, those whose slots passed while they were paused: how many, and the first. */
  readonly passed: readonly {
    readonly entry: ResolvedEntry;
    readonly count: number;
    readonly firstSlotMs: number;
    readonly lastSlotMs: number;
  }[];
}

export interface BookOptions {
  /** The runner's longest sleep: a slot that close to now is on time, not missed. */
  readonly maxIntervalMs: number;
  /**
   * Told of each entry put in the heap or moved in it (its new key is `entry.key`), as it happens:
   * the warm-up follows what came due sooner from this, rather than walking the heap again.
   */
  readonly onKeyed?: (entry: BookEntry) => void;
  /**
   * An entry's schedule could not be computed (base/step-budget.ts: it spent its step budget, or gave a
   * slot that does not advance): that entry alone is failed. Answers when to try it again (the
   * runner's EntryFailures backoff); the entry waits in the heap until then, with no next slot.
   */
  readonly onScheduleFailure?: (entry: BookEntry, error: ScheduleError, nowMs: number) => number;
}

/** What the book shows of one entry (EntryBook's view and snapshot): a paused entry has no next slot. */
export function bookView(held: BookEntry, paused: boolean): BookSnapshot {
  return {
    name: held.entry.name,
    nextSlotMs: paused ? undefined : held.nextSlotMs,
    paused,
    runs: held.runs,
    finished: isFinished(held.entry, held.runs),
  };
}
