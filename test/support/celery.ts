/**
 * Real Celery processes for integration tests: a worker (`celery worker`) and a scheduler
 * (`celery beat`) from Debian's python3-celery, running the app in test/support/celery_app.
 * Every wait has a deadline; every process started is killed by `stopAll` (call it in afterAll)
 * and on exit of the test process.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

export const PYTHON = '/usr/bin/python3';
export const APP_DIR = fileURLToPath(new URL('./celery_app/', import.meta.url));
export const INSTALL_HINT = 'install python3-celery python3-redis (apt-get install -y python3-celery python3-redis)';

export interface PythonCelery {
  readonly ok: boolean;
  /** celery.__version__, e.g. "5.2.6". */
  readonly version: string;
  readonly problem: string;
}

/** Whether `/usr/bin/python3 -c 'import celery, redis'` works. */
export function pythonCelery(): PythonCelery {
  const run = spawnSync(PYTHON, ['-c', 'import celery, redis; print(celery.__version__)'], { encoding: 'utf8', timeout: 30_000 });
  if (run.status === 0) return { ok: true, version: run.stdout.trim(), problem: '' };
  return {
    ok: false,
    version: '',
    problem: `${PYTHON} cannot import celery and redis (${(run.stderr || String(run.error ?? '')).trim().split('\n').pop() ?? ''}); ${INSTALL_HINT}`,
  };
}

/** celery version as a comparable tuple. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface CeleryProcess {
  readonly name: string;
  /** The main process's id (a prefork worker's pool processes are its children). */
  readonly pid?: number | undefined;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface CeleryEnv {
  /** Broker URL (TSBEAT_TEST_BROKER). */
  readonly broker: string;
  readonly backend?: string;
  readonly transportOptions?: Record<string, unknown>;
  readonly namedQueues?: readonly { queue: string; exchange: string; type: string; routing_key: string }[];
  readonly routes?: Record<string, unknown>;
  /** celery beat's beat_schedule (TSBEAT_TEST_BEAT_ENTRY): one entry, or several. */
  readonly beatEntry?: Record<string, unknown> | readonly Record<string, unknown>[];
  /** Further Celery settings (TSBEAT_TEST_CONF), e.g. `{ task_queue_max_priority: 10 }`. */
  readonly conf?: Record<string, unknown>;
  /** The worker stores REVOKED the moment a revoke arrives, as Celery >= 5.6.2 does (TSBEAT_TEST_REVOKE_STORES; see the app). */
  readonly revokeStores?: boolean;
}

function environment(env: CeleryEnv): NodeJS.ProcessEnv {
  // The app first, then what the run was given: CI's newer-Celery leg puts an unpacked Celery on PYTHONPATH.
  const pythonPath = [APP_DIR, process.env['PYTHONPATH']].filter((p) => p !== undefined && p !== '').join(':');
  const vars: NodeJS.ProcessEnv = { ...process.env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1', TSBEAT_TEST_BROKER: env.broker };
  if (env.backend !== undefined) vars['TSBEAT_TEST_BACKEND'] = env.backend;
  if (env.transportOptions !== undefined) vars['TSBEAT_TEST_TRANSPORT_OPTIONS'] = JSON.stringify(env.transportOptions);
  if (env.namedQueues !== undefined) vars['TSBEAT_TEST_NAMED_QUEUES'] = JSON.stringify(env.namedQueues);
  if (env.routes !== undefined) vars['TSBEAT_TEST_ROUTES'] = JSON.stringify(env.routes);
  if (env.beatEntry !== undefined) vars['TSBEAT_TEST_BEAT_ENTRY'] = JSON.stringify(env.beatEntry);
  if (env.conf !== undefined) vars['TSBEAT_TEST_CONF'] = JSON.stringify(env.conf);
  if (env.revokeStores === true) vars['TSBEAT_TEST_REVOKE_STORES'] = '1';
  return vars;
}

function launch(name: string, args: readonly string[], env: CeleryEnv): { child: ChildProcess; handle: CeleryProcess } {
  const child = spawn(PYTHON, ['-m', 'celery', '-A', 'tsbeat_testapp', ...args], {
    cwd: APP_DIR,
    env: environment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  const handle: CeleryProcess = {
    name,
    pid: child.pid,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
  return { child, handle };
}

/**
 * Starts `celery worker` and waits (bounded) until it says it is ready. `pool` is solo unless a
 * test needs time limits, which only the prefork pool enforces.
 */
export async function startWorker(options: {
  name: string;
  queues: readonly string[];
  env: CeleryEnv;
  pool?: 'solo' | 'prefork';
  readyTimeoutMs?: number;
  /** `-E`: the worker sends Celery's task events. */
  events?: boolean;
  /** The worker sends worker-heartbeat events (else `--without-heartbeat`). */
  heartbeat?: boolean;
}): Promise<CeleryProcess> {
  const pool = options.pool ?? 'solo';
  const { child, handle } = launch(
    options.name,
    [
      'worker',
      '-P',
      pool,
      '-c',
      '1',
      '-n',
      `${options.name}@%h`,
      ...(options.heartbeat === true ? [] : ['--without-heartbeat']),
      '--without-gossip',
      '--without-mingle',
      '-Q',
      options.queues.join(','),
      '--loglevel=INFO',
      ...(options.events === true ? ['-E'] : []),
    ],
    options.env,
  );
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  while (!/ ready\.\s*$/m.test(handle.output())) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`worker ${options.name} exited before it was ready:\n${handle.output()}`);
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`worker ${options.name} was not ready after ${options.readyTimeoutMs ?? 30_000} ms:\n${handle.output()}`);
    }
    await sleep(50);
  }
  return handle;
}

/** Starts `celery beat` with a schedule file in `scheduleFile` (no pidfile is written by default). */
export function startBeat(options: { env: CeleryEnv; scheduleFile: string }): CeleryProcess {
  return launch('beat', ['beat', '-s', options.scheduleFile, '--max-interval', '1', '--loglevel=INFO'], options.env).handle;
}

export async function stopAll(processes: readonly (CeleryProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map(async (p) => p?.stop()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` every 50 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context() === '' ? '' : `\n${context()}`}`);
    await sleep(50);
  }
}

export interface TaskResult {
  readonly status: string;
  readonly result: unknown;
  readonly task_id: string;
  readonly traceback: string | null;
}

/** Waits for the worker to store a task's result in the Redis result backend (§4). */
export function waitForResult(results: Redis, taskId: string, workers: readonly CeleryProcess[], timeoutMs = 30_000): Promise<TaskResult> {
  return waitFor(
    `the result of task ${taskId}`,
    async () => {
      const raw = await results.get(resultKey(taskId));
      return raw === null ? undefined : (JSON.parse(raw) as TaskResult);
    },
    timeoutMs,
    () => workers.map((w) => `--- ${w.name} ---\n${w.output().slice(-4000)}`).join('\n'),
  );
}

/**
 * The Redis result backend's key for a task (celery-protocol.md §4). tsbeat never writes it; the
 * tests read it to see what a worker did.
 */
export function resultKey(taskId: string, resultKeyprefix = ''): string {
  return `${resultKeyprefix}celery-task-meta-${taskId}`;
}
