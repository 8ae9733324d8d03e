/**
 * The container, proved end to end (issue 5): `../shared/tools/container-base.sh` makes the base
 * image (no registry is reachable here), `podman build` builds the Dockerfile, and the image runs
 * with `--network host` against the local Redis with a mounted config: it publishes a task that a
 * real Celery worker executes, answers /healthz (and its own HEALTHCHECK), and `podman stop` ends it
 * with exit code 0 within 5 s, lock released.
 *
 * Slow: the base image takes ~70 s cold (~5 s warm), the build ~30–120 s. Skipped only outside CI
 * when podman cannot be set up (the reason is printed); in CI a failure to set up fails the file.
 * Redis: DB 15 of the shared server (broker and result backend), for this file only.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { TempDir, waitUntil } from '../support/beat-process.js';
import type { LogLine } from '../support/beat-process.js';
import { pythonCelery, startWorker, stopAll, waitForResult } from '../support/celery.js';
import type { CeleryProcess } from '../support/celery.js';
import { repoRoot } from '../support/cli.js';
import { flushDb, httpRequest, uniqueName } from '../support/ops.js';
import { freePort } from '../support/redis-server.js';

const DB = 15;
const REDIS_URL = `redis://127.0.0.1:6379/${DB}`;
const BASE_SCRIPT = resolve(repoRoot, '..', 'shared', 'tools', 'container-base.sh');
const IMAGE = 'localhost/tsbeat:ci';
/** The Node.js major of the Dockerfile's default base image: the local base image is built for it. */
const NODE_MAJOR = /ARG NODE_IMAGE=node:(\d+)-/.exec(readFileSync(resolve(repoRoot, 'Dockerfile'), 'utf8'))?.[1] ?? 'unknown';
const CONTAINERS_CONF = process.env['CONTAINER_BASE_DIR']
  ? `${process.env['CONTAINER_BASE_DIR']}/containers.conf`
  : '/var/tmp/container-base/containers.conf';
const PODMAN_ENV: NodeJS.ProcessEnv = { ...process.env, CONTAINERS_CONF };
const IN_CI = Boolean(process.env['CI']);
const TASK = 'tsbeat_test.record';

interface Exec {
  readonly code: number | null;
  /** stdout and stderr as they came, for failure messages. */
  readonly out: string;
  readonly stdout: string;
  readonly ms: number;
}

const children = new Set<ReturnType<typeof spawn>>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Runs a command to its end, or kills it and rejects after `timeoutMs`; stdout and stderr together. */
function exec(argv: readonly string[], timeoutMs: number, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Exec> {
  const started = Date.now();
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? PODMAN_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let stdout = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolveExec, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} did not finish within ${timeoutMs / 1000} s:\n${out.slice(-4000)}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolveExec({ code, out, stdout, ms: Date.now() - started });
    });
  });
}

/** `podman run` in the foreground: its exit is the container's exit; its stdout, beat's log lines. */
class Container {
  readonly logs: LogLine[] = [];
  /** Lines on stdout that are not JSON (there should be none). */
  readonly text: string[] = [];
  /** podman's own messages (e.g. that it cannot schedule the HEALTHCHECK timer without systemd). */
  stderr = '';
  readonly exited: Promise<number | null>;
  private pending = '';
  private readonly child: ReturnType<typeof spawn>;

  constructor(
    readonly name: string,
    args: readonly string[],
  ) {
    this.child = spawn('podman', ['run', '--rm', '--name', name, ...args], { env: PODMAN_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(this.child);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.collect(chunk));
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolveExit) =>
      this.child.once('close', (code) => {
        children.delete(this.child);
        resolveExit(code);
      }),
    );
  }

  private collect(chunk: string): void {
    this.pending += chunk;
    for (let nl = this.pending.indexOf('\n'); nl !== -1; nl = this.pending.indexOf('\n')) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.text.push(line);
      }
    }
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(): string {
    return [
      `--- container ${this.name}:`,
      ...this.logs.slice(-20).map((l) => `  ${l.level} ${l.event ?? ''} ${l.msg ?? ''}`),
      ...this.text.slice(-20).map((t) => `  | ${t}`),
      `  stderr: ${this.stderr.slice(-2000)}`,
    ].join('\n');
  }

  async remove(): Promise<void> {
    if (this.running) await exec(['podman', 'rm', '-f', '-t', '0', this.name], 30_000).catch(() => undefined);
    this.child.kill('SIGKILL');
  }
}

