/**
 * The judgement of the leader's consumer check (control/consumer-watch.ts): a queue is flagged
 * unconsumed once every look for unconsumedAfter found nobody reading it, and cleared at the first
 * look that finds it read; the consumer counts decide when known, else the depth's trend.
 */
import { describe, expect, it } from 'vitest';
import { ConsumerWatch } from '../../src/control/consumer-watch.js';
import { consumersFromAnswers } from '../../src/publish/consumer-probes.js';

const AFTER = 10_000;

describe('consumer watch', () => {
  it('flags a queue no worker consumes only after unconsumedAfter, once, and clears it when a worker consumes it', () => {
    const watch = new ConsumerWatch(AFTER);
    const look = (consumers: number, depth: number) => ({ workersAnswered: 1, queues: [{ queue: 'reports', consumers, depth }] });
    expect(watch.observe(look(0, 1), 0)).toEqual([]);
    expect(watch.observe(look(0, 2), AFTER - 1)).toEqual([]);
    expect(watch.observe(look(0, 3), AFTER)).toEqual([
      {
        kind: 'unconsumed',
        queue: { queue: 'reports', reason: 'no worker consumes queue reports (3 runs waiting)', sinceMs: 0, depth: 3 },
      },
    ]);
    // The same again: nothing new to report.
    expect(watch.observe(look(0, 3), AFTER + 1000)).toEqual([]);
    expect(watch.unconsumed().map((q) => q.queue)).toEqual(['reports']);
    expect(watch.observe(look(1, 3), AFTER + 2000)).toEqual([{ kind: 'consumed', queue: 'reports' }]);
    expect(watch.unconsumed()).toEqual([]);
    // A new stretch counts from its own first look.
    expect(watch.observe(look(0, 0), AFTER + 3000)).toEqual([]);
    expect(watch.observe(look(0, 0), 2 * AFTER + 3000)).toMatchObject([
      { kind: 'unconsumed', queue: { reason: 'no worker consumes queue reports', sinceMs: AFTER + 3000 } },
    ]);
  });

  it('without consumer counts (no worker answered), judges by the depth: waiting and none taken flags, any taken clears', () => {
    const watch = new ConsumerWatch(AFTER);
    const look = (depth: number) => ({ workersAnswered: 0, queues: [{ queue: 'q', depth }] });
    watch.observe(look(2), 0);
    expect(watch.observe(look(4), AFTER)).toMatchObject([
      { kind: 'unconsumed', queue: { reason: '4 runs waiting in queue q and none taken' } },
    ]);
    expect(watch.observe(look(3), AFTER + 1)).toEqual([{ kind: 'consumed', queue: 'q' }]);
    // An empty queue is a read one, however long.
    expect(watch.observe(look(0), 5 * AFTER)).toEqual([]);
    expect(watch.observe(look(0), 9 * AFTER)).toEqual([]);
  });

  it('without consumer counts (SQS), messages in flight are a read queue however the depth grows; none in flight and a growing depth flags', () => {
    const watch = new ConsumerWatch(AFTER);
    const look = (depth: number, inFlight: number) => ({ queues: [{ queue: 'q', depth, inFlight }] });
    watch.observe(look(2, 1), 0);
    expect(watch.observe(look(5, 1), AFTER)).toEqual([]);
    watch.observe(look(6, 0), AFTER + 1);
    expect(watch.observe(look(7, 0), 2 * AFTER + 1)).toMatchObject([
      { kind: 'unconsumed', queue: { reason: '7 runs waiting in queue q and none taken', depth: 7 } },
    ]);
    expect(watch.observe(look(8, 1), 2 * AFTER + 2)).toEqual([{ kind: 'consumed', queue: 'q' }]);
  });

  it('keeps its judgement when a look tells nothing of a queue, and clears a queue no entry publishes to any more', () => {
    const watch = new ConsumerWatch(0);
    expect(watch.observe({ queues: [{ queue: 'a', consumers: 0 }] }, 0)).toHaveLength(1);
    expect(watch.observe({ queues: [{ queue: 'a' }] }, 1)).toEqual([]);
    expect(watch.unconsumed()).toHaveLength(1);
    expect(watch.observe({ queues: [] }, 2)).toEqual([{ kind: 'consumed', queue: 'a' }]);
  });

  it('counts the answering workers that name each queue; no answer at all tells nothing', () => {
    const answers = new Map([
      ['w1', ['celery', 'mail']],
      ['w2', ['celery']],
    ]);
    expect([...(consumersFromAnswers(['celery', 'mail', 'reports'], answers) ?? [])]).toEqual([
      ['celery', 2],
      ['mail', 1],
      ['reports', 0],
    ]);
    expect(consumersFromAnswers(['celery'], new Map())).toBeUndefined();
  });
});
