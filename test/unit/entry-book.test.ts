/**
 * The runner's entry book, driven by hand: no timers, no clock, every instant an argument. The
 * expected slots are written out by hand or come from core/schedule's nextFires (the oracle the
 * book must agree with), never from the book itself.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { jitterFor, nextFires } from '../../src/core/schedule.js';
import type { PublishResult } from '../../src/ports/dispatcher.js';
import type { EntryState } from '../../src/ports/state.js';
import { EntryBook, SUPERSEDED_RETRY_MS } from '../../src/runtime/entry-book.js';
import type { BookEntry, Due } from '../../src/runtime/entry-book.js';

const S = 1000;
const MIN = 60 * S;
const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const MAX_INTERVAL_MS = 1000;

function entriesOf(beatSchedule: Record<string, unknown>): ResolvedEntry[] {
  return [...parseConfig({ name: 'unit', maxInterval: MAX_INTERVAL_MS / 1000, beatSchedule }, 'entry-book.test').entries];
}

/** A book loaded at `nowMs`; entries without a stored state are new, first seen then (as the state store records them). */
function open(
  entries: readonly ResolvedEntry[],
  nowMs: number,
  stored: Record<string, EntryState> = {},
  knownRuns?: Map<string, number>,
  knownSightings?: Map<string, number>,
) {
  const book = new EntryBook({ maxIntervalMs: MAX_INTERVAL_MS });
  const states = new Map(entries.map((e) => [e.name, stored[e.name] ?? { seenMs: nowMs, runCount: 0 }]));
  const lost = book.load(entries, states, nowMs, knownRuns, knownSightings);
  return { book, lost };
}

/** Everything due at `nowMs`, taken off the book. */
function takeAll(book: EntryBook, nowMs: number): Due[] {
  const out: Due[] = [];
  for (let due = book.takeDue(nowMs); due !== undefined; due = book.takeDue(nowMs)) out.push(due);
  return out;
}

/** Records every planned run of `taken` with one outcome, as a dispatch would report it. */
function recordAll(
  book: EntryBook,
  taken: readonly Due[],
  nowMs: number,
  outcome: (entry: BookEntry) => PublishResult = () => 'published',
): void {
  const entries: BookEntry[] = [];
  const slots: number[] = [];
  for (const { held, plan } of taken) {
    for (const slot of plan.slots) {
      entries.push(held);
      slots.push(slot);
    }
  }
  book.record(entries, slots, entries.map(outcome), nowMs);
}

/**
 * Drives the book from `fromMs` to `untilMs` the way the runner does, waking at each `wakeAt(due)`
 * (the due instant, or later), publishing whatever it plans. Returns each entry's published slots.
 */
function run(book: EntryBook, untilMs: number, wakeAt: (dueMs: number) => number = (dueMs) => dueMs): Map<string, number[]> {
  const published = new Map<string, number[]>();
  let wakes = 0;
  for (let due = book.nextDueMs(); due !== undefined && due <= untilMs; due = book.nextDueMs()) {
    // A book that keeps an entry due at the same slot would loop here for ever: fail instead.
    wakes += 1;
    if (wakes > 5000) throw new Error(`still due at ${new Date(due).toISOString()} after ${wakes} wake-ups: a slot is repeated`);
    const now = wakeAt(due);
    const taken = takeAll(book, now);
    for (const { held, plan } of taken) published.set(held.entry.name, [...(published.get(held.entry.name) ?? []), ...plan.slots]);
    recordAll(book, taken, now);
  }
  return published;
}

/** The oracle: the entry's fires after `afterMs` (its grid anchored there) up to `untilMs`. */
function firesOf(entry: ResolvedEntry, afterMs: number, untilMs: number): number[] {
  return nextFires(entry.schedule, { zone: entry.timezone, afterMs, anchorMs: afterMs }, 10_000).filter((slot) => slot <= untilMs);
}

