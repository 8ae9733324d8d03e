/**
 * The last milliseconds before an instant (the precise timer's edge): the dispatch of the runs due
 * then is staged, planned, rendered and encoded, so that the instant is left only the write
 * (DispatchSpeedups.stage). Where it cannot be (too many runs, a template not compiled yet,
 * bindings to read, not leading, no speed-ups offered), a few of the runs are rendered and, when
 * the dispatcher offers it, rehearsed (encoded, not sent): that at least brings the publish path's
 * code and data back into the CPU's caches, where an entry due every second otherwise finds them
 * cold after a second of other processes.
 */
import { DEFAULTS } from '../base/defaults.js';
import { SPEEDUPS } from '../base/speedups.js';
import type { DuePlan } from '../core/due.js';
import type { DispatchSpeedups, DueRun, StagedDispatch } from '../ports/dispatcher.js';
import { addRun, emptyBatch } from './batch.js';
import type { Batch } from './batch.js';
import type { BookEntry, EntryBook } from './entry-book.js';
import type { RunRenderer } from './run-render.js';

/**
 * A dispatch staged just before its instant, with what must still hold at the instant for it to be
 * sent: the same lease, and the same entries due, none of them moved, paused or re-keyed since.
 */
export interface Staged {
  readonly dueMs: number;
  readonly token: string;
  /** The entries due at dueMs, each once, with their heap key and cursor when staged. */
  readonly entries: readonly { readonly held: BookEntry; readonly key: number; readonly cursorMs: number; readonly plan: DuePlan }[];
  readonly batch: Batch;
  readonly dispatch: StagedDispatch;
}

export interface StagingOptions {
  readonly book: EntryBook;
  readonly renderer: RunRenderer;
  readonly speedups: DispatchSpeedups | undefined;
  /** The fence token to stage with, or undefined when this instance must not publish now. */
  readonly lease: () => string | undefined;
}

export class Staging {
  private staged: Staged | undefined;

  constructor(private readonly options: StagingOptions) {}

  /** At the edge of `dueMs`: stages its dispatch, or else renders and rehearses a few of its runs. */
  prime(dueMs: number): void {
    if (SPEEDUPS.stage && this.stage(dueMs)) return;
    if (!SPEEDUPS.rehearse) return;
    const { book, renderer, speedups } = this.options;
    const runs: DueRun[] = [];
    for (const held of book.dueBy(dueMs, DEFAULTS.stageMaxRuns)) {
      if (!renderer.isCompiled(held.entry)) continue;
      const run = renderer.tryRender(held.entry, held.nextSlotMs ?? dueMs, dueMs);
      if (run !== undefined) runs.push(run);
    }
    if (runs.length > 0) speedups?.rehearse(runs);
  }

  /**
   * The staged dispatch if it may be sent at `nowMs` with `token`; otherwise discards it. Clears it
   * either way. The entries of a dispatch returned are the caller's to take off the book.
   */
  take(token: string, nowMs: number): Staged | undefined {
    const staged = this.staged;
    this.staged = undefined;
    if (staged === undefined) return undefined;
    const { book } = this.options;
    const unchanged =
      staged.token === token &&
      nowMs >= staged.dueMs &&
      nowMs - staged.dueMs <= DEFAULTS.stagedValidMs &&
      staged.entries.every(({ held, key, cursorMs }) => book.isWaiting(held) && held.key === key && held.cursorMs === cursorMs) &&
      // Nothing else came due at the instant since (a resumed entry, say): it would go first.
      book.dueBy(staged.dueMs, staged.entries.length + 1).length === staged.entries.length;
    if (unchanged) return staged;
    staged.dispatch.discard();
    return undefined;
  }

  discard(): void {
    this.staged?.dispatch.discard();
    this.staged = undefined;
  }

  /**
   * Stages the dispatch of every run due at `dueMs` (at most DEFAULTS.stageMaxRuns of them): planned
   * for that instant, rendered with it as "now", encoded with the current lease. The Lua script
   * checks the fence and each slot when it runs, as for any dispatch. True if staged.
   */
  private stage(dueMs: number): boolean {
    this.discard();
    const { book, renderer, speedups } = this.options;
    const token = this.options.lease();
    if (speedups === undefined || token === undefined) return false;
    const due = book.dueBy(dueMs, DEFAULTS.stageMaxRuns + 1);
    if (due.length === 0 || due.length > DEFAULTS.stageMaxRuns) return false;
    const entries: Staged['entries'][number][] = [];
    const batch = emptyBatch();
    for (const held of due.sort((a, b) => a.key - b.key)) {
      // An entry with an overlap policy is decided at the instant (runtime/overlap.ts), not ahead of it.
      if (!renderer.isCompiled(held.entry) || held.entry.overlap !== 'allow') return false;
      const plan = book.plan(held, dueMs);
      // An entry that skips its slot (late with catchUp "skip") only moves on: the usual path does that.
      if (plan.slots.length === 0 || batch.runs.length + plan.slots.length > DEFAULTS.stageMaxRuns) return false;
      entries.push({ held, key: held.key, cursorMs: held.cursorMs, plan });
      for (const slotMs of plan.slots) {
        const run = renderer.tryRender(held.entry, slotMs, dueMs);
        if (run === undefined) return false;
        addRun(batch, held, run);
      }
    }
    const dispatch = speedups.stage(batch.runs, token, dueMs);
    if (dispatch === undefined) return false;
    this.staged = { dueMs, token, entries, batch, dispatch };
    return true;
  }
}
