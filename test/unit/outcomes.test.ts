/**
 * Run outcomes, the pure and in-memory parts: Celery's result key layout and meta decoding, the
 * history codec, how a run's record advances, and the tracker driven through object-literal ports
 * (the real worker, result backend and Redis are in test/integration/outcomes.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { parse } from 'yaml';
import { decodeResultMeta, exceptionLine, parseDateDone, taskKeyPrefix } from '../../src/celery/result-meta.js';
import { createLogger, silentLogger } from '../../src/base/log.js';
import { BeatMetrics } from '../../src/observe/metrics.js';
import { OUTCOME_BURST_QUIET_MS, OUTCOME_RECORDS_WHILE_ARRIVING, OutcomeTracker, advance } from '../../src/outcomes/tracker.js';
import type { ResultMeta, RunHistory, RunRecord, TaskEvent } from '../../src/ports/outcomes.js';
import { decodeRun, encodeRun } from '../../src/redis/run-history-codec.js';
import { outcomeText, runView } from '../../src/control/run-view.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { repoRoot, runCli } from '../support/cli.js';
import { TempDir } from '../support/beat-process.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { memoryHistory } from '../support/memory-history.js';
import { attemptTaskId } from '../../src/celery/task-id.js';
import type { RetryPolicy } from '../../src/core/retry.js';
import { nextAttempt } from '../../src/runtime/attempt-end.js';

describe("Celery's result keys and metas", () => {
  it('prefixes result keys as _add_global_keyprefix does: "_" unless the prefix ends in ":", "_", "-" or "."', () => {
    expect(taskKeyPrefix(undefined)).toBe('celery-task-meta-');
    expect(taskKeyPrefix('')).toBe('celery-task-meta-');
    expect(taskKeyPrefix('app')).toBe('app_celery-task-meta-');
    for (const end of [':', '_', '-', '.']) expect(taskKeyPrefix(`app${end}`)).toBe(`app${end}celery-task-meta-`);
  });

  it('reads date_done naive (Celery < 5.3, UTC) and with an offset, keeping milliseconds', () => {
    expect(parseDateDone('2026-11-23T00:52:11.123456')).toBe(Date.UTC(2026, 10, 23, 0, 52, 11, 123));
    expect(parseDateDone('2026-11-23T00:52:11.123456+00:00')).toBe(Date.UTC(2026, 10, 23, 0, 52, 11, 123));
    expect(parseDateDone(null)).toBeUndefined();
  });

  it("takes the exception's first line from exc_type and exc_message (prepare_exception's JSON)", () => {
    expect(exceptionLine({ exc_type: 'ValueError', exc_message: ['boom\nsecond'], exc_module: 'builtins' }, 'x')).toBe('ValueError: boom');
    expect(exceptionLine({ exc_type: 'KeyError', exc_message: [] }, null)).toBe('KeyError');
    expect(exceptionLine({ exc_type: 'E', exc_message: ['a', 2] }, null)).toBe('E: ["a",2]');
    expect(exceptionLine('not an exception', 'Traceback (most recent call last):\n  ...\nRuntimeError: bad\n')).toBe('RuntimeError: bad');
  });

  it('decodes a FAILURE meta, takes a custom state for a run still going, and an unreadable value for unknown', () => {
    const failure = JSON.stringify({
      status: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['boom'], exc_module: 'builtins' },
      traceback: 'Traceback…',
      children: [],
      date_done: '2026-11-23T00:52:11.500000+00:00',
      task_id: 'x',
    });
    expect(decodeResultMeta(failure)).toEqual({
      state: 'FAILURE',
      doneAtMs: Date.UTC(2026, 10, 23, 0, 52, 11, 500),
      exception: 'ValueError: boom',
    });
    expect(decodeResultMeta(JSON.stringify({ status: 'PROGRESS', result: { done: 3 } })).state).toBe('STARTED');
    expect(decodeResultMeta('\x80\x04pickle').state).toBe('unknown');
  });
});

describe('the history record', () => {
  it('round-trips through its codec and refuses what is not a record', () => {
    const r: RunRecord = { taskId: 't', slotMs: 1, publishedAtMs: 2, state: 'FAILURE', finishedAtMs: 5, runtimeMs: 3, exception: 'E: x' };
    expect(decodeRun(encodeRun(r))).toEqual(r);
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"DONE"}')).toBeUndefined();
    expect(decodeRun('nope')).toBeUndefined();
  });

  it('keeps who revoked a run (overlap cancelOther, terminateOther), shown with its state; ignores an unknown value', () => {
    const r: RunRecord = { taskId: 't', slotMs: 1, publishedAtMs: 2, state: 'REVOKED', finishedAtMs: 3, revokedBy: 'terminateOther' };
    expect(encodeRun(r)).toContain('"rvk":"terminateOther"');
    expect(decodeRun(encodeRun(r))).toEqual(r);
    expect(decodeRun('{"id":"t","slot":1,"pub":2,"st":"SUCCESS","rvk":"someone"}')).toEqual({
      taskId: 't',
      slotMs: 1,
      publishedAtMs: 2,
      state: 'SUCCESS',
    });
    expect(outcomeText(runView({ ...r, state: 'SUCCESS', revokedBy: 'cancelOther' }, 'UTC'))).toBe(
      'SUCCESS (revoked by tsbeat, cancelOther)',
    );
    expect(runView({ taskId: 't', slotMs: 1, publishedAtMs: 2, state: 'PENDING' }, 'UTC')).not.toHaveProperty('revokedBy');
  });

  it('keeps the pending set apart from an entry named "pending"', () => {
    const keys = schedulerKeys('tsbeat', 'd');
    expect(new Set([keys.runsPending, keys.runs('pending'), keys.runs('=pending')]).size).toBe(3);
  });
});

describe("a run's record as results come in", () => {
  const published: RunRecord = { taskId: 't', slotMs: 1000, publishedAtMs: 1000, state: 'PENDING' };
  it('finishes at date_done with the runtime from publication', () => {
    expect(advance(published, { state: 'SUCCESS', doneAtMs: 3500 }, 9000, 60_000)).toMatchObject({
      state: 'SUCCESS',
      finishedAtMs: 3500,
      runtimeMs: 2500,
    });
  });
  it('records STARTED and RETRY when first seen, and nothing new for the same state', () => {
    const started = advance(published, { state: 'STARTED' }, 2000, 60_000);
    expect(started).toMatchObject({ state: 'STARTED', startedAtMs: 2000 });
    expect(advance(started, { state: 'STARTED' }, 3000, 60_000)).toBe(started);
    expect(advance(started, { state: 'RETRY', exception: 'E: later' }, 3000, 60_000)).toMatchObject({
      state: 'RETRY',
      startedAtMs: 2000,
      exception: 'E: later',
    });
  });
  it('gives up as unknown after the timeout, not before', () => {
    expect(advance(published, undefined, 1000 + 60_000, 60_000)).toBe(published);
    expect(advance(published, undefined, 1001 + 60_000, 60_000)).toMatchObject({ state: 'unknown', finishedAtMs: 61_001 });
  });
});

describe('the outcome tracker', () => {
  it('reads at most readsPerPoll results a poll, in batches, and reaches every run in turn', async () => {
    const history = memoryHistory();
    const reads: string[][] = [];
    const done = new Set<string>();
    const tracker = new OutcomeTracker({
      history,
      results: {
        read: async (ids) => (
          reads.push([...ids]),
          ids.map((id): ResultMeta | undefined => (done.has(id) ? { state: 'SUCCESS', doneAtMs: 5 } : undefined))
        ),
      },
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
      pollMs: 60_000,
      batch: 3,
      readsPerPoll: 4,
    });
    await tracker.start();
    for (let i = 0; i < 6; i += 1) tracker.published('e', `id${i}`, i, 1);
    await tracker.poll();
    expect(reads.map((r) => r.length)).toEqual([3, 1]);
    for (let i = 0; i < 6; i += 1) done.add(`id${i}`);
    await tracker.poll();
    await tracker.poll();
    expect(new Set(reads.flat()).size).toBe(6);
    expect(tracker.pendingCount).toBe(0);
    expect(tracker.unfinishedRun('e')).toBeUndefined();
    // Their first writes (the record timer's, or the stop's) carry the outcomes the polls read.
    await tracker.stop();
    expect(history.lists.get('e')?.map((r) => r.state)).toEqual(Array(6).fill('SUCCESS'));
  });

  it('takes over the runs a previous leader left pending in the histories', async () => {
    const history = memoryHistory();
    history.lists.set('e', [{ taskId: 'old', slotMs: 1, publishedAtMs: 1, state: 'STARTED' }]);
    const finished: string[] = [];
    const tracker = new OutcomeTracker({
      history,
      results: { read: async (ids) => ids.map(() => ({ state: 'FAILURE', doneAtMs: 9, exception: 'E: x' })) },
      events: { finished: (entry, r) => finished.push(`${entry} ${r.taskId} ${r.state}`) },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
      pollMs: 60_000,
    });
    await tracker.start();
    expect(tracker.unfinishedRun('e')).toBeDefined();
    await tracker.poll();
    expect(finished).toEqual(['e old FAILURE']);
    expect(history.lists.get('e')?.[0]).toMatchObject({ state: 'FAILURE', exception: 'E: x', runtimeMs: 8 });
    await tracker.stop();
  });

  it("counts a slot's attempt waiting out its backoff as the entry's run in progress, from before the listeners hear the failure until the attempt is published (issue 70)", async () => {
    const history = memoryHistory();
    const policy: RetryPolicy = { attempts: 3, initialMs: 5000, factor: 2, maxMs: 60_000, on: ['failure', 'lost'] };
    let now = 10;
    const slot = '7b7c3a9e-2f0f-4c1e-9d51-6a1f3e2b8c01';
    const other = '0f4d2c6a-8e3b-4a7d-b1c9-5e2f7a9d3b40';
    const stored = new Map<string, ResultMeta>([[slot, { state: 'FAILURE', doneAtMs: 9, exception: 'E: x' }]]);
    const tracker = new OutcomeTracker({
      history,
      results: { read: async (ids) => ids.map((id) => stored.get(id)) },
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => now },
      timeoutMs: 60_000,
      pollMs: 60_000,
      nextAttempt: (entry, record) => nextAttempt(entry, record, policy, now),
    });
    await tracker.start();
    tracker.published('e', slot, 1, 1);
    const seenByListener: (string | undefined)[] = [];
    tracker.onFinished((entry) => seenByListener.push(tracker.unfinishedRun(entry)?.taskId));
    await tracker.poll();
    // The slot's run failed: its second attempt, due 5 s after, holds the entry (a buffered slot stays, skip skips).
    const second = attemptTaskId(slot, 2);
    expect(seenByListener).toEqual([second]);
    expect(tracker.unfinishedRun('e')).toEqual({
      taskId: second,
      slotMs: 1,
      publishedAtMs: 9 + 5000,
      state: 'PENDING',
      attempt: 2,
      retryOf: slot,
    });
    // Published: the attempt itself is the run in progress; it succeeds, and nothing holds the entry.
    now = 5009;
    tracker.published('e', second, 1, 5009, undefined, undefined, undefined, { attempt: 2, retryOf: slot });
    expect(tracker.unfinishedRun('e')).toMatchObject({ taskId: second, publishedAtMs: 5009 });
    stored.set(second, { state: 'SUCCESS', doneAtMs: 6000 });
    await tracker.poll();
    expect(tracker.unfinishedRun('e')).toBeUndefined();

    // An attempt never published (dropped: its entry was created again) holds it no longer than outcomeTimeout past due.
    tracker.published('g', other, 1, 6000);
    stored.set(other, { state: 'FAILURE', doneAtMs: 6001 });
    await tracker.poll();
    expect(tracker.unfinishedRun('g')?.taskId).toBe(attemptTaskId(other, 2));
    now = 6001 + 5000 + 60_000;
    expect(tracker.unfinishedRun('g')?.taskId).toBe(attemptTaskId(other, 2));
    now += 1;
    expect(tracker.unfinishedRun('g')).toBeUndefined();
    await tracker.stop();
  });

  it("takes over the attempts a previous leader left waiting in Redis as their entries' runs in progress", async () => {
    const history = {
      ...memoryHistory(),
      pendingAttempts: async () => [{ entry: 'e', slotMs: 1, attempt: 3, taskId: 'a3', retryOf: 's', dueMs: 500 }],
    };
    const tracker = new OutcomeTracker({
      history,
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
      pollMs: 60_000,
      nextAttempt: () => undefined,
    });
    await tracker.start();
    expect(tracker.unfinishedRun('e')).toMatchObject({ taskId: 'a3', attempt: 3, retryOf: 's', state: 'PENDING', publishedAtMs: 500 });
    await tracker.stop();
    expect(tracker.unfinishedRun('e')).toBeUndefined();
  });

  it('tells every onFinished listener of a finished run, until each one stops listening', async () => {
    const history = memoryHistory();
    history.lists.set('e', [{ taskId: 'old', slotMs: 1, publishedAtMs: 1, state: 'STARTED' }]);
    history.lists.set('f', [{ taskId: 'older', slotMs: 1, publishedAtMs: 1, state: 'STARTED' }]);
    const done = new Set<string>(['old']);
    const tracker = new OutcomeTracker({
      history,
      results: { read: async (ids) => ids.map((id) => (done.has(id) ? { state: 'SUCCESS', doneAtMs: 9 } : { state: 'PENDING' })) },
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
      pollMs: 60_000,
    });
    await tracker.start();
    const runner: string[] = [];
    const control: string[] = [];
    tracker.onFinished((entry) => runner.push(entry));
    const stopControl = tracker.onFinished((entry) => control.push(entry));
    await tracker.poll();
    expect([runner, control]).toEqual([['e'], ['e']]);
    stopControl();
    done.add('older');
    await tracker.poll();
    expect([runner, control]).toEqual([['e', 'f'], ['e']]);
    await tracker.stop();
  });

  it('follows a REVOKED run to the SUCCESS stored over it (Celery 5.6), finished once, and gives it up after outcomeTimeout', async () => {
    const history = memoryHistory();
    const stored = new Map<string, ResultMeta>();
    let now = 1000;
    const finished: string[] = [];
    const tracker = new OutcomeTracker({
      history,
      results: { read: async (ids) => ids.map((id) => stored.get(id)) },
      events: { finished: (_entry, record) => finished.push(`${record.taskId} ${record.state}`) },
      logger: silentLogger,
      clock: { now: () => now },
      timeoutMs: 60_000,
      pollMs: 60_000,
      recordDelayMs: 0,
    });
    await tracker.start();
    tracker.published('e', 'ran', 1000, 1000);
    tracker.published('e', 'late', 1000, 1000);
    tracker.revoked('e', 'ran', 'cancelOther');
    stored.set('ran', { state: 'REVOKED', doneAtMs: 2000, exception: 'TaskRevokedError: revoked' });
    stored.set('late', { state: 'REVOKED', doneAtMs: 2000, exception: 'TaskRevokedError: revoked' });
    await tracker.poll();
    // Finished at the REVOKED: it holds its entry back no longer.
    expect(tracker.unfinishedRun('e')).toBeUndefined();
    expect(finished).toEqual(['ran REVOKED', 'late REVOKED']);
    // The run went on and stored its SUCCESS over the REVOKED: its history takes it.
    now = 5000;
    stored.set('ran', { state: 'SUCCESS', doneAtMs: 4000 });
    await tracker.poll();
    await vi.waitFor(() => expect(history.lists.get('e')?.find((r) => r.taskId === 'ran')?.state).toBe('SUCCESS'));
    expect(history.lists.get('e')?.find((r) => r.taskId === 'ran')).toEqual({
      taskId: 'ran',
      slotMs: 1000,
      publishedAtMs: 1000,
      state: 'SUCCESS',
      finishedAtMs: 4000,
      runtimeMs: 3000,
      revokedBy: 'cancelOther',
    });
    // Past outcomeTimeout a REVOKED stands, whatever comes later.
    now = 1000 + 60_001;
    await tracker.poll();
    stored.set('late', { state: 'FAILURE', doneAtMs: now, exception: 'E: x' });
    await tracker.poll();
    expect(history.lists.get('e')?.find((r) => r.taskId === 'late')?.state).toBe('REVOKED');
    expect(finished).toEqual(['ran REVOKED', 'late REVOKED']);
    await tracker.stop();
  });

  it('takes published() without reading the result backend, which hangs: the reads wait for the poll', async () => {
    let reads = 0;
    const tracker = new OutcomeTracker({
      history: memoryHistory(),
      results: {
        read: () => {
          reads += 1;
          return new Promise(() => undefined);
        },
      },
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
    });
    void tracker.start();
    // The publish path calls it for every run: it must neither wait for the backend nor ask it.
    for (let i = 0; i < 10_000; i += 1) expect(tracker.published('e', `id${i}`, i, i)).toBeUndefined();
    expect(tracker.pendingCount).toBe(10_000);
    // Nor later in this turn of the loop (a read begun after an await inside it): the poll is seconds away.
    await new Promise((resolve) => setImmediate(resolve));
    expect(reads).toBe(0);
    void tracker.stop();
  });
});

describe('deploy/prometheus/tsbeat-alerts.yaml', () => {
  it('names only metrics tsbeat exports', async () => {
    const rules = parse(readFileSync(join(repoRoot, 'deploy', 'prometheus', 'tsbeat-alerts.yaml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const exported = new Set((await new BeatMetrics({ processMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name));
    const used = rules.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\btsbeat_\w+/g) ?? []));
    expect(used.length).toBeGreaterThan(0);
    for (const name of used) expect(exported, name).toContain(name);
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(['TsbeatNoRecentSuccess', 'TsbeatLastRunFailed']);
  });
});

describe('the resultBackend setting and beat history, as the CLI takes them', () => {
  const dir = new TempDir();
  afterAll(() => dir.remove());
  const schedule = { ok: { task: 'proj.ok', schedule: 60 } };

  it("reads Celery's spellings and refuses a result backend that is not Redis, naming the setting and the fix (exit 2)", async () => {
    const good = dir.write('good.json', {
      result_backend: 'redis://127.0.0.1:6379/1',
      result_backend_transport_options: { global_keyprefix: 'app' },
      beatSchedule: schedule,
    });
    const loaded = parseConfig(JSON.parse(readFileSync(good, 'utf8')), 'good.json');
    expect(loaded.resultBackend).toEqual({ url: 'redis://127.0.0.1:6379/1', transportOptions: { globalKeyprefix: 'app' } });
    expect(loaded.outcomeTimeoutMs).toBe(24 * 3600 * 1000);
    const bad = dir.write('bad.json', { resultBackend: 'db+postgresql://u:secret@db/celery', beatSchedule: schedule });
    const run = await runCli(['check', '--config', bad]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /resultBackend: tsbeat reads Redis result backends only \(redis:\/\/, rediss:\/\/, sentinel:\/\/\); .* is not one\. Remove resultBackend/,
    );
    expect(run.stderr).not.toContain('secret');
  });

  it('takes $CELERY_RESULT_BACKEND over the file, and names it when it is bad', async () => {
    const file = dir.write('env.json', { resultBackend: 'redis://127.0.0.1:6379/1', beatSchedule: schedule });
    const env = { CELERY_RESULT_BACKEND: 'redis://127.0.0.1:6379/5' };
    expect((await loadConfig({ explicit: file, env })).config.resultBackend?.url).toBe('redis://127.0.0.1:6379/5');
    const run = await runCli(['check', '--config', file], { env: { CELERY_RESULT_BACKEND: 'rpc://' } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('CELERY_RESULT_BACKEND');
  });

  it('refuses beat history without an entry, and a --limit out of range, with exit 2', async () => {
    expect(await runCli(['history'])).toMatchObject({ code: 2, stderr: expect.stringContaining('beat history: which entry?') });
    expect(await runCli(['history', 'ok', '--limit', '0'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--limit must be a whole number from 1 to 20'),
    });
  });
});

describe('the outcome tracker, bounded', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: 'info', destination: { write: (text: string) => void lines.push(JSON.parse(text)) } });
  /** A tracker whose result backend has nothing and whose polls wait a minute, with `options` over that. */
  const trackerOf = (history: RunHistory, options: Partial<ConstructorParameters<typeof OutcomeTracker>[0]>): OutcomeTracker =>
    new OutcomeTracker({
      history,
      results: { read: async (ids) => ids.map(() => undefined) },
      events: { finished: () => undefined },
      logger: silentLogger,
      clock: { now: () => 10 },
      timeoutMs: 60_000,
      pollMs: 60_000,
      ...options,
    });

  it('gives the oldest run up as unknown when more than maxPending are followed', async () => {
    const history = memoryHistory();
    const finished: string[] = [];
    const tracker = trackerOf(history, {
      events: { finished: (_e, r) => finished.push(`${r.taskId} ${r.state}`) },
      maxPending: 2,
      recordDelayMs: 1,
    });
    await tracker.start();
    // Followed for OUTCOME_FOLLOW_AT_LEAST_MS by the time c is published, in a burst of its own (after
    // the pause that ends one): one of c's own burst would not be given up for it.
    for (const id of ['a', 'b']) tracker.published('e', id, 1, 1);
    tracker.published('e', 'b2', 1, 10_001);
    expect(finished).toEqual([]);
    // The burst ends at the record timer's second quiet round: a few sleeps, each armed after the
    // timer's last firing, let it fire first however late a loaded machine runs them (one 30 ms
    // sleep could expire before the timer's second round, armed late, did).
    for (let round = 0; round < 4; round++) await new Promise((resolve) => setTimeout(resolve, 5));
    tracker.published('e', 'c', 1, 10_001);
    expect(finished).toEqual(['a unknown']);
    expect(tracker.pendingCount).toBe(2);
    await tracker.stop();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(history.lists.get('e')?.find((r) => r.taskId === 'a')).toMatchObject({
      state: 'unknown',
      exception: expect.stringContaining('no longer followed'),
    });
  });

  it('without a result backend, gives each run up in the poll after its silence, oldest first, readsPerPoll a poll, and changes none before', async () => {
    const history = memoryHistory();
    const finished: string[] = [];
    let nowMs = 0;
    const tracker = new OutcomeTracker({
      history,
      events: { finished: (_e, r) => finished.push(`${r.taskId} ${r.state}`) },
      logger: silentLogger,
      clock: { now: () => nowMs },
      timeoutMs: 60_000,
      silenceMs: 1000,
      pollMs: 60_000,
      readsPerPoll: 2,
      recordDelayMs: 1,
    });
    await tracker.start();
    for (const [id, atMs] of [
      ['a', 0],
      ['b', 10],
      ['c', 20],
      ['d', 500],
    ] as const)
      tracker.published('e', id, atMs, atMs);
    await new Promise((resolve) => setTimeout(resolve, 30));
    nowMs = 1000;
    await tracker.poll();
    expect(finished).toEqual([]);
    nowMs = 1025;
    await tracker.poll();
    expect(finished).toEqual(['a unknown', 'b unknown']);
    await tracker.poll();
    expect(finished).toEqual(['a unknown', 'b unknown', 'c unknown']);
    expect(tracker.pendingCount).toBe(1);
    await tracker.stop();
    expect(history.lists.get('e')?.find((r) => r.taskId === 'a')).toMatchObject({
      state: 'unknown',
      exception: expect.stringContaining('task event'),
    });
  });

  it('a run whose first write failed after it was stored, and that a task event then finished, ends final in its history', async () => {
    const history = memoryHistory();
    let failOnce = true;
    let deliver: ((events: TaskEvent[]) => void) | undefined;
    const failingOnce: RunHistory = {
      ...history,
      // Stored, then the reply is lost: the tracker cannot tell that it was written.
      recordPublished: async (runs) => {
        await history.recordPublished(runs);
        if (failOnce) {
          failOnce = false;
          throw new Error('connection lost');
        }
      },
    };
    const tracker = trackerOf(failingOnce, {
      taskEvents: { start: (onEvents) => (deliver = onEvents), stop: async () => undefined },
      clock: { now: () => 30 },
      recordDelayMs: 0,
    });
    await tracker.start();
    tracker.published('e', 'r1', 1, 10);
    await vi.waitFor(() => expect(failOnce).toBe(false));
    // Before the write is tried again: the retry's push leaves the stored PENDING as it is.
    deliver?.([{ taskId: 'r1', type: 'task-succeeded', state: 'SUCCESS', atMs: 20, runtimeMs: 5 }]);
    await tracker.stop();
    expect(history.lists.get('e')).toMatchObject([{ taskId: 'r1', state: 'SUCCESS', finishedAtMs: 20 }]);
  });

  it("writes a burst's runs after it: while runs keep coming, only the oldest OUTCOME_RECORDS_WHILE_ARRIVING every OUTCOME_RECORD_MAX_WAIT_MS, and a task event changes none not written yet", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    onTestFinished(() => void vi.useRealTimers());
    const history = memoryHistory();
    const calls: string[] = [];
    const counted = {
      ...history,
      recordPublished: async (runs: Parameters<typeof history.recordPublished>[0]) => {
        calls.push(`push ${runs.length} at ${now}`);
        await history.recordPublished(runs);
      },
      recordChanges: async (runs: Parameters<typeof history.recordChanges>[0]) => {
        calls.push(`change ${runs.length} at ${now}`);
        await history.recordChanges(runs);
      },
    };
    let now = 0;
    let deliver: ((events: TaskEvent[]) => void) | undefined;
    const tracker = trackerOf(counted, {
      clock: { now: () => now },
      taskEvents: { start: (onEvents) => (deliver = onEvents), stop: async () => undefined },
    });
    await tracker.start();
    // Ten runs every 10 ms for 3 s (3,000), never the 50 ms pause that writes them all.
    for (let i = 0; i < 3000; i += 10) {
      for (let j = i; j < i + 10; j++) tracker.published(`e${j}`, `id${j}`, now, now);
      // A worker's SUCCESS for a run not written yet: its first write takes it.
      if (i === 2500) deliver?.([{ taskId: 'id2400', type: 'task-succeeded', state: 'SUCCESS', atMs: now, runtimeMs: 5 }]);
      now += 10;
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(calls).toEqual([`push ${OUTCOME_RECORDS_WHILE_ARRIVING} at 2000`]);
    expect(history.lists.get('e999')).toMatchObject([{ state: 'PENDING' }]);
    expect(history.lists.get('e1000')).toBeUndefined();
    // A burst's runs wait for a longer pause than a few runs do.
    await vi.advanceTimersByTimeAsync(OUTCOME_BURST_QUIET_MS - 100);
    expect(calls).toEqual([`push ${OUTCOME_RECORDS_WHILE_ARRIVING} at 2000`]);
    await vi.advanceTimersByTimeAsync(200);
    expect(calls).toEqual([`push ${OUTCOME_RECORDS_WHILE_ARRIVING} at 2000`, 'push 2000 at 3000']);
    expect(history.lists.get('e2400')).toMatchObject([{ state: 'SUCCESS' }]);
    expect(history.lists.get('e2999')).toMatchObject([{ state: 'PENDING' }]);
    await tracker.stop();
  });

  it('follows the first maxPending runs of a burst past it and not the rest, says so once, and writes each followed run once', async () => {
    const history = memoryHistory();
    lines.length = 0;
    const calls: string[] = [];
    const counted = {
      ...history,
      recordPublished: async (runs: Parameters<typeof history.recordPublished>[0]) => {
        calls.push(`push ${runs.length}`);
        await history.recordPublished(runs);
      },
      recordChanges: async (runs: Parameters<typeof history.recordChanges>[0]) => {
        calls.push(`change ${runs.length}`);
        await history.recordChanges(runs);
      },
      update: async () => {
        calls.push('update 1');
      },
    };
    const tracker = trackerOf(counted, { logger, maxPending: 100 });
    await tracker.start();
    for (let i = 0; i < 1000; i++) tracker.published(`e${i}`, `id${i}`, 1, 1);
    expect(tracker.pendingCount).toBe(100);
    await vi.waitFor(() => expect(calls).toEqual(['push 100']));
    expect(history.lists.get('e99')).toMatchObject([{ state: 'PENDING' }]);
    expect(history.lists.get('e100')).toBeUndefined();
    await vi.waitFor(() =>
      expect(lines.filter((l) => l['event'] === 'beat.outcome.not_followed')).toMatchObject([{ runs: 900, maxPending: 100 }]),
    );
    // Ten seconds on, a new run takes the oldest's place; written already, the oldest are changed in one call.
    for (let i = 1000; i < 1050; i++) tracker.published(`e${i}`, `id${i}`, 1, 10_001);
    await tracker.stop();
    expect(calls).toEqual(['push 100', 'push 50', 'change 50']);
    expect(history.lists.get('e0')).toMatchObject([{ state: 'unknown', exception: expect.stringContaining('more than 100 runs') }]);
    expect(history.lists.get('e49')).toMatchObject([{ state: 'unknown' }]);
    expect(history.lists.get('e50')).toMatchObject([{ state: 'PENDING' }]);
    expect(history.lists.get('e1049')).toMatchObject([{ state: 'PENDING' }]);
  });
});
