/**
 * The control loop's pending attempts (issue 70): a member of the retries zset that does not decode
 * (something else wrote it) is discarded with a warning, so that a page of them cannot hold the real
 * attempts due behind it for good. The control loop with fakes of its ports.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import type { TaskMessage } from '../../src/celery/message.js';
import { attemptTaskId, slotTaskId } from '../../src/celery/task-id.js';
import { parseConfig } from '../../src/config/load.js';
import type { ControlSource, TriggerPublisher, TriggerRequest } from '../../src/ports/control-source.js';
import { TriggerResult } from '../../src/ports/control-source.js';
import type { PendingAttempt } from '../../src/ports/outcomes.js';
import { RetryPublishResult } from '../../src/ports/outcomes.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';

const NOW = Date.parse('2026-11-27T00:00:00.000Z');
const ENV = { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' };

/** The retries zset as the store reads it: the earliest first, a page of `max`. */
class Retries implements ControlSource, TriggerPublisher {
  members: { member: string; retry: PendingAttempt | undefined }[] = [];
  readonly published: string[] = [];
  readonly discarded: string[] = [];

  paused = (): Promise<Set<string>> => Promise.resolve(new Set());
  pendingTriggers = (): Promise<{ text: string; request: TriggerRequest }[]> => Promise.resolve([]);
  discardTrigger = (): Promise<void> => Promise.resolve();
  publishTrigger = (): Promise<TriggerResult> => Promise.resolve(TriggerResult.Published);
  dueRetries = (_nowMs: number, max: number): Promise<{ member: string; retry: PendingAttempt | undefined }[]> =>
    Promise.resolve(this.members.slice(0, max));
  discardRetry = (member: string): Promise<void> => {
    this.discarded.push(member);
    this.members = this.members.filter((m) => m.member !== member);
    return Promise.resolve();
  };
  publishRetry = (message: TaskMessage, member: string): Promise<RetryPublishResult> => {
    this.published.push(message.id);
    this.members = this.members.filter((m) => m.member !== member);
    return Promise.resolve(RetryPublishResult.Published);
  };
}

describe('the control loop publishes the due attempts', () => {
  it('discards a page of members that do not decode, and publishes the real attempt behind them', async () => {
    const retries = new Retries();
    const config = parseConfig({ name: 'unit', beatSchedule: { f: { task: 't.f', schedule: 60 } } }, 'unit');
    const retryOf = slotTaskId('unit', 'f', NOW - 60_000);
    const attempt: PendingAttempt = {
      entry: 'f',
      slotMs: NOW - 60_000,
      attempt: 2,
      taskId: attemptTaskId(retryOf, 2),
      retryOf,
      dueMs: NOW,
    };
    const garbled = Array.from({ length: 150 }, (_, i) => ({ member: `garbled ${i}`, retry: undefined }));
    retries.members = [...garbled, { member: 'real', retry: attempt }];
    const loop = new ControlLoop({
      config,
      source: retries,
      publisher: retries,
      messageEnv: ENV,
      logger: silentLogger,
      now: () => NOW,
      lease: () => 'token',
      onPaused: () => undefined,
      intervalMs: 10,
    });
    loop.start();
    try {
      await vi.waitFor(() => expect(retries.published).toEqual([attempt.taskId]), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
    expect(retries.discarded).toEqual(garbled.map((g) => g.member));
  });
});
