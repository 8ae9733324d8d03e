/**
 * The HTTP endpoints of `beat run --http` (/healthz, /readyz, /metrics, /status), served by real
 * `beat run` processes against real Redis, and what every process writes on stdout (JSON lines with a
 * stable `event`, never a password).
 * Redis: DB 13 of the shared server for this file only; a private password-protected redis-server
 * (a port of 6381–6389) for the tests that take Redis away.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import type { PrivateRedis } from '../support/redis-server.js';
import {
  flushDb,
  httpPortOf,
  httpRequest,
  killCliChildren,
  parsePrometheus,
  runBeatCli,
  sampleValue,
  startPrivateRedis,
  uniqueName,
} from '../support/ops.js';
import type { Exposition } from '../support/ops.js';

const DB = 13;
const REDIS_URL = `redis://127.0.0.1:6379/${DB}`;
const TASK = 'tsbeat_test.record';
const KNOWN_EVENTS = new Set<string>(Object.values(EVENTS));

/** The metric families the issue promises, with their Prometheus types. */
const DOCUMENTED_METRICS = {
  tsbeat_messages_published_total: 'counter',
  tsbeat_publish_errors_total: 'counter',
  tsbeat_fire_lateness_seconds: 'histogram',
  tsbeat_leader: 'gauge',
  tsbeat_lock_renew_failures_total: 'counter',
  tsbeat_entries: 'gauge',
  tsbeat_entry_next_fire_timestamp_seconds: 'gauge',
  // prom-client's default process metrics, under their standard names.
  process_cpu_seconds_total: 'counter',
  process_start_time_seconds: 'gauge',
  process_resident_memory_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
} as const;

function config(name: string, brokerUrl = REDIS_URL): Record<string, unknown> {
  return {
    name,
    broker: { url: brokerUrl },
    maxInterval: '200ms',
    lock: FAST_LOCK,
    beatSchedule: {
      tick: { task: TASK, schedule: 1 },
      hourly: { task: TASK, schedule: 3600 },
      off: { task: TASK, schedule: 1, enabled: false },
    },
  };
}

async function scrape(port: number): Promise<Exposition> {
  const reply = await httpRequest(port, '/metrics');
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(reply.body);
}

/** Every line a beat process wrote is a JSON log line whose `event` is one of the stable names. */
function expectOnlyEventLines(p: BeatProcess): void {
  expect(p.text, `${p.label} wrote lines that are not JSON`).toEqual([]);
  expect(p.outputLines, `${p.label} wrote JSON that is not a log line`).toEqual([]);
  expect(p.logs.length).toBeGreaterThan(0);
  const unknown = p.logs.filter((l) => typeof l.event !== 'string' || !KNOWN_EVENTS.has(l.event));
  expect(unknown, `${p.label}: log lines without a known event`).toEqual([]);
  for (const fire of p.events(EVENTS.fire)) {
    expect(fire).toMatchObject({
      entry: expect.any(String),
      task: TASK,
      queue: 'celery',
      slot: expect.any(String),
      id: expect.any(String),
    });
  }
}

