/**
 * A run whose worker went away mid-run is lost (issue 70): the workers' liveness events as Celery
 * sends them (celery/worker/heartbeat.py; a warm and a cold shutdown both send worker-offline with
 * `active` 1, and only the warm one's task events follow: measured with Celery 5.2.6), and the tracker driven through object-literal ports
 * (the real worker SIGKILLed is in test/integration/retry-worker-lost.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/base/log.js';
import { workerEventsOf } from '../../src/celery/task-events.js';
import { attemptTaskId } from '../../src/celery/task-id.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { OutcomeTracker } from '../../src/outcomes/tracker.js';
import { HEARTBEAT_MISSES } from '../../src/outcomes/worker-liveness.js';
import type { TaskEvent, WorkerEvent, WorkerEventHandlers } from '../../src/ports/outcomes.js';
import { nextAttempt } from '../../src/runtime/attempt-end.js';
import { memoryHistory } from '../support/memory-history.js';

const SLOT = '7b7c3a9e-2f0f-4c1e-9d51-6a1f3e2b8c01';
const OTHER = '0f4d2c6a-8e3b-4a7d-b1c9-5e2f7a9d3b40';
const QUEUED = '3c1e5a7b-9d2f-4b6a-8c0e-1f3a5b7c9d2e';
const WARM = '5d2e6f8a-0b1c-4d3e-9f5a-7b8c9d0e1f2a';
const NEW = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

describe("the workers' liveness events", () => {
  it('reads worker-online, worker-heartbeat and worker-offline with freq and active; skips task events and shapes without a hostname', () => {
    const heartbeat = { type: 'worker-heartbeat', hostname: 'w1@h', timestamp: 1.5, freq: 2.0, active: 1, processed: 3 };
    expect(workerEventsOf({ ...heartbeat, pid: 41 })).toEqual([
      { type: 'worker-heartbeat', hostname: 'w1@h', freqMs: 2000, active: 1, pid: 41 },
    ]);
    expect(workerEventsOf({ type: 'worker-offline', hostname: 'w1@h', freq: 0.5 })).toEqual([
      { type: 'worker-offline', hostname: 'w1@h', freqMs: 500, active: 0 },
    ]);
    // No freq (or a nonsense one): Celery's default, 2 s.
    expect(workerEventsOf({ type: 'worker-online', hostname: 'w', freq: -1 })[0]?.freqMs).toBe(2000);
    expect(workerEventsOf([{ type: 'task-started', uuid: 'a', timestamp: 1, hostname: 'w' }, { type: 'worker-heartbeat' }, null])).toEqual(
      [],
    );
  });
});

interface Harness {
  tracker: OutcomeTracker;
  history: ReturnType<typeof memoryHistory>;
  tasks: (events: TaskEvent[]) => void;
  workers: WorkerEventHandlers;
  setNow: (ms: number) => void;
}

async function harness(): Promise<Harness> {
  const history = memoryHistory();
  const policy: RetryPolicy = { attempts: 2, initialMs: 1000, factor: 1, maxMs: 1000, on: ['lost'] };
  let now = 1000;
  let tasks: ((events: TaskEvent[]) => void) | undefined;
  let workers: WorkerEventHandlers | undefined;
  const tracker = new OutcomeTracker({
    history,
    taskEvents: {
      start: (onEvents, handlers) => {
        tasks = onEvents;
        workers = handlers;
      },
      stop: async () => undefined,
    },
    events: { finished: () => undefined },
    logger: silentLogger,
    clock: { now: () => now },
    timeoutMs: 3_600_000,
    pollMs: 1000,
    recordDelayMs: 0,
    nextAttempt: (entry, record) => nextAttempt(entry, record, policy, now),
  });
  await tracker.start();
  if (tasks === undefined || workers === undefined) throw new Error('the tracker did not listen to the workers');
  return { tracker, history, tasks, workers, setNow: (ms) => void (now = ms) };
}

const started = (taskId: string, hostname: string, atMs: number, pid = 100): TaskEvent => ({
  taskId,
  type: 'task-started',
  state: 'STARTED',
  atMs,
  hostname,
  pid,
});
const beat = (hostname: string, active: number, type: WorkerEvent['type'] = 'worker-heartbeat', pid = 100): WorkerEvent => ({
  type,
  hostname,
  freqMs: 2000,
  active,
  pid,
});

describe('a run whose worker went away', () => {
  it('is not lost at worker-offline (a warm shutdown ends what it runs), nor at a broker reconnect (worker-online from the same process), but when its worker is heard from another process: unknown, lost, naming it, and its next attempt follows; runs of other workers, runs not started and runs the new process started stay', async () => {
    const h = await harness();
    h.tracker.published('e', SLOT, 1, 1000);
    h.tracker.published('f', OTHER, 1, 1000);
    h.tracker.published('g', QUEUED, 1, 1000);
    h.tracker.published('w', WARM, 1, 1000);
    h.tasks([started(SLOT, 'w1@h', 1100), started(OTHER, 'w2@h', 1100), started(WARM, 'w3@h', 1100)]);
    // A warm shutdown of w3: worker-offline, then the end of what it ran.
    h.workers.events([beat('w3@h', 1, 'worker-offline'), beat('w1@h', 1, 'worker-offline')]);
    h.setNow(1500);
    await h.tracker.poll();
    h.tasks([{ taskId: WARM, type: 'task-succeeded', state: 'SUCCESS', atMs: 1600, runtimeMs: 500 }]);
    await h.tracker.poll();
    expect(h.tracker.pendingCount).toBe(3);
    // w2's consumer reconnected to the broker: worker-online from the process that runs its task.
    h.workers.events([beat('w2@h', 0, 'worker-online')]);
    await h.tracker.poll();
    expect(h.tracker.pendingCount).toBe(3);
    // w1 (stopped cold, or killed) is started again; what it starts now is the new process's.
    h.tracker.published('n', NEW, 1, 2100);
    h.workers.events([beat('w1@h', 0, 'worker-online', 200)]);
    h.tasks([started(NEW, 'w1@h', 2100, 200)]);
    await h.tracker.poll();
    // Its second attempt is the entry's run in progress (lost is retried under this policy).
    expect(h.tracker.unfinishedRun('e')).toMatchObject({ taskId: attemptTaskId(SLOT, 2), attempt: 2, publishedAtMs: 2500 });
    await h.tracker.stop();
    expect(h.history.lists.get('e')).toMatchObject([
      {
        taskId: SLOT,
        state: 'unknown',
        lost: true,
        finishedAtMs: 1500,
        exception: 'lost: its worker w1@h was started again (now pid 200) while it ran',
      },
    ]);
    expect(h.history.lists.get('w')).toMatchObject([{ state: 'SUCCESS' }]);
    expect(h.history.lists.get('f')).toMatchObject([{ state: 'STARTED' }]);
    expect(h.history.lists.get('g')).toMatchObject([{ state: 'PENDING' }]);
    expect(h.history.lists.get('n')).toMatchObject([{ state: 'STARTED' }]);
  });

  it(`is lost when its worker, heard heartbeating while busy, sends none for ${HEARTBEAT_MISSES} times its freq; a worker never heard busy (the solo pool) is not judged by silence`, async () => {
    const h = await harness();
    h.tracker.published('e', SLOT, 1, 1000);
    h.tracker.published('f', OTHER, 1, 1000);
    h.tasks([started(SLOT, 'prefork@h', 1100), started(OTHER, 'solo@h', 1100)]);
    h.workers.events([beat('prefork@h', 1), beat('solo@h', 0)]);
    // Polled every second, as the leader does: 10 s of silence is not yet more than 5 × 2 s. Another
    // worker's heartbeats say the feed is up (with nothing heard at all, nobody is judged: below).
    let now = 1000;
    for (; now <= 11_000; now += 1000) {
      h.setNow(now);
      h.workers.events([beat('idle@h', 0)]);
      await h.tracker.poll();
    }
    expect(h.tracker.pendingCount).toBe(2);
    h.setNow(11_100);
    await h.tracker.poll();
    expect(h.tracker.pendingCount).toBe(1);
    for (now = 12_000; now <= 60_000; now += 1000) {
      h.setNow(now);
      h.workers.events([beat('idle@h', 0)]);
      await h.tracker.poll();
    }
    await h.tracker.stop();
    expect(h.history.lists.get('e')).toMatchObject([
      { state: 'unknown', lost: true, exception: expect.stringMatching(/prefork@h sent no heartbeat for 10 s/) as string },
    ]);
    expect(h.history.lists.get('f')).toMatchObject([{ state: 'STARTED' }]);
  });

  it('counts silence again after the feed subscribes again, and after the leader itself stalled; judges nobody while no worker at all is heard', async () => {
    const h = await harness();
    h.tracker.published('e', SLOT, 1, 1000);
    h.tasks([started(SLOT, 'w@h', 1100)]);
    h.workers.events([beat('w@h', 1)]);
    // Nothing heard from any worker for 30 s: the feed (a broker restarting, a Redis outage) may be
    // what is silent, not the workers.
    let now = 1000;
    for (; now <= 31_000; now += 1000) {
      h.setNow(now);
      await h.tracker.poll();
    }
    expect(h.tracker.pendingCount).toBe(1);
    const idle = (): void => h.workers.events([beat('idle@h', 0)]);
    for (const stop = now + 8000; now <= stop; now += 1000) {
      h.setNow(now);
      idle();
      await h.tracker.poll();
    }
    // The subscription was lost and made again: the heartbeats sent meanwhile are gone, not missed.
    h.workers.listening();
    for (const stop = now + 9000; now <= stop; now += 1000) {
      h.setNow(now);
      idle();
      await h.tracker.poll();
    }
    expect(h.tracker.pendingCount).toBe(1);
    // The leader's loop stalled for 30 s: no poll ran, and no event was read.
    now += 30_000;
    h.setNow(now);
    await h.tracker.poll();
    expect(h.tracker.pendingCount).toBe(1);
    for (const stop = now + 10_000; now <= stop; now += 1000) {
      h.setNow(now);
      idle();
      await h.tracker.poll();
    }
    expect(h.tracker.pendingCount).toBe(1);
    h.setNow(now + 1000);
    idle();
    await h.tracker.poll();
    expect(h.tracker.pendingCount).toBe(0);
    await h.tracker.stop();
  });
});
