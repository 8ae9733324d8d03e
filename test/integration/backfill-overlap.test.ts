/**
 * `beat backfill` under an overlap policy, with a real Celery worker and a real Redis result
 * backend (the leader learns there when a run finished). An hourly entry at a minute half an hour
 * away (its schedule does not fire during the test), backfilled over four past hours, whose slots
 * were never published (before its first sighting).
 * - skip, the entry's own: the first slot goes out (nothing ran), the other three find it in
 *   flight: counted as overlap. Again once that run finished: the next slot goes out, two overlap.
 *   `--overlap allowAll` then publishes the last two, which stayed passed over. The worker's log
 *   says which task ids it received, each once.
 * - cancelOther: only the range's last slot runs (the others would each have replaced the one before).
 * - bufferAll: the worker receives each slot only after the run before succeeded. Oracle: the
 *   worker's own log (a prefork worker's main process receives, and logs, a message while its
 *   child still runs the one before, as it prefetches; so runs published at once would show a
 *   "received" before the previous "succeeded"), and each slot's task id from RFC 9562 (slotId).
 * - bufferAll with the leader SIGKILLed after its first slot: the standby goes on from the
 *   request's progress in Redis; each slot received exactly once, in order, none lost.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { slotId } from '../support/slot-id.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

const HOUR = 3_600_000;

interface Result {
  published: number;
  overlapPolicy: string;
  skipped: { recorded: number; overlap: number };
}

/** A worker log line's instant: `[2026-11-23 21:15:03,123: INFO/…]`, in the machine's zone (as Date.parse reads it). */
function logInstant(line: string): number {
  const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})/.exec(line);
  if (m === null) throw new Error(`no time in ${line}`);
  return Date.parse(`${m[1]}T${m[2]}.${m[3]}`);
}

/** When the worker logged `received` and `succeeded` for each task id, from its output. */
function workerTimes(output: string, id: string): { received: number[]; succeeded: number[] } {
  const lines = output.split('\n').filter((l) => l.includes(`[${id}]`));
  return {
    received: lines.filter((l) => / received$/.test(l.trim())).map(logInstant),
    succeeded: lines.filter((l) => l.includes(' succeeded in ')).map(logInstant),
  };
}

