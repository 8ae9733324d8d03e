/**
 * An entry's limits under a real `beat run`: an entry due every second with maxRuns 3 publishes
 * exactly three runs and `beat status` says it finished; a manual run (`beat trigger`) is not counted
 * against maxRuns by the leader that publishes it; an entry whose startAt is a few seconds ahead
 * publishes nothing before it, and its interval grid starts there. What was published is read back
 * from the queue list. Redis: a private redis-server of this file (a port of 6381–6389).
 */
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { slotTaskId } from '../../src/celery/task-id.js';
import { FAST_LOCK, sleep, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { beatSuite } from '../support/beat-suite.js';
import { runBeatCli, uniqueName } from '../support/ops.js';

const TASK = 'tsbeat_test.record';
const QUEUE = 'limits';

interface StatusEntry {
  name: string;
  runCount: number;
  manualRuns: number;
  maxRuns: number | null;
  finished: boolean;
  nextRun: string | null;
  startAt: string | null;
}

describe('entry limits under beat run (real process, a private redis-server)', () => {
  const suite = beatSuite();
  const { fleet, dir } = suite;

  it('publishes exactly maxRuns scheduled runs, not counting a trigger, says it finished, and nothing before startAt', async () => {
    const server = suite.redis;
    const redis = suite.client;
    const name = uniqueName('limits');
    // A whole second a few seconds ahead, with its offset: the interval's first slot is this instant.
    const startAtMs = Math.ceil((Date.now() + 7000) / 1000) * 1000;
    const startAt = new Date(startAtMs).toISOString();
    const file = dir.write(
      'limits.yaml',
      [
        `name: ${name}`,
        'broker:',
        `  url: ${server.url(0)}`,
        `taskDefaultQueue: ${QUEUE}`,
        'maxInterval: 200ms',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  thrice: { task: ${TASK}, schedule: 1, max_runs: 3 }`,
        `  twice: { task: ${TASK}, schedule: 2, maxRuns: 2 }`,
        `  later: { task: ${TASK}, schedule: 1, startAt: "${startAt}" }`,
        '',
      ].join('\n'),
    );
    const beat = fleet.spawn({ config: file, label: 'leader' });
    await beat.waitForEvent(EVENTS.lockAcquired, 10_000);
    const runsOf = async (entry: string): Promise<QueuedRun[]> => (await readQueue(redis, QUEUE)).filter((r) => r.entry === entry);
    const scheduled = (runs: readonly QueuedRun[], entry: string): QueuedRun[] =>
      runs.filter((r) => r.id === slotTaskId(name, entry, r.slotMs));

    // twice runs at +2 s and +4 s; a manual run in between is not one of its two.
    const trigger = await runBeatCli(['trigger', 'twice', '--config', file]);
    expect(trigger).toMatchObject({ code: 0, stderr: '' });
    const triggerId = /task id (\S+)\n$/.exec(trigger.stdout)?.[1];

    await beat.waitForLog('thrice finished', (l) => l.event === EVENTS.entryFinished && l['entry'] === 'thrice', 10_000);
    // Before startAt: nothing of `later`.
    expect(Date.now()).toBeLessThan(startAtMs);
    expect(await runsOf('later')).toEqual([]);

    await beat.waitForLog('twice finished', (l) => l.event === EVENTS.entryFinished && l['entry'] === 'twice', 10_000);
    await waitUntil(
      'two runs of later',
      async () => ((await runsOf('later')).length >= 2 ? true : undefined),
      15_000,
      () => beat.tail(),
    );
    // A while longer: the finished entries stay finished.
    await sleep(2500);

    const thrice = await runsOf('thrice');
    expect(thrice).toHaveLength(3);
    expect(scheduled(thrice, 'thrice')).toHaveLength(3);
    expect(thrice.map((r) => r.slotMs - (thrice[0] as QueuedRun).slotMs)).toEqual([0, 1000, 2000]);

    const twice = await runsOf('twice');
    expect(twice.filter((r) => r.id === triggerId)).toHaveLength(1);
    const twiceScheduled = scheduled(twice, 'twice');
    expect(twiceScheduled).toHaveLength(2);
    expect(twice).toHaveLength(3);

    const later = await runsOf('later');
    expect((later[0] as QueuedRun).slotMs).toBe(startAtMs);
    for (const r of later) expect(r.slotMs).toBeGreaterThanOrEqual(startAtMs);
    const finishedLogs = beat.events(EVENTS.entryFinished).map((l) => [l['entry'], l['runs']]);
    expect(finishedLogs).toEqual([
      ['thrice', 3],
      ['twice', 2],
    ]);

    const status = await runBeatCli(['status', '--wide', '--config', file, '--json']);
    expect(status).toMatchObject({ code: 0, stderr: '' });
    const entries = new Map((JSON.parse(status.stdout) as { entries: StatusEntry[] }).entries.map((e) => [e.name, e]));
    expect(entries.get('thrice')).toMatchObject({ runCount: 3, manualRuns: 0, maxRuns: 3, finished: true, nextRun: null });
    // The trigger is stored as a manual run (t), so status counts as the leader did.
    expect(entries.get('twice')).toMatchObject({ runCount: 3, manualRuns: 1, maxRuns: 2, finished: true, nextRun: null });
    expect(entries.get('later')).toMatchObject({ maxRuns: null, finished: false, startAt: expect.stringMatching(/^\d{4}-/) });
    const table = await runBeatCli(['status', '--wide', '--config', file]);
    // Then the four outcome columns (task events are read by default), each one word or `-`.
    expect(table.stdout.split('\n').find((l) => l.startsWith('thrice '))).toMatch(/\s3\s+finished: ran 3 of 3 times(?:\s{2,}\S+){4}$/);
    expect(table.stdout.split('\n').find((l) => l.startsWith('twice '))).toMatch(
      /\s3\s+finished: ran 2 of 2 times, and 1 manual run(?:\s{2,}\S+){4}$/,
    );

    // A new leader loads the stored counts: nothing more of the finished entries, the trigger still not counted.
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
    const next = fleet.spawn({ config: file, label: 'next-leader' });
    await next.waitForEvent(EVENTS.lockAcquired, 10_000);
    await sleep(2500);
    expect(await runsOf('thrice')).toHaveLength(3);
    expect(await runsOf('twice')).toHaveLength(3);
  });
});
