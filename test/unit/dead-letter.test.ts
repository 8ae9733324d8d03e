/**
 * Which run goes to the dead-letter list (runtime/attempt-end.ts deadLetterOf, on core/retry.ts
 * afterAttempt) and how it is stored (redis/dead-letter-codec.ts): a slot that failed for good when
 * its entry keeps such slots, nothing while an attempt follows, after a success or a stop, or for an
 * entry with deadLetter: false; the same id for the same slot whichever attempt ended it.
 */
import { describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import type { OutcomeTracker } from '../../src/outcomes/tracker.js';
import { trackingEvents } from '../../src/outcomes/scheduler-events.js';
import type { ControlSource, TriggerPublisher, TriggerRequest } from '../../src/ports/control-source.js';
import { TriggerResult } from '../../src/ports/control-source.js';
import { NO_EVENTS } from '../../src/ports/events.js';
import { ControlLoop } from '../../src/runtime/control-loop.js';
import { meteredTriggers } from '../../src/service/metered-triggers.js';
import { attemptTaskId, deadLetterId, replayTaskId } from '../../src/celery/task-id.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import type { RunRecord } from '../../src/ports/outcomes.js';
import { decodeDeadLetter, encodeDeadLetter } from '../../src/redis/dead-letter-codec.js';
import { deadLetterOf } from '../../src/runtime/attempt-end.js';
import { parseConfig } from '../../src/config/load.js';
import { problemsOf } from '../support/config-problems.js';

const SLOT_ID = '6f1c2a44-1b7e-5c3d-9a0e-2b4c6d8e0f12';
const POLICY: RetryPolicy = { attempts: 2, initialMs: 1000, factor: 2, maxMs: 60_000, on: ['failure', 'lost'] };
const first: RunRecord = { taskId: SLOT_ID, slotMs: 1000, publishedAtMs: 1000, state: 'FAILURE', finishedAtMs: 2000, exception: 'E: x' };
const second: RunRecord = {
  ...first,
  taskId: attemptTaskId(SLOT_ID, 2),
  attempt: 2,
  retryOf: SLOT_ID,
  finishedAtMs: 5000,
  exception: 'E: y',
};

describe('deadLetterOf', () => {
  it("keeps the slot whose last attempt failed, with its attempts, end, exception and the slot's own id", () => {
    expect(deadLetterOf('job', first, POLICY, true, 0)).toBeUndefined(); // attempt 2 follows
    expect(deadLetterOf('job', second, POLICY, true, 0, '@3')).toEqual({
      id: deadLetterId('job', SLOT_ID),
      entry: 'job',
      slotMs: 1000,
      taskId: second.taskId,
      retryOf: SLOT_ID,
      attempts: 2,
      end: 'failure',
      exception: 'E: y',
      atMs: 5000,
      revision: '@3',
    });
  });

  it('keeps a failure or a loss without retry only where the entry keeps them, and never a success, a stop or an unknown end', () => {
    expect(deadLetterOf('job', first, undefined, false, 0)).toBeUndefined();
    expect(deadLetterOf('job', first, undefined, true, 0)).toMatchObject({ attempts: 1, end: 'failure' });
    const lost: RunRecord = { ...first, state: 'unknown', lost: true, exception: undefined, finishedAtMs: undefined };
    expect(deadLetterOf('job', lost, undefined, true, 9000)).toMatchObject({ end: 'lost', atMs: 9000 });
    expect(deadLetterOf('job', lost, undefined, true, 9000)).not.toHaveProperty('exception');
    for (const state of ['SUCCESS', 'REVOKED', 'unknown', 'PENDING'] as const)
      expect(deadLetterOf('job', { ...second, state }, POLICY, true, 0)).toBeUndefined();
    expect(deadLetterOf('job', second, POLICY, false, 0)).toBeUndefined();
  });

  it('gives one id per slot, and a replay id of its own; a slot id that is no UUID still gets one', () => {
    expect(deadLetterId('job', SLOT_ID)).toBe(deadLetterId('job', SLOT_ID));
    expect(deadLetterId('job', SLOT_ID)).not.toBe(SLOT_ID);
    expect(replayTaskId(deadLetterId('job', SLOT_ID))).not.toBe(deadLetterId('job', SLOT_ID));
    expect(deadLetterId('a', 'manual-1')).not.toBe(deadLetterId('b', 'manual-1'));
    expect(deadLetterId('a', 'manual-1')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('the dead-letter codec', () => {
  it('round-trips an item and refuses what is not one', () => {
    const item = deadLetterOf('job', second, POLICY, true, 0, '@3')!;
    expect(decodeDeadLetter(encodeDeadLetter(item))).toEqual(item);
    for (const text of [
      '',
      'null',
      '[]',
      '{"id":"x"}',
      encodeDeadLetter(item).replace('"failure"', '"oops"'),
      encodeDeadLetter(item).replace('"a":2', '"a":0'),
    ])
      expect(decodeDeadLetter(text)).toBeUndefined();
  });
});

describe('deadLetters, the bound', () => {
  it('defaults to 1000 items and 4 MiB, takes snake_case, and refuses bounds outside their range naming them', () => {
    expect(parseConfig({ beatSchedule: {} }, 'test').deadLetters).toEqual({ maxItems: 1000, maxBytes: 4 * 1024 * 1024 });
    expect(parseConfig({ dead_letters: { max_items: 5 }, beatSchedule: {} }, 'test').deadLetters).toEqual({
      maxItems: 5,
      maxBytes: 4 * 1024 * 1024,
    });
    expect(problemsOf({ deadLetters: { maxItems: 0, maxBytes: 10 }, beatSchedule: {} })).toEqual([
      'deadLetters.maxItems: deadLetters.maxItems must be a whole number from 1 to 10000',
      'deadLetters.maxBytes: deadLetters.maxBytes must be a whole number of bytes from 1 KiB to 256 MiB',
    ]);
  });
});

describe("a replay's run is followed for its item's slot", () => {
  it('tracks a published replay at the slot its message was rendered for, and a plain manual run at its publish', async () => {
    const NOW = Date.parse('2026-11-27T03:00:00.000Z');
    const SLOT = Date.parse('2026-11-27T00:00:00.000Z');
    const config = parseConfig({ name: 'unit', beatSchedule: { f: { task: 't.f', schedule: 60 } } }, 'unit');
    const requests: TriggerRequest[] = [
      { entry: 'f', id: replayTaskId(SLOT_ID), at: NOW, slot: SLOT, replays: 'item-1' },
      { entry: 'f', id: '00000000-0000-4000-8000-000000000001', at: NOW },
    ];
    let pending = requests.map((request) => ({ text: JSON.stringify(request), request }));
    const source: ControlSource = {
      paused: () => Promise.resolve(new Set()),
      pendingTriggers: () => Promise.resolve(pending),
      discardTrigger: () => Promise.resolve(),
    };
    const inner: TriggerPublisher = {
      publishTrigger: (_m, text) => {
        pending = pending.filter((p) => p.text !== text);
        return Promise.resolve(TriggerResult.Published);
      },
    };
    const tracked: [string, number][] = [];
    const tracker = { published: (_e: string, taskId: string, slotMs: number) => void tracked.push([taskId, slotMs]) };
    const events = trackingEvents(NO_EVENTS, tracker as unknown as OutcomeTracker, { now: () => NOW });
    const loop = new ControlLoop({
      config,
      source,
      publisher: meteredTriggers(inner, events, () => undefined),
      messageEnv: { origin: 'gen1@unit', replyTo: '00000000-0000-4000-8000-000000000000' },
      logger: silentLogger,
      now: () => NOW,
      lease: () => 'token',
      onPaused: () => undefined,
      intervalMs: 10,
    });
    loop.start();
    try {
      await vi.waitFor(() => expect(tracked).toHaveLength(2), { timeout: 5000 });
    } finally {
      await loop.stop();
    }
    expect(tracked).toEqual([
      [replayTaskId(SLOT_ID), SLOT],
      ['00000000-0000-4000-8000-000000000001', NOW],
    ]);
  });
});
