/**
 * A paced backfill (bufferAll) is woken by the end of the run it waits for: the outcome tracker's
 * onFinished starts the control loop's next look, so the next slot goes out then, not at the next
 * periodic wake-up (an hour away here, so that only the wake can move it on). The control loop with
 * fakes of its ports: a backfill store and publisher that keep the request's progress as the
 * fenced script would, and a tracker whose runs finish when the test says.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { BackfillRequest, BackfillSource, BackfillStepCall, ControlSource, TriggerPublisher } from '../../src/ports/control-source.js';
import type { RunRecord, RunningRuns } from '../../src/ports/outcomes.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-11-23T06:00:00.000Z');
const NOW = T0 + 60 * MINUTE;

/** Runs in flight by entry, finished by hand; onFinished as the tracker's. */
class Tracker implements RunningRuns {
  readonly runs = new Map<string, RunRecord>();
  readonly listeners = new Set<(entry: string) => void>();
  unfinishedRun(entry: string): RunRecord | undefined {
    return this.runs.get(entry);
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  onFinished(listener: (entry: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  started(entry: string, slotMs: number): void {
    this.runs.set(entry, { taskId: `${entry}-${slotMs}`, slotMs, publishedAtMs: NOW, state: 'STARTED' });
  }
  finish(entry: string): void {
    this.runs.delete(entry);
    for (const listener of this.listeners) listener(entry);
  }
}

/** One pending request and its progress, published step by step as backfill-fenced.lua would (every slot never ran). */
class Backfills implements ControlSource, BackfillSource, TriggerPublisher {
  readonly published: number[] = [];
  private progress: { published: number; throughMs?: number; lastMs?: number } = { published: 0 };
  private done = false;

  constructor(
    private readonly request: BackfillRequest,
    private readonly tracker: Tracker,
  ) {}

  paused = (): Promise<Set<string>> => Promise.resolve(new Set());
  pendingTriggers = (): Promise<never[]> => Promise.resolve([]);
  discardTrigger = (): Promise<void> => Promise.resolve();
  publishTrigger = (): Promise<never> => Promise.reject(new Error('no manual run in this test'));
  refuseBackfill = (_text: string, _id: string | undefined, reason: string): Promise<void> =>
    Promise.reject(new Error(`refused: ${reason}`));

  pendingBackfills(): Promise<{ text: string; request: BackfillRequest }[]> {
    return Promise.resolve(this.done ? [] : [{ text: JSON.stringify(this.request), request: this.request }]);
  }
  backfillThrough(): Promise<number | undefined> {
    return Promise.resolve(this.progress.throughMs);
  }
  backfillProgress(): Promise<{ published: number; throughMs?: number; lastMs?: number } | undefined> {
    return Promise.resolve(this.progress.throughMs === undefined ? undefined : this.progress);
  }
  claimBackfill({ step }: BackfillStepCall): Promise<{ kind: 'done'; outcomes: 'published'[] }> {
    return Promise.resolve({ kind: 'done', outcomes: step.runs.map(() => 'published' as const) });
  }
  publishBackfill({ entry, step }: BackfillStepCall): Promise<{ kind: 'done'; outcomes: ('published' | 'overlap')[] }> {
    for (const run of step.runs) {
      if (run.overlap === true) continue;
      this.published.push(run.slotMs);
      this.progress = { published: this.progress.published + 1, lastMs: run.slotMs };
      this.tracker.started(entry, run.slotMs);
    }
    this.progress = { ...this.progress, throughMs: step.throughMs };
    if (step.last) this.done = true;
    return Promise.resolve({ kind: 'done', outcomes: step.runs.map((r) => (r.overlap === true ? 'overlap' : 'published')) });
  }
}

describe('a paced backfill and the end of the run it waits for', () => {
  it('bufferAll: each run that finishes sends the next slot at once, without the periodic wake-up', async () => {
    const config = parseConfig(
      { name: 'unit', resultBackend: 'redis://127.0.0.1:6379/1', beatSchedule: { e: { task: 't', schedule: { cron: '* * * * *' } } } },
      'backfill-wake.test',
    );
    const tracker = new Tracker();
    const request: BackfillRequest = {
      id: 'r1',
      entry: 'e',
      fromMs: T0,
      toMs: T0 + 2 * MINUTE,
      limit: 100,
      unrecorded: false,
      overlap: 'bufferAll',
      at: NOW,
    };
    const backfills = new Backfills(request, tracker);
    const loop = new ControlLoop({
      config,
      source: backfills,
      publisher: backfills,
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      logger: silentLogger,
      now: () => NOW,
      lease: () => 'token',
      onPaused: () => undefined,
      intervalMs: 60 * MINUTE,
      running: tracker,
    });
    const slots = [T0, T0 + MINUTE, T0 + 2 * MINUTE];
    loop.start();
    try {
      // The first look publishes the first slot; its run is in flight, so the second waits.
      await vi.waitFor(() => expect(backfills.published).toEqual(slots.slice(0, 1)), { timeout: 10_000 });
      tracker.finish('e');
      await vi.waitFor(() => expect(backfills.published).toEqual(slots.slice(0, 2)), { timeout: 10_000 });
      tracker.finish('e');
      await vi.waitFor(() => expect(backfills.published).toEqual(slots), { timeout: 10_000 });
    } finally {
      await loop.stop();
    }
    // Stopped, the loop no longer listens (the next leader session adds its own listener).
    expect(tracker.listeners.size).toBe(0);
  });
});
