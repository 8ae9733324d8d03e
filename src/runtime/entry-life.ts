/**
 * An entry's life in the runner's book (src/runtime/entry-book.ts), as an explicit state machine:
 * the phase it is in, and the book's own record of it, handed to the book's users as an opaque
 * handle (BookEntry) that only the book can open (BookedEntry.open) and change.
 *
 *   waiting      in the heap, due at its key
 *   dispatching  taken off the heap for a dispatch not recorded yet (takeDue, take, releaseBuffered)
 *   buffered     holding a slot until its previous run finishes (overlap bufferOne, bufferAll)
 *   paused       out of the heap while its name is in the paused set
 *   finished     out of the heap with nothing to run: its schedule ran out or maxRuns is reached
 *   removed      taken out of the book for good (deleted or disabled): a dispatch in flight must not put it back
 *
 * The transitions are EntryBook's methods, one per event (the table is in test/unit/entry-life.test.ts):
 * an event that does not apply to the phase an entry is in changes nothing and says so.
 */
import { entryWindow } from '../config/resolve.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { HeapItem } from '../core/heap.js';
import type { FireWindow } from '../core/schedule.js';
import type { BookEntry, EntryPhase } from './book-entry.js';

export type { EntryPhase } from './book-entry.js';

// The phases without data are shared: each entry holds a pointer to one, not an object of its own.
export const WAITING: EntryPhase = Object.freeze({ kind: 'waiting' });
export const DISPATCHING: EntryPhase = Object.freeze({ kind: 'dispatching', passOverToMs: undefined });
export const PAUSED: EntryPhase = Object.freeze({ kind: 'paused' });
export const FINISHED: EntryPhase = Object.freeze({ kind: 'finished' });
export const REMOVED: EntryPhase = Object.freeze({ kind: 'removed' });

/** The book's own, writable record of an entry; its users see it as a BookEntry. */
export class BookedEntry implements BookEntry, HeapItem {
  /** Only the book makes these: the brand that lets it open a handle without a cast. */
  readonly #booked = true;
  key = 0;
  /** The time between its last two slots (0 before it has two): at an instant shared by many entries, the frequent ones are taken first. */
  rank = 0;
  heapIndex = -1;
  /** The definition it schedules (define). */
  entry: ResolvedEntry;
  /**
   * The window the schedule maths takes of `entry` (made from startAt, endAt and exclude), made once
   * per definition rather than at each of its runs; undefined, and no object, for most entries.
   */
  window: FireWindow | undefined;
  phase: EntryPhase;
  /** The slot a resumed or re-anchored entry continues after (see BookEntry.cursorMs). */
  cursorMs: number;
  lastRunMs: number | undefined;
  nextSlotMs: number | undefined = undefined;
  runs: number;
  /**
   * Overlap "bufferAll": the slots up to here came while a previous run ran. They run one at a
   * time, oldest first, whatever catchUp says (EntryBook.plan); cleared once the cursor reaches it.
   * Kept across phases (waiting, dispatching) until then; pausing drops it.
   */
  backlogToMs: number | undefined = undefined;

  constructor(entry: ResolvedEntry, phase: EntryPhase, cursorMs: number, lastRunMs: number | undefined, runs: number) {
    this.entry = entry;
    this.window = entryWindow(entry);
    this.phase = phase;
    this.cursorMs = cursorMs;
    this.lastRunMs = lastRunMs;
    this.runs = runs;
  }

  /** Takes a new definition of the entry (a runtime entry changed), where it stands kept. */
  define(entry: ResolvedEntry): void {
    this.entry = entry;
    this.window = entryWindow(entry);
  }

  /** The book's record behind a handle it gave out; a handle the book did not make is a defect. */
  static open(handle: BookEntry): BookedEntry {
    if (!(#booked in handle)) throw new Error(`entry "${handle.entry.name}": not a handle of an entry book`);
    return handle;
  }
}
