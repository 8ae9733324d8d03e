/**
 * Celery's task events, the pure and in-memory parts: decoding what real workers sent (payloads
 * captured from Celery 5.2.6 workers with -E on Redis and on RabbitMQ, in test/fixtures/, with
 * the results the same worker stored as the oracle), the Redis channel pattern, how a run's record
 * moves on an event, and the tracker fed by events (object-literal ports). The live workers are in
 * test/integration/task-events.test.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeResultMeta, parseDateDone } from '../../src/celery/result-meta.js';
import { exceptionFromRepr, exceptionFromTraceback, taskEventsOf } from '../../src/celery/task-events.js';
import type { TaskEvent } from '../../src/celery/task-events.js';
import { decodeEnvelopeBody, taskEventPattern } from '../../src/kombu/task-events.js';
import { decodeEventMessage } from '../../src/amqp/task-events.js';
import { silentLogger } from '../../src/base/log.js';
import { OutcomeTracker, applyTaskEvent } from '../../src/outcomes/tracker.js';
import type { ResultMeta, RunRecord } from '../../src/ports/outcomes.js';
import { followsOutcomes } from '../../src/config/resolve.js';
import { taskEventsByDefault } from '../../src/config/outcome-sources.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/base/errors.js';
import { memoryHistory } from '../support/memory-history.js';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')) as T;
const redisCapture = fixture<{ messages: { channel: string; message: string }[]; results: Record<string, string> }>(
  'celery-task-events-redis.json',
);
const amqpCapture = fixture<{ messages: { routingKey: string; contentType: string; body: string }[] }>('celery-task-events-amqp.json');

/** Each task's events in order, as `type` lists, keyed by the task's name order in the capture (sleepy, fail, flaky). */
function byTask(events: readonly TaskEvent[]): Map<string, TaskEvent[]> {
  const out = new Map<string, TaskEvent[]>();
  for (const e of events) out.set(e.taskId, [...(out.get(e.taskId) ?? []), e]);
  return out;
}

const SEQUENCES = [
  ['task-started', 'task-succeeded'],
  ['task-started', 'task-failed'],
  ['task-started', 'task-retried', 'task-started', 'task-succeeded'],
];

