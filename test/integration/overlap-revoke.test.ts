/**
 * Overlap bufferAll, cancelOther and terminateOther with real Celery workers (prefork pool, one
 * process, where a revoke with terminate kills the process running the task) and a real Redis
 * result backend; each on RabbitMQ too.
 *
 * Oracles, none of them tsbeat's own: the state each worker stored (`celery-task-meta-<id>`:
 * REVOKED, SUCCESS, date_done), the ids the worker actually ran, in order (the task appends its id
 * to `tsbeat-test:executed` as it starts), and the worker's own log ("Terminating <id>"). The slots
 * and publish instants come from beat's log (`beat.fire`), the revokes from `beat.overlap.revoke`.
 * - terminateOther: a 30 s task every 2 s. Each run but the last is REVOKED long before its 30 s,
 *   the worker logged its termination, and the next run started (with one process, it could not
 *   have before the previous one's process was gone).
 * - cancelOther: a 4 s task every second. The first run, revoked while running, is not terminated:
 *   it finishes SUCCESS. The runs revoked while still queued behind it are REVOKED and never run;
 *   a run the worker took before its revoke arrived finishes SUCCESS — never a run both started and REVOKED.
 * - bufferAll: a 1.5 s task every second: every slot is published, in order, none skipped, each
 *   after the run before it finished, each run exactly once.
 * Redis: a private redis-server (broker and tsbeat's state on DB 0, results on DB 1, the RabbitMQ
 * deployment's state on DB 2); RabbitMQ: the shared node, queues named for this run.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import type { BeatProcess, LogLine } from '../support/beat-process.js';
import { pythonCelery, resultKey, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { killCliChildren, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import { portOpen } from '../support/rabbitmq-node.js';
import type { PrivateRedis } from '../support/redis-server.js';

const celery = pythonCelery();
const rabbitUp = await portOpen(5672, 2000);
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;
const SHARED_AMQP = 'amqp://guest:guest@127.0.0.1:5672//';
const P = `tsbeat-ovr-${process.pid}-`;

interface Fired {
  readonly id: string;
  readonly slotMs: number;
  readonly publishedMs: number;
  /** Index of its line in beat's log. */
  readonly line: number;
}

function fired(beat: BeatProcess, entry: string): Fired[] {
  return beat.logs
    .map((l, line) => ({ l, line }))
    .filter(({ l }) => l['event'] === EVENTS.fire && l['entry'] === entry)
    .map(({ l, line }) => {
      const slotMs = Date.parse(String(l['slot']));
      return { id: String(l['id']), slotMs, publishedMs: slotMs + Number(l['latenessMs']), line };
    })
    .sort((a, b) => a.slotMs - b.slotMs);
}

