/**
 * An entry's limits: `startAt`, `endAt`, `maxRuns` and `oneOff`. The schema's errors are pinned as
 * users see them; the schedule maths and the book are checked against instants written out by hand
 * (never against the code's own output).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import { entryWindow } from '../../src/config/resolve.js';
import { nextFires, planDue } from '../../src/core/schedule.js';
import type { EntryTiming } from '../../src/core/schedule.js';
import { buildStatus, entryStateText } from '../../src/control/status.js';
import type { EntryState } from '../../src/ports/state.js';
import { EntryBook } from '../../src/runtime/entry-book.js';
import type { BookEntry, Due } from '../../src/runtime/entry-book.js';
import { problemsOf } from '../support/config-problems.js';

const S = 1000;
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

function entryOf(definition: Record<string, unknown>, timezone = 'UTC'): ResolvedEntry {
  const [entry] = parseConfig({ timezone, maxInterval: 1, beatSchedule: { e: definition } }, 'entry-limits.test').entries;
  if (entry === undefined) throw new Error('no entry');
  return entry;
}

const timingOf = (entry: ResolvedEntry, catchUp: EntryTiming['catchUp']): EntryTiming => ({
  schedule: entry.schedule,
  zone: entry.timezone,
  catchUp,
  catchUpWindowMs: undefined,
  window: entryWindow(entry),
});

describe('startAt, endAt, exclude, pauseOnFailure, retry, deadLetter, maxRuns, oneOff in the schema', () => {
  it('resolves ISO instants, wall times in the entry zone, snake_case keys, and oneOff as maxRuns 1', () => {
    const e = entryOf(
      { task: 't', schedule: 60, start_at: '2027-01-01T09:00:00', end_at: '2027-01-02T09:00:00+00:00', one_off: true },
      'Europe/Berlin',
    );
    expect(iso(e.startAtMs ?? 0)).toBe('2027-01-01T08:00:00.000Z');
    expect(iso(e.endAtMs ?? 0)).toBe('2027-01-02T09:00:00.000Z');
    expect(e.maxRuns).toBe(1);
    expect(entryOf({ task: 't', schedule: 60, maxRuns: 4 }).maxRuns).toBe(4);
    expect(entryOf({ task: 't', schedule: 60, oneOff: true, maxRuns: 1 }).maxRuns).toBe(1);
    const plain = entryOf({ task: 't', schedule: 60 });
    expect([plain.startAtMs, plain.endAtMs, plain.maxRuns]).toEqual([undefined, undefined, undefined]);
  });

  it('names every bad limit with its path and the fix', () => {
    expect(
      problemsOf({
        beatSchedule: {
          text: { task: 't', schedule: 60, startAt: 'tomorrow' },
          feb30: { task: 't', schedule: 60, endAt: '2027-02-30T10:00:00' },
          year: { task: 't', schedule: 60, startAt: 10 },
          frac: { task: 't', schedule: 60, maxRuns: 2.5 },
          zero: { task: 't', schedule: 60, max_runs: 0 },
          both: { task: 't', schedule: 60, oneOff: true, maxRuns: 3 },
          flag: { task: 't', schedule: 60, oneOff: 'yes' },
          order: { task: 't', schedule: 60, startAt: '2027-01-02T00:00:00Z', endAt: '2027-01-01T00:00:00Z' },
          same: { task: 't', schedule: 60, timezone: 'Europe/Berlin', startAt: '2027-01-01T09:00:00', endAt: '2027-01-01T08:00:00Z' },
        },
      }),
    ).toMatchInlineSnapshot(`
      [
        "beatSchedule.text.startAt: startAt must be an ISO-8601 date-time such as "2027-01-01T09:00:00+01:00" (without an offset: a wall time in the entry's zone)",
        "beatSchedule.feb30.endAt: endAt "2027-02-30T10:00:00" is not a real date and time",
        "beatSchedule.year.startAt: startAt must be an ISO-8601 date-time such as "2027-01-01T09:00:00+01:00" (without an offset: a wall time in the entry's zone)",
        "beatSchedule.frac.maxRuns: maxRuns must be a whole number of at least 1 (the entry stops after that many scheduled runs)",
        "beatSchedule.zero.maxRuns: maxRuns must be a whole number of at least 1 (the entry stops after that many scheduled runs)",
        "beatSchedule.both.maxRuns: oneOff: true means maxRuns: 1, but maxRuns is 3; give only one of them",
        "beatSchedule.flag.oneOff: oneOff must be true or false",
        "beatSchedule.order.endAt: endAt "2027-01-01T00:00:00Z" must be after startAt "2027-01-02T00:00:00Z": no run could fall between them",
        "beatSchedule.same.endAt: endAt "2027-01-01T08:00:00Z" must be after startAt "2027-01-01T09:00:00": no run could fall between them",
      ]
    `);
  });
});

describe('endAt after startAt when one is a wall time and the other an instant', () => {
  it('compares them in the config zone (09:00 in Berlin is 08:00Z)', () => {
    const config = (endAt: string) => ({
      timezone: 'Europe/Berlin',
      beatSchedule: { mixed: { task: 't', schedule: 60, startAt: '2027-01-01T09:00:00', endAt } },
    });
    expect(iso(parseConfig(config('2027-01-01T08:30:00Z'), 'entry-limits.test').entries[0]?.endAtMs ?? 0)).toBe('2027-01-01T08:30:00.000Z');
    expect(problemsOf(config('2027-01-01T07:30:00Z'))).toEqual([
      'beatSchedule.mixed.endAt: endAt "2027-01-01T07:30:00Z" must be after startAt "2027-01-01T09:00:00": no run could fall between them',
    ]);
  });
});

describe('the window in the schedule maths', () => {
  it('reads a startAt wall time in a DST gap as the moment after it (02:30 on 29 March in Berlin is 03:30 CEST)', () => {
    const e = entryOf({ task: 't', schedule: { cron: '*/15 * * * *' }, startAt: '2026-03-29T02:30:00' }, 'Europe/Berlin');
    const fires = nextFires(e.schedule, { zone: e.timezone, afterMs: at('2026-03-28T23:00:00Z'), window: entryWindow(e) }, 3);
    expect(fires.map(iso)).toEqual(['2026-03-29T01:30:00.000Z', '2026-03-29T01:45:00.000Z', '2026-03-29T02:00:00.000Z']);
  });

  it('reads a startAt wall time that happens twice (fall back) in its second pass, as a clocked schedule does', () => {
    const e = entryOf({ task: 't', schedule: { cron: '30 * * * *' }, startAt: '2026-10-25T02:30:00' }, 'Europe/Berlin');
    const fires = nextFires(e.schedule, { zone: e.timezone, afterMs: at('2026-10-24T20:00:00Z'), window: entryWindow(e) }, 2);
    // 02:30 CEST (00:30Z) is before the start; 02:30 CET (01:30Z) is the start itself and runs.
    expect(fires.map(iso)).toEqual(['2026-10-25T01:30:00.000Z', '2026-10-25T02:30:00.000Z']);
  });

  it('runs a slot exactly at startAt and none exactly at endAt', () => {
    const e = entryOf({ task: 't', schedule: { cron: '0 * * * *' }, startAt: '2027-01-01T10:00:00Z', endAt: '2027-01-01T13:00:00Z' });
    const fires = nextFires(e.schedule, { zone: 'UTC', afterMs: at('2027-01-01T00:00:00Z'), window: entryWindow(e) }, 10);
    expect(fires.map(iso)).toEqual(['2027-01-01T10:00:00.000Z', '2027-01-01T11:00:00.000Z', '2027-01-01T12:00:00.000Z']);
  });

  it('stops a cron catch-up burst at endAt, and leaves the entry no next slot', () => {
    const e = entryOf({ task: 't', schedule: { cron: '* * * * *' }, endAt: '2027-01-01T10:05:00Z', catchUp: 'all' });
    const plan = planDue(timingOf(e, 'all'), at('2027-01-01T10:00:00Z'), at('2027-01-01T10:10:00Z'), { graceMs: 1000, maxSlots: 100 });
    expect(plan.slots.map(iso)).toEqual([
      '2027-01-01T10:01:00.000Z',
      '2027-01-01T10:02:00.000Z',
      '2027-01-01T10:03:00.000Z',
      '2027-01-01T10:04:00.000Z',
    ]);
    expect(plan.nextSlotMs).toBeUndefined();
    // catchUp "once" picks the latest slot inside the window, not the last minute before now.
    const once = planDue(timingOf(e, 'once'), at('2027-01-01T10:00:00Z'), at('2027-01-01T10:10:00Z'), { graceMs: 1000, maxSlots: 100 });
    expect(once.slots.map(iso)).toEqual(['2027-01-01T10:04:00.000Z']);
    expect(once.missed).toBe(3);
  });

  it('starts an interval first seen before startAt on a grid through startAt, and never catches up slots before it', () => {
    const e = entryOf({ task: 't', schedule: { timedelta: { hours: 1 } }, startAt: '2027-01-01T09:00:00Z' });
    const seen = at('2027-01-01T08:42:17Z');
    expect(nextFires(e.schedule, { zone: 'UTC', afterMs: seen, anchorMs: seen, window: entryWindow(e) }, 3).map(iso)).toEqual([
      '2027-01-01T09:00:00.000Z',
      '2027-01-01T10:00:00.000Z',
      '2027-01-01T11:00:00.000Z',
    ]);
    // Down from before the start until 11:30: "all" replays the slots since the start, no earlier.
    const lastRun = at('2027-01-01T05:42:17Z');
    const all = planDue(timingOf(e, 'all'), lastRun, at('2027-01-01T11:30:00Z'), { graceMs: 1000, maxSlots: 100 });
    expect(all.slots.map(iso)).toEqual(['2027-01-01T09:00:00.000Z', '2027-01-01T10:00:00.000Z', '2027-01-01T11:00:00.000Z']);
    expect(all.nextSlotMs === undefined ? undefined : iso(all.nextSlotMs)).toBe('2027-01-01T12:00:00.000Z');
    const once = planDue(timingOf(e, 'once'), lastRun, at('2027-01-01T11:30:00Z'), { graceMs: 1000, maxSlots: 100 });
    expect(once.slots.map(iso)).toEqual(['2027-01-01T11:00:00.000Z']);
    expect(once.missed).toBe(2);
    // Before the start nothing is due, and the first slot is the start.
    const early = planDue(timingOf(e, 'once'), seen, at('2027-01-01T08:59:59Z'), { graceMs: 1000, maxSlots: 100 });
    expect(early.slots).toEqual([]);
    expect(iso(early.nextSlotMs ?? 0)).toBe('2027-01-01T09:00:00.000Z');
  });

  it('keeps an interval that has run since startAt on its own grid', () => {
    const e = entryOf({ task: 't', schedule: { timedelta: { hours: 1 } }, startAt: '2027-01-01T09:00:00Z' });
    const ran = at('2027-01-01T09:20:00Z');
    expect(nextFires(e.schedule, { zone: 'UTC', afterMs: ran, anchorMs: ran, window: entryWindow(e) }, 2).map(iso)).toEqual([
      '2027-01-01T10:20:00.000Z',
      '2027-01-01T11:20:00.000Z',
    ]);
  });

  it('applies startAt and endAt to an rrule with a count (the count is the rule\u2019s, from its dtstart)', () => {
    const rule = { rrule: { freq: 'daily', count: 5, byhour: 9, dtstart: '2027-01-01T00:00:00' } };
    const e = entryOf({ task: 't', schedule: rule, startAt: '2027-01-02T09:00:00Z', endAt: '2027-01-04T09:00:00Z' });
    const fires = nextFires(e.schedule, { zone: 'UTC', afterMs: at('2026-12-31T00:00:00Z'), window: entryWindow(e) }, 10);
    expect(fires.map(iso)).toEqual(['2027-01-02T09:00:00.000Z', '2027-01-03T09:00:00.000Z']);
    const late = entryOf({ task: 't', schedule: rule, endAt: '2027-06-01T00:00:00Z' });
    expect(nextFires(late.schedule, { zone: 'UTC', afterMs: at('2026-12-31T00:00:00Z'), window: entryWindow(late) }, 10)).toHaveLength(5);
  });
});

