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
import type { MissedSlots, RunRevoked } from '../../src/ports/events.js';
import type { RevokeCommand, Revoker } from '../../src/ports/revoker.js';
import { EntryBook } from '../../src/runtime/entry-book.js';
import type { BookEntry } from '../../src/runtime/entry-book.js';
import { OverlapGate } from '../../src/runtime/overlap.js';

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
  onFinished(): () => void {
    return () => undefined;
  }
}

/** A broker's remote control as the gate sees it: what was broadcast, in order; `fail` makes the next one fail. */
class Broadcasts implements Revoker {
  readonly sent: { command: RevokeCommand; nowMs: number }[] = [];
  fail: Error | undefined;
  revoke(command: RevokeCommand, nowMs: number): Promise<{ receivers?: number }> {
    const error = this.fail;
    this.fail = undefined;
    if (error !== undefined) return Promise.reject(error);
    this.sent.push({ command, nowMs });
    return Promise.resolve({ receivers: 1 });
  }
}

/** `running` null: this instance follows no outcomes; `revoker` null: the broker has no remote control (SQS). */
function setup(entry: Record<string, unknown>, running: RunningRuns | null = new Running(), revoker: Broadcasts | null = new Broadcasts()) {
  const config = parseConfig(
    { name: 'unit', resultBackend: 'redis://127.0.0.1:6379/1', beatSchedule: { e: { task: 't', schedule: 10, ...entry } } },
    'overlap.test',
  );
  const entries: ResolvedEntry[] = [...config.entries];
  const book = new EntryBook({ maxIntervalMs: 1000 });
  book.load(entries, new Map([['e', { slotMs: T0, runCount: 1 }]]), T0);
  const missed: MissedSlots[] = [];
  const revokes: RunRevoked[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const gate = new OverlapGate(
    running ?? undefined,
    {
      logger: createLogger({ level: 'info', destination: sink }),
      events: { ...NO_EVENTS, missed: (m) => missed.push(m), revoked: (r) => revokes.push(r) },
      dryRun: false,
    },
    revoker ?? undefined,
  );
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
  return { book, gate, wake, missed, logs, revokes, running: running as Running, broadcasts: revoker as Broadcasts };
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
    expect(missed).toEqual([expect.objectContaining({ count: 1, reason: 'overlap', firstSlotMs: T0 + 10 * S, lastSlotMs: T0 + 10 * S })]);
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
    expect([...book.buffered()].map((b) => b.phase)).toEqual([{ kind: 'buffered', slotMs: T0 + 10 * S }]);
    // Still running at the next wake-ups: nothing.
    expect(wake(T0 + 25 * S)).toEqual([]);
    running.runs.clear();
    // Finished at 34 s: the buffered slot (10 s) goes out, 20 s and 30 s are passed over.
    expect(wake(T0 + 34 * S)).toEqual([T0 + 10 * S]);
    expect(missed).toEqual([expect.objectContaining({ count: 2, reason: 'overlap', firstSlotMs: T0 + 20 * S })]);
    // Not recorded for backfills: a release that is not sent brings those slots back.
    expect(missed[0]?.lastSlotMs).toBeUndefined();
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
    expect([...book.buffered()].map((b) => b.phase)).toEqual([{ kind: 'buffered', slotMs: T0 + 20 * S }]);
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
      /overlap must be one of allow, skip, bufferOne, bufferAll, cancelOther, terminateOther/,
    );
  });

  it('bufferAll keeps every slot that came while the previous run ran, and publishes them in order, each after the one before', () => {
    const { wake, running, missed, book } = setup({ overlap: 'bufferAll', catchUp: 'skip' });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([]);
    expect(wake(T0 + 25 * S)).toEqual([]);
    running.runs.clear();
    // Finished at 34 s: 10 s goes out; 20 s and 30 s wait their turn (catchUp "skip" does not pass them over).
    expect(wake(T0 + 34 * S)).toEqual([T0 + 10 * S]);
    running.start('e', T0 + 34 * S);
    expect(wake(T0 + 35 * S)).toEqual([]);
    expect([...book.buffered()].map((b) => b.phase)).toEqual([{ kind: 'buffered', slotMs: T0 + 20 * S }]);
    running.runs.clear();
    expect(wake(T0 + 40 * S)).toEqual([T0 + 20 * S]);
    // Runs that finish at once: the rest of the backlog (30 s, and 40 s which came meanwhile), one per wake-up.
    expect(wake(T0 + 41 * S)).toEqual([T0 + 30 * S]);
    expect(wake(T0 + 42 * S)).toEqual([T0 + 40 * S]);
    expect(wake(T0 + 43 * S)).toEqual([]);
    expect(book.nextDueMs()).toBe(T0 + 50 * S);
    expect(wake(T0 + 50 * S)).toEqual([T0 + 50 * S]);
    expect(missed).toEqual([]);
  });

  it('bufferAll keeps at most overlapBuffer slots: the oldest beyond are passed over, reported missed, and logged', () => {
    const { wake, running, missed, logs } = setup({ overlap: 'bufferAll', overlapBuffer: 2 });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([]);
    running.runs.clear();
    // 10, 20, 30, 40 and 50 s waited at 55 s: 40 and 50 are kept, 10, 20 and 30 passed over.
    expect(wake(T0 + 55 * S)).toEqual([T0 + 40 * S]);
    expect(missed).toEqual([expect.objectContaining({ count: 3, reason: 'overlap', firstSlotMs: T0 + 10 * S, lastSlotMs: T0 + 30 * S })]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapBufferFull)).toEqual([expect.objectContaining({ passed: 3, overlapBuffer: 2 })]);
    expect(wake(T0 + 56 * S)).toEqual([T0 + 50 * S]);
    expect(wake(T0 + 60 * S)).toEqual([T0 + 60 * S]);
  });

  it('bufferAll across a pause: the backlog is dropped with the buffered slot', () => {
    const { wake, running, book } = setup({ overlap: 'bufferAll' });
    running.start('e', T0);
    wake(T0 + 10 * S);
    running.runs.clear();
    expect(wake(T0 + 34 * S)).toEqual([T0 + 10 * S]);
    book.setPaused(new Set(['e']), T0 + 35 * S);
    book.setPaused(new Set(), T0 + 36 * S);
    expect(wake(T0 + 36 * S)).toEqual([]);
    expect(wake(T0 + 40 * S)).toEqual([T0 + 40 * S]);
  });

  it('cancelOther revokes the running previous run (without terminate), once, and publishes the new one', async () => {
    const { wake, gate, running, broadcasts, logs, revokes } = setup({ overlap: 'cancelOther' });
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([T0 + 10 * S]);
    await gate.sendRevokes(T0 + 10 * S, () => true);
    expect(broadcasts.sent).toEqual([{ command: { taskIds: [`e-${T0}`], terminate: false, signal: 'SIGTERM' }, nowMs: T0 + 10 * S }]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapRevoke)).toEqual([
      expect.objectContaining({ entry: 'e', previous: `e-${T0}`, policy: 'cancelOther', terminate: false, receivers: 1 }),
    ]);
    expect(revokes).toEqual([expect.objectContaining({ entry: 'e', taskId: `e-${T0}`, policy: 'cancelOther', outcome: 'sent' })]);
    // The same run still counts as running (its REVOKED not read yet): not revoked twice.
    expect(wake(T0 + 20 * S)).toEqual([T0 + 20 * S]);
    await gate.sendRevokes(T0 + 20 * S, () => true);
    expect(broadcasts.sent).toHaveLength(1);
    // A new previous run is revoked in turn; none when nothing runs.
    running.start('e', T0 + 20 * S);
    expect(wake(T0 + 30 * S)).toEqual([T0 + 30 * S]);
    await gate.sendRevokes(T0 + 30 * S, () => true);
    running.runs.clear();
    expect(wake(T0 + 40 * S)).toEqual([T0 + 40 * S]);
    await gate.sendRevokes(T0 + 40 * S, () => true);
    expect(broadcasts.sent.map((b) => b.command.taskIds)).toEqual([[`e-${T0}`], [`e-${T0 + 20 * S}`]]);
  });

  it('terminateOther revokes with terminate and overlapSignal; only while leading; a failed broadcast is said and tried again', async () => {
    const { wake, gate, running, broadcasts, logs, revokes } = setup({ overlap: 'terminateOther', overlapSignal: 'SIGKILL' });
    running.start('e', T0);
    wake(T0 + 10 * S);
    await gate.sendRevokes(T0 + 10 * S, () => false);
    expect(broadcasts.sent).toEqual([]);
    broadcasts.fail = new Error('broker gone');
    wake(T0 + 20 * S);
    await gate.sendRevokes(T0 + 20 * S, () => true);
    expect(broadcasts.sent).toEqual([]);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapRevokeFailed)).toEqual([
      expect.objectContaining({ err: { message: 'broker gone' } }),
    ]);
    expect(revokes).toEqual([expect.objectContaining({ outcome: 'failed', policy: 'terminateOther', signal: 'SIGKILL' })]);
    wake(T0 + 30 * S);
    await gate.sendRevokes(T0 + 30 * S, () => true);
    expect(broadcasts.sent).toEqual([{ command: { taskIds: [`e-${T0}`], terminate: true, signal: 'SIGKILL' }, nowMs: T0 + 30 * S }]);
  });

  it('cancelOther: of several slots due at once only the last is published (each would revoke the one before)', () => {
    const { gate, book, missed } = setup({ overlap: 'cancelOther', catchUp: 'all' });
    const due = book.takeDue(T0 + 35 * S);
    expect(due && gate.admit(book, due, T0 + 35 * S)?.slots).toEqual([T0 + 30 * S]);
    // The range ends before the published slot: no slot of the schedule lies between 20 s and it.
    expect(missed).toEqual([
      expect.objectContaining({ count: 2, reason: 'overlap', firstSlotMs: T0 + 10 * S, lastSlotMs: T0 + 30 * S - 1 }),
    ]);
  });

  it('without a remote control (SQS), cancelOther publishes without revoking and says so once', async () => {
    const { wake, gate, running, logs } = setup({ overlap: 'cancelOther' }, new Running(), null);
    running.start('e', T0);
    expect(wake(T0 + 10 * S)).toEqual([T0 + 10 * S]);
    expect(wake(T0 + 20 * S)).toEqual([T0 + 20 * S]);
    await gate.sendRevokes(T0 + 20 * S, () => true);
    expect(logs.filter((l) => l['event'] === EVENTS.overlapUntracked)).toEqual([expect.objectContaining({ overlap: 'cancelOther' })]);
  });

  it('the config refuses revoking policies on SQS, overlapBuffer and overlapSignal where they do not apply, and bad values', () => {
    const backend = { resultBackend: 'redis://127.0.0.1:6379/1' };
    const parse = (config: Record<string, unknown>) => () => parseConfig({ name: 'unit', ...backend, ...config }, 'overlap.test');
    const sqs = { broker: { url: 'sqs://' }, state: { url: 'redis://127.0.0.1:6379/0' } };
    for (const overlap of ['cancelOther', 'terminateOther'])
      expect(parse({ ...sqs, beatSchedule: { e: { task: 't', schedule: 10, overlap } } })).toThrow(
        new RegExp(
          `beatSchedule\\.e\\.overlap: overlap "${overlap}" revokes the previous run through Celery's remote control, which an SQS broker does not carry`,
        ),
      );
    expect(parse({ ...sqs, beatSchedule: { e: { task: 't', schedule: 10, overlap: 'bufferAll' } } })).not.toThrow();
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'skip', overlapBuffer: 5 } } })).toThrow(
      /beatSchedule\.e\.overlapBuffer: overlapBuffer only applies with overlap "bufferAll" \(this entry's is "skip"\)/,
    );
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'cancelOther', overlapSignal: 'SIGKILL' } } })).toThrow(
      /beatSchedule\.e\.overlapSignal: overlapSignal only applies with overlap "terminateOther"/,
    );
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'bufferAll', overlapBuffer: 0 } } })).toThrow(
      /overlapBuffer must be a whole number from 1 to 10000/,
    );
    expect(parse({ beatSchedule: { e: { task: 't', schedule: 10, overlap: 'terminateOther', overlapSignal: 'TERM' } } })).toThrow(
      /overlapSignal must be one of SIGTERM, SIGKILL/,
    );
    const ok = parseConfig(
      { name: 'unit', ...backend, beatSchedule: { e: { task: 't', schedule: 10, overlap: 'terminateOther', overlapSignal: 'SIGKILL' } } },
      'overlap.test',
    );
    expect(ok.entries[0]).toMatchObject({ overlap: 'terminateOther', overlapSignal: 'SIGKILL' });
  });
});
