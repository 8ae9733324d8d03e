/**
 * A run whose worker went away mid-run is lost, and retried as lost (issue 70), with real Celery
 * workers (Debian's 5.2.6, prefork, `-E`, heartbeats on) on a private Redis: a worker SIGKILLed
 * while it runs a slot's slow task sends no worker-offline, so its stopped heartbeats tell; a
 * worker stopped cold (SIGQUIT) sends worker-offline as a warm shutdown (SIGTERM) does, so neither is
 * a loss (the warm one's run ends SUCCESS), but the cold one started again under its name is heard
 * from a new process (`pid`), and what its former process started is lost. Each time a worker runs attempt 2,
 * which succeeds, long before outcomeTimeout (10 minutes here) could have given the run up.
 * Oracle: the workers' own record of each run they started (tsbeat_test.slow_first), and `beat history`.
 */
import { execFileSync } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { attemptTaskId } from '../../src/celery/task-id.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface Run {
  readonly id: string;
  readonly attempt: number | null;
  readonly retry_of: string | null;
  readonly worker: string;
}

/** A run of `beat history --json`, as each attempt of a slot shows. */
interface RunJson {
  readonly taskId: string;
  readonly state: string;
  readonly exception?: string | null;
  readonly finishedAt?: string | null;
}

/** A slot of `beat history --json` (control/slot-view.ts): its last attempt's fields, and each attempt. */
interface SlotJson extends RunJson {
  readonly slotTaskId: string;
  readonly attempts: readonly RunJson[];
}

/** Every attempt of every slot of `beat history --json`'s output, as runs of their own. */
const attemptsOf = (stdout: string): RunJson[] => (JSON.parse(stdout) as SlotJson[]).flatMap((s) => s.attempts);

