/**
 * An entry's life in the book (src/runtime/entry-life.ts) as a transition table: every phase an
 * entry can be in, every event the book's users can send, and where the entry goes — or that the
 * event is refused or ignored, changing nothing. The table below is written by hand from the
 * design (the oracle); each row puts a fresh book's entry in its phase through the public methods,
 * sends the event, and compares.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { EntryState } from '../../src/ports/state.js';
import { EntryBook } from '../../src/runtime/entry-book.js';
import type { BookEntry } from '../../src/runtime/entry-book.js';

const S = 1000;
const T0 = Date.parse('2026-11-21T06:00:00.000Z');
/** The entry is due at its first slot, T0 + 10 s; every event is sent then. */
const DUE = T0 + 10 * S;

type Phase = 'waiting' | 'dispatching' | 'buffered' | 'paused' | 'finished' | 'removed';
type Event = 'takeDue' | 'passOver' | 'buffer' | 'releaseBuffered' | 'record' | 'keepDue' | 'pause' | 'resume' | 'change' | 'remove';

function entryOf(schedule: number, extra: Record<string, unknown> = {}): ResolvedEntry {
  return parseConfig({ name: 'unit', maxInterval: 1, beatSchedule: { e: { task: 't.e', schedule, ...extra } } }, 'entry-life.test')
    .entries[0] as ResolvedEntry;
}

/** A book whose entry "e" (every 10 s, first seen at T0) is in `phase`, reached through the book's public methods. */
function bookIn(phase: Phase): { book: EntryBook; handle: BookEntry } {
  const book = new EntryBook({ maxIntervalMs: 1000 });
  // Finished: maxRuns 1, and its one run recorded.
  const extra = phase === 'finished' ? { maxRuns: 1 } : {};
  book.load([entryOf(10, extra)], new Map<string, EntryState>([['e', { seenMs: T0, runCount: 0 }]]), T0);
  const [handle] = book.dueBy(DUE);
  if (handle === undefined) throw new Error('"e" is not due at T0 + 10 s');
  if (phase === 'dispatching' || phase === 'buffered' || phase === 'finished') expect(book.takeDue(DUE)?.held).toBe(handle);
  if (phase === 'buffered') expect(book.buffer(handle, DUE)).toBe(true);
  if (phase === 'finished') expect(book.record([handle], [DUE], ['published'], DUE)).toEqual([handle]);
  if (phase === 'paused') book.setPaused(new Set(['e']), T0 + S);
  if (phase === 'removed') book.remove(['e']);
  expect(handle.phase.kind).toBe(phase);
  return { book, handle };
}

/** What each event does, as the runner and the dispatch window send it; its return value. */
function send(book: EntryBook, handle: BookEntry, event: Event): unknown {
  switch (event) {
    case 'takeDue':
      return book.takeDue(DUE) !== undefined;
    case 'passOver':
      return book.passOver(handle, DUE);
    case 'buffer':
      return book.buffer(handle, DUE);
    case 'releaseBuffered':
      return book.releaseBuffered(handle, DUE) !== undefined;
    case 'record':
      return book.record([handle], [DUE], ['published'], DUE).length;
    case 'keepDue':
      return book.keepDue(handle, DUE + S);
    case 'pause':
      return book.setPaused(new Set(['e']), DUE).paused.length;
    case 'resume':
      return book.setPaused(new Set(), DUE).resumed.length;
    case 'change':
      // Every 5 s now, its maxRuns kept.
      return book.upsert([entryOf(5, handle.entry.maxRuns === undefined ? {} : { maxRuns: handle.entry.maxRuns })], new Map(), DUE).length;
    case 'remove':
      return book.remove(['e']).length;
  }
}

/**
 * The table. Each cell: the phase the entry moves to and what the event returns; `same` marks an
 * event refused or ignored, after which the entry is as it was (phase, cursor, runs, next slot, key).
 */
type Cell = readonly [Phase, unknown] | readonly ['same', unknown];
const TABLE: Record<Phase, Record<Event, Cell>> = {
  waiting: {
    takeDue: ['dispatching', true],
    passOver: ['same', false],
    buffer: ['same', false],
    releaseBuffered: ['same', false],
    record: ['same', 0],
    keepDue: ['waiting', true],
    pause: ['paused', 1],
    resume: ['same', 0],
    change: ['waiting', 1],
    remove: ['removed', 1],
  },
  dispatching: {
    takeDue: ['same', false],
    passOver: ['waiting', true],
    buffer: ['buffered', true],
    releaseBuffered: ['same', false],
    record: ['waiting', 0],
    keepDue: ['waiting', true],
    // Paused in a dispatch: it lands paused when the dispatch ends (see the sequences below).
    pause: ['dispatching', 1],
    resume: ['same', 0],
    change: ['dispatching', 1],
    remove: ['removed', 1],
  },
  buffered: {
    takeDue: ['same', false],
    passOver: ['same', false],
    buffer: ['same', false],
    releaseBuffered: ['dispatching', true],
    record: ['same', 0],
    keepDue: ['same', false],
    pause: ['paused', 1],
    resume: ['same', 0],
    change: ['buffered', 1],
    remove: ['removed', 1],
  },
  paused: {
    takeDue: ['same', false],
    passOver: ['same', false],
    buffer: ['same', false],
    releaseBuffered: ['same', false],
    record: ['same', 0],
    keepDue: ['same', false],
    pause: ['same', 0],
    resume: ['waiting', 1],
    change: ['paused', 1],
    remove: ['removed', 1],
  },
  finished: {
    takeDue: ['same', false],
    passOver: ['same', false],
    buffer: ['same', false],
    releaseBuffered: ['same', false],
    record: ['same', 0],
    keepDue: ['same', false],
    pause: ['paused', 1],
    resume: ['same', 0],
    // Still maxRuns 1 made: a change that does not raise maxRuns leaves it finished.
    change: ['finished', 1],
    remove: ['removed', 1],
  },
  removed: {
    takeDue: ['same', false],
    passOver: ['same', false],
    buffer: ['same', false],
    releaseBuffered: ['same', false],
    record: ['same', 0],
    keepDue: ['same', false],
    pause: ['same', 0],
    resume: ['same', 0],
    // Upserting its name adds a new entry; this handle stays removed.
    change: ['same', 0],
    remove: ['same', 0],
  },
};