const T0 = at('2026-11-21T06:00:00.000Z');

function bookOf(entries: readonly ResolvedEntry[], nowMs: number, stored: Record<string, EntryState> = {}): EntryBook {
  const book = new EntryBook({ maxIntervalMs: 1000 });
  book.load(entries, new Map(entries.map((e) => [e.name, stored[e.name] ?? { seenMs: nowMs, runCount: 0 }])), nowMs);
  return book;
}

/** Takes what is due at `nowMs`, records it all as published; returns the slots and the entries that finished. */
function publishDue(book: EntryBook, nowMs: number): { slots: number[]; finished: string[] } {
  const taken: Due[] = [];
  for (let due = book.takeDue(nowMs); due !== undefined; due = book.takeDue(nowMs)) taken.push(due);
  const entries: BookEntry[] = [];
  const slots: number[] = [];
  for (const { held, plan } of taken)
    for (const slot of plan.slots) {
      entries.push(held);
      slots.push(slot);
    }
  const finished = book.record(
    entries,
    slots,
    entries.map(() => 'published'),
    nowMs,
  );
  return { slots, finished: finished.map((f) => f.entry.name) };
}

function named(name: string, definition: Record<string, unknown>): ResolvedEntry {
  return { ...entryOf(definition), name };
}

describe('maxRuns in the entry book', () => {
  it('publishes no more than maxRuns in one catch-up "all" batch, then leaves the schedule as finished', () => {
    const e = named('thrice', { task: 't', schedule: 10, maxRuns: 3, catchUp: 'all' });
    const book = bookOf([e], T0);
    const { slots, finished } = publishDue(book, T0 + 100 * S);
    expect(slots).toEqual([T0 + 10 * S, T0 + 20 * S, T0 + 30 * S]);
    expect(finished).toEqual(['thrice']);
    expect(book.nextDueMs()).toBeUndefined();
    expect([...book.snapshot()]).toEqual([{ name: 'thrice', nextSlotMs: undefined, paused: false, runs: 3, finished: true }]);
    expect(publishDue(book, T0 + 1000 * S).slots).toEqual([]);
  });

  it('counts the stored runs: an entry loaded with 2 of 3 runs made runs once more', () => {
    const e = named('e', { task: 't', schedule: 10, maxRuns: 3, catchUp: 'all' });
    const book = bookOf([e], T0 + 100 * S, { e: { slotMs: T0, runCount: 2 } });
    expect(publishDue(book, T0 + 100 * S)).toEqual({ slots: [T0 + 10 * S], finished: ['e'] });
    // Loaded already finished, it is never due.
    expect(bookOf([e], T0, { e: { slotMs: T0, runCount: 3 } }).nextDueMs()).toBeUndefined();
  });

  it('does not count manual runs: not those of the stored state (t), nor those published while it leads', () => {
    const e = named('e', { task: 't', schedule: 10, maxRuns: 3 });
    // 4 runs stored, 2 of them manual (`beat trigger`): 2 scheduled, so one more.
    const book = bookOf([e], T0 + 10 * S, { e: { slotMs: T0, runCount: 4, manualRuns: 2 } });
    expect([...book.snapshot()][0]).toMatchObject({ runs: 2, finished: false });
    // A trigger now moves the stored counts (trigger-fenced.lua) and not the book's: it is published apart.
    expect(publishDue(book, T0 + 10 * S)).toEqual({ slots: [T0 + 10 * S], finished: ['e'] });
    // Loaded again later, with the trigger stored (n 6, t 3): still 3 scheduled runs, finished.
    expect(bookOf([e], T0 + 20 * S, { e: { slotMs: T0 + 10 * S, runCount: 6, manualRuns: 3 } }).nextDueMs()).toBeUndefined();
  });

  it('reopens a finished entry when an upsert raises maxRuns, and keeps it finished when not', () => {
    const e = named('e', { task: 't', schedule: 10, maxRuns: 1 });
    const book = bookOf([e], T0);
    expect(publishDue(book, T0 + 10 * S).finished).toEqual(['e']);
    book.upsert([named('e', { task: 't', schedule: 10, maxRuns: 1, args: [1] })], new Map(), T0 + 15 * S);
    expect(book.nextDueMs()).toBeUndefined();
    book.upsert([named('e', { task: 't', schedule: 10, maxRuns: 3 })], new Map(), T0 + 15 * S);
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
    expect(publishDue(book, T0 + 20 * S).slots).toEqual([T0 + 20 * S]);
    expect(publishDue(book, T0 + 30 * S)).toEqual({ slots: [T0 + 30 * S], finished: ['e'] });
  });

  it('reopens an entry whose endAt passed when an upsert moves endAt later', () => {
    const e = named('e', { task: 't', schedule: 10, endAt: iso(T0 + 15 * S) });
    const book = bookOf([e], T0);
    expect(publishDue(book, T0 + 10 * S).slots).toEqual([T0 + 10 * S]);
    expect(book.nextDueMs()).toBeUndefined();
    book.upsert([named('e', { task: 't', schedule: 10, endAt: iso(T0 + 35 * S) })], new Map(), T0 + 22 * S);
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
    // The slot at 20 s passed while the entry was closed: catchUp "once" runs it, late, once.
    expect(publishDue(book, T0 + 22 * S).slots).toEqual([T0 + 20 * S]);
    expect(publishDue(book, T0 + 30 * S).slots).toEqual([T0 + 30 * S]);
    expect(book.nextDueMs()).toBeUndefined();
  });
});

