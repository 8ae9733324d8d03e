/**
 * Alerts and pings, end to end: real `beat run` processes on a private Redis post to a receiver on
 * loopback. Missed slots (the only leader down past its catchUp "skip") raise one `missed` alert and
 * a `/fail` ping; every published run pings /start once (no success: no worker ran it); a receiver that fails is retried until it takes
 * the alert, and each alert arrives once. The outbox itself (alerts-outbox.lua) takes an id once.
 * A queue no worker consumes (a real Celery worker on `celery` only; an entry routed to `reports`)
 * is flagged unconsumed in `beat status`, /status and /metrics and raises one `unconsumed` alert,
 * all within consumers.unconsumedAfter (its series in a scoped token's scrape only when one of the
 * token's entries publishes to the queue); the flag clears once a worker on `reports` starts.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { canvasPartId } from '../../src/celery/canvas.js';
import { RedisAlertOutbox } from '../../src/redis/alert-outbox.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { httpPortOf, httpRequest, parsePrometheus, runBeatCli, sampleValue, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

interface Received {
  readonly path: string;
  readonly body: string;
  readonly key: string | undefined;
  readonly atMs: number;
}

/** A webhook and ping receiver on loopback; `failFirst` answers 503 to the first requests of a path. */
class Receiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  private readonly failures = new Map<string, number>();
  port = 0;

  failFirst(path: string, times: number): void {
    this.failures.set(path, times);
  }

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const path = req.url ?? '';
        const left = this.failures.get(path) ?? 0;
        if (left > 0) {
          this.failures.set(path, left - 1);
          res.writeHead(503).end();
          return;
        }
        const key = req.headers['idempotency-key'];
        this.received.push({ path, body, key: typeof key === 'string' ? key : undefined, atMs: Date.now() });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('alerts and pings (real processes, a receiver on loopback)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const receiver = new Receiver();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    await receiver.start();
  });

  afterAll(async () => {
    await fleet.killAll();
    await receiver.stop();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('the outbox takes an id once, pending or delivered, and tells how many are pending and when the first is due', async () => {
    const keys = schedulerKeys('tsbeat', 'outbox-unit');
    const outbox = new RedisAlertOutbox(redis, keys);
    const delivery = { id: 'missed:a:1:webhook', url: 'http://127.0.0.1:1/x', body: '{}', contentType: 'application/json', attempts: 0 };
    expect(await outbox.pending()).toEqual({ count: 0, nextDueMs: undefined });
    expect(await outbox.enqueue([delivery, { ...delivery, id: 'other' }], 1000)).toBe(2);
    expect(await outbox.pending()).toEqual({ count: 2, nextDueMs: 1000 });
    expect(await outbox.enqueue([delivery], 1001)).toBe(0);
    const claimed = await outbox.claim(1002, 10, 30_000);
    expect(claimed.deliveries.map((d) => d.id).sort()).toEqual(['missed:a:1:webhook', 'other']);
    // Claimed: nobody else gets them until the claim runs out, which the claim's answer says.
    expect(claimed.nextDueMs).toBe(31_002);
    expect(await outbox.claim(1003, 10, 30_000)).toEqual({ deliveries: [], nextDueMs: 31_002 });
    // Due again when the claim runs out, should its sender die.
    expect(await outbox.pending()).toEqual({ count: 2, nextDueMs: 31_002 });
    await outbox.settle(delivery.id, 1004);
    expect(await outbox.enqueue([delivery], 1005)).toBe(0);
    await outbox.retry({ ...delivery, id: 'other', attempts: 1 }, 2000);
    expect(await outbox.claim(1999, 10, 30_000)).toEqual({ deliveries: [], nextDueMs: 2000 });
    expect(await outbox.pending()).toEqual({ count: 1, nextDueMs: 2000 });
    expect((await outbox.claim(2000, 10, 30_000)).deliveries.map((d) => [d.id, d.attempts])).toEqual([['other', 1]]);
    await outbox.settle('other', 2001);
    expect(await outbox.claim(2002, 10, 30_000)).toEqual({ deliveries: [], nextDueMs: undefined });
    expect(await outbox.pending()).toEqual({ count: 0, nextDueMs: undefined });
    // A due time tsbeat never writes: the claim goes on (its sender rests the longest), the status's read names it.
    await redis.hset(keys.alertItems, 'odd', '{}');
    await redis.zadd(keys.alertsDue, '+inf', 'odd');
    expect(await outbox.claim(3000, 10, 30_000)).toEqual({ deliveries: [], nextDueMs: undefined });
    await expect(outbox.pending()).rejects.toMatchObject({ code: 'REDIS_GARBLED', message: expect.stringContaining(keys.alertsDue) });
    await redis.del(keys.alertItems, keys.alertsDue);
    // A key of another type is named, as the script's refusals name it.
    await redis.del(keys.alertsDue);
    await redis.set(keys.alertsDue, 'x');
    await expect(outbox.pending()).rejects.toMatchObject({ code: 'REDIS_WRONGTYPE', message: expect.stringContaining(keys.alertsDue) });
    await redis.del(keys.alertsDue);
    await redis.set(keys.alertItems, 'x');
    await expect(outbox.pending()).rejects.toMatchObject({ code: 'REDIS_WRONGTYPE', message: expect.stringContaining(keys.alertItems) });
    await redis.del(keys.alertItems);
  });

  it('beat status shows the alerts not taken yet and when the next is tried, and names an outbox key of another type', async () => {
    const name = 'outbox-status';
    const keys = schedulerKeys('tsbeat', name);
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      alerts: { webhook: receiver.url('/hook') },
      beatSchedule: { quiet: { task: 't.quiet', schedule: 3600 } },
    });
    const outbox = new RedisAlertOutbox(redis, keys);
    await redis.del(keys.alertItems, keys.alertsDue, keys.alertsSent);
    const statusJson = async () => {
      const { stdout, code } = await runBeatCli(['status', '--config', file, '--json']);
      return { code, status: JSON.parse(stdout) as { alertOutbox?: unknown; warnings: string[] } };
    };
    // None pending: shown as such in the JSON, no line in the text.
    expect((await statusJson()).status.alertOutbox).toEqual({ pending: 0, nextAttemptAt: null });
    expect((await runBeatCli(['status', '--config', file])).stdout).not.toContain('ALERTS');
    // Two waiting for a receiver (no leader runs to send them): counted, with the first one's time.
    const delivery = { url: receiver.url('/hook'), body: '{}', contentType: 'application/json', attempts: 0 };
    await outbox.enqueue([{ ...delivery, id: 'missed:quiet:1:webhook' }], Date.parse('2026-11-20T10:00:00Z'));
    await outbox.enqueue([{ ...delivery, id: 'missed:quiet:2:webhook' }], Date.parse('2026-11-20T10:05:00Z'));
    expect((await statusJson()).status.alertOutbox).toEqual({ pending: 2, nextAttemptAt: '2026-11-20T10:00:00+00:00' });
    // Due in the past and no leader sending them: said so.
    const text = await runBeatCli(['status', '--config', file, '--wide']);
    expect(text.stdout).toContain(
      'ALERTS: 2 pending in the outbox, not yet taken by their receiver; the first was due at 2026-11-20T10:00:00+00:00 and no leader has sent it',
    );
    // A key of another type, or a score tsbeat never writes, costs the part, named among the warnings
    // (exit 1), as every part's.
    const damages: [string, () => Promise<unknown>][] = [
      [keys.alertItems, () => redis.set(keys.alertItems, 'garbage')],
      [keys.alertsSent, () => redis.set(keys.alertsSent, 'garbage')],
      [keys.alertsDue, () => redis.zadd(keys.alertsDue, '+inf', 'someone-else')],
    ];
    for (const [key, damage] of damages) {
      const saved = await redis.dumpBuffer(key);
      await redis.del(key);
      await damage();
      try {
        const damaged = await statusJson();
        expect(damaged.code, key).toBe(1);
        expect(damaged.status.alertOutbox, key).toBeUndefined();
        expect(damaged.status.warnings.join('\n'), key).toContain(key);
      } finally {
        await redis.del(key);
        if (saved !== null) await redis.restore(key, 0, saved);
      }
    }
    expect((await statusJson()).status.alertOutbox).toMatchObject({ pending: 2 });
  });

  it('pings each run, alerts once on missed slots after a leader was down, and retries a failing receiver', async () => {
    const file = dir.write('alerts.json', {
      name: 'alerting',
      broker: { url: server.url(0) },
      taskDefaultQueue: 'alerted',
      maxInterval: '200ms',
      lock: FAST_LOCK,
      alerts: { webhook: receiver.url('/hook') },
      beatSchedule: {
        watched: { task: 'tsbeat_test.record', schedule: 1, catchUp: 'skip', alerts: { ping: receiver.url('/ping/watched?key=k') } },
      },
    });
    receiver.failFirst('/hook', 2);
    const first = fleet.spawn({ config: file });
    await first.waitForEvent(EVENTS.lockAcquired, 10_000);
    await waitUntil(
      'three /start pings',
      () => (receiver.on('/ping/watched/start?key=k').length >= 3 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );

    first.child.kill('SIGKILL');
    await first.waitForExit(5000);
    const downAt = Date.now();
    await sleep(4000);
    const second = fleet.spawn({ config: file });
    await second.waitForEvent(EVENTS.lockAcquired, 10_000);
    // Two 503s first: retried after 1 s, then 2 s.
    await waitUntil(
      'the missed alert',
      () => (receiver.on('/hook').length >= 1 ? true : undefined),
      15_000,
      () => fleet.dump(),
    );
    await waitUntil('the failure ping', () => (receiver.on('/ping/watched/fail?key=k').length >= 1 ? true : undefined), 10_000);
    await sleep(1500);
    await fleet.killAll();

    const hooks = receiver.on('/hook');
    expect(hooks).toHaveLength(1);
    const alert = JSON.parse(hooks[0]?.body ?? '{}') as Record<string, unknown>;
    expect(alert).toMatchObject({ kind: 'missed', deployment: 'alerting', entry: 'watched', task: 'tsbeat_test.record' });
    expect(alert['count']).toBeGreaterThanOrEqual(3);
    expect(Date.parse(String(alert['slot']))).toBeGreaterThan(downAt - 1500);
    expect(hooks[0]?.key).toBe(`${String(alert['id'])}:webhook`);
    expect(second.logs.filter((l) => l.event === EVENTS.alertRetry)).toHaveLength(2);

    // One /start per published run, none twice (its idempotency key is the entry and slot); no worker ran
    // them, so no success was pinged.
    const runs = (await readQueue(redis, 'alerted')).filter((r) => r.entry === 'watched');
    const pings = receiver.on('/ping/watched/start?key=k');
    expect(new Set(pings.map((p) => p.key)).size).toBe(pings.length);
    expect(pings.length).toBe(runs.length);
    expect(receiver.on('/ping/watched/fail?key=k')).toHaveLength(1);
    expect(receiver.on('/ping/watched?key=k')).toEqual([]);
  }, 60_000);

  it('slots that pass while an entry is paused raise one `missed` alert when it is resumed', async () => {
    const file = dir.write('paused.json', {
      name: 'pausing',
      broker: { url: server.url(0) },
      taskDefaultQueue: 'paused-alerted',
      lock: FAST_LOCK,
      alerts: { webhook: receiver.url('/paused-hook') },
      beatSchedule: { napping: { task: 'tsbeat_test.record', schedule: 1 } },
    });
    const beat = fleet.spawn({ config: file });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await beat.waitForEvent(EVENTS.fire, 10_000);
    expect((await runBeatCli(['pause', 'napping', '--config', file])).code).toBe(0);
    await beat.waitForEvent(EVENTS.pause, 5_000);
    const pausedAt = Date.now();
    await sleep(3_500);
    expect(receiver.on('/paused-hook')).toHaveLength(0);
    expect((await runBeatCli(['resume', 'napping', '--config', file])).code).toBe(0);
    await waitUntil(
      'the missed alert',
      () => (receiver.on('/paused-hook').length >= 1 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    await sleep(1_000);
    await fleet.killAll();
    const hooks = receiver.on('/paused-hook');
    expect(hooks).toHaveLength(1);
    const alert = JSON.parse(hooks[0]?.body ?? '{}') as Record<string, unknown>;
    expect(alert).toMatchObject({ kind: 'missed', entry: 'napping' });
    expect(String(alert['reason'])).toMatch(/slots? will not run: they passed while the entry was paused/);
    // At least the 3 whole seconds it stayed paused, counted from the first slot after the pause.
    expect(alert['count']).toBeGreaterThanOrEqual(3);
    expect(Date.parse(String(alert['slot']))).toBeGreaterThanOrEqual(pausedAt - 1_500);
  }, 40_000);

  it("with a result backend: a failed run raises one `failed` alert with its exception (a chain's, naming the step that failed), a slow one a `late` alert, a success its ping", async () => {
    const queue = 'alerted-outcomes';
    const file = dir.write('outcomes.json', {
      name: 'alerting-outcomes',
      broker: { url: server.url(0) },
      resultBackend: server.url(1),
      taskDefaultQueue: queue,
      maxInterval: '200ms',
      lock: FAST_LOCK,
      alerts: { webhook: receiver.url('/outcomes'), on: ['failed', 'late'], lateAfter: '2500ms' },
      // One run each, a few seconds after the start (the worker is ready by then).
      beatSchedule: {
        failing: { task: 'tsbeat_test.fail', schedule: 4, maxRuns: 1 },
        slow: { task: 'tsbeat_test.sleepy', schedule: 4, args: [5], maxRuns: 1 },
        fine: { task: 'tsbeat_test.ok', schedule: 4, maxRuns: 1, alerts: { ping: receiver.url('/ping/fine') } },
        // A chain whose second step fails: its run fails, and the alert names that step. (The worker
        // sends the later steps where their own options say, as Celery does: its default is `celery`.)
        chained: {
          schedule: 4,
          maxRuns: 1,
          // Not late: its steps may wait behind slow's on the one worker.
          alerts: { webhook: receiver.url('/outcomes'), on: ['failed'] },
          chain: [
            { task: 'tsbeat_test.ok' },
            { task: 'tsbeat_test.fail', immutable: true, options: { queue } },
            { task: 'tsbeat_test.ok', immutable: true, options: { queue } },
          ],
        },
      },
    });
    let worker: CeleryProcess | undefined;
    try {
      worker = await startWorker({ name: 'alerts', queues: [queue], env: { broker: server.url(0), backend: server.url(1) } });
      const beat = fleet.spawn({ config: file });
      await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
      const kinds = (): string[] => receiver.on('/outcomes').map((r) => String((JSON.parse(r.body) as { kind: string }).kind));
      await waitUntil(
        'the failed and late alerts',
        () => (kinds().filter((k) => k === 'failed').length >= 2 && kinds().includes('late') ? true : undefined),
        30_000,
        () => fleet.dump(),
      );
      await waitUntil('the success ping', () => (receiver.on('/ping/fine').length >= 1 ? true : undefined), 30_000);
      await sleep(2500);
    } finally {
      await stopAll([worker]);
      await fleet.killAll();
    }
    const alerts = receiver.on('/outcomes').map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(alerts.map((a) => `${String(a['kind'])}:${String(a['entry'])}`).sort()).toEqual([
      'failed:chained',
      'failed:failing',
      'late:slow',
    ]);
    const failing = alerts.find((a) => a['entry'] === 'failing');
    expect(failing).toMatchObject({ state: 'FAILURE', reason: expect.stringContaining('ValueError: boom: line one') });
    expect(failing?.['failedPart']).toBeUndefined();
    // The chain's run id is its last step's; its failing part is the second step, under the id derived from it.
    const chained = alerts.find((a) => a['entry'] === 'chained') ?? {};
    const failedId = canvasPartId(String(chained['taskId']), 'chain[1]');
    expect(chained).toMatchObject({
      state: 'FAILURE',
      reason: `chain[1] tsbeat_test.fail (${failedId}) failed: ValueError: boom: line one`,
      failedPart: { path: 'chain[1]', task: 'tsbeat_test.fail', id: failedId, exception: 'ValueError: boom: line one' },
    });
    // The publish said /start, the success said the bare URL.
    expect(receiver.on('/ping/fine/start')).toHaveLength(1);
    expect(receiver.on('/ping/fine')).toHaveLength(1);
  }, 90_000);

  it('a queue no worker consumes is flagged unconsumed (status, /status, metric, alert) within the threshold, and cleared when a worker consumes it', async () => {
    const broker = server.url(2);
    const file = dir.write('unconsumed.json', {
      name: 'alerting-unconsumed',
      broker: { url: broker },
      maxInterval: '200ms',
      lock: FAST_LOCK,
      consumers: { every: '1s', unconsumedAfter: '3s', replyWindow: '500ms' },
      alerts: { webhook: receiver.url('/unconsumed'), on: ['unconsumed'] },
      beatSchedule: {
        main: { task: 'tsbeat_test.ok', schedule: 1, labels: { team: 'ops' } },
        report: { task: 'tsbeat_test.ok', schedule: 1, options: { queue: 'reports' }, labels: { team: 'reports' } },
      },
    });
    // A scrape with a scoped token holds the per-queue series of its entries' queues alone.
    const [OPS_TOKEN, REPORTS_TOKEN] = ['alerts-ops-viewer-0123456789', 'alerts-reports-viewer-0123456789'];
    const tokens = dir.write('unconsumed-tokens', `ops:viewer@team=ops:${OPS_TOKEN}\nreports:viewer@team=reports:${REPORTS_TOKEN}\n`);
    const env = { broker };
    let celeryWorker: CeleryProcess | undefined;
    let reportsWorker: CeleryProcess | undefined;
    try {
      celeryWorker = await startWorker({ name: 'celery-only', queues: ['celery'], env });
      const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
      const port = await httpPortOf(beat);
      await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
      const leadAt = Date.now();
      const flagged = await beat.waitForEvent(EVENTS.queueUnconsumed, 15_000);
      // unconsumedAfter (3 s) from the first look (1 s after leading), plus a look's interval and reply window.
      expect(Date.now() - leadAt).toBeLessThan(8000);
      expect(flagged).toMatchObject({ queue: 'reports', entries: 1 });
      expect(String(flagged['reason'])).toMatch(/^no worker consumes queue reports/);
      // The `celery` queue has its worker: never flagged.
      expect(beat.logs.filter((l) => l['event'] === EVENTS.queueUnconsumed && l['queue'] !== 'reports')).toEqual([]);

      const cli = await runBeatCli(['status', '--config', file]);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/UNCONSUMED: no worker consumes queue reports/);
      const json = await runBeatCli(['status', '--config', file, '--json']);
      const statusOf = (text: string, name: string) =>
        (JSON.parse(text) as { entries: { name: string; unconsumed: unknown }[] }).entries.find((e) => e.name === name)?.unconsumed;
      expect(statusOf(json.stdout, 'report')).toMatchObject({
        queue: 'reports',
        reason: expect.stringMatching(/^no worker consumes queue reports/),
      });
      expect(statusOf(json.stdout, 'main')).toBeNull();
      const http = await httpRequest(port, '/status');
      expect(statusOf(http.body, 'report')).toMatchObject({ queue: 'reports' });
      expect(statusOf(http.body, 'main')).toBeNull();
      const metrics = parsePrometheus((await httpRequest(port, '/metrics')).body);
      expect(sampleValue(metrics, 'tsbeat_queue_unconsumed', { queue: 'reports' })).toBe(1);
      expect(sampleValue(metrics, 'tsbeat_queue_unconsumed', { queue: 'celery' })).toBeUndefined();
      const scraped = async (token: string) =>
        (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
      expect(sampleValue(parsePrometheus(await scraped(REPORTS_TOKEN)), 'tsbeat_queue_unconsumed', { queue: 'reports' })).toBe(1);
      // Another team's queue name is theirs too: not in the ops viewer's scrape.
      const opsScrape = await scraped(OPS_TOKEN);
      expect(opsScrape).toMatch(/^# TYPE tsbeat_queue_unconsumed gauge$/m);
      expect(opsScrape).not.toContain('queue="reports"');
      await waitUntil(
        'the unconsumed alert',
        () => (receiver.on('/unconsumed').length >= 1 ? true : undefined),
        10_000,
        () => fleet.dump(),
      );
      const alert = JSON.parse(receiver.on('/unconsumed')[0]?.body ?? '{}') as Record<string, unknown>;
      expect(alert).toMatchObject({
        kind: 'unconsumed',
        entry: 'report',
        reason: expect.stringContaining('no worker consumes queue reports'),
      });

      // The same question before a deploy: `beat check --consumers` names the queue and exits 1.
      const before = await runBeatCli(['check', '--config', file, '--consumers']);
      expect(before.code, before.stdout).toBe(1);
      expect(before.stderr).toContain('no worker consumes queue reports (1 entry publishes to it): start a worker with -Q reports');

      reportsWorker = await startWorker({ name: 'reports', queues: ['reports'], env });
      const cleared = await beat.waitForEvent(EVENTS.queueConsumed, 15_000);
      expect(cleared['queue']).toBe('reports');
      const after = await runBeatCli(['status', '--config', file, '--json']);
      expect(statusOf(after.stdout, 'report')).toBeNull();
      const metricsAfter = parsePrometheus((await httpRequest(port, '/metrics')).body);
      expect(sampleValue(metricsAfter, 'tsbeat_queue_unconsumed', { queue: 'reports' })).toBeUndefined();
      // One alert for the stretch, however many looks found it.
      expect(receiver.on('/unconsumed')).toHaveLength(1);
      const ready = await runBeatCli(['check', '--config', file, '--broker', broker]);
      expect(ready.code, ready.stderr).toBe(0);
      expect(ready.stdout).toMatch(/every queue has a consumer \(2 workers answered\)/);
    } finally {
      await stopAll([celeryWorker, reportsWorker]);
      await fleet.killAll();
    }
  }, 90_000);
});
