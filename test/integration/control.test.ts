/**
 * Live control through Redis: `beat pause`, `beat resume`, `beat trigger`, `beat status`, run as real
 * CLI processes against a real `beat run` leader. What the leader published is read back from the
 * queue list in Redis.
 * Redis: DB 14 of the shared server, for this file only.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { slotTaskId } from '../../src/celery/task-id.js';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import {
  closedRedisPort,
  flushDb,
  httpPortOf,
  httpRequest,
  killCliChildren,
  parsePrometheus,
  runBeatCli,
  sampleValue,
  uniqueName,
} from '../support/ops.js';

const DB = 14;
const REDIS_URL = `redis://127.0.0.1:6379/${DB}`;
const TASK = 'tsbeat_test.record';
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface EntryStatusJson {
  name: string;
  paused: boolean;
  enabled: boolean;
  lastSlot: string | null;
  lastPublishedAt: string | null;
  lastRunBy: 'schedule' | 'trigger' | null;
  nextRun: string | null;
  runCount: number;
  lastTaskId: string | null;
}

describe('live control: beat pause / resume / trigger / status (real processes, Redis DB 14)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: Redis;
  // Each test uses its own queue, so that counting messages never sees another test's.
  let queue = '';

  beforeAll(async () => {
    await flushDb(DB);
    redis = new Redis(REDIS_URL);
  });

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
  });

  afterAll(async () => {
    await fleet.killAll();
    await flushDb(DB);
    redis.disconnect();
    dir.remove();
  });

  /** A deployment with a 1 s entry, a second 1 s entry, an hourly one and a disabled one. */
  function deployment(prefix: string): { name: string; file: string } {
    const name = uniqueName(prefix);
    queue = `q-${name}`;
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: REDIS_URL },
      taskDefaultQueue: queue,
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        tick: { task: TASK, schedule: 1 },
        other: { task: TASK, schedule: 1 },
        manual: { task: TASK, schedule: 3600, args: [2, 3], kwargs: { note: 'by hand' } },
        off: { task: TASK, schedule: 1, enabled: false },
      },
    });
    return { name, file };
  }

  const runsOf = async (entry: string): Promise<QueuedRun[]> => (await readQueue(redis, queue)).filter((r) => r.entry === entry);

  async function statusJson(file: string): Promise<Map<string, EntryStatusJson>> {
    const r = await runBeatCli(['status', '--wide', '--config', file, '--json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return new Map((JSON.parse(r.stdout).entries as EntryStatusJson[]).map((e) => [e.name, e]));
  }

  async function leader(file: string, args: string[] = []): Promise<BeatProcess> {
    const p = fleet.spawn({ config: file, label: 'leader', args });
    await p.waitForEvent(EVENTS.lockAcquired, 10_000);
    return p;
  }

  it('pause stops the leader publishing the entry within a second, status shows it, and resume continues from the next slot without a catch-up burst', async () => {
    const { name, file } = deployment('ctl-pause');
    const beat = await leader(file);
    await waitUntil(
      'two runs of tick',
      async () => ((await runsOf('tick')).length >= 2 ? true : undefined),
      5_000,
      () => beat.tail(),
    );

    const pause = await runBeatCli(['pause', 'tick', '--config', file]);
    const pausedAt = Date.now();
    expect(pause).toMatchObject({ code: 0, stdout: 'paused tick\n', stderr: '' });
    // Within a second by the leader's own clock (the log line's time), however slow the pipe is.
    const honoured = await beat.waitForLog('beat.pause for tick', (l) => l.event === EVENTS.pause && l['entry'] === 'tick', 5_000);
    expect(Date.parse(honoured.time)).toBeLessThanOrEqual(pausedAt + 1_000);

    // The table and the JSON both say so; the other entries are untouched.
    const table = await runBeatCli(['status', '--wide', '--config', file]);
    expect(table.code).toBe(0);
    const row = table.stdout.split('\n').find((l) => l.startsWith('tick '));
    // Task events are read by default: the outcome columns follow STATE (no worker here: its last run is PENDING).
    expect(row).toMatch(/^tick\s+tsbeat_test\.record\s+every 1s\s+\S+\s+-\s+\d+\s+paused(\s+PENDING\s.*)?$/);
    expect(table.stdout.split('\n').find((l) => l.startsWith('other '))).toMatch(/\sactive(\s+PENDING\s.*)?$/);
    expect(table.stdout.split('\n').find((l) => l.startsWith('off '))).toMatch(/\sdisabled(\s+-.*)?$/);
    const paused = await statusJson(file);
    expect(paused.get('tick')).toMatchObject({ paused: true, nextRun: null });
    expect(paused.get('other')).toMatchObject({ paused: false, nextRun: expect.any(String) });
    expect(await runBeatCli(['pause', 'tick', '--config', file])).toMatchObject({ code: 0, stdout: 'tick was already paused\n' });

    // A window of more than three slots: nothing for tick after the pause took hold, other goes on.
    const otherBefore = (await runsOf('other')).length;
    await sleep(3_500);
    const resumedAt = Date.now();
    const tickWhilePaused = (await runsOf('tick')).filter((r) => r.slotMs > pausedAt + 1_000);
    expect(tickWhilePaused).toEqual([]);
    expect((await runsOf('other')).length - otherBefore).toBeGreaterThanOrEqual(3);
    const tickBefore = await runsOf('tick');

    const resume = await runBeatCli(['resume', 'tick', '--config', file]);
    expect(resume).toMatchObject({ code: 0, stdout: 'resumed tick\n', stderr: '' });
    const resumeLog = await beat.waitForLog('beat.resume for tick', (l) => l.event === EVENTS.resume && l['entry'] === 'tick', 5_000);
    await waitUntil(
      'three runs of tick after resume',
      async () => ((await runsOf('tick')).length >= tickBefore.length + 3 ? true : undefined),
      6_000,
      () => beat.tail(),
    );
    const tickAll = await runsOf('tick');
    const afterResume = tickAll.slice(tickBefore.length);
    // No slot that passed while paused was published (catch-up would send the latest one at once)...
    expect(afterResume.filter((r) => r.slotMs <= resumedAt)).toEqual([]);
    // ...the first run is the next slot, on the entry's original grid, and then one per second.
    const lastBefore = tickBefore[tickBefore.length - 1] as QueuedRun;
    expect((afterResume[0] as QueuedRun).slotMs).toBeLessThanOrEqual(Date.parse(resumeLog.time) + 1_000);
    for (const run of afterResume) expect((run.slotMs - lastBefore.slotMs) % 1000).toBe(0);
    for (let i = 1; i < afterResume.length; i += 1)
      expect((afterResume[i] as QueuedRun).slotMs - (afterResume[i - 1] as QueuedRun).slotMs).toBe(1000);
    for (const run of tickAll) expect(run.id).toBe(slotTaskId(name, 'tick', run.slotMs));
    expect((await statusJson(file)).get('tick')).toMatchObject({ paused: false, nextRun: expect.any(String) });
    expect(await redis.smembers(schedulerKeys('tsbeat', name).paused)).toEqual([]);
  });

  it('trigger publishes exactly one extra message, a valid kombu envelope with its own id, and does not move the schedule', async () => {
    const { name, file } = deployment('ctl-trigger');
    const keys = schedulerKeys('tsbeat', name);
    const beat = await leader(file, ['--http', '127.0.0.1:0']);
    const port = await httpPortOf(beat);
    await waitUntil(
      'a run of tick',
      async () => ((await runsOf('tick')).length >= 1 ? true : undefined),
      5_000,
      () => beat.tail(),
    );
    const before = await statusJson(file);
    expect(before.get('manual')).toMatchObject({ lastSlot: null, runCount: 0 });

    const trigger = await runBeatCli(['trigger', 'manual', '--config', file]);
    expect(trigger.code).toBe(0);
    expect(trigger.stderr).toBe('');
    const id = /^triggered manual: task id (\S+)\n$/.exec(trigger.stdout)?.[1] ?? '';
    expect(id).toMatch(UUID4);

    const manual = await runsOf('manual');
    expect(manual.map((r) => r.id)).toEqual([id]);
    const run = manual[0] as QueuedRun;
    expect(run.id).not.toBe(slotTaskId(name, 'manual', run.slotMs));
    // The raw envelope, as a worker's kombu reads it (protocol 2, JSON body, base64 in the envelope).
    const raw = (await redis.lrange(queue, 0, -1)).map((t) => JSON.parse(t)).find((e) => e.headers.id === id);
    expect(raw).toMatchObject({
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      headers: {
        lang: 'py',
        task: TASK,
        id,
        root_id: id,
        parent_id: null,
        group: null,
        beat_entry: 'manual',
        retries: 0,
        argsrepr: '[2, 3]',
        kwargsrepr: "{'note': 'by hand'}",
      },
      properties: {
        correlation_id: id,
        body_encoding: 'base64',
        delivery_info: { exchange: '', routing_key: queue },
        delivery_mode: 2,
        delivery_tag: expect.stringMatching(UUID4),
      },
    });
    expect(JSON.parse(Buffer.from(raw.body, 'base64').toString('utf8'))).toEqual([
      [2, 3],
      { note: 'by hand' },
      { callbacks: null, errbacks: null, chain: null, chord: null },
    ]);
    expect(beat.events(EVENTS.trigger)).toEqual([expect.objectContaining({ entry: 'manual', task: TASK, id, queue })]);

    // The schedule did not move: same next run, no last slot; the run is counted.
    const after = await statusJson(file);
    expect(after.get('manual')).toMatchObject({ lastSlot: null, nextRun: before.get('manual')?.nextRun, runCount: 1, lastTaskId: id });
    // The run counted in RUNS shows as the LAST RUN too, said to be a manual one.
    expect(after.get('manual')).toMatchObject({ lastRunBy: 'trigger', lastPublishedAt: expect.any(String) });
    const table = await runBeatCli(['status', '--wide', '--config', file]);
    const manualRow = table.stdout.split('\n').find((l) => l.startsWith('manual '));
    expect(manualRow).toMatch(/^manual\s+tsbeat_test\.record\s+.+?\s+\S+ \(trigger\)\s+\S+\s+1\s+active(\s+PENDING\s.*)?$/);
    expect(manualRow).toContain(`${after.get('manual')?.lastPublishedAt} (trigger)`);
    expect(await redis.llen(keys.triggers)).toBe(0);
    // A manual run is a published message: counted as one.
    const metrics = parsePrometheus((await httpRequest(port, '/metrics')).body);
    expect(sampleValue(metrics, 'tsbeat_messages_published_total', { entry: 'manual', task: TASK, queue })).toBe(1);

    // A trigger of an entry that fires every second adds one run and leaves its grid alone.
    const tickTrigger = await runBeatCli(['trigger', 'tick', '--config', file]);
    expect(tickTrigger.code).toBe(0);
    const tickId = /task id (\S+)\n$/.exec(tickTrigger.stdout)?.[1];
    const tickBefore = (await runsOf('tick')).filter((r) => r.id !== tickId);
    await waitUntil(
      'two more scheduled runs of tick',
      async () => ((await runsOf('tick')).length >= tickBefore.length + 3 ? true : undefined),
      5_000,
    );
    const tick = await runsOf('tick');
    expect(tick.filter((r) => r.id === tickId)).toHaveLength(1);
    const scheduled = tick.filter((r) => r.id !== tickId);
    for (const r of scheduled) expect(r.id).toBe(slotTaskId(name, 'tick', r.slotMs));
    for (let i = 1; i < scheduled.length; i += 1)
      expect((scheduled[i] as QueuedRun).slotMs - (scheduled[i - 1] as QueuedRun).slotMs).toBe(1000);
    expect(new Set(tick.map((r) => r.id)).size).toBe(tick.length);
    expect((await runsOf('manual')).length).toBe(1);
    // A scheduled run after a manual one is the last run again.
    expect((await statusJson(file)).get('tick')).toMatchObject({ lastRunBy: 'schedule', lastSlot: expect.any(String) });
  });

  it('trigger with no leader running fails with exit 1 and a clear message, and withdraws its request', async () => {
    const { name, file } = deployment('ctl-no-leader');
    const keys = schedulerKeys('tsbeat', name);
    const r = await runBeatCli(['trigger', 'manual', '--config', file, '--timeout', '1']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toBe(
      'beat trigger: no leader published "manual" within 1 s (no beat run instance is leading); the request was withdrawn\n',
    );
    expect(await redis.llen(keys.triggers)).toBe(0);
    // A leader that starts afterwards has nothing to publish for it.
    const beat = await leader(file);
    await waitUntil(
      'a run of tick',
      async () => ((await runsOf('tick')).length >= 1 ? true : undefined),
      5_000,
      () => beat.tail(),
    );
    await sleep(500);
    expect(await runsOf('manual')).toEqual([]);
    expect(beat.events(EVENTS.trigger)).toEqual([]);
  });

  it('a request left behind by a killed `beat trigger` is discarded by the next leader, not published long after', async () => {
    const { name, file } = deployment('ctl-stale');
    const keys = schedulerKeys('tsbeat', name);
    // What a CLI killed while it waited leaves in Redis: its request, an hour old by now.
    const stale = JSON.stringify({ entry: 'manual', id: '00000000-0000-4000-8000-000000000001', at: Date.now() - 3_600_000 });
    const fresh = JSON.stringify({ entry: 'manual', id: '00000000-0000-4000-8000-000000000002', at: Date.now() });
    await redis.rpush(keys.triggers, stale, fresh);
    const beat = await leader(file);
    await beat.waitForLog('the fresh request published', (l) => l.event === EVENTS.trigger && l.level === 'info', 5_000);
    expect(await redis.llen(keys.triggers)).toBe(0);
    expect((await runsOf('manual')).map((r) => r.id)).toEqual(['00000000-0000-4000-8000-000000000002']);
    expect(beat.events(EVENTS.trigger).map((l) => [l.level, l['id']])).toEqual([
      ['warn', '00000000-0000-4000-8000-000000000001'],
      ['info', '00000000-0000-4000-8000-000000000002'],
    ]);
  });

  it('unknown entry names exit 2 with a did-you-mean and change nothing in Redis', async () => {
    const { name, file } = deployment('ctl-unknown');
    const keys = schedulerKeys('tsbeat', name);
    const results = await Promise.all([
      runBeatCli(['pause', 'tikc', '--config', file]),
      runBeatCli(['resume', 'othr', '--config', file]),
      runBeatCli(['trigger', 'manul', '--config', file, '--timeout', '1']),
      runBeatCli(['pause', 'zzzzzzzz', '--config', file]),
      runBeatCli(['trigger', '--config', file]),
    ]);
    expect(results.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [2, '', 'beat pause: no entry named "tikc" in the config or the runtime store; did you mean "tick"?\n'],
      [2, '', 'beat resume: no entry named "othr" in the config or the runtime store; did you mean "other"?\n'],
      [2, '', 'beat trigger: no entry named "manul" in the config or the runtime store; did you mean "manual"?\n'],
      [2, '', 'beat pause: no entry named "zzzzzzzz" in the config or the runtime store; entries: tick, other, manual, off\n'],
      [2, '', "beat trigger: which entry? Usage: beat trigger ENTRY. See 'beat trigger --help'.\n"],
    ]);
    expect(await redis.exists(keys.paused, keys.triggers)).toBe(0);
  });

  it('Redis unreachable: status, pause, resume and trigger say so clearly, exit 1, no stack trace, no password', async () => {
    const { file } = deployment('ctl-no-redis');
    const port = await closedRedisPort();
    const broker = `redis://:hunter2-secret@127.0.0.1:${port}/0`;
    const runs = await Promise.all(
      [['status'], ['status', '--json'], ['pause', 'tick'], ['resume', 'tick'], ['trigger', 'tick']].map((argv) =>
        runBeatCli([...argv, '--config', file, '--broker', broker], { timeoutMs: 20_000 }),
      ),
    );
    for (const r of runs) {
      expect(r).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `cannot reach Redis at redis://:***@127.0.0.1:${port}/0: the connection was refused (is Redis running there?); check --broker or broker.url\n`,
      });
    }
  });
});
