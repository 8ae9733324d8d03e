/**
 * The control loop's look sends its first reads together (the paused set, the stop, the manual
 * runs, the backfills and the first page of due attempts), so that an idle look is one round trip
 * to Redis, and still fails where it failed when it read them one by one: a read the look never
 * gets to (the deployment is stopped) fails nothing, and is no unhandled rejection. The control
 * loop with fakes of its ports.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { parseConfig } from '../../src/config/load.js';
import type { BackfillRequest, ControlSource, DeploymentStop, TriggerPublisher, TriggerRequest } from '../../src/ports/control-source.js';
import { TriggerResult } from '../../src/ports/control-source.js';
import type { PendingAttempt } from '../../src/ports/outcomes.js';
import { RetryPublishResult } from '../../src/ports/outcomes.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';

const NOW = Date.parse('2026-11-28T00:00:00.000Z');
const ENV = { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' };

/** A control source whose reads answer only when released, recording the order they were asked in and which were answered by then. */
class HeldReads implements ControlSource, TriggerPublisher {
  readonly asked: { read: string; answered: number }[] = [];
  private answered = 0;
  private readonly waiting: (() => void)[] = [];
  stop: DeploymentStop | undefined;
  failRetries = false;

  private read<T>(name: string, value: () => T): Promise<T> {
    this.asked.push({ read: name, answered: this.answered });
    return new Promise<void>((answer) => this.waiting.push(answer)).then(() => {
      this.answered += 1;
      return value();
    });
  }

  /** Answers every read asked so far. */
  release(): void {
    for (const answer of this.waiting.splice(0)) answer();
  }

  paused = (): Promise<Set<string>> => this.read('paused', () => new Set<string>());
  deploymentStop = (): Promise<DeploymentStop | undefined> => this.read('stop', () => this.stop);
  pendingTriggers = (): Promise<{ text: string; request: TriggerRequest | undefined }[]> => this.read('triggers', () => []);
  pendingBackfills = (): Promise<{ text: string; request: BackfillRequest | undefined }[]> => this.read('backfills', () => []);
  backfillThrough = (): Promise<number | undefined> => Promise.resolve(undefined);
  backfillProgress = (): Promise<undefined> => Promise.resolve(undefined);
  refuseBackfill = (): Promise<void> => Promise.resolve();
  dueRetries = (): Promise<{ member: string; retry: PendingAttempt | undefined }[]> =>
    this.read('retries', () => {
      if (this.failRetries) throw new Error('WRONGTYPE the retries key holds a string');
      return [];
    });
  discardTrigger = (): Promise<void> => Promise.resolve();
  publishTrigger = (): Promise<TriggerResult> => Promise.resolve(TriggerResult.Published);
  publishRetry = (): Promise<RetryPublishResult> => Promise.resolve(RetryPublishResult.Published);
}

function loopOver(source: HeldReads, onStop: (stop: DeploymentStop | undefined) => void = () => undefined): ControlLoop {
  const config = parseConfig({ name: 'unit', beatSchedule: { f: { task: 't.f', schedule: 60 } } }, 'unit');
  return new ControlLoop({
    config,
    source,
    publisher: source,
    messageEnv: ENV,
    logger: silentLogger,
    now: () => NOW,
    lease: () => 'token',
    onPaused: () => undefined,
    onDeploymentStop: onStop,
    intervalMs: 60_000,
  });
}

describe("the control loop's look", () => {
  it('asks for all its first reads before any is answered (one round trip), in the order it uses them', async () => {
    const source = new HeldReads();
    const loop = loopOver(source);
    loop.start();
    try {
      await vi.waitFor(() => expect(source.asked.map((a) => a.read)).toEqual(['paused', 'stop', 'triggers', 'backfills', 'retries']));
      expect(source.asked.every((a) => a.answered === 0)).toBe(true);
      source.release();
    } finally {
      const stopped = loop.stop();
      source.release();
      await stopped;
    }
  });

  it('while the deployment is stopped, a read it never uses fails nothing (no unhandled rejection)', async () => {
    const source = new HeldReads();
    source.stop = { by: 'unit', atMs: NOW };
    source.failRetries = true;
    const stops: (DeploymentStop | undefined)[] = [];
    const loop = loopOver(source, (stop) => stops.push(stop));
    loop.start();
    try {
      await vi.waitFor(() => expect(source.asked).toHaveLength(5));
      source.release();
      await vi.waitFor(() => expect(stops).toEqual([source.stop]));
      // Let the failed read's rejection reach the microtask queue: vitest fails a run with an unhandled one.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await loop.stop();
    }
  });
});
