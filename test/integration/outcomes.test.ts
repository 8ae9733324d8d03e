/**
 * Run outcomes with a real Celery worker and a real Redis result backend: tasks that succeed, fail,
 * retry and run longer than their period, as `beat status --json`, `beat history`, `/status` and
 * `/metrics` show them; the headers the worker sees; a failover that hands pending runs over; canvas
 * runs started by `beat trigger` and `beat backfill`, followed part by part.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 * Oracle for outcomes: the results the worker itself stored (`celery-task-meta-<id>`), read here.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import {
  httpPortOf,
  httpRequest,
  killCliChildren,
  parsePrometheus,
  runBeatCli,
  sampleValue,
  startPrivateRedis,
  uniqueName,
} from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface RunJson {
  taskId: string;
  state: string;
  slot: string;
  publishedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  runtimeSeconds: number | null;
  exception: string | null;
}

interface StatusJson {
  entries: {
    name: string;
    lastOutcome: RunJson | null;
    lastTaskId: string | null;
    lastFinished: RunJson | null;
    lastSuccessAt: string | null;
    lastFailureAt: string | null;
  }[];
}

/** What the worker stored for a task: the oracle. `date_done` is naive UTC before Celery 5.3. */
async function storedResult(results: Redis, taskId: string): Promise<{ status: string; doneMs: number | undefined } | undefined> {
  const raw = await results.get(resultKey(taskId));
  if (raw === null) return undefined;
  const meta = JSON.parse(raw) as { status: string; date_done: string | null };
  const done = meta.date_done;
  return { status: meta.status, doneMs: done === null ? undefined : Date.parse(/[Zz]|[+-]\d\d:\d\d$/.test(done) ? done : `${done}Z`) };
}

