/**
 * RedBeat's entries run under tsbeat unchanged: Python writes them as RedBeat's
 * RedBeatSchedulerEntry.save() / delete() do (test/support/redbeat_client.py, written from RedBeat's
 * source), `beat run` (a real process, `sources.redbeat`) publishes them, a real Celery worker
 * executes them, and edits, disables and deletes made by Python are picked up live within
 * maxInterval. After each run tsbeat writes back RedBeat's meta and schedule score (checked with the
 * Python client's copy of RedBeat's decoder), and while it leads a RedBeat beat cannot take
 * RedBeat's lock. Redis: a private redis-server of this file (see test/support/ops.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { decodeEntryState } from '../../src/redis/entry-state-codec.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { PYTHON, pythonCelery, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { runBeatCli, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const CLIENT = fileURLToPath(new URL('../support/redbeat_client.py', import.meta.url));
const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface Read {
  exists: boolean;
  meta_text: string | null;
  last_run_at: string | null;
  last_run_at_epoch: number | null;
  total_run_count: number | null;
  score: number | null;
}

interface Executed {
  id: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  queue: string;
}

suite(`RedBeat's entries under tsbeat${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let results: Redis;
  let worker: CeleryProcess | undefined;
  let url = '';

  /** One request to the Python client (RedBeat's own writes and reads). */
  const py = <T>(request: Record<string, unknown>): T =>
    JSON.parse(execFileSync(PYTHON, [CLIENT, JSON.stringify({ url, ...request })], { encoding: 'utf8' })) as T;
  const save = (name: string, fields: Record<string, unknown>) => py({ op: 'save', name, task: TASK, ...fields });

  /** What the worker executed, read from its result backend. */
  async function executed(): Promise<Executed[]> {
    const keys = await results.keys('celery-task-meta-*');
    const values = keys.length === 0 ? [] : await results.mget(...keys);
    return values.flatMap((text) => {
      if (text === null) return [];
      const meta = JSON.parse(text) as {
        task_id: string;
        result: { args: unknown[]; kwargs: Record<string, unknown>; request: { delivery_info: { routing_key: string } } };
      };
      return [
        { id: meta.task_id, args: meta.result.args, kwargs: meta.result.kwargs, queue: meta.result.request.delivery_info.routing_key },
      ];
    });
  }
  const runsOf = async (entry: string) => (await executed()).filter((r) => r.kwargs['entry'] === entry);

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    server = await startPrivateRedis();
    url = server.url(0);
    redis = new Redis(url);
    results = new Redis(server.url(1));
    worker = await startWorker({ name: 'redbeat', queues: ['rb-a', 'rb-b'], env: { broker: url, backend: server.url(1) } });
  });

  afterAll(async () => {
    await fleet.killAll();
    await stopAll([worker]);
    redis?.disconnect();
    results?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('runs, follows and reports back what Python saves with RedBeat, and holds its lock while leading', async () => {
    const hourAgoish = Math.floor(Date.now() / 1000) - 600;
    // Saved before beat starts: one that RedBeat ran 10 minutes ago (every hour), and ones of each schedule type.
    save('rb-migrated', {
      schedule: { interval: 3600 },
      kwargs: { entry: 'rb-migrated' },
      options: { queue: 'rb-a' },
      last_run_at: hourAgoish,
    });
    save('rb-every', { schedule: { interval: 1 }, args: [1], kwargs: { entry: 'rb-every' }, options: { queue: 'rb-a' } });
    save('rb-cron', { schedule: { crontab: { minute: '0', hour: '4', day_of_week: 'mon-fri' } }, kwargs: { entry: 'rb-cron' } });
    save('rb-rrule', {
      schedule: { rrule: { freq: 2, dtstart: 1767603600, byweekday: [0, 4], byhour: [9] } },
      kwargs: { entry: 'rb-rrule' },
    });
    // Saved with a dtstart in India (UTC+5:30): dateutil reads its wall times at that fixed offset, which no Etc/GMT zone has.
    save('rb-bad', { schedule: { rrule: { freq: 3, dtstart: 1767603600, dtstart_tz: 330 } }, kwargs: { entry: 'rb-bad' } });

    const file = dir.write(
      'beat.yaml',
      [
        'name: rb',
        `broker: { url: "${url}" }`,
        'maxInterval: 1s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'sources: { redbeat: { keyPrefix: "redbeat:" } }',
        '',
      ].join('\n'),
    );
    const leader = fleet.spawn({ config: file });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    await leader.waitForEvent(EVENTS.redbeatLockHeld, 5000);

    // A RedBeat beat started by mistake cannot take RedBeat's lock (redis-py Lock, as RedBeat takes it).
    expect(py<{ acquired: boolean }>({ op: 'lock', key: 'redbeat::lock', timeout: 1500 }).acquired).toBe(false);

    // The invalid one is reported with its path, not dropped; the others are not.
    const invalid = await leader.waitForEvent(EVENTS.entriesInvalid, 5000);
    expect(invalid['entry']).toBe('rb-bad');
    expect(JSON.stringify(invalid['problems'])).toContain('schedule.rrule.dtstart_tz');
    expect(leader.events(EVENTS.entriesInvalid).map((l) => l['entry'])).toEqual(['rb-bad']);

    // The worker executes rb-every's runs, with its args, on its queue.
    await waitUntil(
      '2 runs of rb-every',
      async () => ((await runsOf('rb-every')).length >= 2 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    for (const run of await runsOf('rb-every')) expect(run).toMatchObject({ args: [1], queue: 'rb-a' });

    // Migration: RedBeat ran rb-migrated 10 minutes ago: tsbeat starts from there (no run now, next in 50 minutes).
    const state = decodeEntryState((await redis.hget(schedulerKeys('tsbeat', 'rb').state, 'rb-migrated')) ?? '');
    expect(state).toMatchObject({ slotMs: hourAgoish * 1000, runCount: 0 });

    // meta and score written back as RedBeat writes them, read with RedBeat's decoder.
    const before = Date.now() / 1000;
    await waitUntil(
      "rb-every's meta",
      async () => {
        const read = py<Read>({ op: 'read', name: 'rb-every' });
        return (read.total_run_count ?? 0) >= 2 && (read.last_run_at_epoch ?? 0) > before - 2 ? read : undefined;
      },
      5000,
    );
    const read = py<Read>({ op: 'read', name: 'rb-every' });
    expect(read.meta_text).toMatch(
      /^\{"last_run_at": \{"__type__": "datetime", "year": \d+, .*"timezone": "UTC"\}, "total_run_count": \d+\}$/,
    );
    expect(read.last_run_at).toMatch(/\+00:00$/);
    // The next due time, in whole seconds, one interval after the last run.
    expect(read.score).toBeGreaterThanOrEqual(Math.floor(read.last_run_at_epoch ?? 0));
    expect(read.score).toBeLessThanOrEqual(Math.floor(read.last_run_at_epoch ?? 0) + 2);
    const cron = py<Read>({ op: 'read', name: 'rb-cron' });
    expect(cron.total_run_count).toBeNull();
    expect((await runsOf('rb-migrated')).length).toBe(0);

    // Edit from Python (args and queue): picked up within maxInterval (1 s; asserted loosely).
    const editedAt = Date.now();
    save('rb-every', { schedule: { interval: 1 }, args: [2], kwargs: { entry: 'rb-every' }, options: { queue: 'rb-b' } });
    const edited = await waitUntil(
      'a run with the new args',
      async () => (await runsOf('rb-every')).find((r) => (r.args as number[])[0] === 2),
      10_000,
      () => fleet.dump(),
    );
    expect(edited.queue).toBe('rb-b');
    expect(Date.now() - editedAt).toBeLessThan(8000);

    // Disable from Python: no more runs.
    save('rb-every', { schedule: { interval: 1 }, args: [2], kwargs: { entry: 'rb-every' }, options: { queue: 'rb-b' }, enabled: false });
    await new Promise((r) => setTimeout(r, 2500));
    const afterDisable = (await runsOf('rb-every')).length;
    await new Promise((r) => setTimeout(r, 2500));
    expect((await runsOf('rb-every')).length).toBe(afterDisable);

    // Delete from Python: no more runs, and the write-back does not bring the entry back.
    save('rb-del', { schedule: { interval: 1 }, kwargs: { entry: 'rb-del' }, options: { queue: 'rb-a' } });
    await waitUntil(
      'a run of rb-del',
      async () => ((await runsOf('rb-del')).length >= 1 ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    py({ op: 'delete', name: 'rb-del' });
    await new Promise((r) => setTimeout(r, 2500));
    const afterDelete = (await runsOf('rb-del')).length;
    await new Promise((r) => setTimeout(r, 2500));
    expect((await runsOf('rb-del')).length).toBe(afterDelete);
    expect(py<Read>({ op: 'read', name: 'rb-del' })).toMatchObject({ exists: false, score: null });
    expect(await redis.exists('redbeat:rb-del')).toBe(0);

    // No run went out twice.
    const ids = (await executed()).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);

    // Stopped, tsbeat gives RedBeat's lock back: a RedBeat beat may take it.
    leader.signal('SIGTERM');
    await leader.waitForEvent(EVENTS.stop, 10_000);
    await waitUntil(
      'the lock free',
      async () => (py<{ acquired: boolean }>({ op: 'lock', key: 'redbeat::lock' }).acquired ? true : undefined),
      10_000,
    );
  }, 120_000);

  it('`beat import redbeat` snapshots the entries into a file `beat check` accepts, with the fires RedBeat computed', async () => {
    const at = (name: string) => ({ prefix: 'other:', name });
    py({ op: 'save', ...at('cron-a'), task: TASK, schedule: { crontab: { minute: '*/15', hour: '9-17', day_of_week: 'mon-fri' } } });
    py({
      op: 'save',
      ...at('rrule-a'),
      task: TASK,
      // A dtstart at UTC+1 (Monday 2026-01-05 09:30 there): the rule's wall times are at that fixed offset.
      schedule: { rrule: { freq: 2, dtstart: 1767601800, dtstart_tz: 60, byweekday: [0, 4], byhour: [9], byminute: [30] } },
    });
    py({
      op: 'save',
      ...at('int-a'),
      task: TASK,
      schedule: { interval: 90 },
      args: [1, 'x'],
      options: { queue: 'q', priority: 3 },
      enabled: false,
    });
    py({ op: 'save', ...at('bad-a'), task: TASK, schedule: { rrule: { freq: 0, dtstart: 1767601800, byeaster: 0 } } });
    const out = dir.write('imported.yaml', '');
    const imported = await runBeatCli(['import', 'redbeat', '--url', url, '--key-prefix', 'other:', '--out', out]);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stderr).toContain('other:bad-a: not imported: schedule.rrule.byeaster');
    expect(imported.stderr).toContain('3 entries written');
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('enabled: false');
    expect(text).toContain('Etc/GMT-1');
    const check = await runBeatCli(['check', '--config', out]);
    expect(check.code, check.stderr + check.stdout).toBe(0);

    // The first fire tsbeat computes from the file is the one RedBeat stored as the score (whole
    // seconds; RedBeat's due_at adds the few ms between its last_run_at and its now).
    for (const name of ['cron-a', 'rrule-a']) {
      const read = py<Read>({ op: 'read', ...at(name) });
      const after = new Date((read.last_run_at_epoch ?? 0) * 1000).toISOString();
      const next = await runBeatCli(['next', '--config', out, '--entry', name, '--count', '1', '--after', after, '--json']);
      expect(next.code, next.stderr).toBe(0);
      const fire = Date.parse((JSON.parse(next.stdout) as { entries: { next: string[] }[] }).entries[0]?.next[0] ?? '') / 1000;
      expect(Math.abs(fire - (read.score ?? 0)), name).toBeLessThanOrEqual(1);
    }
  }, 60_000);

  it("says so when a RedBeat beat holds RedBeat's lock as tsbeat starts leading, and takes it once it expires", async () => {
    // A RedBeat beat's lock (redis-py Lock, as RedBeat takes it), expiring in 3 s: as if that beat was killed.
    expect(py<{ acquired: boolean }>({ op: 'lock', key: 'held::lock', timeout: 3, keep: true }).acquired).toBe(true);
    const file = dir.write(
      'held.yaml',
      [
        'name: rb-held',
        `broker: { url: "${url}" }`,
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'sources: { redbeat: { keyPrefix: "held:" } }',
        '',
      ].join('\n'),
    );
    // The RedBeat beat lives (its lock renewed, as its tick renews it) until tsbeat has said so: on a
    // loaded machine tsbeat may take longer than the lock's 3 s to start leading.
    const renewal = setInterval(() => void redis.pexpire('held::lock', 3000).catch(() => undefined), 500);
    const leader = fleet.spawn({ config: file });
    let taken: LogLine;
    try {
      taken = await leader.waitForEvent(EVENTS.redbeatLockTaken, 30_000);
    } finally {
      clearInterval(renewal);
    }
    expect(taken['level']).toBe('warn');
    await leader.waitForEvent(EVENTS.redbeatLockHeld, 15_000);
    expect(py<{ acquired: boolean }>({ op: 'lock', key: 'held::lock' }).acquired).toBe(false);
    leader.signal('SIGTERM');
    await leader.waitForEvent(EVENTS.stop, 10_000);
  }, 60_000);
});