/** The pool processes of a prefork worker (its main process's children). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

suite(`a run whose worker went away, with real Celery workers${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  const workers: CeleryProcess[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
  });

  // Each test's deployment goes on publishing slow slots: gone, with its queue, before the next test's workers start.
  afterEach(async () => {
    await fleet.killAll();
    await stopAll(workers.splice(0));
    const broker = redis.client(0);
    await broker.del('celery');
    broker.disconnect();
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  const env = (): { broker: string; backend: string } => ({ broker: redis.url(0), backend: redis.url(1) });
  const startA = async (name: string): Promise<CeleryProcess> => {
    const worker = await startWorker({ name, queues: ['celery'], env: env(), pool: 'prefork', events: true, heartbeat: true });
    workers.push(worker);
    return worker;
  };

  /** One deployment, one entry of slow_first retried once when lost; the slot's run of `worker`, started. */
  async function slotRunningOn(name: string, worker: string, sleepS = 120): Promise<{ file: string; slot: Run; entry: string }> {
    const entry = uniqueName('lost');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      taskEvents: true,
      outcomeTimeout: '10m',
      lock: FAST_LOCK,
      beatSchedule: {
        // skip: while the slot's run (then its attempt) is in progress, no other slot goes out.
        [entry]: {
          task: 'tsbeat_test.slow_first',
          schedule: 2,
          args: [sleepS],
          overlap: 'skip',
          retry: { attempts: 2, backoff: { initial: '1s' }, on: ['lost'] },
        },
      },
    });
    const beat = fleet.spawn({ config: file, label: name });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const slot = await waitUntil(
      'the slot run started on the first worker',
      async () => (await runsOf()).find((r) => r.attempt === null && r.worker.startsWith(`${worker}@`)),
      30_000,
      () => JSON.stringify(beat.logs.slice(-20)),
    );
    return { file, slot, entry };
  }

  let seenRuns: Run[] = [];
  const runsOf = async (): Promise<Run[]> =>
    (seenRuns = (await results.lrange('tsbeat-test:slow-first', 0, -1)).map((t) => JSON.parse(t) as Run));

  /** Attempt 2 of the slot ran on `worker` and `beat history` shows the slot lost (`why`), attempt 2 SUCCESS. */
  async function retriedAsLost(file: string, entry: string, slot: Run, worker: string, why: RegExp, sinceMs: number): Promise<void> {
    const second = attemptTaskId(slot.id, 2);
    let seen = '';
    const runs = await waitUntil(
      'the slot lost and attempt 2 SUCCESS in beat history',
      async () => {
        const out = await runBeatCli(['history', entry, '--config', file, '--json']);
        seen = out.stdout;
        const list = attemptsOf(out.stdout);
        return list.find((r) => r.taskId === second)?.state === 'SUCCESS' ? list : undefined;
      },
      60_000,
      () => `history ${seen}; workers ran ${JSON.stringify(seenRuns)}`,
    );
    const first = runs.find((r) => r.taskId === slot.id);
    expect(first).toMatchObject({ state: 'unknown' });
    expect(first?.exception).toMatch(why);
    // Lost within seconds, not at the 10-minute outcomeTimeout.
    expect(Date.parse(first?.finishedAt ?? '') - sinceMs).toBeLessThan(40_000);
    const ran = (await runsOf()).filter((r) => r.id === second);
    expect(ran).toEqual([
      { id: second, attempt: 2, retry_of: slot.id, worker: expect.stringMatching(new RegExp(`^${worker}@`)) as string },
    ]);
  }

  it('retries as lost a run whose worker was SIGKILLed mid-task (no worker-offline: its heartbeats stopped)', async () => {
    await results.del('tsbeat-test:slow-first');
    const killed = await startA('lost-kill');
    const { file, slot, entry } = await slotRunningOn(uniqueName('kill'), 'lost-kill');
    // A busy heartbeat (active 1) comes within 2 s of the start: then the worker and its pool die.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const pid = killed.pid as number;
    const pool = childrenOf(pid);
    process.kill(pid, 'SIGKILL');
    for (const child of pool) process.kill(child, 'SIGKILL');
    const killedAt = Date.now();
    const second = await startA('lost-second');
    await retriedAsLost(file, entry, slot, 'lost-second', /worker lost-kill@\S+ sent no heartbeat for \d+ s/, killedAt);
    await second.stop();
  }, 150_000);

  it('does not take for lost a run its worker finishes on a warm shutdown (SIGTERM: worker-offline before the run ends)', async () => {
    await results.del('tsbeat-test:slow-first');
    const warm = await startA('lost-warm');
    const { file, slot, entry } = await slotRunningOn(uniqueName('warm'), 'lost-warm', 6);
    process.kill(warm.pid as number, 'SIGTERM');
    const runs = await waitUntil(
      'the slot run final in beat history',
      async () => {
        const out = await runBeatCli(['history', entry, '--config', file, '--json']);
        const list = attemptsOf(out.stdout);
        const first = list.find((r) => r.taskId === slot.id);
        return first !== undefined && first.state !== 'PENDING' && first.state !== 'STARTED' ? list : undefined;
      },
      60_000,
    );
    expect(
      runs.find((r) => r.taskId === slot.id),
      JSON.stringify(runs),
    ).toMatchObject({ state: 'SUCCESS' });
  }, 150_000);

  it('retries as lost a run whose worker was stopped cold (SIGQUIT) and started again: its new process heard', async () => {
    await results.del('tsbeat-test:slow-first');
    const cold = await startA('lost-cold');
    const { file, slot, entry } = await slotRunningOn(uniqueName('cold'), 'lost-cold');
    process.kill(cold.pid as number, 'SIGQUIT');
    // Its worker-offline is no loss (a warm shutdown sends the same): the run stays until the worker is back.
    await cold.stop();
    const stoppedAt = Date.now();
    await startA('lost-cold');
    await retriedAsLost(file, entry, slot, 'lost-cold', /worker lost-cold@\S+ was started again \(now pid \d+\)/, stoppedAt);
  }, 150_000);
});
