/**
 * One poisoned entry among twenty healthy ones, with a real `beat run` and a real Celery worker.
 * On Redis the poisoned entry's queue names an application's hash in the broker's DB: its runs are
 * refused (and only its runs); the healthy entries lose no slot, leadership stays where it is, the
 * reason shows in the log (once), /status, `beat status`, the entries API, the dashboard's rows and
 * /metrics; removing the stray key mends it, and it resumes by itself. On RabbitMQ (the shared node,
 * under names of this run) its route names an exchange that does not exist, so the broker closes
 * the channel on it, and a manual run of it (`beat trigger`) is refused with that reason instead of
 * staying pending; declaring the exchange (bound to a queue) mends it.
 * Redis: a private redis-server of this file, on a free port.
 */
import { spawnSync } from 'node:child_process';
import { connect } from 'amqplib';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, logTimeMs, waitUntil } from '../support/beat-process.js';
import type { BeatProcess, LogLine } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { PYTHON, pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { httpPortOf, httpRequest, killCliChildren, parsePrometheus, runBeatCli, sampleValue } from '../support/ops.js';
import { PrivateRedis, freePort, portOpen } from '../support/redis-server.js';

const celery = pythonCelery();
// In CI the suite must run: a missing Celery fails it (in beforeAll) instead of skipping it.
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const TASK = 'tsbeat_test.record';
const HEALTHY = Array.from({ length: 20 }, (_, i) => `healthy-${String(i + 1).padStart(2, '0')}`);
const STRAY = 'app-settings';
const RABBIT = 'amqp://guest:guest@127.0.0.1:5672//';
const rabbitProblems = [
  ...((await portOpen(5672)) ? [] : ['nothing listens on 127.0.0.1:5672; start RabbitMQ']),
  ...(spawnSync(PYTHON, ['-c', 'import amqp'], { timeout: 30_000 }).status === 0
    ? []
    : [`${PYTHON} cannot import amqp; install python3-amqp`]),
];
const TITLE = `containment: one poisoned entry, twenty healthy ones, a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`;

interface StatusJson {
  entries: { name: string; failing: { reason: string; since: string; attempts: number } | null }[];
}

/** The lines of the healthy entries' config. */
const healthy = (): string[] => HEALTHY.map((name, i) => `  ${name}: { task: ${TASK}, schedule: 1, args: [${i}] }`);

suite(TITLE, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let results: Redis;
  let worker: CeleryProcess | undefined;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = new PrivateRedis(await freePort());
    await server.start();
    redis = new Redis(server.url(0));
    results = new Redis(server.url(1));
    worker = await startWorker({ name: 'containment', queues: ['celery'], env: { broker: server.url(0), backend: server.url(1) } });
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll([worker]);
    redis?.disconnect();
    results?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('on Redis: a queue key holding a hash costs its entry only, is shown everywhere with its reason, and resumes when the key is removed', async () => {
    const file = dir.write(
      'contain.yaml',
      [
        'name: contain',
        `broker: { url: "${server.url(0)}" }`,
        'maxInterval: 1s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        ...healthy(),
        '',
      ].join('\n'),
    );
    // The application keeps a hash where the poisoned entry's queue list would be.
    await redis.hset(STRAY, 'theme', 'dark');
    const leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const port = await httpPortOf(leader);
    const set = await runBeatCli([
      'entries',
      'set',
      'poisoned',
      '--task',
      TASK,
      '--schedule',
      '1',
      '--options',
      `{"queue": "${STRAY}"}`,
      '--config',
      file,
    ]);
    expect(set.code, set.stderr).toBe(0);
    // A queue name that can only collide (here: tsbeat's own state hash) is refused at write time, with its path.
    const clash = await runBeatCli([
      'entries',
      'set',
      'clash',
      '--task',
      TASK,
      '--schedule',
      '1',
      '--options',
      '{"queue": "tsbeat:{contain}:state"}',
      '--config',
      file,
    ]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('entries.clash.options.queue');
    expect(clash.stderr).toContain('under tsbeat\'s own prefix "tsbeat:"');

    const failing = await leader.waitForEvent(EVENTS.entryFailing, 10_000);
    expect(failing['entry']).toBe('poisoned');
    expect(String(failing['reason'])).toContain(`"${STRAY}" holds a hash, not a list`);

    // Everywhere it is shown, with its reason.
    const status = await waitUntil(
      '/status shows poisoned failing',
      async () => {
        const s = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
        return s.entries.find((e) => e.name === 'poisoned')?.failing ? s : undefined;
      },
      5_000,
    );
    expect(status.entries.find((e) => e.name === 'poisoned')?.failing?.reason).toContain(`"${STRAY}" holds a hash`);
    expect(status.entries.filter((e) => e.failing !== null).map((e) => e.name)).toEqual(['poisoned']);
    const text = await runBeatCli(['status', '--wide', '--config', file]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^poisoned .* FAILING/m);
    expect(text.stdout).toContain(`1 entry is FAILING (the others publish on):\n  poisoned: its queue key "${STRAY}" holds a hash`);
    const api = JSON.parse((await httpRequest(port, '/api/entries/poisoned')).body) as { problems?: { path: string; message: string }[] };
    expect(api.problems).toEqual([{ path: 'publish', message: expect.stringContaining(`"${STRAY}" holds a hash`) as unknown }]);
    const rows = JSON.parse((await httpRequest(port, '/ui/api/entries?q=poisoned')).body) as {
      rows: { name: string; problems: { path: string; message: string }[] }[];
    };
    expect(rows.rows.find((r) => r.name === 'poisoned')?.problems[0]?.message).toContain(`"${STRAY}" holds a hash`);
    const metrics = parsePrometheus((await httpRequest(port, '/metrics')).body);
    expect(sampleValue(metrics, 'tsbeat_entry_failing', { entry: 'poisoned' })).toBe(1);
    expect(sampleValue(metrics, 'tsbeat_runs_refused_total')).toBeGreaterThanOrEqual(1);

    // Mended: the stray key goes; the entry resumes by itself at its next retry (backoff at most a few seconds here).
    const mark = leader.logs.length;
    await redis.del(STRAY);
    const recovered = await leader.waitForLog(
      'poisoned recovers',
      (l) => l.event === EVENTS.entryRecovered && l['entry'] === 'poisoned',
      20_000,
      mark,
    );
    await waitUntil('a run of poisoned in its list', async () => ((await readQueue(redis, STRAY)).length > 0 ? true : undefined), 5_000);
    await waitUntil(
      '/status no longer shows it failing',
      async () => {
        const s = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
        return s.entries.every((e) => e.failing === null) ? true : undefined;
      },
      5_000,
    );
    const after = parsePrometheus((await httpRequest(port, '/metrics')).body);
    expect(sampleValue(after, 'tsbeat_entry_failing', { entry: 'poisoned' })).toBeUndefined();

    await expectNoSlotLost(leader, logTimeMs(failing), logTimeMs(recovered), results, worker);
  }, 90_000);

  it('on RabbitMQ: an exchange that does not exist costs its entry only (the channel is reopened for the others), and declaring it mends it', async () => {
    if (rabbitProblems.length > 0) throw new Error(rabbitProblems.join('; '));
    const P = `tsbeat-contain-${process.pid}-`;
    const queue = `${P}q`;
    const missing = `${P}missing`;
    const mended = `${P}mended`;
    const admin = await connect(RABBIT);
    admin.on('error', () => undefined);
    const backend = new Redis(server.url(3));
    const rabbitWorker = await startWorker({ name: `${P}worker`, queues: [queue], env: { broker: RABBIT, backend: server.url(3) } });
    try {
      const file = dir.write(
        'contain-amqp.yaml',
        [
          'name: contain-amqp',
          `broker: { url: "${RABBIT}" }`,
          `state: { url: "${server.url(2)}" }`,
          `taskDefaultQueue: ${queue}`,
          'maxInterval: 1s',
          `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
          'beatSchedule:',
          ...healthy(),
          `  poisoned: { task: ${TASK}, schedule: 1, options: { exchange: ${missing}, routingKey: k } }`,
          '',
        ].join('\n'),
      );
      const leader = fleet.spawn({ config: file, label: 'amqp-leader', args: ['--http', '127.0.0.1:0'] });
      const port = await httpPortOf(leader);
      const failing = await leader.waitForEvent(EVENTS.entryFailing, 15_000);
      expect(failing['entry']).toBe('poisoned');
      expect(String(failing['reason'])).toMatch(/^the broker closed the channel on this message: .*NOT_FOUND - no exchange/);
      const status = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
      expect(status.entries.filter((e) => e.failing !== null).map((e) => e.name)).toEqual(['poisoned']);

      // A manual run of it is refused as on Redis: beat trigger says why and fails, at once; the
      // request does not stay pending (nothing left to retry for ever), and the leader stays.
      const triggered = await runBeatCli(['trigger', 'poisoned', '--config', file, '--timeout', '20']);
      expect(triggered.code, triggered.stderr).toBe(1);
      expect(triggered.stderr).toMatch(
        /the leader refused the manual run of "poisoned": the broker closed the channel on this message: .*NOT_FOUND - no exchange .*; mend the entry's route/,
      );
      expect(triggered.ms).toBeLessThan(15_000);
      const state = new Redis(server.url(2));
      expect(await state.llen(schedulerKeys('tsbeat', 'contain-amqp').triggers)).toBe(0);
      state.disconnect();

      // Mended: the exchange exists now, bound to a queue.
      const mark = leader.logs.length;
      const ch = await admin.createChannel();
      await ch.assertExchange(missing, 'direct', { durable: false, autoDelete: false });
      await ch.assertQueue(mended, { durable: false });
      await ch.bindQueue(mended, missing, 'k');
      const recovered = await leader.waitForLog(
        'poisoned recovers',
        (l) => l.event === EVENTS.entryRecovered && l['entry'] === 'poisoned',
        40_000,
        mark,
      );
      await waitUntil(
        'a run of poisoned in the mended queue',
        async () => ((await ch.checkQueue(mended)).messageCount > 0 ? true : undefined),
        5_000,
      );
      await expectNoSlotLost(leader, logTimeMs(failing), logTimeMs(recovered), backend, rabbitWorker);
    } finally {
      await fleet.killAll();
      await stopAll([rabbitWorker]);
      backend.disconnect();
      const ch = await admin.createChannel();
      ch.on('error', () => undefined);
      for (const q of [queue, mended]) await ch.deleteQueue(q).catch(() => undefined);
      await ch.deleteExchange(missing).catch(() => undefined);
      await admin.close().catch(() => undefined);
    }
  }, 120_000);
});

/**
 * While `poisoned` failed (from `since` to `until`): its reason was logged once, the leader kept the
 * lock, and every healthy entry published every second with no slot missing, each run executed by
 * the worker (its result in `results`).
 */
async function expectNoSlotLost(
  leader: BeatProcess,
  since: number,
  until: number,
  results: Redis,
  worker: CeleryProcess | undefined,
): Promise<void> {
  expect(leader.events(EVENTS.entryFailing).length).toBe(1);
  expect(leader.events(EVENTS.lockReleased).length + leader.events(EVENTS.lockLost).length).toBe(0);
  const fires = leader.events(EVENTS.fire);
  const ids: string[] = [];
  for (const name of HEALTHY) {
    const slots = fires
      .filter((l) => l['entry'] === name)
      .map((l: LogLine) => ({ slot: Date.parse(String(l['slot'])), id: String(l['id']) }))
      .filter((f) => f.slot >= since - 1000 && f.slot <= until);
    expect(slots.length, name).toBeGreaterThanOrEqual(Math.floor((until - since) / 1000) - 1);
    slots.slice(1).forEach((f, i) => expect(f.slot - (slots[i]?.slot ?? 0), `${name}: a slot lost`).toBe(1000));
    ids.push(...slots.map((f) => f.id));
  }
  await waitUntil(
    `the worker ran all ${ids.length} healthy runs of the window`,
    async () => ((await results.exists(...ids.map((id) => resultKey(id)))) === ids.length ? true : undefined),
    30_000,
    () => worker?.output().slice(-3000) ?? '',
  );
}