/** Sets up podman and the base image; undefined when ready, else why not. */
async function setUpPodman(): Promise<string | undefined> {
  if (!existsSync(BASE_SCRIPT)) return `${BASE_SCRIPT} is missing (the CI clone has shared/ beside the repository)`;
  try {
    // At the lowest CPU priority, as the build below: debootstrap makes the base image beside another file.
    const base = await exec(['nice', '-n', '19', 'bash', BASE_SCRIPT, NODE_MAJOR], 10 * 60_000, { env: process.env });
    if (base.code !== 0) return `container-base.sh exited with ${base.code}:\n${base.out.slice(-3000)}`;
    timings.base = base.ms;
    const version = await exec(['podman', 'version', '--format', '{{.Client.Version}}'], 30_000);
    if (version.code !== 0) return `podman does not run:\n${version.out}`;
    return undefined;
  } catch (error) {
    return `setting up podman failed: ${String(error)}`;
  }
}

const timings: { base?: number; build?: number; firstHealthz?: number; stop?: number } = {};
const celery = pythonCelery();

describe('the container image: built with podman, run beside a real Celery worker (Redis DB 15)', () => {
  let problem: string | undefined;
  let redis: Redis | undefined;
  let worker: CeleryProcess | undefined;
  const containers: Container[] = [];
  const dir = new TempDir();

  beforeAll(async () => {
    problem = await setUpPodman();
    if (problem !== undefined) {
      if (IN_CI) throw new Error(problem);
      console.warn(`container tests skipped: ${problem}`);
      return;
    }
    // From here on nothing is skipped: a Dockerfile that does not build fails the file.
    // At the lowest CPU priority: the build (npm ci, tsc) would take both cores for a minute from
    // the file running beside this one, whose assertions on failover and lateness need them.
    const build = await exec(
      ['nice', '-n', '19', 'podman', 'build', '--network', 'host', '--pull=never', '--format', 'docker', '-t', IMAGE, '.'],
      15 * 60_000,
    );
    if (build.code !== 0) throw new Error(`podman build failed (${build.code}):\n${build.out.slice(-6000)}`);
    timings.build = build.ms;
    if (!celery.ok) throw new Error(celery.problem);
    await flushDb(DB);
    redis = new Redis(REDIS_URL);
  }, 30 * 60_000);

  afterAll(async () => {
    await Promise.all(containers.map((c) => c.remove()));
    await stopAll([worker]);
    if (redis) {
      await flushDb(DB);
      redis.disconnect();
    }
    dir.remove();
    console.info(`container timings (ms): ${JSON.stringify(timings)}`);
  }, 120_000);

  it('is a production image: non-root numeric user, `beat run` entrypoint, HEALTHCHECK kept, no dev dependencies', async (ctx) => {
    if (problem !== undefined) ctx.skip(problem);
    const inspect = await exec(['podman', 'image', 'inspect', IMAGE], 30_000);
    expect(inspect.code).toBe(0);
    const [image] = JSON.parse(inspect.stdout) as { Config: Record<string, any>; Healthcheck?: { Test: string[] } }[];
    const cfg = image?.Config ?? {};
    expect(cfg['User']).toBe('1000:1000');
    expect(cfg['Entrypoint']).toEqual(['beat']);
    expect(cfg['Cmd']).toEqual(['run']);
    expect(cfg['Env']).toEqual(
      expect.arrayContaining(['NODE_ENV=production', 'BEAT_CONFIG=/config/beat.config.yaml', 'BEAT_HTTP=0.0.0.0:9808']),
    );
    expect(Object.keys(cfg['ExposedPorts'] ?? {})).toEqual(['9808/tcp']);
    // Kept because the build uses --format docker (the OCI format has no HEALTHCHECK; podman drops it).
    expect(image?.Healthcheck?.Test.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(image?.Healthcheck?.Test.join(' ')).toContain('/healthz');

    // Installed packages are the directories with a package.json (npm prune leaves empty scope dirs).
    const look = await exec(
      [
        'podman',
        'run',
        '--rm',
        '--no-healthcheck',
        '--network',
        'host',
        '--entrypoint',
        'sh',
        IMAGE,
        '-c',
        'id -u; ls /app | tr "\\n" " "; echo; cd /app/node_modules && ls -d */package.json @*/*/package.json | sed "s|/package.json||" | tr "\\n" " "; echo; beat --version; node --version',
      ],
      60_000,
    );
    expect(look.code, look.out).toBe(0);
    const [uid, app, packages, version, nodeVersion] = look.stdout.trim().split('\n');
    expect(uid).toBe('1000');
    expect((app ?? '').trim().split(' ').sort()).toEqual(['dist', 'node_modules', 'package.json']);
    const installed = new Set((packages ?? '').trim().split(' '));
    // Development-only packages (npm's lock marks them "dev"); @types/node is not one since mysql2,
    // a production dependency, depends on it.
    for (const dev of ['typescript', 'vitest', '@types/luxon', 'playwright-core', 'esbuild'])
      expect(installed.has(dev), `${dev} in the image`).toBe(false);
    for (const prod of ['ioredis', 'pino', 'prom-client', 'yaml', 'redlock', 'zod', 'pg', 'mysql2'])
      expect(installed.has(prod), `${prod} in the image`).toBe(true);
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    // The supported runtime (Node.js 24 LTS), not whatever the build machine runs.
    expect(nodeVersion).toMatch(new RegExp(`^v${NODE_MAJOR}\\.`));
  }, 120_000);

  it('runs with a mounted config against the local Redis: a real Celery worker runs its task, /healthz answers, `podman stop` exits 0 within 5 s and releases the lock', async (ctx) => {
    if (problem !== undefined) ctx.skip(problem);
    const db = redis as Redis;
    const name = uniqueName('container');
    const queue = `q-${name}`;
    const keys = schedulerKeys('tsbeat', name);
    worker = await startWorker({ name: `w-${name}`, queues: [queue], env: { broker: REDIS_URL, backend: REDIS_URL } });
    const file = dir.write(
      'beat.config.yaml',
      [
        `name: ${name}`,
        'broker:',
        `  url: ${REDIS_URL}`,
        `taskDefaultQueue: ${queue}`,
        'beatSchedule:',
        `  work: { task: ${TASK}, schedule: 1, args: [7, from-container] }`,
        '',
      ].join('\n'),
    );
    chmodSync(file, 0o644); // read by the container's uid 1000
    const port = await freePort();
    const startedAt = Date.now();
    const container = new Container(`tsbeat-${name}`, [
      // As deploy/kubernetes/tsbeat.yaml runs it: no capability, no privilege escalation, a read-only
      // root and no writable /tmp either (Kubernetes mounts none); podman applies its default seccomp
      // filter (the manifest's RuntimeDefault) unless told otherwise.
      '--cap-drop=ALL',
      '--security-opt=no-new-privileges',
      '--read-only',
      '--read-only-tmpfs=false',
      '--network',
      'host',
      '-e',
      `BEAT_HTTP=127.0.0.1:${port}`,
      '-v',
      `${file}:/config/beat.config.yaml:ro,Z`,
      IMAGE,
    ]);
    containers.push(container);

    const health = await waitUntil(
      '/healthz of the container',
      async () => {
        if (!container.running) throw new Error(`the container exited:\n${container.tail()}`);
        return httpRequest(port, '/healthz', { timeoutMs: 1000 }).catch(() => undefined);
      },
      60_000,
      () => container.tail(),
    );
    timings.firstHealthz = Date.now() - startedAt;
    expect(health.status).toBe(200);
    // The image's own HEALTHCHECK, run by podman inside the container, on the address BEAT_HTTP names.
    const check = await exec(['podman', 'healthcheck', 'run', container.name], 60_000);
    expect(check.code, check.out).toBe(0);

    // The run it published, executed by the worker (its result in the backend).
    const fire = await waitUntil(
      'a beat.fire line from the container',
      () => container.logs.find((l) => l.event === EVENTS.fire),
      15_000,
      () => container.tail(),
    );
    expect(fire).toMatchObject({ entry: 'work', task: TASK, queue, pid: 1 });
    const result = await waitForResult(db, fire['id'] as string, [worker]);
    expect(result.status).toBe('SUCCESS');
    expect((result.result as { args: unknown[] }).args).toEqual([7, 'from-container']);
    expect(await db.get(keys.lock)).not.toBeNull();
    expect((await httpRequest(port, '/readyz')).status).toBe(200);

    // SIGTERM to PID 1 (node): finish, hand over the lock, exit 0 — well before podman's SIGKILL at 10 s.
    const stopAt = Date.now();
    const stop = await exec(['podman', 'stop', '-t', '10', container.name], 30_000);
    expect(stop.code, stop.out).toBe(0);
    const code = await Promise.race([container.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    timings.stop = Date.now() - stopAt;
    expect(code).toBe(0);
    expect(timings.stop).toBeLessThan(5_000);
    expect(await db.exists(keys.lock)).toBe(0);
    expect(container.logs.map((l) => l.event).slice(-3)).toEqual([EVENTS.stop, EVENTS.lockReleased, EVENTS.stop]);
    expect(container.logs.find((l) => l.event === EVENTS.stop)).toMatchObject({ reason: 'SIGTERM' });
    // stdout: JSON lines only, each with its event.
    expect(container.text).toEqual([]);
    expect(container.logs.filter((l) => typeof l.event !== 'string')).toEqual([]);
  }, 240_000);
});
