/**
 * Overlap policies with a real Celery worker and a real Redis result backend: a task that runs
 * 2.2 s on a 1 s schedule. With `skip` a slot is published only once the previous run has
 * finished, and every slot passed over came while it was still running; with `bufferOne` the first
 * slot that came while it ran is published as soon as it finishes.
 * Oracle for "finished": the `date_done` the worker stored for each run (`celery-task-meta-<id>`);
 * for "ran": the task ids the worker executed (the task appends its id to a list). The slots and
 * publish instants come from beat's log (`beat.fire`: slot, latenessMs; `beat.overlap.skip`).
 * Redis: a private redis-server (broker and state on DB 0, results on DB 1).
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

/** How long after a run's date_done the leader may still count it running: a result poll (1 s) and a wake-up. */
const NOTICE_MS = 1_600;
const RUN_SECONDS = 2.2;

interface Fired {
  readonly id: string;
  readonly slotMs: number;
  readonly publishedMs: number;
}

function fired(lines: readonly LogLine[], entry: string): Fired[] {
  return lines
    .filter((l) => l['entry'] === entry)
    .map((l) => {
      const slotMs = Date.parse(String(l['slot']));
      return { id: String(l['id']), slotMs, publishedMs: slotMs + Number(l['latenessMs']) };
    })
    .sort((a, b) => a.slotMs - b.slotMs);
}

suite(`overlap policies with a real Celery worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  const workers: CeleryProcess[] = [];

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
    const env = { broker: redis.url(0), backend: redis.url(1) };
    workers.push(
      ...(await Promise.all([
        startWorker({ name: 'overlap-skip', queues: ['tsbeat-overlap-skip'], env }),
        startWorker({ name: 'overlap-buffer', queues: ['tsbeat-overlap-buffer'], env }),
      ])),
    );
  });

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(workers);
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  /** The worker's own date_done of a run (the oracle of "finished"). */
  async function doneMs(taskId: string): Promise<number> {
    const raw = await results.get(resultKey(taskId));
    if (raw === null) throw new Error(`no result stored for ${taskId}`);
    const done = (JSON.parse(raw) as { date_done: string }).date_done;
    return Date.parse(/[Zz]|[+-]\d\d:\d\d$/.test(done) ? done : `${done}Z`);
  }

  it('skip publishes a slot only after the previous run finished; bufferOne publishes the first slot that waited', async () => {
    const name = uniqueName('overlap');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        skipper: {
          task: 'tsbeat_test.sleepy',
          schedule: 1,
          args: [RUN_SECONDS],
          overlap: 'skip',
          options: { queue: 'tsbeat-overlap-skip' },
        },
        buffered: {
          task: 'tsbeat_test.sleepy',
          schedule: 1,
          args: [RUN_SECONDS],
          overlap: 'bufferOne',
          options: { queue: 'tsbeat-overlap-buffer' },
        },
      },
    });
    const check = await runBeatCli(['check', '--config', file]);
    expect(check.stderr).toBe('');
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    await beat.waitForEvent(EVENTS.overlapRelease, 15_000);
    await sleep(9_000);
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);

    const fires = beat.events(EVENTS.fire);
    const skips = beat.events(EVENTS.overlapSkip).filter((l) => l['entry'] === 'skipper');
    // Every run published was executed by the worker (the last ones may still be running).
    await waitUntil(
      'the worker to finish every published run',
      async () => {
        for (const f of fires) if ((await results.get(resultKey(String(f['id'])))) === null) return undefined;
        return true;
      },
      RUN_SECONDS * 1000 * 3,
    );
    const executed = new Set(await results.lrange('tsbeat-test:executed', 0, -1));
    for (const f of fires) expect(executed.has(String(f['id']))).toBe(true);

    // skip: no publish while the previous run ran; every slot passed over came while it ran.
    const skipRuns = fired(fires, 'skipper');
    expect(skipRuns.length).toBeGreaterThanOrEqual(3);
    const skippedSlots = new Set(skips.map((l) => Date.parse(String(l['slot']))));
    expect(skippedSlots.size).toBeGreaterThan(0);
    for (let i = 1; i < skipRuns.length; i += 1) {
      const previous = skipRuns[i - 1] as Fired;
      const run = skipRuns[i] as Fired;
      const previousDone = await doneMs(previous.id);
      expect(run.publishedMs).toBeGreaterThanOrEqual(previousDone);
      for (let slot = previous.slotMs + 1000; slot < run.slotMs; slot += 1000) {
        // Not published: it was passed over, and the previous run was still running then.
        expect(skippedSlots.has(slot)).toBe(true);
        expect(slot).toBeLessThan(previousDone + NOTICE_MS);
      }
      // The first slot after the previous run's end that the leader could see runs.
      expect(run.slotMs).toBeLessThanOrEqual(previousDone + NOTICE_MS + 1000);
    }

    // bufferOne: published when the previous finishes; the one published is the first slot after the previous publish.
    const bufferRuns = fired(fires, 'buffered');
    expect(bufferRuns.length).toBeGreaterThanOrEqual(3);
    const grid = (bufferRuns[0] as Fired).slotMs;
    for (let i = 1; i < bufferRuns.length; i += 1) {
      const previous = bufferRuns[i - 1] as Fired;
      const run = bufferRuns[i] as Fired;
      const previousDone = await doneMs(previous.id);
      expect(run.publishedMs).toBeGreaterThanOrEqual(previousDone);
      expect(run.publishedMs).toBeLessThan(previousDone + NOTICE_MS);
      expect(run.slotMs).toBe(grid + Math.floor((previous.publishedMs - grid) / 1000 + 1) * 1000);
    }
    // The slots that came while a buffered one waited were passed over and said so.
    const releases = beat.events(EVENTS.overlapRelease).filter((l) => l['entry'] === 'buffered');
    expect(releases.some((l) => Number(l['passed']) > 0)).toBe(true);
  });

  it('beat check refuses an overlap policy without a result backend, and with ignoreResult', async () => {
    const file = dir.write('no-backend.json', {
      broker: { url: redis.url(0) },
      beatSchedule: { lonely: { task: 't', schedule: 60, overlap: 'skip' } },
    });
    const run = await runBeatCli(['check', '--config', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('beatSchedule.lonely.overlap');
    expect(run.stderr).toContain('set resultBackend');
    const ignoring = dir.write('ignoring.json', {
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      beatSchedule: { quiet: { task: 't', schedule: 60, overlap: 'bufferOne', options: { ignoreResult: true } } },
    });
    const second = await runBeatCli(['check', '--config', ignoring]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('options.ignoreResult is true');
  });
});