describe('task events sent by a real Celery worker', () => {
  it('decodes the Redis fanout messages (kombu envelopes, base64 JSON lists under task.multi) as the worker stored the results', () => {
    expect(redisCapture.messages.every((m) => m.channel.startsWith('/0.celeryev/task.'))).toBe(true);
    const events = redisCapture.messages.flatMap((m) => taskEventsOf(decodeEnvelopeBody(Buffer.from(m.message))));
    const tasks = byTask(events);
    expect([...tasks.values()].map((list) => list.map((e) => e.type))).toEqual(SEQUENCES);
    const [sleepy, fail, flaky] = [...tasks.values()] as [TaskEvent[], TaskEvent[], TaskEvent[]];
    for (const [list, state] of [
      [sleepy, 'SUCCESS'],
      [fail, 'FAILURE'],
      [flaky, 'SUCCESS'],
    ] as const) {
      const last = list[list.length - 1] as TaskEvent;
      const stored = JSON.parse(redisCapture.results[last.taskId] as string) as { status: string; date_done: string };
      expect(stored.status).toBe(state);
      expect(last.state).toBe(state);
      // The final event is sent right after the result is stored, on the same clock.
      expect(Math.abs(last.atMs - (parseDateDone(stored.date_done) as number))).toBeLessThan(100);
      // The same exception line as the result backend gives.
      expect(last.exception).toBe(decodeResultMeta(redisCapture.results[last.taskId] as string).exception);
    }
    // sleepy(1.5): the worker's runtime, and task-started before it by as much.
    const done = sleepy[1] as TaskEvent;
    expect(done.runtimeMs).toBeGreaterThanOrEqual(1500);
    expect(done.runtimeMs).toBeLessThan(1700);
    expect(done.atMs - (sleepy[0] as TaskEvent).atMs).toBeGreaterThanOrEqual(1500);
    expect(fail[1]?.exception).toBe('ValueError: boom: line one');
    expect(flaky[1]?.exception).toBe('RuntimeError: not yet');
    expect(flaky[0]?.hostname).toMatch(/^cap2@/);
  });

  it('decodes the RabbitMQ messages (JSON bodies from the celeryev topic exchange) alike', () => {
    const events = amqpCapture.messages.flatMap((m) => taskEventsOf(decodeEventMessage(m.contentType, Buffer.from(m.body))));
    const tasks = byTask(events);
    expect([...tasks.values()].map((list) => list.map((e) => e.type))).toEqual(SEQUENCES);
    expect(tasks.size).toBe(3);
    const fail = [...tasks.values()][1] as TaskEvent[];
    expect(fail[1]).toMatchObject({ state: 'FAILURE', exception: 'ValueError: boom: line one' });
    expect(() => decodeEventMessage('application/x-python-serialize', Buffer.from('x'))).toThrow(/event_serializer "json"/);
  });

  it('skips what says nothing of a run: task-received, worker events, malformed items', () => {
    expect(taskEventsOf({ type: 'task-received', uuid: 'a', timestamp: 1 })).toEqual([]);
    expect(taskEventsOf({ type: 'worker-heartbeat', timestamp: 1 })).toEqual([]);
    expect(taskEventsOf([null, 3, { type: 'task-started', uuid: 'a' }, { type: 'task-revoked', uuid: 'b', timestamp: 2.5 }])).toEqual([
      { taskId: 'b', type: 'task-revoked', state: 'REVOKED', atMs: 2500 },
    ]);
  });

  it("reads the exception from the traceback's last block, else from the repr", () => {
    expect(exceptionFromTraceback('Traceback (most recent call last):\n  File "x", line 1\n    raise E\nmod.E: one\ntwo\n')).toBe(
      'mod.E: one',
    );
    expect(exceptionFromTraceback('')).toBeUndefined();
    expect(exceptionFromRepr("ValueError('it\\'s\\nthere')")).toBe("ValueError: it's");
    expect(exceptionFromRepr('KeyError()')).toBe('KeyError');
    expect(exceptionFromRepr("E('a', 2)")).toBe("E: 'a', 2");
    expect(exceptionFromRepr('<weird>')).toBe('<weird>');
    // What a solo-pool worker sent for tsbeat_test.fail: the wrapper's repr, the exception in the traceback.
    const failed = { type: 'task-failed', uuid: 'a', timestamp: 1, exception: 'ExceptionWithTraceback()' };
    const traceback =
      'Traceback (most recent call last):\n  File "t.py", line 81, in fail\n    raise ValueError("boom: line one\\nline two")\nValueError: boom: line one\nline two\n';
    expect(taskEventsOf({ ...failed, traceback })[0]?.exception).toBe('ValueError: boom: line one');
  });
});

describe("the Redis channel of Celery's task events (kombu's fanout topic)", () => {
  it('follows fanout_prefix, fanout_patterns and global_keyprefix as kombu does', () => {
    expect(taskEventPattern({}, 0)).toBe('/0.celeryev/task.*');
    expect(taskEventPattern({}, 3)).toBe('/3.celeryev/task.*');
    expect(taskEventPattern({ globalKeyprefix: 'app:' }, 0)).toBe('app:/0.celeryev/task.*');
    expect(taskEventPattern({ fanoutPrefix: false }, 0)).toBe('celeryev/task.*');
    expect(taskEventPattern({ fanoutPatterns: false }, 0)).toBe('/0.celeryev');
    // The workers' liveness events (issue 70's lost runs): their own group, or the same one channel.
    expect(taskEventPattern({}, 2, 'worker')).toBe('/2.celeryev/worker.*');
    expect(taskEventPattern({ fanoutPatterns: false }, 0, 'worker')).toBe('/0.celeryev');
    // A glob character in a prefix is literal.
    expect(taskEventPattern({ globalKeyprefix: 'a*[b]' }, 0)).toBe('a\\*\\[b\\]/0.celeryev/task.*');
  });
});

const ev = (state: TaskEvent['state'], atMs: number, more: Partial<TaskEvent> = {}): TaskEvent => ({
  taskId: 't',
  type: `task-${state.toLowerCase()}`,
  state,
  atMs,
  ...more,
});

