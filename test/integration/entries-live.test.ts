/**
 * `beat entries`, `beat trigger`/`pause`/`resume` and `/status` on runtime entries while a real
 * `beat run` leads: the CLI as real processes, what the leader published read back from the queue
 * lists in Redis. Redis: a private redis-server of this file (see test/support/ops.ts).
 */
import { describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { FAST_LOCK, sleep, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { beatSuite } from '../support/beat-suite.js';
import { httpPortOf, httpRequest, runBeatCli } from '../support/ops.js';

const TASK = 'tsbeat_test.record';

interface StatusJson {
  entries: { name: string; origin: string; paused: boolean; runCount: number; lastTaskId: string | null }[];
  entryProblems: { name: string; origin: string; problems: { path: string; message: string }[] }[];
}

describe('runtime entries while beat run leads (real processes, private Redis)', () => {
  const suite = beatSuite();
  const { fleet, dir } = suite;

  it('trigger, pause and resume take a store entry; delete stops it; /status and beat status show it with its origin and the ones that do not run', async () => {
    const server = suite.redis;
    const redis = suite.client;
    const file = dir.write(
      'live.yaml',
      [
        'name: live-cli',
        `broker: { url: "${server.url(0)}" }`,
        'taskDefaultQueue: q-file',
        'maxInterval: 1s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  static-one: { task: ${TASK}, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    const keys = schedulerKeys('tsbeat', 'live-cli');
    const beat = (...args: string[]) => runBeatCli([...args, '--config', file]);
    const leader = fleet.spawn({ config: file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    const port = await httpPortOf(leader);

    // An hourly store entry: it runs now only if triggered.
    const mark = leader.logs.length;
    expect(
      await beat(
        'entries',
        'set',
        'manual',
        '--task',
        TASK,
        '--schedule',
        '3600',
        '--args',
        '[2, 3]',
        '--options',
        '{"queue": "q-manual"}',
      ),
    ).toMatchObject({ code: 0 });
    await leader.waitForLog('the leader has "manual"', (l) => l.event === EVENTS.entriesChanged && l['total'] === 1, 5_000, mark);
    const trigger = await beat('trigger', 'manual');
    expect(trigger.code, trigger.stderr).toBe(0);
    const id = /^triggered manual: task id (\S+)\n$/.exec(trigger.stdout)?.[1];
    expect(id).toBeDefined();
    const runs = await readQueue(redis, 'q-manual');
    expect(runs.map((r) => [r.entry, r.task, r.id])).toEqual([['manual', TASK, id]]);

    // An every-second one: pause stops it within a second, resume brings it back, delete stops it.
    expect(await beat('entries', 'set', 'tick', '--task', TASK, '--schedule', '1', '--options', '{"queue": "q-tick"}')).toMatchObject({
      code: 0,
    });
    await waitUntil(
      '2 runs of tick',
      async () => ((await readQueue(redis, 'q-tick')).length >= 2 ? true : undefined),
      5_000,
      () => fleet.dump(),
    );
    expect(await beat('pause', 'tick')).toMatchObject({ code: 0, stdout: 'paused tick\n' });
    await leader.waitForLog('beat.pause for tick', (l) => l.event === EVENTS.pause && l['entry'] === 'tick', 5_000);
    await sleep(300);
    const whilePaused = (await readQueue(redis, 'q-tick')).length;
    await sleep(2_200);
    expect((await readQueue(redis, 'q-tick')).length).toBe(whilePaused);
    expect(await beat('resume', 'tick')).toMatchObject({ code: 0, stdout: 'resumed tick\n' });
    await waitUntil(
      'tick runs again',
      async () => ((await readQueue(redis, 'q-tick')).length > whilePaused ? true : undefined),
      5_000,
      () => fleet.dump(),
    );

    // /status on the leader and beat status --json agree: both entries with their origins, the bad ones listed.
    // A value another writer left (not a record of this version), announced as writers do: a new version and its change.
    await redis.hset(keys.entries, 'hand-written', '{"task":"x"}');
    const version = await redis.incr(keys.entriesVersion);
    await redis.zadd(keys.entryChanges, version, 'hand-written');
    await waitUntil(
      'the leader sees the hand-written value',
      async () => {
        const s = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
        return s.entryProblems.some((p) => p.name === 'hand-written') ? s : undefined;
      },
      5_000,
    );
    const fromLeader = JSON.parse((await httpRequest(port, '/status')).body) as StatusJson;
    const cli = await beat('status', '--json');
    expect(cli).toMatchObject({ code: 0, stderr: '' });
    const fromCli = JSON.parse(cli.stdout) as StatusJson;
    const shape = (s: StatusJson) => ({ entries: s.entries.map((e) => [e.name, e.origin]), problems: s.entryProblems });
    expect(shape(fromLeader)).toEqual({
      entries: [
        ['static-one', 'file'],
        ['manual', 'store'],
        ['tick', 'store'],
      ],
      problems: [
        {
          name: 'hand-written',
          origin: 'store',
          problems: [expect.objectContaining({ message: expect.stringContaining('not a tsbeat entry record') })],
        },
      ],
    });
    expect(shape(fromCli)).toEqual(shape(fromLeader));
    expect(fromCli.entries.find((e) => e.name === 'manual')).toMatchObject({ runCount: 1, lastTaskId: id });

    expect(await beat('entries', 'delete', 'tick', 'hand-written')).toMatchObject({
      code: 0,
      stdout: 'deleted tick\ndeleted hand-written\n',
    });
    await sleep(500);
    const afterDelete = (await readQueue(redis, 'q-tick')).length;
    await sleep(2_000);
    expect((await readQueue(redis, 'q-tick')).length).toBe(afterDelete);
    const ids = (await readQueue(redis, 'q-tick')).map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    const trigGone = await beat('trigger', 'tick', '--timeout', '2');
    expect(trigGone.code).toBe(2);
    expect(trigGone.stderr).toContain('no entry named "tick" in the config or the runtime store');
  }, 60_000);
});
