/**
 * The README's quick start, run as written: `beat run` on schedules/example.yaml and the example
 * Celery worker (examples/example_app.py) with the README's command, then `beat trigger` of every
 * entry: each task must execute on the worker, which proves that the example app registers every
 * task name the example uses and that the worker's -Q covers every queue it routes to. Both talk
 * to a private redis-server through $CELERY_BROKER_URL (which the two read alike), so the shared
 * Redis's DB 0, where the example writes by default, is not touched. `beat history` then shows a
 * triggered run's SUCCESS, learnt from the worker's task events (-E).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeatFleet, waitUntil } from '../support/beat-process.js';
import { PYTHON, pythonCelery } from '../support/celery.js';
import { repoRoot, spawnCli } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const CONFIG = 'schedules/example.yaml';
/** The commands as the README gives them (checked below to be there, word for word). */
const RUN = ['run', '--config', CONFIG];
const WORKER = ['-m', 'celery', '-A', 'example_app', 'worker', '-Q', 'celery,reports,billing,ops', '-E', '--loglevel', 'INFO'];

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite(`the README's quick start with the example worker${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  const fleet = new BeatFleet();
  let redis: PrivateRedis;
  let worker: ChildProcess | undefined;
  let workerOutput = '';
  let workerExited: Promise<unknown> = Promise.resolve();

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = new PrivateRedis(await freePort());
    await redis.start();
  });

  afterAll(async () => {
    await fleet.killAll();
    if (worker?.pid !== undefined && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGTERM');
      const killer = setTimeout(() => worker?.pid !== undefined && process.kill(-worker.pid, 'SIGKILL'), 5000);
      await workerExited;
      clearTimeout(killer);
    }
    await redis?.stop();
  });

  it('says what it runs: the README gives these commands and says where the example writes', () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain(`node dist/cli.js ${RUN.join(' ')}`);
    expect(readme).toContain(`/usr/bin/python3 ${WORKER.join(' ')}`);
    expect(readme).toMatch(/DB 0/);
  });

  it('runs every entry of the example on the example worker: each task name registered, each queue consumed', async () => {
    const env = { CELERY_BROKER_URL: redis.url(0) };
    const beat = fleet.spawn({ config: CONFIG, args: [], env });
    // fleet.spawn runs `run --config <config>`: the README's command.
    expect(beat.child.spawnargs.slice(2)).toEqual(RUN);
    // Its own process group, so that a stuck prefork pool can be killed with it.
    const child = spawn(PYTHON, WORKER, {
      cwd: join(repoRoot, 'examples'),
      env: { ...process.env, ...env, PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    worker = child;
    workerExited = new Promise((resolve) => child.once('exit', resolve));
    child.stdout?.on('data', (d: Buffer) => (workerOutput += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (workerOutput += d.toString()));
    await waitUntil(
      'the example worker to be ready',
      () => (/ ready\.\s*$/m.test(workerOutput) ? true : undefined),
      30_000,
      () => workerOutput,
    );
    await beat.waitForEvent('beat.lock.acquired', 15_000);

    const entries = (parse(readFileSync(join(repoRoot, CONFIG), 'utf8')) as { beatSchedule: Record<string, { task: string }> })
      .beatSchedule;
    const triggered: { task: string; id: string }[] = [];
    for (const [name, entry] of Object.entries(entries)) {
      const r = spawnCli(['trigger', name, '--config', CONFIG], { env });
      expect(r, `beat trigger ${name}`).toMatchObject({ code: 0 });
      const id = /task id ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
      expect(id, r.stdout).toBeDefined();
      triggered.push({ task: entry.task, id: id as string });
    }
    expect(triggered.length).toBeGreaterThanOrEqual(8);
    await waitUntil(
      'the worker to run every triggered task',
      () => (triggered.every((t) => workerOutput.includes(`Task ${t.task}[${t.id}] succeeded`)) ? true : undefined),
      30_000,
      () => `${workerOutput}\n${beat.tail()}`,
    );
    expect(workerOutput).toContain(`Task tasks.add[${triggered[0]?.id}] succeeded`);
    expect(workerOutput).toMatch(/Task tasks\.add\[[0-9a-f-]+\] succeeded in [\d.e-]+s: 32/);
    expect(workerOutput).not.toMatch(/unregistered task|Traceback/i);
    // The README's history command shows the triggered run's outcome: -E's task events tell it.
    const add = triggered[0] as { task: string; id: string };
    const history = await waitUntil(
      "beat history to show the triggered run's SUCCESS",
      () => {
        const r = spawnCli(['history', 'add-every-30-seconds', '--config', CONFIG, '--json'], { env });
        const runs = r.code === 0 ? (JSON.parse(r.stdout) as { taskId: string; state: string; origin?: string }[]) : [];
        return runs.find((run) => run.taskId === add.id && run.state === 'SUCCESS');
      },
      15_000,
      () => spawnCli(['history', 'add-every-30-seconds', '--config', CONFIG], { env }).stdout,
    );
    expect(history).toMatchObject({ origin: 'trigger' });

    beat.signal('SIGTERM');
    expect(await beat.waitForExit(10_000), beat.tail()).toEqual({ code: 0, signal: null });
  }, 90_000);
});