suite(`run outcomes with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let state: Redis;
  let results: Redis;
  const workers: CeleryProcess[] = [];

  const config = (name: string) => ({
    name,
    broker: { url: redis.url(0) },
    resultBackend: redis.url(1),
    lock: FAST_LOCK,
    beatSchedule: {
      ok: { task: 'tsbeat_test.ok', schedule: 1 },
      fail: { task: 'tsbeat_test.fail', schedule: 2 },
      flaky: { task: 'tsbeat_test.flaky', schedule: 4 },
      slow: { task: 'tsbeat_test.sleepy', schedule: 1, args: [1.5], options: { queue: 'tsbeat-slow' } },
      traced: { task: 'tsbeat_test.record', schedule: 2 },
    },
  });

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    state = redis.client(0);
    results = redis.client(1);
    const env = { broker: redis.url(0), backend: redis.url(1), conf: { task_track_started: true } };
    workers.push(
      ...(await Promise.all([
        startWorker({ name: 'outcomes-main', queues: ['celery'], env }),
        startWorker({ name: 'outcomes-slow', queues: ['tsbeat-slow'], env }),
      ])),
    );
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    state?.disconnect();
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('shows states, runtimes and exception lines in beat status --json, beat history, /status and /metrics', async () => {
    const name = uniqueName('outcomes');
    const file = dir.write(`${name}.json`, config(name));
    const beat = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);

    const status = async (): Promise<StatusJson> => {
      const run = await runBeatCli(['status', '--wide', '--config', file, '--json']);
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout) as StatusJson;
    };
    const history = async (entry: string, ...more: string[]): Promise<RunJson[]> => {
      const run = await runBeatCli(['history', entry, '--config', file, '--json', ...more]);
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout) as RunJson[];
    };
    const outcomeOf = (s: StatusJson, entry: string) => s.entries.find((e) => e.name === entry)?.lastOutcome ?? null;
    // Until every entry has a run with a final outcome in its history (slow's newest runs wait in
    // its queue behind the others, flaky's first run retries once, 1.5 s later).
    const finalStates = new Set(['SUCCESS', 'FAILURE']);
    const seen = new Map<string, RunJson>();
    await waitUntil(
      'a final outcome of every entry',
      async () => {
        for (const entry of ['ok', 'fail', 'flaky', 'slow', 'traced']) {
          if (seen.has(entry)) continue;
          const done = (await history(entry)).find((r) => finalStates.has(r.state));
          if (done !== undefined) seen.set(entry, done);
        }
        return seen.size === 5 ? true : undefined;
      },
      30_000,
      () => `${JSON.stringify([...seen.keys()])}\n${beat.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
    );

    const ok = seen.get('ok') as RunJson;
    const fail = seen.get('fail') as RunJson;
    const flaky = seen.get('flaky') as RunJson;
    const slow = seen.get('slow') as RunJson;
    expect(ok).toMatchObject({ state: 'SUCCESS', exception: null });
    expect(fail).toMatchObject({ state: 'FAILURE', exception: 'ValueError: boom: line one' });
    expect(flaky.state).toBe('SUCCESS');
    // The retry waited 1.5 s inside the one run (same task id): its runtime, from publication, covers it.
    expect(flaky.runtimeSeconds).toBeGreaterThanOrEqual(1.4);
    // Longer than its 1 s period.
    expect(slow.state).toBe('SUCCESS');
    expect(slow.runtimeSeconds).toBeGreaterThanOrEqual(1.4);
    for (const run of [ok, fail, flaky, slow]) {
      // finishedAt is the worker's own date_done (to the millisecond).
      const stored = await storedResult(results, run.taskId);
      expect(stored?.status).toBe(run.state);
      expect(Date.parse(run.finishedAt as string)).toBe(Math.floor(stored?.doneMs as number));
      expect(run.runtimeSeconds).toBeGreaterThanOrEqual(0);
    }

    // beat history: newest first, FAILURE rows with their exception; --limit.
    const runs = await history('fail', '--limit', '3');
    expect(runs.length).toBeGreaterThanOrEqual(1);
    expect(runs.length).toBeLessThanOrEqual(3);
    const publishedTimes = runs.map((r) => Date.parse(r.publishedAt));
    expect(publishedTimes).toEqual([...publishedTimes].sort((a, b) => b - a));
    for (const r of runs.filter((x) => x.state === 'FAILURE')) expect(r.exception).toBe('ValueError: boom: line one');
    const table = await runBeatCli(['history', 'fail', '--wide', '--config', file]);
    expect(table.stdout).toMatch(/^PUBLISHED\s+SLOT\s+STATE/m);
    expect(table.stdout).toContain('ValueError: boom: line one');

    // beat status and /status: the newest run's outcome. fail's is PENDING for a moment after each
    // of its publishes (every 2 s), so each door is read until it has shown FAILURE once: three reads
    // in a row, two of them CLI processes, do not all fit between two publishes on a loaded machine.
    const shown = new Set<string>();
    const doors: Record<string, () => Promise<boolean>> = {
      'beat status --wide': async () => {
        const text = await runBeatCli(['status', '--wide', '--config', file]);
        return (
          /LAST OUTCOME/.test(text.stdout) &&
          /^fail\s.*FAILURE \S+: ValueError: boom: line one {2,}FAILURE \S+: ValueError: boom: line one at /m.test(text.stdout)
        );
      },
      '/status': async () => {
        const http = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
        return outcomeOf(http, 'fail')?.exception === 'ValueError: boom: line one';
      },
      'beat status --json': async () => outcomeOf(await status(), 'fail')?.state === 'FAILURE',
    };
    await waitUntil(
      'beat status and /status to show a failed last run of fail',
      async () => {
        for (const [door, shows] of Object.entries(doors)) if (!shown.has(door) && (await shows())) shown.add(door);
        return shown.size === Object.keys(doors).length ? true : undefined;
      },
      15_000,
      () => `shown by ${JSON.stringify([...shown])}`,
    );

    // The last finished run at a glance, next to the run in flight: ok (every second) shows SUCCESS
    // and when, fail shows FAILURE with its error, each as the worker stored it.
    const glance = async (s: StatusJson, entry: string, want: string) => {
      const e = s.entries.find((x) => x.name === entry);
      const last = e?.lastFinished;
      if (last?.state !== want) return undefined;
      const stored = await storedResult(results, last.taskId);
      expect(stored?.status).toBe(want);
      expect(Date.parse(last.finishedAt as string)).toBe(Math.floor(stored?.doneMs as number));
      return e;
    };
    const [okJson, failJson, okHttp] = await waitUntil(
      'lastFinished, lastSuccessAt and lastFailureAt in beat status --json and /status',
      async () => {
        const json = await status();
        const http = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
        const found = [await glance(json, 'ok', 'SUCCESS'), await glance(json, 'fail', 'FAILURE'), await glance(http, 'ok', 'SUCCESS')];
        return found.every((f) => f !== undefined) ? found : undefined;
      },
      15_000,
    );
    expect(okJson?.lastSuccessAt).toBe(okJson?.lastFinished?.finishedAt);
    expect(okJson?.lastFailureAt).toBeNull();
    expect(okHttp?.lastSuccessAt).not.toBeNull();
    expect(failJson?.lastFinished?.exception).toBe('ValueError: boom: line one');
    expect(failJson?.lastFailureAt).toBe(failJson?.lastFinished?.finishedAt);
    expect(failJson?.lastSuccessAt).toBeNull();
    const statusTable = await runBeatCli(['status', '--wide', '--config', file]);
    expect(statusTable.stdout).toMatch(/LAST FINISHED\s+LAST SUCCESS\s+LAST FAILURE/);
    expect(statusTable.stdout).toMatch(/^ok\s.*SUCCESS \S+ at \S+\s+\S+\s+-\s*$/m);
    expect(statusTable.stdout).toMatch(/^fail\s.*FAILURE \S+: ValueError: boom: line one at \S+\s+-\s+\S+\s*$/m);

    // /metrics
    const m = parsePrometheus((await httpRequest(port, '/metrics')).body);
    expect(sampleValue(m, 'tsbeat_runs_total', { entry: 'ok', state: 'SUCCESS' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, 'tsbeat_runs_total', { entry: 'fail', state: 'FAILURE' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(m, 'tsbeat_run_duration_seconds_count', { entry: 'slow' })).toBeGreaterThanOrEqual(1);
    const lastSuccess = sampleValue(m, 'tsbeat_entry_last_success_timestamp_seconds', { entry: 'ok' }) ?? 0;
    expect(Math.abs(lastSuccess * 1000 - Date.now())).toBeLessThan(30_000);
    expect(sampleValue(m, 'tsbeat_entry_last_failure_timestamp_seconds', { entry: 'fail' })).toBeGreaterThan(0);
    expect(sampleValue(m, 'tsbeat_entry_last_failure_timestamp_seconds', { entry: 'ok' })).toBeUndefined();

    // The worker saw periodic_task_name and traceparent in task.request (the record task returns it).
    const traced = seen.get('traced') as RunJson;
    const stored = JSON.parse((await results.get(resultKey(traced.taskId))) ?? 'null') as { result: { request: Record<string, unknown> } };
    expect(stored.result.request['periodic_task_name']).toBe('traced');
    expect((stored.result.request['properties'] as Record<string, unknown>)['periodic_task_name']).toBe('traced');
    expect(stored.result.request['traceparent']).toBe(
      `00-${traced.taskId.replace(/-/g, '')}-${traced.taskId.replace(/-/g, '').slice(16)}-01`,
    );
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
  });

  it("follows a canvas run started by beat trigger or beat backfill part by part: a chain failing at its 2nd step is FAILURE naming it, a group's result its members'", async () => {
    const name = uniqueName('outcomes-canvas');
    // Hourly: the schedule's own runs stay out of the way (the first comes at the next whole hour).
    const hourly = { crontab: { minute: 0 } };
    const file = dir.write(`${name}.json`, {
      ...config(name),
      beatSchedule: {
        pipeline: {
          schedule: hourly,
          chain: [
            { task: 'tsbeat_test.add', args: [1, 1] },
            { task: 'tsbeat_test.fail', immutable: true },
            { task: 'tsbeat_test.add', args: [1] },
          ],
        },
        fanout: { schedule: hourly, group: [1, 2, 3].map((n) => ({ task: 'tsbeat_test.mul', args: [n, 10] })) },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'canvas' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    interface CanvasRunJson extends RunJson {
      origin: string;
      result?: unknown;
      parts?: { path: string; task: string; id: string; state: string; final: boolean; result?: unknown; exception?: string }[];
    }
    const history = async (entry: string): Promise<CanvasRunJson[]> => {
      const run = await runBeatCli(['history', entry, '--config', file, '--json']);
      expect(run.stderr).toBe('');
      return JSON.parse(run.stdout) as CanvasRunJson[];
    };
    const triggered = async (entry: string): Promise<CanvasRunJson> => {
      const run = await runBeatCli(['trigger', entry, '--config', file]);
      expect(run.code, run.stderr).toBe(0);
      return waitUntil(
        `the triggered run of ${entry} final`,
        async () => (await history(entry)).find((r) => r.origin === 'trigger' && (r.state === 'SUCCESS' || r.state === 'FAILURE')),
        30_000,
        () => `${beat.tail()}\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`,
      );
    };

    const chain = await triggered('pipeline');
    expect(chain.state).toBe('FAILURE');
    const failing = chain.parts?.[1];
    expect(chain.exception).toBe(`chain[1] tsbeat_test.fail (${failing?.id}) failed: ValueError: boom: line one`);
    expect(chain.parts?.map((p) => [p.path, p.task, p.final])).toEqual([
      ['chain[0]', 'tsbeat_test.add', false],
      ['chain[1]', 'tsbeat_test.fail', false],
      ['chain[2]', 'tsbeat_test.add', true],
    ]);
    // The last step: FAILURE once read from the result backend (Celery marks it failed too),
    // PENDING when the failing step's task event ended the run before that was read.
    expect(chain.parts?.map((p) => p.state).slice(0, 2)).toEqual(['SUCCESS', 'FAILURE']);
    expect(['FAILURE', 'PENDING']).toContain(chain.parts?.[2]?.state);
    expect(failing?.exception).toBe('ValueError: boom: line one');
    // The oracle: what the worker stored under each part's id.
    for (const part of chain.parts ?? [])
      if (part.state !== 'PENDING') expect((await storedResult(results, part.id))?.status, part.path).toBe(part.state);
    expect((await storedResult(results, chain.parts?.[2]?.id ?? ''))?.status).toBe('FAILURE');
    // The run's own id is the chain's last task's (canvas.md).
    expect(chain.taskId).toBe(chain.parts?.[2]?.id);

    // A group has no result under its own id: followed by its members, it is SUCCESS with their list.
    const group = await triggered('fanout');
    expect(group).toMatchObject({ state: 'SUCCESS', result: [10, 20, 30] });
    expect(group.parts?.map((p) => [p.path, p.state, p.result])).toEqual([
      ['group[0]', 'SUCCESS', 10],
      ['group[1]', 'SUCCESS', 20],
      ['group[2]', 'SUCCESS', 30],
    ]);

    // Two hourly slots of the chain backfilled (before the leader first saw the entry: they never ran).
    const hour = 3_600_000;
    const lastSlot = Math.floor(Date.now() / hour) * hour - hour;
    const range = ['--from', new Date(lastSlot - hour).toISOString(), '--to', new Date(lastSlot).toISOString(), '--json'];
    const backfill = await runBeatCli(['backfill', 'pipeline', '--config', file, ...range], { timeoutMs: 60_000 });
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(JSON.parse(backfill.stdout)).toMatchObject({ published: 2 });
    const backfilled = await waitUntil(
      'both backfilled runs final',
      async () => {
        const runs = (await history('pipeline')).filter((r) => r.origin === 'backfill');
        return runs.length === 2 && runs.every((r) => r.state === 'FAILURE') ? runs : undefined;
      },
      30_000,
      () => beat.tail(),
    );
    for (const run of backfilled) {
      expect(run.exception).toMatch(/^chain\[1\] tsbeat_test\.fail \(\S+\) failed: ValueError: boom: line one$/);
      expect(run.parts?.map((p) => p.state).slice(0, 2)).toEqual(['SUCCESS', 'FAILURE']);
    }
    expect(backfilled.map((r) => Date.parse(r.slot)).sort()).toEqual([lastSlot - hour, lastSlot]);
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
  }, 120_000);

  it('hands the runs still pending to the next leader after the leader is killed', async () => {
    const name = uniqueName('outcomes-failover');
    const file = dir.write(`${name}.json`, {
      ...config(name),
      beatSchedule: { slow: { task: 'tsbeat_test.sleepy', schedule: 1, args: [1.5], options: { queue: 'tsbeat-slow' } } },
    });
    const keys = schedulerKeys('tsbeat', name);
    // The first test's backlog of slow runs would only delay these.
    await state.del('tsbeat-slow');
    const first = fleet.spawn({ config: file, label: 'first' });
    await first.waitForEvent(EVENTS.lockAcquired, 10_000);
    // Runs recorded as pending by the first leader.
    const pendingIds = await waitUntil(
      'runs of slow recorded as pending',
      async () => {
        const items = (await state.lrange(keys.runs('slow'), 0, -1)).map((t) => JSON.parse(t) as { id: string; st: string });
        const pending = items.filter((r) => r.st === 'PENDING' || r.st === 'STARTED').map((r) => r.id);
        return pending.length >= 2 && (await state.sismember(keys.runsPending, 'slow')) === 1 ? pending : undefined;
      },
      15_000,
      () => first.tail(),
    );
    first.signal('SIGKILL');
    await first.waitForExit(5_000);
    const second = fleet.spawn({ config: file, label: 'second' });
    await second.waitForEvent(EVENTS.lockAcquired, 15_000);
    // Every run the first leader left pending reaches its final state in the history, written by the second.
    await waitUntil(
      'the pending runs of the first leader to be final',
      async () => {
        const items = (await state.lrange(keys.runs('slow'), 0, -1)).map((t) => JSON.parse(t) as { id: string; st: string });
        const byId = new Map(items.map((r) => [r.id, r.st]));
        return pendingIds.every((id) => byId.get(id) === 'SUCCESS') ? byId : undefined;
      },
      40_000,
      () => second.tail(),
    );
    // The oracle: the worker did finish them.
    for (const id of pendingIds) {
      const stored = await storedResult(results, id);
      expect(stored?.status).toBe('SUCCESS');
    }
    second.signal('SIGTERM');
    await second.waitForExit(10_000);
  });
});