describe('EntryBook', () => {
  it('walks two hours of a crontab, an interval and a Berlin cron entry: every slot once, in order, none skipped (oracle: nextFires)', () => {
    const entries = entriesOf({
      quarter: { task: 't.q', schedule: { cron: '*/15 * * * *' } },
      every7s: { task: 't.i', schedule: 7 },
      berlin: { task: 't.b', schedule: { crontab: { minute: '5,35' } }, timezone: 'Europe/Berlin' },
    });
    const until = T0 + 2 * 60 * MIN;
    const { book } = open(entries, T0);
    // Woken a little late each time (within the grace), as timers do.
    const published = run(book, until, (dueMs) => dueMs + 137);
    for (const entry of entries) expect(published.get(entry.name)).toEqual(firesOf(entry, T0, until));
    // Written out, so that an oracle and a book wrong the same way cannot agree.
    expect(published.get('quarter')).toEqual([15, 30, 45, 60, 75, 90, 105, 120].map((m) => T0 + m * MIN));
    expect(published.get('every7s')?.slice(0, 3)).toEqual([T0 + 7 * S, T0 + 14 * S, T0 + 21 * S]);
    expect(published.get('every7s')).toHaveLength(Math.floor((2 * 3600) / 7));
  });

  it('looking at the same instant twice, or earlier (a clock stepped back), finds nothing more: no slot twice', () => {
    const [entry] = entriesOf({ e: { task: 't.e', schedule: 10 } });
    const { book } = open([entry as ResolvedEntry], T0);
    expect(takeAll(book, T0 + 10 * S - 1)).toEqual([]);
    const first = takeAll(book, T0 + 10 * S);
    expect(first.map((d) => d.plan.slots)).toEqual([[T0 + 10 * S]]);
    // Taken, not yet recorded: not due again meanwhile (one entry is never in two dispatches).
    expect(takeAll(book, T0 + 10 * S)).toEqual([]);
    expect(book.dueBy(T0 + 60 * S)).toEqual([]);
    recordAll(book, first, T0 + 10 * S);
    expect(takeAll(book, T0 + 10 * S)).toEqual([]);
    expect(takeAll(book, T0 + 3 * S)).toEqual([]);
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
    expect(takeAll(book, T0 + 20 * S).map((d) => d.plan.slots)).toEqual([[T0 + 20 * S]]);
  });

  it('keeps an unsent run due at once from the same cursor, and a failed batch (keepDue) likewise: the slot is retried, not skipped', () => {
    const [entry] = entriesOf({ e: { task: 't.e', schedule: 10, catchUp: 'all' } });
    const { book } = open([entry as ResolvedEntry], T0);
    const taken = takeAll(book, T0 + 10 * S);
    recordAll(book, taken, T0 + 10 * S, () => 'unsent');
    expect(book.nextDueMs()).toBe(T0 + 10 * S);
    expect(book.lastRuns()).toEqual(new Map());
    // A whole batch that failed: kept due at the retry instant, cursor unchanged.
    const retried = takeAll(book, T0 + 11 * S);
    expect(retried.map((d) => d.plan.slots)).toEqual([[T0 + 10 * S]]);
    book.keepDue(retried[0]?.held as BookEntry, T0 + 11 * S);
    // The outage outlasts the next slot: with catchUp "all" both go out, in order.
    const late = takeAll(book, T0 + 21 * S);
    expect(late.map((d) => d.plan.slots)).toEqual([[T0 + 10 * S, T0 + 20 * S]]);
    recordAll(book, late, T0 + 21 * S);
    expect(book.lastRuns()).toEqual(new Map([['e', T0 + 20 * S]]));
    expect(book.nextDueMs()).toBe(T0 + 30 * S);
  });

  it('keeps a superseded run (its entry changed since it was read) from the same cursor, due again only after a while or when the change is applied', () => {
    const [entry] = entriesOf({ e: { task: 't.e', schedule: 10, catchUp: 'all' } });
    const { book } = open([entry as ResolvedEntry], T0);
    const taken = takeAll(book, T0 + 10 * S);
    recordAll(book, taken, T0 + 10 * S, () => 'superseded');
    expect(book.lastRuns()).toEqual(new Map());
    expect(book.nextDueMs()).toBe(T0 + 10 * S + SUPERSEDED_RETRY_MS);
    // The change arrives (an edit: every 5 s now): it is due at once, from the same cursor.
    const [edited] = entriesOf({ e: { task: 't.e', schedule: 5, catchUp: 'all' } });
    book.upsert([edited as ResolvedEntry], new Map(), T0 + 10 * S);
    expect(takeAll(book, T0 + 10 * S).map((d) => d.plan.slots)).toEqual([[T0 + 5 * S, T0 + 10 * S]]);
  });

  it('applies the missed-run policy to a stored state 35 s behind on a 10 s grid', () => {
    const entries = entriesOf({
      once: { task: 't', schedule: 10, catchUp: 'once' },
      skip: { task: 't', schedule: 10, catchUp: 'skip' },
      all: { task: 't', schedule: 10, catchUp: 'all' },
    });
    const stored = Object.fromEntries(entries.map((e) => [e.name, { slotMs: T0 - 35 * S, runCount: 3 }]));
    const { book } = open(entries, T0, stored);
    const plans = new Map(takeAll(book, T0).map((d) => [d.held.entry.name, d.plan]));
    expect(plans.get('once')?.slots).toEqual([T0 - 5 * S]);
    expect(plans.get('once')?.missed).toBe(2);
    expect(plans.get('skip')?.slots).toEqual([]);
    expect(plans.get('all')?.slots).toEqual([T0 - 25 * S, T0 - 15 * S, T0 - 5 * S]);
    // "skip" was moved on at once, to its next slot on the grid; the others wait to be recorded.
    expect(book.dueBy(T0 + 5 * S).map((e) => e.entry.name)).toEqual(['skip']);
    expect(book.nextDueMs()).toBe(T0 + 5 * S);
  });

  it('delays a jittered entry by its jitter, and still plans the slot itself', () => {
    const name = Array.from({ length: 50 }, (_, i) => `jittered-${i}`).find((n) => jitterFor(n, T0 + 10 * S, 5 * S) > 1000) as string;
    const jitter = jitterFor(name, T0 + 10 * S, 5 * S);
    const { book } = open(entriesOf({ [name]: { task: 't.j', schedule: 10, jitter: 5 } }), T0);
    expect(book.nextDueMs()).toBe(T0 + 10 * S + jitter);
    expect(takeAll(book, T0 + 10 * S + jitter - 1)).toEqual([]);
    expect(takeAll(book, T0 + 10 * S + jitter).map((d) => d.plan.slots)).toEqual([[T0 + 10 * S]]);
  });

  it('pausing takes an entry out; resuming skips the slots that passed meanwhile and goes on from the next', () => {
    const entries = entriesOf({ p: { task: 't.p', schedule: 10 }, q: { task: 't.q', schedule: 10 } });
    const { book } = open(entries, T0);
    expect(book.setPaused(new Set(['p']), T0 + 5 * S)).toEqual({ paused: ['p'], resumed: [], passed: [] });
    // The same set again changes nothing.
    expect(book.setPaused(new Set(['p']), T0 + 6 * S)).toEqual({ paused: [], resumed: [], passed: [] });
    const during = run(book, T0 + 40 * S);
    expect(during.get('p')).toBeUndefined();
    expect(during.get('q')).toEqual([10, 20, 30, 40].map((k) => T0 + k * S));
    expect([...book.snapshot()].find((s) => s.name === 'p')).toEqual({
      name: 'p',
      nextSlotMs: undefined,
      paused: true,
      runs: 0,
      finished: false,
    });
    // The four slots that passed while paused (10 s to 40 s) are reported, to be alerted as missed
    // (and recorded as passed over: the first and the last of them).
    const resumed = book.setPaused(new Set(), T0 + 43 * S);
    expect(resumed).toEqual({
      paused: [],
      resumed: ['p'],
      passed: [{ entry: book.entry('p'), count: 4, firstSlotMs: T0 + 10 * S, lastSlotMs: T0 + 40 * S }],
    });
    const after = run(book, T0 + 70 * S);
    expect(after.get('p')).toEqual([50, 60, 70].map((k) => T0 + k * S));
    // One entry's view (the dashboard's page rows) is its snapshot's: the next slot after the last run.
    expect(book.view('p')).toEqual({ name: 'p', nextSlotMs: T0 + 80 * S, paused: false, runs: 3, finished: false });
    expect(book.view('p')).toEqual([...book.snapshot()].find((v) => v.name === 'p'));
    expect(book.view('nope')).toBeUndefined();
  });

  it('remembers a paused set given before load, and skips the slots up to a stored resume', () => {
    const entries = entriesOf({ p: { task: 't.p', schedule: 10 }, r: { task: 't.r', schedule: 10 } });
    const book = new EntryBook({ maxIntervalMs: MAX_INTERVAL_MS });
    book.setPaused(new Set(['p']), T0);
    const stored = new Map<string, EntryState>([
      ['p', { slotMs: T0 - 60 * S, runCount: 1 }],
      // Resumed at T0-12 s after a pause: slots up to then were skipped, -10 s is the first missed after it.
      ['r', { slotMs: T0 - 60 * S, runCount: 1, resumedAtMs: T0 - 12 * S }],
    ]);
    book.load(entries, stored, T0);
    const taken = takeAll(book, T0);
    expect(taken.map((d) => [d.held.entry.name, d.plan.slots, d.plan.missed])).toEqual([['r', [T0], 1]]);
  });

  it('issue 30, scenario 1: the runs seen published of a deleted incarnation are not the history of the entry created again under its name', () => {
    const [base] = entriesOf({ x: { task: 't', schedule: 1, catchUp: 'all' } });
    const old: ResolvedEntry = { ...(base as ResolvedEntry), origin: 'store', incarnation: '3' };
    // A session led with the old incarnation and saw it publish up to T0 (its book's last runs).
    const first = open([old], T0 - 5 * S, { x: { slotMs: T0 - 5 * S, runCount: 1 } }).book;
    recordAll(first, takeAll(first, T0), T0);
    const known = first.lastRuns();
    // Deleted (its state with it) and created again meanwhile: the new incarnation has only its first sighting.
    const reborn: ResolvedEntry = { ...old, incarnation: '9' };
    const later = T0 + 60 * S;
    const { book, lost } = open([reborn], later, {}, known);
    expect(lost).toEqual([]);
    expect(book.nextDueMs()).toBe(later + S);
    expect(takeAll(book, later)).toEqual([]);
    // The same incarnation whose stored state went backwards is a real loss, and continues from what was seen.
    const again = open([old], later, {}, known);
    expect(again.lost).toEqual(['x']);
    expect(takeAll(again.book, later)[0]?.plan.slots[0]).toBe(T0 + S);
  });

  it("issue 66: a stale read of an entry deleted and created again (the stored state is a newer incarnation's) is not Redis's state lost", () => {
    const [base] = entriesOf({ x: { task: 't', schedule: 1, catchUp: 'all' } });
    const old: ResolvedEntry = { ...(base as ResolvedEntry), origin: 'django', incarnation: 'd3' };
    const first = open([old], T0 - 5 * S, { x: { slotMs: T0 - 5 * S, runCount: 1, incarnation: 'd3' } }).book;
    recordAll(first, takeAll(first, T0), T0);
    const known = first.lastRuns();
    // Paused, then leading again with its source unreachable: it still holds incarnation 3, while
    // another leader read the row created again (9) and wrote its state: seen only, or run since.
    const later = T0 + 60 * S;
    for (const state of [
      { seenMs: T0 + 10 * S, runCount: 0, incarnation: 'd9' },
      { slotMs: T0 + 30 * S, runCount: 20, incarnation: 'd9' },
    ]) {
      const { book, lost } = open([old], later, { x: state }, known, new Map([['x', T0]]));
      expect(lost, JSON.stringify(state)).toEqual([]);
      // Nothing caught up from the old incarnation's runs: it starts from now, as a sighting would.
      expect(takeAll(book, later)).toEqual([]);
      expect(book.nextDueMs()).toBe(later + S);
    }
    // Its own incarnation's state gone backwards is still a loss.
    expect(open([old], later, { x: { seenMs: later, runCount: 0, incarnation: 'd3' } }, known).lost).toEqual(['x']);
  });

  it('an entry that never ran loses its first sighting with the rest: the slot that passed in the outage is caught up, not passed over', () => {
    const [entry] = entriesOf({ e: { task: 't', schedule: 10, catchUp: 'all' } });
    // A session saw it first at T0 and led until T0 + 5 s: it never ran.
    const first = open([entry as ResolvedEntry], T0).book;
    expect(takeAll(first, T0 + 5 * S)).toEqual([]);
    expect(first.lastRuns()).toEqual(new Map());
    const sightings = first.firstSightings();
    expect(sightings).toEqual(new Map([['e', T0]]));
    // Redis lost everything; the next session (at T0 + 25 s) finds only the sighting it wrote itself.
    const later = T0 + 25 * S;
    const { book, lost } = open([entry as ResolvedEntry], later, {}, new Map(), sightings);
    expect(lost).toEqual(['e']);
    expect(takeAll(book, later).map((d) => d.plan.slots)).toEqual([[T0 + 10 * S, T0 + 20 * S]]);
    // Without what the first session knew, both slots would pass unseen: the next one is after `later`.
    const blind = open([entry as ResolvedEntry], later).book;
    expect(takeAll(blind, later)).toEqual([]);
    expect(blind.nextDueMs()).toBe(later + 10 * S);
    // A sighting kept (no loss) is the same as the one known: nothing lost.
    expect(open([entry as ResolvedEntry], later, { e: { seenMs: T0, runCount: 0 } }, new Map(), sightings).lost).toEqual([]);
  });

  it('decides which stored states were lost: missing or older than the runs this process saw published', () => {
    const entries = entriesOf({
      behind: { task: 't', schedule: 10 },
      missing: { task: 't', schedule: 10 },
      ahead: { task: 't', schedule: 10 },
      unknown: { task: 't', schedule: 10 },
    });
    const book = new EntryBook({ maxIntervalMs: MAX_INTERVAL_MS });
    const stored = new Map<string, EntryState>([
      ['behind', { slotMs: T0 - 30 * S, runCount: 1 }],
      ['ahead', { slotMs: T0, runCount: 9 }],
      ['unknown', { slotMs: T0 - 30 * S, runCount: 1 }],
    ]);
    const known = new Map([
      ['behind', T0 - 10 * S],
      ['missing', T0 - 10 * S],
      ['ahead', T0 - 10 * S],
    ]);
    expect(book.load(entries, stored, T0 + 5 * S, known).sort()).toEqual(['behind', 'missing']);
    // The lost ones continue from the known run, on its grid; the others from their stored state.
    expect(book.lastRuns()).toEqual(
      new Map([
        ['behind', T0 - 10 * S],
        ['missing', T0 - 10 * S],
        ['ahead', T0],
        ['unknown', T0 - 30 * S],
      ]),
    );
    const plans = new Map(takeAll(book, T0 + 5 * S).map((d) => [d.held.entry.name, d.plan.slots]));
    expect(plans.get('behind')).toEqual([T0]);
    expect(plans.get('missing')).toEqual([T0]);
    expect(plans.get('unknown')).toEqual([T0]);
    expect(plans.has('ahead')).toBe(false);
  });

  describe('runtime entries: upsert and remove', () => {
    it('an added entry joins from its stored state; an edited one continues from its last run on the new schedule', () => {
      const [every10] = entriesOf({ a: { task: 't', schedule: 10 } });
      const { book } = open([], T0);
      book.upsert([every10 as ResolvedEntry], new Map([['a', { seenMs: T0, runCount: 0 }]]), T0);
      const first = run(book, T0 + 30 * S);
      expect(first.get('a')).toEqual([T0 + 10 * S, T0 + 20 * S, T0 + 30 * S]);
      // Now every 25 s: the next slot is 25 s after the last run, not after the edit.
      const [every25] = entriesOf({ a: { task: 't', schedule: 25 } });
      expect(book.upsert([every25 as ResolvedEntry], new Map(), T0 + 31 * S)).toEqual([every10]);
      expect(book.nextDueMs()).toBe(T0 + 55 * S);
      expect(run(book, T0 + 80 * S).get('a')).toEqual([T0 + 55 * S, T0 + 80 * S]);
    });

    it('an entry edited while its run is being dispatched takes its new schedule when the dispatch is recorded', () => {
      const [every10] = entriesOf({ a: { task: 't', schedule: 10 } });
      const { book } = open([every10 as ResolvedEntry], T0);
      const taken = takeAll(book, T0 + 10 * S);
      expect(taken.map((d) => d.plan.slots)).toEqual([[T0 + 10 * S]]);
      const [hourly] = entriesOf({ a: { task: 't', schedule: { cron: '0 * * * *' } } });
      book.upsert([hourly as ResolvedEntry], new Map(), T0 + 10 * S);
      // Still in the dispatch: not back in the heap until recorded.
      expect(book.nextDueMs()).toBeUndefined();
      recordAll(book, taken, T0 + 10 * S);
      expect(book.nextDueMs()).toBe(T0 + 60 * MIN);
    });

    it('a removed entry never comes back, not even when a dispatch of it is recorded afterwards', () => {
      const entries = entriesOf({ a: { task: 't', schedule: 10 }, b: { task: 't', schedule: 15 } });
      const { book } = open(entries, T0);
      const taken = takeAll(book, T0 + 10 * S);
      expect(book.remove(['a', 'missing']).map((e) => e.name)).toEqual(['a']);
      recordAll(book, taken, T0 + 10 * S);
      book.keepDue(taken[0]?.held as BookEntry, T0 + 11 * S);
      expect(book.has('a')).toBe(false);
      const published = run(book, T0 + 60 * S);
      expect(published.has('a')).toBe(false);
      expect(published.get('b')).toEqual([15, 30, 45, 60].map((s) => T0 + s * S));
      expect([...book.snapshot()].map((e) => e.name)).toEqual(['b']);
    });

    it('an entry whose schedule had run out is scheduled again by an edit that gives it slots', () => {
      const [once] = entriesOf({ a: { task: 't', schedule: { clocked: '2026-11-21T06:00:05Z' } } });
      const { book } = open([once as ResolvedEntry], T0);
      expect(run(book, T0 + 60 * S).get('a')).toEqual([T0 + 5 * S]);
      expect(book.nextDueMs()).toBeUndefined();
      const [later] = entriesOf({ a: { task: 't', schedule: { clocked: '2026-11-21T06:02:00Z' } } });
      book.upsert([later as ResolvedEntry], new Map(), T0 + 61 * S);
      expect(book.nextDueMs()).toBe(T0 + 120 * S);
    });
  });

  it('takes the most frequent entries first at an instant many share, once it knows their periods (issue 69: a 1 s entry beside a minute burst)', () => {
    const schedule: Record<string, unknown> = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`minute-${String(i).padStart(2, '0')}`, { task: 't.m', schedule: { cron: '* * * * *' } }]),
    );
    schedule['every-second'] = { task: 't.s', schedule: 1 };
    schedule['every-ten-seconds'] = { task: 't.t', schedule: 10 };
    const { book } = open(entriesOf(schedule), T0 - 30 * S);
    // Two minutes of wake-ups teach the book each entry's period; then the instant they all share.
    run(book, T0 + 2 * MIN - 1);
    const taken = takeAll(book, T0 + 2 * MIN).map((d) => d.held.entry.name);
    expect(taken).toHaveLength(52);
    expect(taken.slice(0, 2)).toEqual(['every-second', 'every-ten-seconds']);
  });

  it('tells a dispatch when a frequent entry falls due after its instant, and not for an every-minute one (issue 69)', () => {
    const { book } = open(
      entriesOf({
        minute: { task: 't.m', schedule: { cron: '* * * * *' } },
        'two-minutes': { task: 't.h', schedule: { cron: '*/2 * * * *' } },
        'every-second': { task: 't.s', schedule: 1, startAt: '2026-11-21T06:00:00.050Z' },
      }),
      T0 - 30 * S,
    );
    run(book, T0 + 2 * MIN - 1);
    // The burst at T0+2 min is taken one entry at a time, as a dispatch takes its batches.
    const burst = T0 + 2 * MIN;
    // Every-minute entries are not frequent: their slot after an instant asks for no break.
    expect(book.frequentCameDue(burst - 1, burst + 10)).toBe(false);
    expect(book.frequentCameDue(burst, burst + 49)).toBe(false);
    expect(book.frequentCameDue(burst, burst + 50)).toBe(true);
    expect(
      book
        .dueBy(burst + 50)
        .map((e) => e.entry.name)
        .sort(),
    ).toEqual(['every-second', 'minute', 'two-minutes']);
    // A wake-up at the later instant takes the frequent entry first, then the burst still due.
    expect(takeAll(book, burst + 50).map((d) => [d.held.entry.name, d.plan.slots])).toEqual([
      ['every-second', [burst + 50]],
      ['minute', [burst]],
      ['two-minutes', [burst]],
    ]);
    expect(book.nextDueMs()).toBeUndefined();
  });
});