describe("a run's record as task events come in", () => {
  const published: RunRecord = { taskId: 't', slotMs: 1000, publishedAtMs: 1000, state: 'PENDING' };
  it("takes the exact start, the worker's runtime, and the finish from the events", () => {
    const started = applyTaskEvent(published, ev('STARTED', 1200));
    expect(started).toMatchObject({ state: 'STARTED', startedAtMs: 1200 });
    expect(applyTaskEvent(started, ev('STARTED', 1200))).toBe(started);
    expect(applyTaskEvent(started, ev('SUCCESS', 2700, { runtimeMs: 1490 }))).toMatchObject({
      state: 'SUCCESS',
      startedAtMs: 1200,
      finishedAtMs: 2700,
      runtimeMs: 1490,
    });
  });
  it('measures a failure from its start (task-failed carries no runtime), or from publication without one', () => {
    expect(applyTaskEvent({ ...published, state: 'STARTED', startedAtMs: 1500 }, ev('FAILURE', 1800, { exception: 'E: x' }))).toMatchObject(
      {
        state: 'FAILURE',
        runtimeMs: 300,
        exception: 'E: x',
      },
    );
    expect(applyTaskEvent(published, ev('REVOKED', 1800))).toMatchObject({ state: 'REVOKED', runtimeMs: 800 });
  });
  it('keeps the first start across a retry, drops the retry exception on success, and never moves a final record', () => {
    let r = applyTaskEvent(published, ev('STARTED', 1100));
    r = applyTaskEvent(r, ev('RETRY', 1200, { exception: 'RuntimeError: not yet' }));
    expect(r).toMatchObject({ state: 'RETRY', exception: 'RuntimeError: not yet', startedAtMs: 1100 });
    r = applyTaskEvent(r, ev('STARTED', 2200));
    expect(r).toMatchObject({ state: 'STARTED', startedAtMs: 1100 });
    r = applyTaskEvent(r, ev('SUCCESS', 2300, { runtimeMs: 100 }));
    expect(r.exception).toBeUndefined();
    expect(applyTaskEvent(r, ev('FAILURE', 2400))).toBe(r);
  });
});

/** A feed the test pushes events into, as the broker listeners do. */
function feed() {
  let push: ((events: TaskEvent[]) => void) | undefined;
  let stops = 0;
  return {
    start: (on: (events: TaskEvent[]) => void) => void (push = on),
    stop: async () => void (stops += 1),
    send: (...events: TaskEvent[]) => push?.(events),
    get started() {
      return push !== undefined;
    },
    get stops() {
      return stops;
    },
  };
}

