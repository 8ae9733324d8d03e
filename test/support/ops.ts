/**
 * Helpers for the operations tests (HTTP endpoints, live control, reload, container): the CLI as an
 * async child process with a deadline, HTTP requests with a deadline, Prometheus text parsing, the
 * port a beat process's HTTP server bound, and a private redis-server on a free port of 6381–6389.
 * Every child started here is tracked; `killCliChildren()` (and the test process's exit) ends them.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { BeatProcess } from './beat-process.js';
import { builtCli, repoRoot } from './cli.js';
import { PrivateRedis, freePort, portOpen } from './redis-server.js';

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

const cliChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of cliChildren) child.kill('SIGKILL');
});

/**
 * Runs the built `beat` CLI as a real process (not in-process: exit codes, stdout/stderr and
 * connection handling are what users get). Without a deadline hit it resolves with the exit; on the
 * deadline it kills the process and rejects, saying what it printed.
 */
export function runBeatCli(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = Date.now();
  const child = spawn(process.execPath, [builtCli, ...argv], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cliChildren.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`beat ${argv.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      cliChildren.delete(child);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

export function killCliChildren(): void {
  for (const child of cliChildren) child.kill('SIGKILL');
}

export interface HttpReply {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** One request to 127.0.0.1:port, failing after `timeoutMs`. */
export async function httpRequest(
  port: number,
  path: string,
  init: { method?: string; body?: string; timeoutMs?: number } = {},
): Promise<HttpReply> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: init.body, headers: { 'content-type': 'application/json' } }),
    signal: AbortSignal.timeout(init.timeoutMs ?? 5000),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** The port a `beat run --http 127.0.0.1:0` bound, from its `beat.http.listen` log line. */
export async function httpPortOf(p: BeatProcess, timeoutMs = 15_000): Promise<number> {
  const line = await p.waitForEvent('beat.http.listen', timeoutMs);
  const port = line['port'];
  if (typeof port !== 'number' || port <= 0) throw new Error(`${p.label}: beat.http.listen without a port: ${JSON.stringify(line)}`);
  return port;
}

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly samples: readonly Sample[];
  /** Metric family name → its `# TYPE`. */
  readonly types: ReadonlyMap<string, string>;
  readonly help: ReadonlyMap<string, string>;
}

/**
 * Parses the Prometheus text format (0.0.4) strictly enough for tests: every line must be a
 * comment, blank, or `name{labels} value`; anything else throws, naming the line.
 */
export function parsePrometheus(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      (comment[1] === 'TYPE' ? types : help).set(comment[2] as string, comment[3] as string);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, '$1');
    const raw = m[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    // Prometheus reads values with Go's ParseFloat, which takes NaN in any case; prom-client writes
    // "Nan" (its event-loop lag mean and stddev before the first sample of a scrape interval).
    if (Number.isNaN(value) && !/^nan$/i.test(raw)) throw new Error(`line ${i + 1}: bad value ${JSON.stringify(raw)}`);
    samples.push({ name: m[1] as string, labels, value });
  }
  return { samples, types, help };
}

/** The value of the sample with exactly these labels, or undefined. */
export function sampleValue(exposition: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels);
  return exposition.samples.find(
    (s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v),
  )?.value;
}

export const PRIVATE_REDIS_PORTS = [6381, 6382, 6383, 6384, 6385, 6386, 6387, 6388, 6389] as const;

/** How long startPrivateRedis waits for a port of 6381–6389 while the files beside it hold all nine. */
const PRIVATE_REDIS_PORT_WAIT_MS = 60_000;

/**
 * Starts a private redis-server (see PrivateRedis) on the first port of 6381–6389 that nothing
 * listens on, starting from a random one so that test files running side by side rarely collide.
 * When the files beside it hold every one (redis-refusals.test.ts starts four), it waits for one
 * to be freed, up to PRIVATE_REDIS_PORT_WAIT_MS.
 */
export async function startPrivateRedis(options: { password?: string; args?: readonly string[] } = {}): Promise<PrivateRedis> {
  const errors: string[] = [];
  const deadline = Date.now() + PRIVATE_REDIS_PORT_WAIT_MS;
  for (;;) {
    const offset = Math.floor(Math.random() * PRIVATE_REDIS_PORTS.length);
    for (let i = 0; i < PRIVATE_REDIS_PORTS.length; i += 1) {
      const port = PRIVATE_REDIS_PORTS[(offset + i) % PRIVATE_REDIS_PORTS.length] as number;
      if (await portOpen(port)) continue;
      const server = new PrivateRedis(port, options);
      try {
        await server.start();
        return server;
      } catch (error) {
        errors.push(`${port}: ${String(error)}`);
        await server.stop();
      }
    }
    if (Date.now() >= deadline)
      throw new Error(
        `no free port in 6381–6389 for a private redis-server within ${PRIVATE_REDIS_PORT_WAIT_MS} ms${errors.length > 0 ? `:\n${errors.slice(-9).join('\n')}` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A loopback port that nothing listens on now (for "Redis unreachable" tests): one the OS hands out
 * and takes back, outside 6381–6389, so that a file running beside this one cannot start its
 * private redis-server there while this one counts on nothing answering.
 */
export async function closedRedisPort(): Promise<number> {
  return freePort();
}

/** FLUSHDB on one DB of the shared Redis. */
export async function flushDb(db: number): Promise<void> {
  const r = new Redis(`redis://127.0.0.1:6379/${db}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    await r.flushdb();
  } finally {
    r.disconnect();
  }
}

/** A short random suffix for deployment names, so that no two runs share Redis keys. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
}