suite(`beat backfill --overlap with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let state: Redis;
  let name: string;
  let file: string;
  let buffered: CeleryProcess;
  let skipping: CeleryProcess;
  const workers: CeleryProcess[] = [];
  // Four hourly slots, the newest more than an hour back, at a minute the schedule does not reach during the test.
  const minute = (new Date().getUTCMinutes() + 30) % 60;
  const slotBefore = (ms: number): number => {
    const hour = Math.floor(ms / HOUR) * HOUR + minute * 60_000;
    return hour <= ms ? hour : hour - HOUR;
  };
  const newest = slotBefore(Date.now() - HOUR);
  const slots = [newest - 3 * HOUR, newest - 2 * HOUR, newest - HOUR, newest];
  const iso = (ms: number): string => new Date(ms).toISOString();

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    state = redis.client(0);
    name = uniqueName('bfo');
    const env = { broker: redis.url(0), backend: redis.url(1) };
    const [skipWorker, bufferWorker] = await Promise.all([
      startWorker({ name: 'bfo-skip', queues: ['bfo-skip'], env }),
      startWorker({ name: 'bfo-buffer', queues: ['bfo-buffer'], env, pool: 'prefork' }),
    ]);
    workers.push(skipWorker, bufferWorker);
    buffered = bufferWorker;
    skipping = skipWorker;
    const hourly = { cron: `${minute} * * * *` };
    file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        skipper: { task: 'tsbeat_test.sleepy', schedule: hourly, args: [2], overlap: 'skip', options: { queue: 'bfo-skip' } },
        chain: { task: 'tsbeat_test.sleepy', schedule: hourly, args: [1], overlap: 'bufferAll', options: { queue: 'bfo-buffer' } },
        relay: { task: 'tsbeat_test.sleepy', schedule: hourly, args: [1], options: { queue: 'bfo-buffer' } },
        replace: { task: 'tsbeat_test.sleepy', schedule: hourly, args: [1], overlap: 'cancelOther', options: { queue: 'bfo-skip' } },
      },
    });
    fleet.spawn({ config: file, label: 'leader' });
    await fleet.alive()[0]?.waitForEvent(EVENTS.lockAcquired, 15_000);
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    state?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  async function backfill(entry: string, ...extra: string[]): Promise<Result> {
    const args = ['backfill', entry, '--config', file, '--from', iso(slots[0] as number), '--to', iso(newest), '--json', ...extra];
    const run = await runBeatCli(args, { timeoutMs: 60_000 });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    return JSON.parse(run.stdout) as Result;
  }

  /** What the worker logged of each of the entry's slots (oldest first), once it has logged `step` for the last. */
  async function slotTimes(
    worker: CeleryProcess,
    entry: string,
    step: 'received' | 'succeeded',
    what: string,
  ): Promise<{ received: number[]; succeeded: number[] }[]> {
    const ids = slots.map((ms) => slotId(name, entry, ms));
    await waitUntil(what, () => (workerTimes(worker.output(), ids[3] as string)[step].length > 0 ? true : undefined), 15_000);
    return ids.map((id) => workerTimes(worker.output(), id));
  }

  /** Each slot received exactly once (none lost, none twice), each after the run before it succeeded. */
  function expectOneAfterAnother(times: readonly { received: number[]; succeeded: number[] }[]): void {
    for (const t of times) expect(t).toMatchObject({ received: [expect.any(Number)], succeeded: [expect.any(Number)] });
    for (let i = 1; i < times.length; i += 1)
      expect(times[i]?.received[0] as number).toBeGreaterThanOrEqual(times[i - 1]?.succeeded[0] as number);
  }

  /** The entry's runs as `beat history` shows them (what the leader learnt of them). */
  async function history(entry: string): Promise<{ taskId: string; state: string }[]> {
    const run = await runBeatCli(['history', entry, '--config', file, '--json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { taskId: string; state: string }[];
  }

  it("skip (the entry's own): a slot only while no run is in flight, the rest overlap; then --overlap allowAll publishes those", async () => {
    const ids = slots.map((ms) => slotId(name, 'skipper', ms));
    const first = await backfill('skipper');
    expect(first).toMatchObject({ overlapPolicy: 'skip', published: 1, skipped: { overlap: 3, recorded: 0 } });
    // Once the leader knows that run finished (the worker stored SUCCESS), the next slot that waits goes out.
    await waitUntil(
      'the first run finished',
      async () => ((await history('skipper')).some((r) => r.taskId === ids[0] && r.state === 'SUCCESS') ? true : undefined),
      20_000,
    );
    const second = await backfill('skipper');
    expect(second).toMatchObject({ published: 1, skipped: { overlap: 2, recorded: 1 } });
    const all = await backfill('skipper', '--overlap', 'allowAll');
    expect(all).toMatchObject({ overlapPolicy: 'allowAll', published: 2, skipped: { overlap: 0, recorded: 2 } });
    // The worker received each slot once, under its own task id: the first two one after the other.
    await waitUntil(
      'every slot received',
      () => (ids.every((id) => workerTimes(skipping.output(), id).received.length > 0) ? true : undefined),
      20_000,
    );
    const times = ids.map((id) => workerTimes(skipping.output(), id));
    for (const t of times) expect(t.received).toHaveLength(1);
    expect(times[1]?.received[0] as number).toBeGreaterThanOrEqual(times[0]?.succeeded[0] as number);
  }, 45_000);

  it("cancelOther (the entry's own): of the slots due at once only the last runs; the others overlap", async () => {
    const result = await backfill('replace');
    expect(result).toMatchObject({ overlapPolicy: 'cancelOther', published: 1, skipped: { overlap: 3, recorded: 0 } });
    const times = await slotTimes(skipping, 'replace', 'received', 'the last slot received');
    expect(times.map((t) => t.received.length)).toEqual([0, 0, 0, 1]);
  }, 30_000);

  it('bufferAll: each slot is received by the worker only after the run before succeeded', async () => {
    const result = await backfill('chain', '--overlap', 'bufferAll');
    expect(result).toMatchObject({ overlapPolicy: 'bufferAll', published: 4, skipped: { overlap: 0 } });
    expectOneAfterAnother(await slotTimes(buffered, 'chain', 'succeeded', 'the last run'));
  }, 45_000);

  it('bufferAll with the leader SIGKILLed after its first slot: the standby finishes it, each slot once, in order', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const leader = fleet.alive()[0];
    if (leader === undefined) throw new Error('no leader');
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForEvent(EVENTS.standby, 15_000);
    const earlier = new Set(await state.keys(keys.backfill('*')));
    const running = backfill('relay', '--overlap', 'bufferAll');
    await waitUntil(
      'the first slot out',
      async () => {
        const key = (await state.keys(keys.backfill('*'))).find((k) => !earlier.has(k));
        return key !== undefined && Number(await state.hget(key, 'published')) >= 1 ? true : undefined;
      },
      20_000,
      () => fleet.dump(),
    );
    leader.child.kill('SIGKILL');
    await leader.exited;
    const result = await running;
    expect(result).toMatchObject({ published: 4, skipped: { overlap: 0, recorded: 0 } });
    expect(standby.logs.some((l) => l['event'] === EVENTS.backfill)).toBe(true);
    expectOneAfterAnother(await slotTimes(buffered, 'relay', 'succeeded', 'the last run'));
  }, 60_000);
});