describe('the outcome tracker fed by task events', () => {
  it('moves a followed run at once, writes it after its first record, ignores other tasks, and stops the feed', async () => {
    const history = memoryHistory();
    const events = feed();
    const finished: string[] = [];
    const tracker = new OutcomeTracker({
      history,
      taskEvents: events,
      events: { finished: (entry, r) => finished.push(`${entry} ${r.state} ${String(r.runtimeMs)}`) },
      logger: silentLogger,
      clock: { now: () => 1000 },
      timeoutMs: 60_000,
      pollMs: 60_000,
      recordDelayMs: 60_000,
    });
    await tracker.start();
    expect(events.started).toBe(true);
    tracker.published('e', 't', 900, 1000);
    events.send(ev('STARTED', 1100), { ...ev('SUCCESS', 5000), taskId: 'someone-else' });
    expect(tracker.unfinished()[0]?.record).toMatchObject({ state: 'STARTED', startedAtMs: 1100 });
    expect(tracker.unfinishedRun('e')).toBeDefined();
    events.send(ev('SUCCESS', 2600, { runtimeMs: 1500 }));
    expect(tracker.unfinishedRun('e')).toBeUndefined();
    expect(finished).toEqual(['e SUCCESS 1500']);
    // Neither the events nor a poll write a run before its first write (the record timer's, a
    // minute away here, or the stop's): that write takes the record it has by then.
    await tracker.poll();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(history.lists.get('e')).toBeUndefined();
    await tracker.stop();
    expect(history.lists.get('e')).toEqual([
      { taskId: 't', slotMs: 900, publishedAtMs: 1000, state: 'SUCCESS', startedAtMs: 1100, finishedAtMs: 2600, runtimeMs: 1500 },
    ]);
    expect(events.stops).toBe(1);
  });

  it('applies the events that came before the run was handed over (the worker was quicker than the confirm)', async () => {
    const history = memoryHistory();
    const events = feed();
    const tracker = new OutcomeTracker({
      history,
      taskEvents: events,
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 1000 },
      timeoutMs: 60_000,
      pollMs: 60_000,
      recordDelayMs: 60_000,
    });
    await tracker.start();
    events.send(ev('STARTED', 1100));
    expect(tracker.unfinished()).toEqual([]);
    tracker.published('e', 't', 900, 1000);
    expect(tracker.unfinished()[0]?.record).toMatchObject({ taskId: 't', state: 'STARTED', startedAtMs: 1100 });
    await tracker.stop();
  });

  it('does not finish a run twice when an event finishes it while its result is being read', async () => {
    const events = feed();
    const finished: string[] = [];
    let answer: ((metas: (ResultMeta | undefined)[]) => void) | undefined;
    const tracker = new OutcomeTracker({
      history: memoryHistory(),
      results: { read: () => new Promise((resolve) => (answer = resolve)) },
      taskEvents: events,
      events: { finished: (_e, r) => finished.push(r.state) },
      logger: silentLogger,
      clock: { now: () => 1000 },
      timeoutMs: 60_000,
      pollMs: 60_000,
    });
    await tracker.start();
    tracker.published('e', 't', 900, 1000);
    const polling = tracker.poll();
    await new Promise((resolve) => setTimeout(resolve, 80));
    events.send(ev('FAILURE', 1500, { exception: 'E: x' }));
    answer?.([{ state: 'FAILURE', doneAtMs: 1600, exception: 'E: x' }]);
    await polling;
    expect(finished).toEqual(['FAILURE']);
    await tracker.stop();
  });

  it('without a result backend, gives a run no event finished up as unknown after the timeout', async () => {
    let now = 1000;
    const finished: string[] = [];
    const tracker = new OutcomeTracker({
      history: memoryHistory(),
      taskEvents: feed(),
      events: { finished: (_e, r) => finished.push(r.state) },
      logger: silentLogger,
      clock: { now: () => now },
      timeoutMs: 5000,
      pollMs: 60_000,
    });
    await tracker.start();
    tracker.published('e', 't', 900, 1000);
    await tracker.poll();
    expect(finished).toEqual([]);
    now = 7000;
    await tracker.poll();
    expect(finished).toEqual(['unknown']);
    await tracker.stop();
  });
});

describe('the taskEvents setting', () => {
  it('takes true or false, unset by default (read without being counted on), and lets alerts on outcomes run without a result backend', () => {
    expect(parseConfig({}, 'x').taskEvents).toBeUndefined();
    // Unset and no result backend: read by default, except on SQS (no fanout); false or a result backend turns it off.
    expect(taskEventsByDefault(parseConfig({}, 'x'))).toBe(true);
    expect(followsOutcomes(parseConfig({}, 'x'))).toBe(false);
    expect(taskEventsByDefault(parseConfig({ taskEvents: false }, 'x'))).toBe(false);
    expect(taskEventsByDefault(parseConfig({ resultBackend: 'redis://127.0.0.1:6379/1' }, 'x'))).toBe(false);
    expect(
      taskEventsByDefault(parseConfig({ broker: { url: 'sqs://a:b@localhost:9324' }, state: { url: 'redis://127.0.0.1:6379/0' } }, 'x')),
    ).toBe(false);
    expect(parseConfig({ task_events: true }, 'x').taskEvents).toBe(true);
    expect(() => parseConfig({ taskEvents: 'yes' }, 'x')).toThrow(/taskEvents must be true or false/);
    // `failed` is heard with task events read by default; `late` needs runs followed (taskEvents: true).
    const failed = { alerts: { webhook: 'https://example.com/hook', on: ['failed'] } };
    expect(parseConfig(failed, 'x').taskEvents).toBeUndefined();
    expect(() => parseConfig({ ...failed, taskEvents: false }, 'x')).toThrow(/resultBackend .* or taskEvents/);
    const late = { alerts: { webhook: 'https://example.com/hook', on: ['late'], lateAfter: '5m' } };
    expect(() => parseConfig(late, 'x')).toThrow(ConfigError);
    expect(() => parseConfig(late, 'x')).toThrow(/resultBackend .* or taskEvents/);
    expect(parseConfig({ ...late, taskEvents: true }, 'x').taskEvents).toBe(true);
  });
});
