/**
 * The Python client (clients/python) as a user gets it: its wheel built with Debian's setuptools,
 * installed into a fresh venv (with the system's site packages, for Celery, redis-py and pytest), and
 * its pytest suite run from there against a real `beat run --http` (a leader with a write token and a
 * read token) on a private Redis, with a real Celery worker that runs what it publishes. mypy --strict
 * accepts the package. The pytest file names every verb it drives; this file only sets the stage.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { PYTHON, startWorker, stopAll } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { repoRoot } from '../support/cli.js';
import { httpPortOf, startPrivateRedis } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TOKEN = 'python-client-write-0123456789';
const READ_TOKEN = 'python-client-read-0123456789';
const STATIC = 'static-report';

function python(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number }) {
  const r = spawnSync(args[0] as string, args.slice(1), {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

describe('the Python client, installed from its wheel, against a real beat and a real worker', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let worker: CeleryProcess | undefined;
  let port = 0;
  let venvPython = '';
  const project = join(dir.path, 'python');

  beforeAll(async () => {
    server = await startPrivateRedis();
    // A copy, so the build's own files (build/, *.egg-info) never land in the repository.
    cpSync(join(repoRoot, 'clients/python'), project, { recursive: true });
    const built = python(
      [PYTHON, '-c', `from setuptools import build_meta as b; print(b.build_wheel(${JSON.stringify(join(dir.path, 'dist'))}))`],
      {
        cwd: project,
      },
    );
    expect(built.code, built.out).toBe(0);
    const wheel = readdirSync(join(dir.path, 'dist')).find((f) => f.endsWith('.whl'));
    expect(wheel, built.out).toMatch(/^tsbeat-[\d.]+-py3-none-any\.whl$/);
    const venv = join(dir.path, 'venv');
    const made = python([PYTHON, '-m', 'venv', '--system-site-packages', venv], { cwd: dir.path });
    expect(made.code, made.out).toBe(0);
    venvPython = join(venv, 'bin/python');
    const installed = python(
      [venvPython, '-m', 'pip', 'install', '--no-deps', '--no-index', '-q', join(dir.path, 'dist', wheel as string)],
      {
        cwd: dir.path,
      },
    );
    expect(installed.code, installed.out).toBe(0);

    const config = dir.write(
      'beat.yaml',
      [
        'name: python-client',
        `broker: { url: "${server.url(0)}" }`,
        'maxInterval: 5s',
        `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
        'beatSchedule:',
        `  ${STATIC}: { task: tsbeat_test.ok, schedule: 3600 }`,
        '',
      ].join('\n'),
    );
    const tokens = dir.write('tokens', `python-ci:${TOKEN}\npy-reader:read:${READ_TOKEN}\n`);
    const leader = fleet.spawn({ config, label: 'leader', args: ['--http', '127.0.0.1:0', '--api-token-file', tokens] });
    port = await httpPortOf(leader);
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    worker = await startWorker({ name: 'py-client', queues: ['celery'], env: { broker: server.url(0), backend: server.url(1) } });
  }, 180_000);

  afterAll(async () => {
    await stopAll([worker]);
    await fleet.killAll();
    await server?.stop();
    dir.remove();
  });

  it('runs the client suite from the installed wheel: every verb, the canvas on the worker, the errors', () => {
    const run = python([venvPython, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-W', 'ignore::DeprecationWarning', 'tests'], {
      cwd: project,
      timeout: 240_000,
      env: {
        TSBEAT_URL: `http://127.0.0.1:${port}`,
        TSBEAT_TOKEN: TOKEN,
        TSBEAT_READ_TOKEN: READ_TOKEN,
        TSBEAT_STATIC_ENTRY: STATIC,
        TSBEAT_RESULTS: server.url(1),
        TSBEAT_EXPECT_INSTALLED: '1',
        TSBEAT_OPENAPI: join(repoRoot, 'docs/openapi.json'),
      },
    });
    // pytest's FAILED and ERROR lines first: of a first attempt that failed and passed on its retry,
    // the closing report keeps the message's first line, which then names the cases.
    const failedCases = run.out.split('\n').filter((line) => /^(FAILED|ERROR) /.test(line));
    expect(run.code, `${failedCases.join('; ') || 'pytest failed'}\n${run.out}`).toBe(0);
    // Every test ran: none skipped for want of the deployment.
    expect(run.out).toMatch(/\b\d+ passed\b/);
    expect(run.out).not.toMatch(/skipped/);
  }, 300_000);

  it('passes mypy --strict', () => {
    const checked = python([PYTHON, '-m', 'mypy', '--strict', '--no-incremental', 'src/tsbeat'], { cwd: project });
    expect(checked.code, checked.out).toBe(0);
  }, 120_000);
});
