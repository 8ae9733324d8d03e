/**
 * The dead-letter list end to end (issue 70) with a real Celery worker (Debian's 5.2.6) and a Redis
 * result backend: a task that always fails, with `retry: {attempts: 2}`, ends in the list with its
 * attempts and exception; the `dead-lettered` alert (in the default alerts.on) reaches a webhook;
 * the list's bound (deadLetters.maxItems) drops the oldest and /metrics counts it; `beat dead-letter
 * replay ID` publishes the slot's message once, which the worker runs, and the item leaves the list;
 * `beat dead-letter discard` removes one, audited.
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 * Oracle: the worker's own record of each run (tsbeat_test.fail_recorded: id, attempt, beat_scheduled_at).
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { attemptTaskId, replayTaskId } from '../../src/celery/task-id.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
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

interface Letter {
  readonly id: string;
  readonly entry: string;
  readonly slot: string;
  readonly taskId: string;
  readonly retryOf: string;
  readonly attempts: number;
  readonly end: string;
  readonly exception?: string;
  readonly at: string;
}

interface WorkerRun {
  readonly id: string;
  readonly attempt: number | null;
  readonly scheduled: string | null;
}

suite(`the dead-letter list with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  const workers: CeleryProcess[] = [];
  let hook: Server;
  const alerts: Record<string, unknown>[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
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
    workers.push(await startWorker({ name: 'dead-letter', queues: ['celery'], env: { broker: redis.url(0), backend: redis.url(1) } }));
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    hook?.closeAllConnections();
    await new Promise<void>((resolve) => (hook ? hook.close(() => resolve()) : resolve()));
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  it('keeps a slot whose attempts failed, alerts, bounds the list (the oldest dropped and counted), and replays one once', async () => {
    const name = uniqueName('dead');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      // alerts.on unset: the default holds dead-lettered.
      alerts: { webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook` },
      deadLetters: { maxItems: 2 },
      beatSchedule: {
        doomed: { task: 'tsbeat_test.fail_recorded', schedule: 2, retry: { attempts: 2, backoff: { initial: '1s' }, on: ['failure'] } },
      },
    });
    const beat = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);

    const list = async (): Promise<Letter[]> => {
      const run = await runBeatCli(['dead-letter', 'list', '--config', file, '--json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout) as Letter[];
    };
    // The first slot's two attempts failed: it is on the list with them and the exception.
    const [first] = await waitUntil('a dead letter', async () => ((await list()).length > 0 ? list() : undefined), 40_000);
    expect(first).toMatchObject({ entry: 'doomed', attempts: 2, end: 'failure' });
    expect(first!.exception).toMatch(/ValueError: always fails/);
    expect(first!.taskId).toBe(attemptTaskId(first!.retryOf, 2));

    // Its alert, once, with the id to replay.
    const alert = await waitUntil(
      'the dead-lettered alert',
      () => alerts.find((a) => a['kind'] === 'dead-lettered' && a['taskId'] === first!.taskId),
      20_000,
      () => JSON.stringify(alerts),
    );
    expect(alert['entry']).toBe('doomed');
    expect(String(alert['reason'])).toContain(first!.id);

    // More slots fail: the bound keeps two, drops the oldest (the first), and counts it.
    const metrics = await waitUntil(
      'a dead letter dropped by the bound',
      async () => {
        const m = parsePrometheus((await httpRequest(port, '/metrics')).body);
        return (sampleValue(m, 'tsbeat_dead_letters_dropped_total', {}) ?? 0) >= 1 ? m : undefined;
      },
      40_000,
    );
    expect(sampleValue(metrics, 'tsbeat_dead_letters', {})).toBe(2);
    const kept = await list();
    expect(kept.length).toBeLessThanOrEqual(2);
    expect(kept.map((l) => l.id)).not.toContain(first!.id);

    // No more slots: the list stays as it is while the replay is looked at.
    expect((await runBeatCli(['pause', 'doomed', '--config', file])).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const held = await list();
    const target = held[held.length - 1]!;
    const replayed = await runBeatCli(['dead-letter', 'replay', target.id, '--config', file, '--note', 'fixed the bug']);
    expect(replayed.stderr).toBe('');
    expect(replayed.code).toBe(0);
    const taskId = replayTaskId(target.id);
    expect(replayed.stdout).toContain(`replayed ${target.id} (doomed): task id ${taskId}`);
    expect((await list()).map((l) => l.id)).not.toContain(target.id);

    // The worker ran it once, with the slot's message (its beat_scheduled_at), under the replay's id.
    const runsOf = async (): Promise<WorkerRun[]> =>
      (await results.lrange('tsbeat-test:failed-runs', 0, -1)).map((t) => JSON.parse(t) as WorkerRun);
    const ran = await waitUntil('the replay run by the worker', async () => (await runsOf()).find((r) => r.id === taskId), 20_000);
    const slotRun = (await runsOf()).find((r) => r.id === target.retryOf);
    expect(ran.scheduled).toBe(slotRun?.scheduled);
    expect(ran.attempt).toBeNull();
    // A second replay of the same id finds nothing: exit 2, naming the fix.
    const again = await runBeatCli(['dead-letter', 'replay', target.id, '--config', file]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('beat dead-letter list shows the ids');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await runsOf()).filter((r) => r.id === taskId)).toHaveLength(1);

    // The audit trail has the replay with its note and the run's id.
    const audit = await runBeatCli(['audit', '--config', file, '--json']);
    expect(audit.code).toBe(0);
    const events = JSON.parse(audit.stdout) as { action: string; entry: string; taskId?: string; note?: string }[];
    expect(events.find((e) => e.action === 'dead-letter-replay')).toMatchObject({ entry: 'doomed', taskId, note: 'fixed the bug' });

    // Discard the other one (if the bound kept two).
    const rest = (await list()).filter((l) => l.id !== target.id);
    if (rest.length > 0) {
      const discarded = await runBeatCli(['dead-letter', 'discard', rest[0]!.id, '--config', file]);
      expect(discarded.code).toBe(0);
      expect(discarded.stdout).toContain(`discarded ${rest[0]!.id}`);
      expect((await list()).map((l) => l.id)).not.toContain(rest[0]!.id);
    }
  }, 180_000);

  it('refuses bad input with exit 2 naming the fix', async () => {
    const name = uniqueName('dead-usage');
    const file = dir.write(`${name}.json`, { name, broker: { url: redis.url(0) }, resultBackend: redis.url(1), beatSchedule: {} });
    const noTarget = await runBeatCli(['dead-letter', 'replay', '--config', file]);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toContain('--all -l SELECTOR');
    const allNoSelector = await runBeatCli(['dead-letter', 'discard', '--all', '--config', file]);
    expect(allNoSelector.code).toBe(2);
    expect(allNoSelector.stderr).toContain('--all needs -l SELECTOR');
    const unknown = await runBeatCli(['dead-letter', 'discard', 'nope', '--config', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no dead letter "nope"');
    const help = await runBeatCli(['dead-letter', 'replay', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('ID|--all -l SELECTOR');
  }, 60_000);
});