describe('status of a limited entry', () => {
  it('says an entry finished, with its scheduled and manual runs, and gives it no next run', () => {
    const e = named('e', { task: 't', schedule: 10, maxRuns: 3 });
    const config = parseConfig({ beatSchedule: {} }, 'entry-limits.test');
    const status = buildStatus({
      config: { ...config, entries: [e] },
      states: new Map([['e', { slotMs: T0, publishedAtMs: T0, runCount: 3 }]]),
      paused: new Set(),
      leader: undefined,
      self: { instance: 'cli', role: 'cli' },
      nowMs: T0 + S,
    });
    const [entry] = status.entries;
    expect(entry).toMatchObject({ runCount: 3, maxRuns: 3, finished: true, nextRun: null });
    expect(entry && entryStateText(entry)).toBe('finished: ran 3 of 3 times');
    const withManual = buildStatus({
      config: { ...config, entries: [e] },
      states: new Map([['e', { slotMs: T0, publishedAtMs: T0, runCount: 4, manualRuns: 2 }]]),
      paused: new Set(),
      leader: undefined,
      self: { instance: 'cli', role: 'cli' },
      nowMs: T0 + S,
    }).entries[0];
    // 2 scheduled runs of 3: not finished, and a next run.
    expect(withManual).toMatchObject({ runCount: 4, manualRuns: 2, finished: false, nextRun: expect.any(String) });
    expect(withManual && entryStateText(withManual)).toBe('active');
    const done = buildStatus({
      config: { ...config, entries: [e] },
      states: new Map([['e', { slotMs: T0, publishedAtMs: T0, runCount: 4, manualRuns: 1 }]]),
      paused: new Set(),
      leader: undefined,
      self: { instance: 'cli', role: 'cli' },
      nowMs: T0 + S,
    }).entries[0];
    expect(done && entryStateText(done)).toBe('finished: ran 3 of 3 times, and 1 manual run');
  });
});
