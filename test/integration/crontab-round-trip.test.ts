/**
 * The crontab round trip of a user leaving cron: `beat import crontab` (the built CLI) → `beat run`
 * with the config it wrote → a real Celery worker running examples/cron_tasks.py as its docstring
 * says (`-Q cron -E`) → a job whose command fails. Cron would have mailed its output; here the
 * failure must show without any setup beyond the import: FAILURE with the exit status and the
 * output's tail (stderr included) in `beat history` (table and JSON) and in the dashboard's history
 * of the entry, and a job that succeeds shows SUCCESS. Hazard: an imported crontab that cannot show
 * a failed job (no result backend, no task events, a task that swallows the exit status).
 * Broker and state on a private Redis.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir, waitUntil } from '../support/beat-process.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { httpPortOf, httpRequest, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
const celery = pythonCelery();
// In CI the suite must run: a missing piece fails it (in beforeAll) instead of skipping it.
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

interface HistoryRun {
  readonly taskId: string;
  readonly state: string;
  readonly exception: string | null;
}

/** The example's worker, started as its docstring says: `celery -A cron_tasks worker -Q cron -E`. */
async function startCronWorker(broker: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(
    PYTHON,
    [
      '-m',
      'celery',
      '-A',
      'cron_tasks',
      'worker',
      '-Q',
      'cron',
      '-E',
      '-P',
      'solo',
      '--without-heartbeat',
      '--without-gossip',
      '--without-mingle',
      '--loglevel',
      'INFO',
    ],
    {
      cwd: EXAMPLES,
      env: {
        ...process.env,
        CELERY_BROKER_URL: broker,
        PYTHONUNBUFFERED: '1',
        PYTHONPATH: [EXAMPLES, process.env['PYTHONPATH']].filter(Boolean).join(':'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  await waitUntil(
    'the cron_tasks worker to be ready',
    () => {
      if (child.exitCode !== null) throw new Error(`the worker exited: ${out}`);
      return / ready\.\s*$/m.test(out) ? true : undefined;
    },
    30_000,
    () => out,
  );
  return { child, output: () => out };
}

suite(`beat import crontab, run, and a failing command (examples/cron_tasks.py)${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let worker: { child: ChildProcess; output: () => string } | undefined;

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = await startPrivateRedis();
  });

  afterAll(async () => {
    await fleet.killAll();
    worker?.child.kill('SIGKILL');
    await redis?.stop();
    dir.remove();
  });

  it('a failed command shows FAILURE with its exit status and the tail of its output in beat history and the dashboard; a good one SUCCESS', async () => {
    const crontab = dir.write(
      'ops.crontab',
      ['MAILTO=ops@example.com', '0 3 * * * echo nightly report done', '30 3 * * * echo "disk full on /var" >&2; exit 3', ''].join('\n'),
    );
    const yamlOut = join(dir.path, 'imported.yaml');
    const imported = await runBeatCli([
      'import',
      'crontab',
      crontab,
      '--task',
      'cron.run_command',
      '--queue',
      'cron',
      '--timezone',
      'UTC',
      '--out',
      yamlOut,
    ]);
    expect(imported.code, imported.stderr).toBe(0);
    const written = parse(readFileSync(yamlOut, 'utf8')) as { taskEvents?: unknown; beatSchedule: Record<string, { args: unknown[] }> };
    // What makes failures visible, written by the import itself.
    expect(written.taskEvents).toBe(true);
    const names = Object.keys(written.beatSchedule);
    const good = names.find((n) => String(written.beatSchedule[n]?.args[0]).startsWith('echo nightly'));
    const bad = names.find((n) => String(written.beatSchedule[n]?.args[0]).includes('exit 3'));
    expect(good && bad, JSON.stringify(written)).toBeTruthy();

    // Only where to connect is added to what the import wrote.
    const config = dir.write('cron.json', {
      ...written,
      name: uniqueName('cron-round-trip'),
      broker: { url: redis.url(0) },
      lock: FAST_LOCK,
      maxInterval: '200ms',
    });
    expect((await runBeatCli(['check', '--config', config])).code).toBe(0);
    worker = await startCronWorker(redis.url(0));
    const beat = fleet.spawn({ config, args: ['--http', '127.0.0.1:0'] });
    await beat.waitForEvent(EVENTS.lockAcquired, 15_000);
    const port = await httpPortOf(beat);

    // The slots are hours away: run each now, as `beat trigger` does through the leader.
    for (const name of [good!, bad!]) {
      const t = await runBeatCli(['trigger', name, '--config', config]);
      expect(t.code, t.stderr).toBe(0);
    }
    const history = async (name: string): Promise<HistoryRun[]> => {
      const r = await runBeatCli(['history', name, '--config', config, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as HistoryRun[];
    };
    const failed = await waitUntil(
      'the failing command to be recorded as FAILURE',
      async () => (await history(bad!)).find((r) => r.state === 'FAILURE'),
      30_000,
      () => `${beat.tail()}\n${worker?.output().slice(-3000)}`,
    );
    expect(failed.exception).toBe('cron_tasks.CommandFailed: exit status 3: disk full on /var');
    const succeeded = await waitUntil(
      'the good command to be recorded as SUCCESS',
      async () => (await history(good!)).find((r) => r.state === 'SUCCESS'),
      30_000,
    );
    expect(succeeded.exception).toBeNull();

    // The table an operator reads.
    const table = await runBeatCli(['history', bad!, '--wide', '--config', config]);
    expect(table.stdout).toMatch(/FAILURE/);
    expect(table.stdout).toContain('exit status 3: disk full on /var');

    // The dashboard's history of the entry (what its page draws).
    const detail = await waitUntil(
      "the dashboard's history of the failing entry",
      async () => {
        const reply = await httpRequest(port, `/ui/api/entries/${encodeURIComponent(bad!)}`);
        const body = JSON.parse(reply.body) as { history: HistoryRun[] | null };
        return body.history?.find((r) => r.taskId === failed.taskId && r.state === 'FAILURE');
      },
      15_000,
    );
    expect(detail.exception).toBe('cron_tasks.CommandFailed: exit status 3: disk full on /var');
  }, 120_000);
});
