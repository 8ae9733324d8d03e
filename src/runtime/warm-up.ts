/**
 * Work done while the runner sleeps, so that a due instant finds it done: the message templates of
 * the entries due soon are compiled.
 *
 * All of it in slices of about TEMPLATE_WARM_SLICE_MS between turns of the event loop: a due
 * tick waits at most one slice. A slice that finds the runner busy (a tick running) or stopped ends
 * the pass; what it did not compile is looked at again on the next wake-up, or compiled at the
 * entry's first run.
 *
 * Each entry due is looked at once, not on every wake-up: the runner wakes every second, and a walk
 * of the book's entries due within the horizon at each one cost, in the seconds before an instant
 * that many entries share, a walk of all of them every second. After a look up to a horizon,
 * the book tells the warm-up of each entry it puts in its heap or moves there (EntryBook's
 * onKeyed): one due within that horizon is kept and looked at on the next wake-up; one due after it
 * brings the next walk forward to its key. So the book is walked when the horizon reaches the first
 * entry due after the last look, and otherwise only the entries moved since are looked at.
 */
import type { Clock } from '../ports/clock.js';
import type { BookEntry, EntryBook } from './entry-book.js';
import { TEMPLATE_KEPT_AHEAD_MS } from './dispatch-window.js';
import type { RunRenderer } from './dispatch-window.js';

/** Longest slice of that compilation between two looks at the event loop, so a due tick waits at most this long. */
const TEMPLATE_WARM_SLICE_MS = 1;

export interface WarmUpOptions {
  readonly book: EntryBook;
  readonly renderer: RunRenderer;
  readonly clock: Clock;
  /** False while the runner cannot spare the CPU: stopped, or a tick running. */
  readonly idle: () => boolean;
}

export class WarmUp {
  /** A pass is running (one at a time). */
  private passing = false;
  /** The horizon of the last look (a walk of the book, or of `moved`); -Infinity before the first. */
  private lookedToMs = Number.NEGATIVE_INFINITY;
  /**
   * Every waiting entry due before this is compiled (or failed to), or in `moved`: the first entry
   * due after the last walk's horizon, or one moved to before it since. A horizon that reaches it
   * walks the book again.
   */
  private walkAtMs = Number.NEGATIVE_INFINITY;
  /** Entries moved to within the last look's horizon since then. */
  private readonly moved = new Set<BookEntry>();

  constructor(private readonly options: WarmUpOptions) {}

  /** The book moved `held` in its heap, or put it there (EntryBook's onKeyed). */
  keyed(held: BookEntry): void {
    if (held.key >= this.walkAtMs) return;
    // Past the last look's horizon: the walk comes when the horizon gets there, as for any entry.
    if (held.key > this.lookedToMs) this.walkAtMs = held.key;
    else this.moved.add(held);
  }

  /** Starts a pass over the entries due within `sleepMs` plus TEMPLATE_KEPT_AHEAD_MS not compiled yet, unless one is running. */
  whileSleeping(sleepMs: number): void {
    if (this.passing) return;
    const { renderer, clock, idle } = this.options;
    const horizonMs = clock.now() + sleepMs + TEMPLATE_KEPT_AHEAD_MS;
    const todo = horizonMs < this.walkAtMs ? this.movedDueBy(horizonMs) : this.walk(horizonMs);
    if (todo.length === 0) return;
    this.passing = true;
    const done = (): void => {
      this.passing = false;
    };
    let next = 0;
    const slice = (): void => {
      const until = performance.now() + TEMPLATE_WARM_SLICE_MS;
      while (next < todo.length && idle() && renderer.hasRoom() && performance.now() < until) {
        try {
          renderer.compile((todo[next] as BookEntry).entry);
        } catch {
          // An entry whose message cannot be built fails its first run, which reports it.
        }
        next += 1;
      }
      // With no room for more templates, the rest are compiled for their runs alone (RunRenderer).
      const full = !renderer.hasRoom();
      if (next < todo.length && idle() && !full) setImmediate(slice);
      else if (next < todo.length && !full) {
        // Cut short: the rest is looked at on the next wake-up.
        for (const held of todo.slice(next)) this.moved.add(held);
        done();
      } else done();
    };
    setImmediate(slice);
  }

  /** The entries of the book due by `horizonMs` and not compiled, walked. */
  private walk(horizonMs: number): BookEntry[] {
    const { book, renderer } = this.options;
    this.moved.clear();
    this.lookedToMs = horizonMs;
    this.walkAtMs = book.nextDueMs(horizonMs) ?? Number.POSITIVE_INFINITY;
    return book.dueBy(horizonMs).filter((held) => !renderer.isCompiled(held.entry));
  }

  /**
   * Of the entries moved since the last look, those waiting, due by `horizonMs` and not compiled:
   * the others before walkAtMs are compiled already (see there). One due later brings the walk forward.
   */
  private movedDueBy(horizonMs: number): BookEntry[] {
    const { book, renderer } = this.options;
    const todo: BookEntry[] = [];
    for (const held of this.moved) {
      if (!book.isWaiting(held)) continue;
      if (held.key > horizonMs) this.walkAtMs = Math.min(this.walkAtMs, held.key);
      else if (!renderer.isCompiled(held.entry)) todo.push(held);
    }
    this.moved.clear();
    this.lookedToMs = Math.max(this.lookedToMs, horizonMs);
    return todo;
  }
}
