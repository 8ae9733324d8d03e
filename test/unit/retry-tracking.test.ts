/**
 * A slot's later attempt is followed as its slot's run was (issue 70): a canvas's attempt part by
 * part, so that a chain whose later link fails is that attempt's FAILURE, not its first task's
 * SUCCESS. The tracking events (outcomes/scheduler-events.ts) with a tracker that records its calls.
 */
import { describe, expect, it } from 'vitest';
import type { TaskMessage } from '../../src/celery/message.js';
import { trackingEvents } from '../../src/outcomes/scheduler-events.js';
import type { OutcomeTracker } from '../../src/outcomes/tracker.js';
import { NO_EVENTS } from '../../src/ports/events.js';

describe('an attempt published', () => {
  it("reaches the tracker with its canvas's parts, all PENDING, and its attempt", () => {
    const calls: unknown[][] = [];
    const tracker = { published: (...args: unknown[]) => void calls.push(args) } as unknown as OutcomeTracker;
    const events = trackingEvents(NO_EVENTS, tracker, { now: () => 5000 });
    const message = { entry: 'chain-entry', id: 'run-2' } as unknown as TaskMessage;
    const parts = [
      { path: 'chain[0]', task: 't.a', id: 'p0', final: false },
      { path: 'chain[1]', task: 't.b', id: 'run-2', final: true },
    ];
    events.retryPublished?.(message, 1000, 2, 'run-1', 'r1', parts);
    expect(calls).toEqual([
      [
        'chain-entry',
        'run-2',
        1000,
        5000,
        undefined,
        'r1',
        parts.map((p) => ({ ...p, state: 'PENDING' })),
        { attempt: 2, retryOf: 'run-1' },
      ],
    ]);
  });
});
