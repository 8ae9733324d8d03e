/**
 * Reloading the config of a running `beat run`: SIGHUP, and `--watch` (a file change, no signal).
 * Valid edits apply without a restart and without losing state; an invalid file is refused with
 * every problem in one `beat.reload.failed` line and the running schedule stays as it was.
 * Real processes; what they published is read back from the queue list.
 * Redis: a private redis-server of this file (a port of 6381–6389): the shared server's DBs 13–15
 * belong to the http, control and container files.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { slotTaskId } from '../../src/celery/task-id.js';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, logTimeMs, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess, LogLine } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { PrivateRedis } from '../support/redis-server.js';
import { closedRedisPort, killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';

const TASK = 'tsbeat_test.record';

/** A YAML config (YAML, so that problems name their line) with these entries as `name: seconds`. */
function yaml(name: string, queue: string, entries: Record<string, number>, extra = ''): string {
  return [
    `name: ${name}`,
    'broker:',
    `  url: ${redisUrl}`,
    `taskDefaultQueue: ${queue}`,
    'maxInterval: 200ms',
    `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
    'beatSchedule:',
    ...Object.entries(entries).map(([entry, seconds]) => `  ${entry}: { task: ${TASK}, schedule: ${seconds} }`),
    extra,
    '',
  ].join('\n');
}

/** Slots of one entry, ascending. */
function slots(runs: readonly QueuedRun[], entry: string): number[] {
  return runs.filter((r) => r.entry === entry).map((r) => r.slotMs);
}

function gaps(list: readonly number[]): number[] {
  return list.slice(1).map((s, i) => s - (list[i] as number));
}

let redisUrl = '';

describe('reloading the config of a running beat (real processes, a private redis-server)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redisUrl = server.url(0);
    redis = new Redis(redisUrl);
  });

  afterEach(async () => {
    await fleet.killAll();
    killCliChildren();
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  async function start(file: string, args: string[] = []): Promise<BeatProcess> {
    const p = fleet.spawn({ config: file, args });
    await p.waitForEvent(EVENTS.lockAcquired, 10_000);
    return p;
  }

  const queueRuns = (queue: string): Promise<QueuedRun[]> => readQueue(redis, queue);

  async function waitForRuns(queue: string, entry: string, count: number, timeoutMs: number, beat: BeatProcess): Promise<void> {
    await waitUntil(
      `${count} runs of ${entry}`,
      async () => (slots(await queueRuns(queue), entry).length >= count ? true : undefined),
      timeoutMs,
      () => beat.tail(),
    );
  }

  async function stop(beat: BeatProcess): Promise<void> {
    beat.signal('SIGTERM');
    expect(await beat.waitForExit(5_000)).toEqual({ code: 0, signal: null });
  }

  it('SIGHUP applies an added, a changed and a removed entry without a restart and without losing state', async () => {
    const name = uniqueName('reload-hup');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.yaml`, yaml(name, queue, { changed: 1, removed: 1, kept: 1 }));
    const beat = await start(file);
    await waitForRuns(queue, 'changed', 3, 6_000, beat);

    writeFileSync(file, yaml(name, queue, { changed: 2, kept: 1, added: 2 }));
    const logsBefore = beat.logs.length;
    const hupAt = Date.now();
    beat.signal('SIGHUP');
    const reloaded = await beat.waitForEvent(EVENTS.reload, 5_000, logsBefore);
    expect(reloaded).toMatchObject({ level: 'info', entries: 3 });
    const reloadedAt = logTimeMs(reloaded);
    await waitForRuns(queue, 'added', 2, 7_000, beat);
    await stop(beat);

    const runs = await queueRuns(queue);
    // No restart: one process, one lock acquisition, one service start.
    expect(beat.events(EVENTS.lockAcquired)).toHaveLength(1);
    expect(
      beat.events(EVENTS.start).filter((l) => /^starting as \S+ of deployment "[^"]+"; connecting to Redis$/.test(l.msg ?? '')),
    ).toHaveLength(1);
    expect(beat.events(EVENTS.reloadFailed)).toEqual([]);
    // removed: nothing after the reload.
    expect(slots(runs, 'removed').filter((s) => s > reloadedAt)).toEqual([]);
    expect(slots(runs, 'removed').length).toBeGreaterThanOrEqual(2);
    // changed: 1 s apart before, 2 s apart after, on from its last slot (no reset, no double fire).
    const changed = slots(runs, 'changed');
    const lastBefore = changed.filter((s) => s <= reloadedAt).at(-1) as number;
    const after = changed.filter((s) => s > reloadedAt);
    expect(gaps(changed.filter((s) => s <= reloadedAt)).every((g) => g === 1000)).toBe(true);
    expect(after.length).toBeGreaterThanOrEqual(2);
    expect(gaps([lastBefore, ...after]).every((g) => g === 2000)).toBe(true);
    // kept: unchanged, one slot a second straight through the reload, none missing, none twice.
    const kept = slots(runs, 'kept');
    expect(gaps(kept).every((g) => g === 1000)).toBe(true);
    // added: starts fresh and waits one interval (2 s) from when the reload took it in (after the
    // signal, before the reload was logged).
    const added = slots(runs, 'added');
    expect(added[0]).toBeGreaterThanOrEqual(hupAt + 2000);
    expect(added[0]).toBeLessThanOrEqual(reloadedAt + 2000);
    expect(gaps(added).every((g) => g === 2000)).toBe(true);
    // Every run is a slot run: its id is the slot id, and no id twice.
    for (const r of runs) expect(r.id).toBe(slotTaskId(name, r.entry, r.slotMs));
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    // The run counts continued: what status counts is what was published, across the reload.
    const status = await runBeatCli(['status', '--config', file, '--json']);
    const counts = Object.fromEntries(
      (JSON.parse(status.stdout).entries as { name: string; runCount: number }[]).map((e) => [e.name, e.runCount]),
    );
    expect(counts).toEqual({ changed: changed.length, kept: kept.length, added: added.length });
  });

  it('an invalid edit is refused with all its problems in one beat.reload.failed line, and the schedule runs on unchanged', async () => {
    const name = uniqueName('reload-bad');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.yaml`, yaml(name, queue, { tick: 1 }));
    const beat = await start(file);
    await waitForRuns(queue, 'tick', 1, 5_000, beat);

    writeFileSync(
      file,
      yaml(
        name,
        queue,
        { tick: 5 },
        ['  nightly: { task: x.y, schedule: { crontab: { hour: 25 } } }', '  typo: { tsk: x.y, schedule: 1 }'].join('\n'),
      ),
    );
    const logsBefore = beat.logs.length;
    beat.signal('SIGHUP');
    const failed = await beat.waitForEvent(EVENTS.reloadFailed, 5_000, logsBefore);
    // Logged by the command, outside the service, it still names the instance and the deployment.
    expect(failed).toMatchObject({ level: 'error', trigger: 'SIGHUP', instance: beat.logs[0]?.['instance'], deployment: name });
    expect(failed['instance']).toMatch(/\S/);
    expect(failed['problems']).toEqual([
      { path: 'beatSchedule.nightly.schedule.crontab.hour', line: 9, message: '25 is out of range 0-23' },
      { path: 'beatSchedule.typo.tsk', line: 10, message: 'unknown key "tsk"; did you mean "task"?' },
      {
        path: 'beatSchedule.typo.task',
        line: 10,
        message: 'task is required: the registered name of a Celery task, such as "proj.tasks.add"',
      },
    ]);
    expect(failed.msg).toMatch(/^config not reloaded, the running schedule is unchanged: .*3 problems/);
    const failedAt = logTimeMs(failed);

    // Unchanged: tick still fires every second (the refused file said 5 s), no session restart.
    const before = slots(await queueRuns(queue), 'tick').length;
    await waitForRuns(queue, 'tick', before + 3, 5_000, beat);
    const tick = slots(await queueRuns(queue), 'tick');
    expect(gaps(tick).every((g) => g === 1000)).toBe(true);
    expect(tick.filter((s) => s > failedAt).length).toBeGreaterThanOrEqual(3);
    expect(beat.events(EVENTS.reload, logsBefore)).toEqual([]);
    expect(beat.events(EVENTS.start).filter((l) => l.msg === 'scheduling')).toHaveLength(1);

    // A YAML syntax error is refused the same way, with its line.
    writeFileSync(file, `${yaml(name, queue, { tick: 1 })}  broken: { task: x.y, schedule: 1\n`);
    const logsBefore2 = beat.logs.length;
    beat.signal('SIGHUP');
    const syntax = await beat.waitForEvent(EVENTS.reloadFailed, 5_000, logsBefore2);
    expect((syntax['problems'] as { message: string }[])[0]?.message).toMatch(/^YAML syntax: /);

    // Fixed: the next SIGHUP applies it.
    writeFileSync(file, yaml(name, queue, { tick: 1, later: 1 }));
    const logsBefore3 = beat.logs.length;
    beat.signal('SIGHUP');
    await beat.waitForEvent(EVENTS.reload, 5_000, logsBefore3);
    await waitForRuns(queue, 'later', 1, 5_000, beat);
    await stop(beat);
    // Every JSON line stands alone in a log store: all carry the same base fields.
    const instance = beat.logs[0]?.['instance'];
    expect(beat.logs.filter((l) => l['instance'] !== instance || l['deployment'] !== name)).toEqual([]);
  });

  it('--watch reloads when the file changes, without a signal: in-place writes and atomic renames (editors, ConfigMaps)', async () => {
    const name = uniqueName('reload-watch');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.yaml`, yaml(name, queue, { tick: 1 }));
    const beat = await start(file, ['--watch']);
    await waitForRuns(queue, 'tick', 1, 5_000, beat);

    // Replaced by a rename, as an editor's save or a Kubernetes ConfigMap update does (new inode).
    const temp = dir.write(`${name}.yaml.tmp`, yaml(name, queue, { tick: 1, added: 1 }));
    let mark = beat.logs.length;
    renameSync(temp, file);
    const first = await beat.waitForEvent(EVENTS.reload, 5_000, mark);
    expect(first).toMatchObject({ entries: 2 });
    await waitForRuns(queue, 'added', 2, 5_000, beat);

    // Written in place: the entry goes away again.
    mark = beat.logs.length;
    writeFileSync(file, yaml(name, queue, { tick: 1 }));
    const second = await beat.waitForEvent(EVENTS.reload, 5_000, mark);
    const secondAt = logTimeMs(second);

    // An invalid write is refused, as on SIGHUP, naming the file change as the trigger.
    mark = beat.logs.length;
    writeFileSync(file, yaml(name, queue, { tick: 0 }));
    const failed: LogLine = await beat.waitForEvent(EVENTS.reloadFailed, 5_000, mark);
    expect(failed).toMatchObject({ trigger: 'file changed' });
    expect(failed['problems']).toHaveLength(1);
    const before = slots(await queueRuns(queue), 'tick').length;
    await waitForRuns(queue, 'tick', before + 2, 5_000, beat);
    await stop(beat);

    const runs = await queueRuns(queue);
    expect(slots(runs, 'added').filter((s) => s > secondAt)).toEqual([]);
    expect(gaps(slots(runs, 'tick')).every((g) => g === 1000)).toBe(true);
    expect(beat.events(EVENTS.lockAcquired)).toHaveLength(1);
    // No signal was sent: every reload came from the watcher.
    expect(beat.events(EVENTS.reloadFailed).map((l) => l['trigger'])).toEqual(['file changed']);
  });

  it('a reload that changes where it connects or who it is keeps those until a restart, says which, and never logs a password', async () => {
    const name = uniqueName('reload-fixed');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.yaml`, yaml(name, queue, { tick: 1 }));
    const beat = await start(file);
    await waitForRuns(queue, 'tick', 1, 5_000, beat);

    const secret = `s3cret-${Math.random().toString(36).slice(2, 10)}`;
    const moved = yaml(`${name}-renamed`, queue, { tick: 1, added: 1 })
      .replace(`url: ${redisUrl}`, `url: redis://:${secret}@127.0.0.1:6399/0`)
      .replace(`ttl: ${FAST_LOCK.ttl}`, 'ttl: 30s');
    // The outcome tracker is built at start: following task events waits for a restart too.
    writeFileSync(file, `${moved}\ntaskEvents: true\n`);
    const mark = beat.logs.length;
    beat.signal('SIGHUP');
    const warning = await beat.waitForLog('the needs-restart warning', (l) => l.event === EVENTS.reload && l.level === 'warn', 5_000, mark);
    expect(warning['needsRestart']).toEqual([
      `name (${name} → ${name}-renamed)`,
      `broker.url (${redisUrl} → redis://:***@127.0.0.1:6399/0)`,
      'lock',
      'taskEvents',
    ]);
    await beat.waitForLog('the reload', (l) => l.event === EVENTS.reload && l.level === 'info', 5_000, mark);
    // The rest applied: the new entry runs, on the old connection, under the old name.
    await waitForRuns(queue, 'added', 1, 5_000, beat);
    const status = await runBeatCli([
      'status',
      '--config',
      dir.write(`${name}-old.yaml`, yaml(name, queue, { tick: 1, added: 1 })),
      '--json',
    ]);
    expect(JSON.parse(status.stdout).leader.instance).toBe(beat.logs[0]?.['instance']);
    await stop(beat);
    expect(beat.allOutput()).not.toContain(secret);
  });

  it('a SIGHUP while still connecting to Redis does not kill the process; the edit is applied once connected', async () => {
    const name = uniqueName('reload-early');
    const queue = `q-${name}`;
    const file = dir.write(`${name}.yaml`, yaml(name, queue, { tick: 1 }));
    // A Redis that is not there yet: beat keeps trying to connect.
    const server = new PrivateRedis(await closedRedisPort());
    try {
      const beat = fleet.spawn({ config: file, args: ['--broker', server.url(0)] });
      await beat.waitForLog('the first connection error', (l) => l.event === EVENTS.redisDown || l.event === EVENTS.brokerError, 10_000);
      writeFileSync(file, yaml(name, queue, { tick: 1, added: 1 }));
      beat.signal('SIGHUP');
      await sleep(1_000);
      // Node's default action on SIGHUP is to exit (code 129): the handler must be in place already.
      expect(beat.exitInfo).toBeUndefined();
      expect(beat.events(EVENTS.reload)).toEqual([]);

      await server.start();
      await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
      await beat.waitForEvent(EVENTS.reload, 5_000);
      const client = server.client(0);
      try {
        await client.connect();
        await waitUntil(
          'a run of the entry the early SIGHUP added',
          async () => (slots(await readQueue(client, queue), 'added').length > 0 ? true : undefined),
          5_000,
          () => beat.tail(),
        );
      } finally {
        client.disconnect();
      }
      beat.signal('SIGTERM');
      expect(await beat.waitForExit(5_000)).toEqual({ code: 0, signal: null });
    } finally {
      await server.stop();
    }
  });
});
