/**
 * Overlap policies on the entry book, driven by hand: the gate decides with a table of runs still
 * running (the port the outcome tracker implements), every instant an argument. Expected slots
 * are written out by hand (an entry every 10 s from T0).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { createLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { ResolvedEntry } from '../../src/config/resolve.js';
import type { RunRecord, RunningRuns } from '../../src/ports/outcomes.js';
import { NO_EVENTS } from '../../src/ports/events.js';
import type { MissedSlots } from '../../src/ports/events.js';
import { EntryBook } from '../../src/runtime/entry-book.js';
import type { BookEntry } from '../../src/runtime/entry-book.js';
import { OverlapGate } from '../../src/runtime/overlap.js';
import type { RunRenderer } from '../../src/runtime/run-render.js';

const S = 1000;
const T0 = Date.parse('2026-11-23T06:00:00.000Z');

/** Runs still running, by entry, as the tracker would answer. */
class Running implements RunningRuns {
  readonly runs = new Map<string, RunRecord>();
  start(entry: string, publishedAtMs: number): void {
    this.runs.set(entry, { taskId: `${entry}-${publishedAtMs}`, slotMs: publishedAtMs, publishedAtMs, state: 'STARTED' });
  }
  unfinishedRun(entry: string): RunRecord | undefined {
    return this.runs.get(entry);
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  onFinished(): void {}
}

/** `running` null: this instance follows no outcomes. */
function setup(entry: Record<string, unknown>, running: RunningRuns | null = new Running()) {
  const config = parseConfig(
    { name: 'unit', resultBackend: 'redis://127.0.0.1:6379/1', beatSchedule: { e: { task: 't', schedule: 10, ...entry } } },
    'overlap.test',
  );
  const entries: ResolvedEntry[] = [...config.entries];
  const book = new EntryBook({ maxIntervalMs: 1000 });
  book.load(entries, new Map([['e', { slotMs: T0, runCount: 1 }]]), T0);
  const missed: MissedSlots[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const gate = new OverlapGate(running ?? undefined, {
    logger: createLogger({ level: 'info', destination: sink }),
    events: { ...NO_EVENTS, missed: (m) => missed.push(m) },
    renderer: undefined as unknown as RunRenderer,
    dryRun: false,
  });
  /** One wake-up at `nowMs`: the released runs and the admitted slots, recorded as published. */
  const wake = (nowMs: number): number[] => {
    const out: { held: BookEntry; slot: number }[] = gate.release(book, nowMs).map((r) => ({ held: r.held, slot: r.slotMs }));
    for (let due = book.takeDue(nowMs); due !== undefined; due = book.takeDue(nowMs)) {
      const plan = gate.admit(book, due, nowMs);
      for (const slot of plan?.slots ?? []) out.push({ held: due.held, slot });
    }
    book.record(
      out.map((o) => o.held),
      out.map((o) => o.slot),
      out.map(() => 'published'),
      nowMs,
    );
    return out.map((o) => o.slot);
  };
  return { book, gate, wake, missed, logs, running: running as Running };
}

describe('overlap policies', () => {
  it('allow publishes whatever runs (Celery)', () => {
    const { wake, running } = setup({});
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([T0 + 10 * S]);
  });

  it('skip passes over a slot while the previous run runs, and reports it missed', () => {
    const { wake, running, missed, logs, book } = setup({ overlap: 'skip' });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([]);
    expect(missed).toEqual([expect.objectContaining({ count: 1, reason: 'overlap', firstSlotMs: T0 + 10 * S })]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapSkip)).toHaveLength(1);
    // It waits for its next slot, which runs once the previous run has finished.
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
    running.runs.clear();
    expect(wake(T0 + 20 * S)).toEqual([T0 + 20 * S]);
  });

  it('bufferOne keeps the first slot, publishes it when the previous run finishes, and passes over the rest', () => {
    const { wake, running, missed, book } = setup({ overlap: 'bufferOne' });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([]);
    expect(book.nextDueMs()).toBeUndefined();
    expect([...book.buffered()].map((b) => b.bufferedSlotMs)).toEqual([T0 + 10 * S]);
    // Still running at the next wake-ups: nothing.
    expect(wake(T0 + 25 * S)).toEqual([]);
    running.runs.clear();
    // Finished at 34 s: the buffered slot (10 s) goes out, 20 s and 30 s are passed over.
    expect(wake(T0 + 34 * S)).toEqual([T0 + 10 * S]);
    expect(missed).toEqual([expect.objectContaining({ count: 2, reason: 'overlap', firstSlotMs: T0 + 20 * S })]);
    expect(book.nextDueMs()).toBe(T0 + 40 * S);
    expect([...book.buffered()]).toEqual([]);
  });

  it('a buffered run not sent stays due, and is not lost', () => {
    const { gate, book, running } = setup({ overlap: 'bufferOne' });
    running.start('e', T0);
    const due = book.takeDue(T0 + 10 * S);
    expect(due && gate.admit(book, due, T0 + 10 * S)).toBeUndefined();
    running.runs.clear();
    const [released] = gate.release(book, T0 + 24 * S);
    expect(released?.slotMs).toBe(T0 + 10 * S);
    book.record([released?.held as BookEntry], [T0 + 10 * S], ['unsent'], T0 + 24 * S);
    // Due again at once, from its cursor before the buffered slot: the catch-up policy plans it.
    expect(book.nextDueMs()).toBe(T0 + 24 * S);
    expect(book.takeDue(T0 + 24 * S)?.plan.slots).toEqual([T0 + 20 * S]);
  });

  it('overlapTimeout: a previous run older than it counts as lost', () => {
    const { wake, running, logs } = setup({ overlap: 'skip', overlapTimeout: '15s' });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([]);
    expect(wake(T0 + 20 * S)).toEqual([T0 + 20 * S]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapLost)).toHaveLength(1);
  });

  it('a catch-up of several slots runs one at a time: the rest meet a running previous run', () => {
    const { gate, book } = setup({ overlap: 'skip', catchUp: 'all' });
    const due = book.takeDue(T0 + 35 * S);
    expect(due?.plan.slots).toEqual([T0 + 10 * S, T0 + 20 * S, T0 + 30 * S]);
    expect(due && gate.admit(book, due, T0 + 35 * S)?.slots).toEqual([T0 + 10 * S]);
  });

  it('pausing drops a buffered slot; a changed definition keeps it buffered; a removed entry is not released', () => {
    const { wake, running, book } = setup({ overlap: 'bufferOne' });
    running.start('e', T0);
    wake(T0 + 10 * S);
    book.setPaused(new Set(['e']), T0 + 12 * S);
    expect([...book.buffered()]).toEqual([]);
    book.setPaused(new Set(), T0 + 13 * S);
    expect(book.nextDueMs()).toBe(T0 + 20 * S);
    wake(T0 + 20 * S);
    expect([...book.buffered()].map((b) => b.bufferedSlotMs)).toEqual([T0 + 20 * S]);
    const changed = book.entry('e') as ResolvedEntry;
    book.upsert([{ ...changed, task: 't2' }], new Map(), T0 + 21 * S);
    expect(book.nextDueMs()).toBeUndefined();
    expect([...book.buffered()].map((b) => b.entry.task)).toEqual(['t2']);
    book.remove(['e']);
    running.runs.clear();
    expect(wake(T0 + 30 * S)).toEqual([]);
  });

  it('without outcomes every policy publishes, and says once that it has no effect', () => {
    const { wake, logs } = setup({ overlap: 'skip' }, null);
    expect(wake(T0 + 10 * S)).toEqual([T0 + 10 * S]);
    expect(wake(T0 + 20 * S)).toEqual([T0 + 20 * S]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapUntracked)).toHaveLength(1);
  });

  it('the config refuses overlap without a result backend, with ignoreResult, and overlapTimeout alone', () => {
    const parse = (config: Record<string, unknown>) => () => parseConfig({ name: 'unit', ...config }, 'overlap.test');
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'skip' } } })).toThrow(
      /beatSchedule\.e\.overlap: overlap "skip" needs to know when the previous run finished: set resultBackend/,
    );
    expect(
      parse({
        resultBackend: 'redis://127.0.0.1:6379/1',
        beatSchedule: { e: { task: 't', schedule: 10, overlap: 'bufferOne', options: { ignoreResult: true } } },
      }),
    ).toThrow(/options\.ignoreResult is true/);
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlapTimeout: '1m' } } })).toThrow(
      /beatSchedule\.e\.overlapTimeout: overlapTimeout only applies with overlap/,
    );
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'sometimes' } } })).toThrow(
      /overlap must be one of allow, skip, bufferOne/,
    );
  });
});
