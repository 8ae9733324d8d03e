/**
 * pauseOnFailure with a real Celery worker and a Redis result backend: a task that always raises is
 * paused after its second failure in a row, with a note saying why and a `paused` alert to the
 * webhook; nothing more is published while it is paused; `beat resume` clears the count, so it is
 * paused again after two more. Oracle: the results the worker stored, and the broker's queue.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { decodeRun } from '../../src/redis/run-history-codec.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface StatusEntry {
  name: string;
  paused: boolean;
  runCount: number;
  pauseNote: { note: string; by: string; at: string } | null;
  lastFinished: { state: string; exception: string | null } | null;
}

suite(`pauseOnFailure with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let state: Redis;
  let results: Redis;
  let worker: CeleryProcess | undefined;
  let hook: Server;
  const alerts: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    state = redis.client(0);
    results = redis.client(1);
    hook = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    worker = await startWorker({ name: 'pause-on-failure', queues: ['celery'], env: { broker: redis.url(0), backend: redis.url(1) } });
  });

  afterAll(async () => {
    await fleet.killAll();
    await stopAll([worker]);
    hook?.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
    state?.disconnect();
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('pauses after the second failure in a row, alerts, publishes nothing more, and resume clears the count', async () => {
    const name = uniqueName('pof');
    const keys = schedulerKeys('tsbeat', name);
    const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        doomed: { task: 'tsbeat_test.fail', schedule: 1, pauseOnFailure: 2, alerts: { webhook, on: ['paused'] } },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const entry = async (): Promise<StatusEntry> => {
      const run = await runBeatCli(['status', '--config', file, '--json']);
      return (JSON.parse(run.stdout) as { entries: StatusEntry[] }).entries[0] as StatusEntry;
    };
    const paused = async (): Promise<StatusEntry> =>
      waitUntil(
        'doomed to be paused by pauseOnFailure',
        async () => {
          const e = await entry();
          return e.paused && e.pauseNote?.by === 'pauseOnFailure' ? e : undefined;
        },
        20_000,
        () => `${beat.tail()}\n${worker?.output().slice(-2000) ?? ''}`,
      );

    const first = await paused();
    // The note counts what the worker stored: the runs that failed, each a FAILURE in the backend.
    const failedRuns = async (): Promise<string[]> => {
      const records = (await state.lrange(keys.runs('doomed'), 0, -1)).map(decodeRun);
      const ids: string[] = [];
      for (const r of records) {
        const stored = r === undefined ? null : await results.get(resultKey(r.taskId));
        if (r !== undefined && stored !== null && (JSON.parse(stored) as { status: string }).status === 'FAILURE') ids.push(r.taskId);
      }
      return ids;
    };
    expect((await failedRuns()).length).toBeGreaterThanOrEqual(2);
    expect(first.pauseNote?.note).toBe('2 failed runs in a row (pauseOnFailure 2); the last: ValueError: boom: line one');
    expect(first.lastFinished).toMatchObject({ state: 'FAILURE', exception: 'ValueError: boom: line one' });
    const alert = await waitUntil('the paused alert', () => alerts.find((a) => a['kind'] === 'paused'), 10_000);
    expect(alert).toMatchObject({ entry: 'doomed', task: 'tsbeat_test.fail', state: 'FAILURE' });
    expect(String(alert['reason'])).toMatch(
      /^paused after 2 failed runs in a row \(pauseOnFailure\); the last: ValueError: boom: line one/,
    );
    await beat.waitForEvent(EVENTS.pausedOnFailure, 5_000);

    // Nothing more is published: the leader's count of runs stands still over three of its slots.
    const published = first.runCount;
    const settled = Date.now() + 3_500;
    while (Date.now() < settled) {
      expect((await entry()).runCount).toBeLessThanOrEqual(published + 1);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // One run may have been on its way when the pause was written (published in the same second).
    const stillPaused = await entry();
    expect(stillPaused.paused).toBe(true);
    const afterPause = stillPaused.runCount;
    expect(afterPause - published).toBeLessThanOrEqual(1);

    // Resume clears the count: the next pause again needs two new failures in a row.
    expect((await runBeatCli(['resume', 'doomed', '--config', file])).stdout).toContain('resumed doomed');
    expect(await state.hexists(keys.failures, 'doomed')).toBe(0);
    await waitUntil('doomed to run again after resume', async () => ((await entry()).runCount > afterPause ? true : undefined), 10_000);
    const again = await paused();
    expect(again.pauseNote?.note).toMatch(/^2 failed runs in a row/);
    expect(again.runCount - afterPause).toBeGreaterThanOrEqual(2);
    expect(alerts.filter((a) => a['kind'] === 'paused').length).toBeGreaterThanOrEqual(1);
  });
});