function fields(handle: BookEntry) {
  const { phase, cursorMs, lastRunMs, nextSlotMs, runs, key } = handle;
  return { phase, cursorMs, lastRunMs, nextSlotMs, runs, key };
}

describe('an entry in the book: the transition table', () => {
  for (const [phase, row] of Object.entries(TABLE) as [Phase, Record<Event, Cell>][]) {
    for (const [event, [to, returns]] of Object.entries(row) as [Event, Cell][]) {
      it(`${phase} + ${event} -> ${to === 'same' ? 'refused or ignored' : to}`, () => {
        const { book, handle } = bookIn(phase);
        const before = fields(handle);
        const nextDueBefore = book.nextDueMs();
        expect(send(book, handle, event)).toBe(returns);
        // Upserting a removed entry's name adds a new entry, with a handle of its own.
        const addsNew = phase === 'removed' && event === 'change';
        if (to === 'same') {
          expect(fields(handle)).toEqual(before);
          if (!addsNew) expect(book.nextDueMs()).toBe(nextDueBefore);
        } else {
          expect(handle.phase.kind).toBe(to);
        }
        // Waiting means in the heap (the book's only entry: its key is the next due instant); no other phase is.
        if (handle.phase.kind === 'waiting') expect(book.dueBy(Number.MAX_SAFE_INTEGER)).toEqual([handle]);
        else expect(book.dueBy(Number.MAX_SAFE_INTEGER)).not.toContain(handle);
        if (addsNew) expect(book.dueBy(Number.MAX_SAFE_INTEGER).map((h) => h.entry.name)).toEqual(['e']);
      });
    }
  }
});

describe('an entry paused in a dispatch', () => {
  it('lands paused when its runs are recorded, and resumes after the slots that passed meanwhile', () => {
    const { book, handle } = bookIn('dispatching');
    book.setPaused(new Set(['e']), DUE);
    book.record([handle], [DUE], ['published'], DUE);
    expect(handle.phase.kind).toBe('paused');
    expect(book.nextDueMs()).toBeUndefined();
    expect(book.setPaused(new Set(), T0 + 35 * S).passed).toEqual([
      { entry: handle.entry, count: 2, firstSlotMs: T0 + 20 * S, lastSlotMs: T0 + 30 * S },
    ]);
    expect(handle.phase.kind).toBe('waiting');
    expect(book.nextDueMs()).toBe(T0 + 40 * S);
  });

  it('resumed before its dispatch ends, stays in the dispatch (never due twice) and continues after the resume once recorded', () => {
    const { book, handle } = bookIn('dispatching');
    book.setPaused(new Set(['e']), DUE);
    book.setPaused(new Set(), T0 + 25 * S);
    expect(handle.phase.kind).toBe('dispatching');
    expect(book.nextDueMs()).toBeUndefined();
    expect(book.takeDue(T0 + 25 * S)).toBeUndefined();
    book.record([handle], [DUE], ['published'], T0 + 25 * S);
    expect(handle.phase.kind).toBe('waiting');
    expect(book.nextDueMs()).toBe(T0 + 30 * S);
  });

  it('kept due (not published) or buffered, lands paused: the slot is dropped, as pausing drops a buffered run', () => {
    for (const end of ['keepDue', 'buffer'] as const) {
      const { book, handle } = bookIn('dispatching');
      book.setPaused(new Set(['e']), DUE);
      expect(end === 'keepDue' ? book.keepDue(handle, DUE) : book.buffer(handle, DUE)).toBe(true);
      expect(handle.phase.kind).toBe('paused');
      expect([...book.buffered()]).toEqual([]);
      expect(book.nextDueMs()).toBeUndefined();
    }
  });
});

describe('the handle', () => {
  it("is the book's own: an object made to look like one is refused, naming the entry", () => {
    const { book, handle } = bookIn('waiting');
    const forged: BookEntry = { ...fields(handle), entry: handle.entry };
    expect(() => book.passOver(forged, DUE)).toThrow('entry "e": not a handle of an entry book');
    expect(handle.phase.kind).toBe('waiting');
  });

  it('of a finished entry waits again when a change raises maxRuns', () => {
    const { book, handle } = bookIn('finished');
    book.upsert([entryOf(10, { maxRuns: 2 })], new Map(), DUE);
    expect(handle.phase.kind).toBe('waiting');
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
  });
});