describe('beat run --http: health, readiness, metrics, status (real processes, Redis DB 13)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: Redis;
  let privateRedis: PrivateRedis | undefined;

  beforeAll(async () => {
    await flushDb(DB);
    redis = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
    await privateRedis?.stop();
    privateRedis = undefined;
  });

  afterAll(async () => {
    await fleet.killAll();
    await flushDb(DB);
    redis.disconnect();
    dir.remove();
  });

  it('answers /healthz and /readyz 200 on a leader and on a standby, and the leader gauge and published count move', async () => {
    const name = uniqueName('http-pair');
    const file = dir.write(`${name}.json`, config(name));
    const leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const standby = fleet.spawn({ config: file, label: 'standby', args: ['--http', '127.0.0.1:0'] });
    const [leaderPort, standbyPort] = await Promise.all([httpPortOf(leader), httpPortOf(standby)]);
    await standby.waitForLog('campaigning', (l) => l.event === EVENTS.standby, 10_000);

    expect(await httpRequest(leaderPort, '/healthz')).toMatchObject({ status: 200, body: 'ok: leading\n' });
    expect(await httpRequest(standbyPort, '/healthz')).toMatchObject({ status: 200, body: 'ok: standing by\n' });
    expect(await httpRequest(leaderPort, '/readyz')).toMatchObject({ status: 200, body: 'ok: leading\n' });
    expect(await httpRequest(standbyPort, '/readyz')).toMatchObject({ status: 200, body: 'ok: standby, ready to take over\n' });

    // The published counter grows with every fire.
    await leader.waitForLog('a first fire of tick', (l) => l.event === EVENTS.fire && l['entry'] === 'tick', 5_000);
    const before = await scrape(leaderPort);
    const firstCount = sampleValue(before, 'tsbeat_messages_published_total', { entry: 'tick', task: TASK, queue: 'celery' }) ?? 0;
    const firesSoFar = leader.events(EVENTS.fire).length;
    await leader.waitForLog('two more fires', () => leader.events(EVENTS.fire).length >= firesSoFar + 2, 5_000);
    const after = await scrape(leaderPort);
    const secondCount = sampleValue(after, 'tsbeat_messages_published_total', { entry: 'tick', task: TASK, queue: 'celery' });
    expect(firstCount).toBeGreaterThanOrEqual(1);
    expect(secondCount).toBeGreaterThanOrEqual(firstCount + 2);

    // Every documented family, with its type, on both instances.
    const standbyMetrics = await scrape(standbyPort);
    for (const exposition of [after, standbyMetrics]) {
      for (const [family, type] of Object.entries(DOCUMENTED_METRICS)) expect(exposition.types.get(family), family).toBe(type);
    }
    expect(sampleValue(after, 'tsbeat_leader')).toBe(1);
    expect(sampleValue(standbyMetrics, 'tsbeat_leader')).toBe(0);
    expect(sampleValue(after, 'tsbeat_publish_errors_total')).toBe(0);
    expect(sampleValue(after, 'tsbeat_lock_renew_failures_total')).toBe(0);
    // Lateness: one observation per published run (only tick fires in this test).
    const observed = sampleValue(after, 'tsbeat_fire_lateness_seconds_count') ?? -1;
    expect(observed).toBeGreaterThanOrEqual(secondCount ?? Infinity);
    expect(sampleValue(after, 'tsbeat_fire_lateness_seconds_bucket', { le: '+Inf' })).toBe(observed);
    expect(sampleValue(after, 'tsbeat_entries', { state: 'enabled' })).toBe(2);
    expect(sampleValue(after, 'tsbeat_entries', { state: 'disabled' })).toBe(1);
    expect(sampleValue(after, 'tsbeat_entries', { state: 'paused' })).toBe(0);
    // Next fire per enabled entry, on the leader only: tick within the next second, hourly in about an hour.
    const nowS = Date.now() / 1000;
    const tickNext = sampleValue(after, 'tsbeat_entry_next_fire_timestamp_seconds', { entry: 'tick' }) ?? 0;
    expect(tickNext).toBeGreaterThan(nowS - 2); // a loop late under load may not have moved it yet
    expect(tickNext).toBeLessThan(nowS + 1.5);
    const hourlyNext = sampleValue(after, 'tsbeat_entry_next_fire_timestamp_seconds', { entry: 'hourly' }) ?? 0;
    expect(hourlyNext - nowS).toBeGreaterThan(3590);
    expect(hourlyNext - nowS).toBeLessThan(3601);
    expect(sampleValue(after, 'tsbeat_entry_next_fire_timestamp_seconds', { entry: 'off' })).toBeUndefined();
    expect(standbyMetrics.samples.filter((s) => s.name === 'tsbeat_entry_next_fire_timestamp_seconds')).toEqual([]);
    expect(sampleValue(after, 'process_start_time_seconds')).toBeGreaterThan(nowS - 60);

    // The leader steps down: the standby's gauge turns to 1, and it publishes.
    leader.signal('SIGTERM');
    expect(await leader.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    await standby.waitForEvent(EVENTS.lockAcquired, 5_000);
    await waitUntil(
      'the standby to report tsbeat_leader 1',
      async () => (sampleValue(await scrape(standbyPort), 'tsbeat_leader') === 1 ? true : undefined),
      5_000,
    );
    expect(await httpRequest(standbyPort, '/readyz')).toMatchObject({ status: 200, body: 'ok: leading\n' });
    standby.signal('SIGTERM');
    expect(await standby.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    expectOnlyEventLines(leader);
    expectOnlyEventLines(standby);
  });

  it('/status on leader and standby shows what `beat status --json` prints: the same leader and entries', async () => {
    const name = uniqueName('http-status');
    const file = dir.write(`${name}.json`, config(name));
    const leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    const acquired = await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const standby = fleet.spawn({ config: file, label: 'standby', args: ['--http', '127.0.0.1:0'] });
    const [leaderPort, standbyPort] = await Promise.all([httpPortOf(leader), httpPortOf(standby)]);
    await leader.waitForLog('a fire of tick', (l) => l.event === EVENTS.fire && l['entry'] === 'tick', 5_000);

    const fromLeader = await httpRequest(leaderPort, '/status');
    const fromStandby = await httpRequest(standbyPort, '/status');
    const cli = await runBeatCli(['status', '--wide', '--config', file, '--json']);
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    expect(fromLeader.status).toBe(200);
    expect(fromLeader.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const leaderStatus = JSON.parse(fromLeader.body);
    const standbyStatus = JSON.parse(fromStandby.body);
    const cliStatus = JSON.parse(cli.stdout);

    const instance = acquired['instance'];
    expect(leaderStatus.self).toEqual({ instance, role: 'leader' });
    expect(standbyStatus.self).toEqual({ instance: standby.logs[0]?.['instance'], role: 'standby' });
    expect(cliStatus.self).toEqual({ instance: 'cli', role: 'cli' });
    for (const s of [leaderStatus, standbyStatus, cliStatus]) {
      expect(s.deployment).toBe(name);
      expect(s.leader.instance).toBe(instance);
      expect(s.leader.since).toBe(leaderStatus.leader.since);
      expect(s.entries.map((e: { name: string }) => e.name)).toEqual(['tick', 'hourly', 'off']);
    }
    // tick fires every second, so its last run (and that run's outcome, task events being read by
    // default) may differ between the three reads; everything else is equal.
    const stable = (s: { entries: Record<string, unknown>[] }) =>
      s.entries.map((e) =>
        e['name'] === 'tick' ? { ...e, lastSlot: 0, lastPublishedAt: 0, lastTaskId: 0, runCount: 0, nextRun: 0, lastOutcome: 0 } : e,
      );
    expect(stable(standbyStatus)).toEqual(stable(leaderStatus));
    expect(stable(cliStatus)).toEqual(stable(leaderStatus));
    expect(cliStatus.entries[0]).toMatchObject({
      name: 'tick',
      task: TASK,
      schedule: 'every 1s',
      timezone: 'UTC',
      enabled: true,
      paused: false,
    });
    expect(cliStatus.entries[0].runCount).toBeGreaterThanOrEqual(leaderStatus.entries[0].runCount);
    expect(cliStatus.entries[0].runCount).toBeGreaterThanOrEqual(1);
    expect(cliStatus.entries[2]).toMatchObject({ name: 'off', enabled: false, nextRun: null, runCount: 0 });
  });

  it('is read-only outside /api/entries: unknown paths are 404, any method but GET/HEAD is 405, and a POST changes nothing', async () => {
    const name = uniqueName('http-readonly');
    const file = dir.write(`${name}.json`, config(name));
    const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0'] });
    const port = await httpPortOf(beat);
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const keys = schedulerKeys('tsbeat', name);

    // '/' is the dashboard's page (test/integration/dashboard.test.ts), whose writes need a login.
    for (const path of ['/nope', '/healthz/', '/healthz/extra', '/status/tick', '/pause', '/trigger', '/metrics.json']) {
      const reply = await httpRequest(port, path);
      expect(reply.status, path).toBe(404);
      expect(JSON.parse(reply.body), path).toEqual({
        error: 'not found; try /healthz, /readyz, /metrics, /status or /api/entries',
        code: 'API_NOT_FOUND',
        problems: [],
      });
    }
    expect((await httpRequest(port, '/healthz?verbose=1')).status).toBe(200);
    for (const [method, path] of [
      ['POST', '/status'],
      ['PUT', '/status'],
      ['DELETE', '/status'],
      ['PATCH', '/status'],
      ['POST', '/healthz'],
      ['POST', '/metrics'],
      ['POST', '/pause'],
    ] as const) {
      const reply = await httpRequest(port, path, { method, body: JSON.stringify({ entry: 'tick', paused: true }) });
      expect(reply.status, `${method} ${path}`).toBe(405);
      expect(reply.headers.get('allow')).toBe('GET, HEAD');
      expect(JSON.parse(reply.body)).toMatchObject({ code: 'API_METHOD_NOT_ALLOWED' });
    }
    const head = await httpRequest(port, '/healthz', { method: 'HEAD' });
    expect(head).toMatchObject({ status: 200, body: '' });
    // Nothing the requests above carried reached the schedule.
    expect(await redis.smembers(keys.paused)).toEqual([]);
    expect(await redis.llen(keys.triggers)).toBe(0);
    expect(beat.events(EVENTS.pause)).toEqual([]);
    expect(beat.events(EVENTS.trigger)).toEqual([]);
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    expectOnlyEventLines(beat);
  });

  it('/readyz turns 503 when its Redis is gone and 200 when it is back; /healthz stays 200; the password never appears', async () => {
    const password = `pw-${Math.random().toString(36).slice(2, 12)}`;
    privateRedis = await startPrivateRedis({ password });
    const server = privateRedis;
    const url = server.url(0);
    expect(url).toContain(password);
    const name = uniqueName('http-redis-gone');
    const file = dir.write(`${name}.json`, config(name, url));
    // debug: the most log lines, so the most chances to leak.
    const beat = fleet.spawn({ config: file, args: ['--http', '127.0.0.1:0', '--log-level', 'debug'] });
    const port = await httpPortOf(beat);
    await beat.waitForLog('a fire of tick', (l) => l.event === EVENTS.fire && l['entry'] === 'tick', 10_000);
    expect(await httpRequest(port, '/readyz')).toMatchObject({ status: 200, body: 'ok: leading\n' });

    const status = await runBeatCli(['status', '--wide', '--config', file]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^deployment http-redis-gone-\w+: leader /);

    await server.kill();
    const notReady = await waitUntil(
      '/readyz to answer 503',
      async () => {
        const r = await httpRequest(port, '/readyz');
        return r.status === 503 ? r : undefined;
      },
      5_000,
      () => beat.tail(),
    );
    // Whichever connection (state or broker) notices first names itself.
    expect(notReady.body).toMatch(/^not ok: (Redis|broker) (reconnecting|connecting|close|end)\n$/);
    expect(await httpRequest(port, '/healthz')).toMatchObject({ status: 200 });
    // /status reads Redis: unavailable, said so, not an internal error.
    const statusDown = await httpRequest(port, '/status');
    expect(statusDown.status).toBe(503);
    expect(JSON.parse(statusDown.body).error).toMatch(/^status unavailable: /);
    const cliDown = await runBeatCli(['status', '--wide', '--config', file], { timeoutMs: 20_000 });
    expect(cliDown).toMatchObject({ code: 1, stdout: '' });
    expect(cliDown.stderr).toBe(
      `cannot reach Redis at redis://:***@127.0.0.1:${server.port}/0: the connection was refused (is Redis running there?); check --broker or broker.url\n`,
    );

    // The outage seen (a reconnect refused) before the server is back: a server back within the
    // first retry's delay (200-300 ms) makes no outage, and a loaded machine can take that long to get here.
    await beat.waitForEvent(EVENTS.redisDown, 10_000);
    await server.start();
    await waitUntil(
      '/readyz to answer 200 again',
      async () => ((await httpRequest(port, '/readyz')).status === 200 ? true : undefined),
      15_000,
      () => beat.tail(),
    );
    // Ready once the state connection is back; the outage ends when every connection to the server is.
    await beat.waitForEvent(EVENTS.redisUp, 15_000).catch((error: unknown) => {
      // The tail starts after the restart: the connections' own lines tell which of them did not come back.
      const redisLines = beat.logs
        .filter((l) => /^beat\.(redis|broker|lock|taskevents)\./.test(String(l.event)))
        .map((l) => `${String(l['time'] ?? '')} ${String(l.event)} ${String(l['role'] ?? '')} ${String(l.msg ?? '')}`);
      throw new Error(`${(error as Error).message}\nthe connections' lines:\n${redisLines.join('\n')}`);
    });
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    // Closed everything it opened: nothing held the process open past the stop.
    expect(beat.events(EVENTS.stopLingering)).toEqual([]);

    expectOnlyEventLines(beat);
    expect(beat.events(EVENTS.redisDown).length).toBeGreaterThan(0);
    expect(beat.events(EVENTS.redisUp).length).toBeGreaterThan(0);
    expect(beat.logs.filter((l) => l.level === 'debug').length).toBeGreaterThan(0);
    for (const text of [beat.allOutput(), status.stdout, status.stderr, cliDown.stdout, cliDown.stderr, statusDown.body]) {
      expect(text).not.toContain(password);
    }
    expect(beat.allOutput()).toContain(`redis://:***@127.0.0.1:${server.port}/0`);
  });

  it('--log-level warn keeps the info lines of a healthy run off stdout while it goes on publishing', async () => {
    const name = uniqueName('http-quiet');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.json`, { ...config(name), taskDefaultQueue: queue });
    const beat = fleet.spawn({ config: file, args: ['--log-level', 'warn'] });
    await waitUntil(
      'two runs of tick',
      async () => ((await redis.llen(queue)) >= 2 ? true : undefined),
      10_000,
      () => beat.tail(),
    );
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    expect(beat.logs.filter((l) => !['warn', 'error', 'fatal'].includes(l.level))).toEqual([]);
    expect(beat.text).toEqual([]);
  });

  it('refuses a bad --http address before connecting, naming it', async () => {
    const name = uniqueName('http-bad-addr');
    const file = dir.write(`${name}.json`, config(name));
    const r = await runBeatCli(['run', '--config', file, '--http', 'localhost'], { timeoutMs: 10_000 });
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe('--http "localhost": expected HOST:PORT, such as 127.0.0.1:9808 or 0.0.0.0:9808\n');
  });
});
