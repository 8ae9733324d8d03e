/**
 * Task events read by default (docs/outcomes.md, "Task events by default"): a config with neither
 * resultBackend nor taskEvents, run by `beat run` (the built CLI) beside a real Celery worker on a
 * private Redis.
 * - Workers started with -E: a failing task shows FAILURE with its exception in `beat history`, a
 *   good one SUCCESS, without any setting.
 * - Workers without -E: the hazard is a deployment told its runs failed or timed out when it only
 *   sends no events. Its runs are given up as `unknown` with the reason (no worker sent a task
 *   event: -E or resultBackend), never FAILURE; the leader says so once; no `failed` alert is sent,
 *   and a ping says only /start: a publish no worker told of is not a success.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { NO_TASK_EVENTS } from '../../src/outcomes/tracker.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
// In CI the suite must run: a missing piece fails it (in beforeAll) instead of skipping it.
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface HistoryRun {
  readonly state: string;
  readonly exception: string | null;
}

suite(`task events read by default (no resultBackend, no taskEvents)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  const received: { path: string; body: string }[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body });
      res.writeHead(200).end('ok');
    });
  });
  let receiverUrl = '';

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await fleet.killAll();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis?.stop();
    dir.remove();
  });

  /** A deployment with no outcome setting at all; its broker and state on DB `db`. */
  function deployment(name: string, db: number, path: string): string {
    return dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(db) },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      // Also how soon a run no event tells of is given up (the silence is at most outcomeTimeout).
      outcomeTimeout: '3s',
      alerts: { webhook: `${receiverUrl}${path}` },
      beatSchedule: {
        good: { task: 'tsbeat_test.ok', schedule: 1, alerts: { ping: `${receiverUrl}${path}/ping` } },
        boom: { task: 'tsbeat_test.fail', schedule: 1 },
      },
    });
  }

  const history = async (name: string, config: string): Promise<HistoryRun[]> => {
    const r = await runBeatCli(['history', name, '--config', config, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as HistoryRun[];
  };

  it('workers with -E: a failed run shows FAILURE with its exception and a good one SUCCESS, with no setting', async () => {
    let worker: CeleryProcess | undefined;
    try {
      worker = await startWorker({ name: 'events-on', queues: ['celery'], env: { broker: redis.url(2) }, events: true });
      const config = deployment(uniqueName('events-on'), 2, '/on');
      const beat = fleet.spawn({ config });
      await beat.waitForEvent(EVENTS.taskEventsListening, 15_000);
      const failed = await waitUntil(
        'a FAILURE in the history',
        async () => (await history('boom', config)).find((r) => r.state === 'FAILURE'),
        20_000,
        () => `${beat.tail()}\n${worker?.output().slice(-2000)}`,
      );
      expect(failed.exception).toBe('ValueError: boom: line one');
      await waitUntil('a SUCCESS in the history', async () => (await history('good', config)).find((r) => r.state === 'SUCCESS'), 20_000);
      // Past the silence: the events were heard, nothing is given up for want of them.
      await sleep(4000);
      expect(beat.events(EVENTS.taskEventsSilent)).toEqual([]);
      expect([...(await history('good', config)), ...(await history('boom', config))].filter((r) => r.state === 'unknown')).toEqual([]);
      await waitUntil(
        'the failed alert',
        () => (received.some((r) => r.path === '/on' && r.body.includes('"failed"')) ? true : undefined),
        10_000,
      );
      // The success ping follows the SUCCESS a worker told of, after the publish's /start.
      expect(received.some((r) => r.path === '/on/ping/start')).toBe(true);
      await waitUntil('the success ping', () => (received.some((r) => r.path === '/on/ping') ? true : undefined), 10_000);
    } finally {
      await stopAll([worker]);
      await fleet.killAll();
    }
  }, 90_000);

  it('workers without -E: runs are given up as unknown saying why, once, never FAILURE, with no failed alert and no success ping', async () => {
    let worker: CeleryProcess | undefined;
    try {
      worker = await startWorker({ name: 'events-off', queues: ['celery'], env: { broker: redis.url(3) } });
      const config = deployment(uniqueName('events-off'), 3, '/off');
      const beat = fleet.spawn({ config });
      await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
      const silent = await beat.waitForEvent(EVENTS.taskEventsSilent, 15_000);
      expect(String(silent['msg'] ?? silent['message'] ?? JSON.stringify(silent))).toMatch(/-E/);
      const given = await waitUntil(
        'a run of boom given up as unknown',
        async () => (await history('boom', config)).find((r) => r.state === 'unknown'),
        15_000,
      );
      expect(given.exception).toBe(NO_TASK_EVENTS);
      // Several more runs given up: still one line.
      await sleep(3000);
      expect(beat.events(EVENTS.taskEventsSilent)).toHaveLength(1);
      const all = [...(await history('good', config)), ...(await history('boom', config))];
      expect(all.filter((r) => r.state === 'FAILURE' || r.state === 'SUCCESS')).toEqual([]);
      expect(all.filter((r) => r.state === 'unknown').length).toBeGreaterThan(2);
      // beat status names the reason as the outcome.
      const status = await runBeatCli(['status', '--config', config, '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('no worker has sent a task event');
      expect(received.filter((r) => r.path === '/off')).toEqual([]);
      // A publish is not a run: the ping says /start, and no worker told of a success (nor a failure).
      const pings = received.filter((r) => r.path.startsWith('/off/ping')).map((r) => r.path);
      expect(pings.length).toBeGreaterThan(0);
      expect(pings.filter((p) => p !== '/off/ping/start')).toEqual([]);
    } finally {
      await stopAll([worker]);
      await fleet.killAll();
    }
  }, 90_000);
});