suite(`overlap bufferAll, cancelOther, terminateOther with real Celery workers${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let results: Redis;
  const workers: Record<string, CeleryProcess> = {};

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
    results = redis.client(1);
    const env = { broker: redis.url(0), backend: redis.url(1) };
    const started = await Promise.all([
      startWorker({ name: `${P}term`, queues: [`${P}term`], env, pool: 'prefork' }),
      startWorker({ name: `${P}cancel`, queues: [`${P}cancel`], env, pool: 'prefork' }),
      startWorker({ name: `${P}buffer`, queues: [`${P}buffer`], env }),
      ...(rabbitUp
        ? [
            startWorker({ name: `${P}amqp`, queues: [`${P}amqp`], env: { broker: SHARED_AMQP, backend: redis.url(1) }, pool: 'prefork' }),
            startWorker({ name: `${P}amqp-buffer`, queues: [`${P}amqp-buffer`], env: { broker: SHARED_AMQP, backend: redis.url(1) } }),
            startWorker({
              name: `${P}amqp-cancel`,
              queues: [`${P}amqp-cancel`],
              env: { broker: SHARED_AMQP, backend: redis.url(1) },
              pool: 'prefork',
            }),
          ]
        : []),
    ]);
    const [term, cancel, buffer, amqp, amqpBuffer, amqpCancel] = started;
    Object.assign(workers, { term, cancel, buffer });
    if (amqp !== undefined && amqpBuffer !== undefined && amqpCancel !== undefined)
      Object.assign(workers, { amqp, amqpBuffer, amqpCancel });
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    await stopAll(Object.values(workers));
    results?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  /** The state the worker stored for a run, and its date_done (epoch ms); undefined while none is stored. */
  async function stored(taskId: string): Promise<{ status: string; doneMs: number } | undefined> {
    const raw = await results.get(resultKey(taskId));
    if (raw === null) return undefined;
    const meta = JSON.parse(raw) as { status: string; date_done: string };
    const done = meta.date_done;
    return { status: meta.status, doneMs: Date.parse(/[Zz]|[+-]\d\d:\d\d$/.test(done) ? done : `${done}Z`) };
  }

  const executed = async (): Promise<string[]> => results.lrange('tsbeat-test:executed', 0, -1);

  /** Runs beat on `file` until `until` holds (bounded), then stops it. */
  async function runBeat(file: string, label: string, until: (beat: BeatProcess) => boolean, timeoutMs: number): Promise<BeatProcess> {
    expect((await runBeatCli(['check', '--config', file])).stderr).toBe('');
    const beat = fleet.spawn({ config: file, label });
    await beat.waitForEvent(EVENTS.lockAcquired, 20_000);
    await waitUntil(`${label}: enough runs`, () => Promise.resolve(until(beat) ? true : undefined), timeoutMs);
    beat.signal('SIGTERM');
    await beat.waitForExit(10_000);
    return beat;
  }

  /** Every run but the last was terminated: REVOKED long before its 30 s, the worker said so, and the next run started after it. */
  async function expectTerminated(beat: BeatProcess, entry: string, worker: CeleryProcess): Promise<void> {
    const runs = fired(beat, entry);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    const revokes = beat.events(EVENTS.overlapRevoke).filter((l) => l['entry'] === entry);
    for (let i = 0; i + 1 < runs.length; i += 1) {
      const run = runs[i] as Fired;
      const next = runs[i + 1] as Fired;
      const revoke = revokes.find((l) => l['previous'] === run.id);
      expect(revoke, `a revoke of ${run.id}`).toMatchObject({ policy: 'terminateOther', terminate: true, signal: 'SIGTERM' });
      // The revoke went out before the run replacing it.
      expect(beat.logs.indexOf(revoke as LogLine)).toBeLessThan(next.line);
      const state = await waitUntil(
        `${run.id} REVOKED`,
        async () => ((await stored(run.id))?.status === 'REVOKED' ? true : undefined),
        10_000,
      );
      expect(state).toBe(true);
      expect((await stored(run.id))!.doneMs - run.publishedMs).toBeLessThan(10_000);
      await waitUntil(
        `the worker to log the termination of ${run.id}`,
        () => Promise.resolve(worker.output().includes(`Terminating ${run.id}`) || undefined),
        10_000,
      );
    }
    // The first run started at once (the worker was idle) and was killed; a later one may have been
    // revoked before the worker took it (its process was still being replaced). The last one, never
    // revoked, starts — with one process, only once the runs before it are gone — and it does so
    // before the first run's 30 s could have ended by themselves.
    const first = runs[0] as Fired;
    const last = runs[runs.length - 1] as Fired;
    await waitUntil(`${entry}: the last run to start`, async () => ((await executed()).includes(last.id) ? true : undefined), 15_000);
    expect(Date.now()).toBeLessThan(first.publishedMs + 30_000);
    const order = await executed();
    expect(order).toContain(first.id);
    const positions = runs.map((r) => order.indexOf(r.id)).filter((p) => p !== -1);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }

  /** cancelOther: the first run, revoked while it ran, finished (no terminate); the others but the last revoked. */
  async function expectCancelled(beat: BeatProcess, entry: string, worker: CeleryProcess, file: string): Promise<void> {
    const cancels = fired(beat, entry);
    expect(cancels.length).toBeGreaterThanOrEqual(5);
    const first = cancels[0] as Fired;
    const firstRevoke = beat.events(EVENTS.overlapRevoke).find((l) => l['previous'] === first.id);
    expect(firstRevoke).toMatchObject({ policy: 'cancelOther', terminate: false });
    await waitUntil(
      'the first cancelOther run to finish',
      async () => ((await stored(first.id))?.status === 'SUCCESS' ? true : undefined),
      10_000,
    );
    expect(worker.output()).not.toContain('Terminating');
    // The others but the last: revoked; each either never ran (REVOKED, queued when revoked) or ran to SUCCESS.
    const order = await waitUntil(
      'the cancelOther runs to settle',
      async () => {
        for (const run of cancels.slice(1, -1)) if ((await stored(run.id)) === undefined) return undefined;
        return executed();
      },
      15_000,
    );
    let revokedQueued = 0;
    for (const run of cancels.slice(1, -1)) {
      expect(beat.events(EVENTS.overlapRevoke).some((l) => l['previous'] === run.id)).toBe(true);
      const state = (await stored(run.id))!.status;
      if (order.includes(run.id)) expect(state).toBe('SUCCESS');
      else {
        expect(state).toBe('REVOKED');
        revokedQueued += 1;
      }
    }
    expect(revokedQueued).toBeGreaterThanOrEqual(2);
    // The run history says who revoked them.
    const history = await runBeatCli(['history', entry, '--config', file, '--json']);
    const records = JSON.parse(history.stdout) as { taskId: string; revokedBy?: string }[];
    expect(records.find((r) => r.taskId === first.id)?.revokedBy).toBe('cancelOther');
  }

  /** bufferAll: every slot once, in order, each after the run before it finished. */
  async function expectBufferedInOrder(beat: BeatProcess, entry: string): Promise<void> {
    const buffered = fired(beat, entry);
    const done = await waitUntil(
      'the bufferAll runs to finish',
      async () => {
        const all = await Promise.all(buffered.map((r) => stored(r.id)));
        return all.every((s) => s !== undefined) ? all : undefined;
      },
      10_000,
    );
    for (let i = 1; i < buffered.length; i += 1) {
      expect((buffered[i] as Fired).slotMs).toBe((buffered[i - 1] as Fired).slotMs + 1000);
      expect((buffered[i] as Fired).publishedMs).toBeGreaterThanOrEqual(done[i - 1]!.doneMs);
    }
    // They did wait: the later runs went out well after their slots.
    expect(buffered.some((r) => r.publishedMs - r.slotMs > 1000)).toBe(true);
    const ran = await executed();
    for (const run of buffered) expect(ran.filter((id) => id === run.id)).toHaveLength(1);
    const positions = buffered.map((r) => ran.indexOf(r.id));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(beat.events(EVENTS.overlapBufferFull)).toEqual([]);
    expect(beat.events(EVENTS.overlapSkip)).toEqual([]);
  }

  it('terminateOther kills the running previous run before the next starts; cancelOther revokes runs still queued; bufferAll runs every slot in order', async () => {
    const name = uniqueName('ovr');
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      resultBackend: redis.url(1),
      lock: FAST_LOCK,
      beatSchedule: {
        terminator: { task: 'tsbeat_test.sleepy', schedule: 2, args: [30], overlap: 'terminateOther', options: { queue: `${P}term` } },
        canceller: { task: 'tsbeat_test.sleepy', schedule: 1, args: [4], overlap: 'cancelOther', options: { queue: `${P}cancel` } },
        bufferer: { task: 'tsbeat_test.sleepy', schedule: 1, args: [1.5], overlap: 'bufferAll', options: { queue: `${P}buffer` } },
      },
    });
    const beat = await runBeat(file, 'redis', (b) => fired(b, 'terminator').length >= 4 && fired(b, 'bufferer').length >= 5, 25_000);
    expect(beat.events(EVENTS.overlapRevokeFailed)).toEqual([]);

    await expectTerminated(beat, 'terminator', workers['term'] as CeleryProcess);

    await expectCancelled(beat, 'canceller', workers['cancel'] as CeleryProcess, file);
    await expectBufferedInOrder(beat, 'bufferer');
  }, 60_000);

  (rabbitUp ? it : it.skip)(
    'terminateOther and cancelOther on RabbitMQ: the celery.pidbox fanout exchange (state on DB 2); bufferAll there too',
    async () => {
      const amqpName = uniqueName('ovr-amqp');
      const amqpFile = dir.write(`${amqpName}.json`, {
        name: amqpName,
        broker: { url: SHARED_AMQP },
        state: { url: redis.url(2) },
        resultBackend: redis.url(1),
        lock: FAST_LOCK,
        beatSchedule: {
          terminator: { task: 'tsbeat_test.sleepy', schedule: 2, args: [30], overlap: 'terminateOther', options: { queue: `${P}amqp` } },
          bufferer: { task: 'tsbeat_test.sleepy', schedule: 1, args: [1.5], overlap: 'bufferAll', options: { queue: `${P}amqp-buffer` } },
          canceller: { task: 'tsbeat_test.sleepy', schedule: 1, args: [4], overlap: 'cancelOther', options: { queue: `${P}amqp-cancel` } },
        },
      });
      const amqpBeat = await runBeat(
        amqpFile,
        'amqp',
        (b) => fired(b, 'terminator').length >= 3 && fired(b, 'bufferer').length >= 5 && fired(b, 'canceller').length >= 5,
        25_000,
      );
      await expectTerminated(amqpBeat, 'terminator', workers['amqp'] as CeleryProcess);
      await expectBufferedInOrder(amqpBeat, 'bufferer');
      await expectCancelled(amqpBeat, 'canceller', workers['amqpCancel'] as CeleryProcess, amqpFile);
    },
    60_000,
  );
});
