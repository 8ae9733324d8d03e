/**
 * Sentry Crons, end to end: a real `beat run` process on a private Redis, with $SENTRY_DSN pointing
 * at a receiver on loopback standing in for Sentry's envelope endpoint, publishes a run of an entry
 * with `monitor.sentry`; the receiver gets its in_progress check-in (slug, id, monitor config); a real
 * Celery worker runs it, and its task reads the check-in headers the way sentry-python's Celery
 * integration does (`_get_headers`: `task.request.headers`, flattened) for the run's ok/error check-in.
 * Debian's sentry-sdk (1.9) predates Crons, so the worker's own check-ins are not part of this test.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

interface Posted {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Sentry's envelope endpoint, as far as a sender can tell: it takes POSTs and answers 200. */
class SentryReceiver {
  readonly posted: Posted[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.posted.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server?.address() as AddressInfo).port;
  }

  /** Every check-in item of every envelope, checking each item's declared length against its payload. */
  checkIns(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const post of this.posted) {
      let at = post.body.indexOf(0x0a) + 1;
      while (at < post.body.length) {
        const end = post.body.indexOf(0x0a, at);
        const header = JSON.parse(post.body.subarray(at, end).toString('utf8')) as { type: string; length: number };
        const payload = post.body.subarray(end + 1, end + 1 + header.length);
        expect(header.type).toBe('check_in');
        out.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>);
        at = end + 1 + header.length + 1;
      }
    }
    return out;
  }

  /** Forgets what was posted so far. */
  clear(): void {
    this.posted.length = 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite('Sentry Crons (a real beat process, a receiver on loopback, a real Celery worker)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  const receiver = new SentryReceiver();
  let server: PrivateRedis;
  let results: Redis;
  let worker: CeleryProcess | undefined;

  beforeAll(async () => {
    server = await startPrivateRedis();
    results = new Redis(server.url(1));
    await receiver.start();
  });

  // A retry (vitest.config.ts: retry 1) starts clean: the first attempt's beat (still leading, its
  // entries recorded as run) and worker are gone; the test then flushes Redis, clears the receiver
  // and names a fresh deployment.
  afterEach(async () => {
    await fleet.killAll();
    await stopAll([worker]);
    worker = undefined;
  });

  afterAll(async () => {
    await fleet.killAll();
    await stopAll([worker]);
    await receiver.stop();
    results?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('sends the in_progress check-in of a monitored run, and the worker finds the check-in headers where sentry-python reads them', async () => {
    await results.flushall();
    receiver.clear();
    const queue = 'sentried';
    // An interval entry that has not run yet runs first at startAt: a few seconds from now.
    const startAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 4000).toISOString();
    const name = uniqueName('sentry-crons');
    const file = dir.write(`${name}.yaml`, {
      name,
      broker: { url: server.url(0) },
      taskDefaultQueue: queue,
      timezone: 'Europe/Berlin',
      maxInterval: '200ms',
      lock: FAST_LOCK,
      sentry: { environment: 'staging' },
      beatSchedule: {
        'Nightly Report': {
          task: 'tsbeat_test.sentry_headers',
          schedule: 60,
          startAt,
          monitor: { sentry: { checkinMargin: '5m', maxRuntime: '10m' } },
        },
        unmonitored: { task: 'tsbeat_test.sentry_headers', schedule: 60, startAt },
      },
    });
    worker = await startWorker({ name: 'sentry', queues: [queue], env: { broker: server.url(0), backend: server.url(1) } });
    const beat = fleet.spawn({ config: file, env: { SENTRY_DSN: `http://public:secret@127.0.0.1:${receiver.port}/sentry/42` } });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await waitUntil(
      'the check-in',
      () => (receiver.checkIns().length >= 1 ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    const runs = await waitUntil(
      'both runs run by the worker',
      async () => {
        const keys = await results.keys('celery-task-meta-*');
        if (keys.length < 2) return undefined;
        const metas = (await results.mget(keys)).map((text) => JSON.parse(text ?? '{}') as { status: string; result: RunSeen });
        return metas.every((m) => m.status === 'SUCCESS') ? metas.map((m) => m.result) : undefined;
      },
      20_000,
      () => `${fleet.dump()}\n${worker?.output() ?? ''}`,
    );

    // The envelope: sentry-python's endpoint and auth header for this DSN.
    const post = receiver.posted[0];
    expect(post?.path).toBe('/sentry/api/42/envelope/');
    expect(post?.headers['content-type']).toBe('application/x-sentry-envelope');
    expect(post?.headers['x-sentry-auth']).toMatch(
      /^Sentry sentry_key=public, sentry_version=7, sentry_client=tsbeat\/[\d.]+, sentry_secret=secret$/,
    );

    const checkIns = receiver.checkIns();
    expect(checkIns).toHaveLength(1);
    const monitored = runs.find((r) => Object.keys(r.headers).length > 0);
    const plain = runs.find((r) => Object.keys(r.headers).length === 0);
    expect(plain).toBeDefined();
    expect(monitored).toBeDefined();
    const monitorConfig = {
      schedule: { type: 'interval', value: 1, unit: 'minute' },
      timezone: 'Europe/Berlin',
      checkin_margin: 5,
      max_runtime: 10,
    };
    // One id for the run: the task id's hex, in the check-in and in the headers the worker reads.
    const checkInId = monitored?.id.replace(/-/g, '');
    expect(checkIns[0]).toEqual({
      type: 'check_in',
      check_in_id: checkInId,
      monitor_slug: 'Nightly Report',
      status: 'in_progress',
      environment: 'staging',
      monitor_config: monitorConfig,
    });
    expect(monitored?.headers).toEqual({
      'sentry-monitor-slug': 'Nightly Report',
      'sentry-monitor-config': monitorConfig,
      'sentry-monitor-check-in-id': checkInId,
      'sentry-monitor-start-timestamp-s': expect.stringMatching(/^\d{10}\.\d{9}$/) as unknown,
    });
    // crons_task_success's duration: from the publish to the task, so a few seconds at most.
    expect(monitored?.duration).toBeGreaterThanOrEqual(0);
    expect(monitored?.duration).toBeLessThan(10);
  }, 90_000);
});

interface RunSeen {
  readonly id: string;
  readonly headers: Record<string, unknown>;
  readonly duration: number | null;
}
