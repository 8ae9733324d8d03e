/**
 * `beat run` replicas as real processes, for integration tests: spawn the built CLI with a config,
 * capture its JSON log lines (and, in a dry run, the message lines on stdout), wait for events with
 * a deadline, signal it, kill it. Every process spawned through a `BeatFleet` is tracked, so that
 * `killAll()` in afterEach/afterAll leaves nothing running even when a test fails.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { schedulerKeys } from '../../src/redis/keys.js';
import { builtCli, repoRoot } from './cli.js';

/** One pino line of a beat process. */
export interface LogLine {
  readonly level: string;
  /** ISO time, ms resolution, as pino wrote it. */
  readonly time: string;
  readonly pid: number;
  readonly event?: string;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`, saying what it waited for. */
/**
 * The text of a log line's `err` (the logger writes errors as {message, code, cause}): its message
 * and its causes' messages, for a test to match.
 */
export function errText(line: LogLine | undefined): string {
  const parts: string[] = [];
  for (let err: unknown = line?.['err']; err !== undefined && err !== null;) {
    if (typeof err !== 'object') {
      parts.push(String(err));
      break;
    }
    const { message, cause } = err as { message?: unknown; cause?: unknown };
    if (message !== undefined) parts.push(String(message));
    err = cause;
  }
  return parts.join(' <- ');
}

export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  context: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) {
      const extra = context();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra === '' ? '' : `\n${extra}`}`);
    }
    await sleep(Math.min(25, Math.max(1, deadline - Date.now())));
  }
}

export function logTimeMs(line: LogLine): number {
  return Date.parse(line.time);
}

export class BeatProcess {
  readonly child: ChildProcess;
  /** Every JSON log line so far (stdout normally, stderr in a dry run), in order. */
  readonly logs: LogLine[] = [];
  /** JSON lines on stdout that are not log lines: the messages of a dry run. */
  readonly outputLines: unknown[] = [];
  /** Lines that are not JSON, from either stream (usage errors, crashes). */
  readonly text: string[] = [];
  /** Log lines that came on stdout (a dry run must keep stdout for messages). */
  logsOnStdout = 0;
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  readonly startedAt = Date.now();

  constructor(
    readonly label: string,
    argv: readonly string[],
    env: NodeJS.ProcessEnv,
    nodeArgs: readonly string[] = [],
  ) {
    this.child = spawn(process.execPath, [...nodeArgs, builtCli, ...argv], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.collect(this.child.stdout, true);
    this.collect(this.child.stderr, false);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  private collect(stream: NodeJS.ReadableStream | null, isStdout: boolean): void {
    if (!stream) return;
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl !== -1) {
        this.line(pending.slice(0, nl), isStdout);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
    });
    stream.on('end', () => {
      if (pending !== '') this.line(pending, isStdout);
    });
  }

  private line(text: string, isStdout: boolean): void {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.text.push(text);
      return;
    }
    if (value !== null && typeof value === 'object' && 'level' in value && 'time' in value) {
      this.logs.push(value as LogLine);
      if (isStdout) this.logsOnStdout += 1;
    } else if (isStdout) this.outputLines.push(value);
    else this.text.push(text);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  events(event: string, fromIndex = 0): LogLine[] {
    return this.logs.slice(fromIndex).filter((l) => l.event === event);
  }

  /** Waits for a log line matching `match` at or after index `fromIndex` of `logs`. */
  waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs: number, fromIndex = 0): Promise<LogLine> {
    return waitUntil(
      `${this.label} (pid ${this.pid}): ${what}`,
      () => {
        const found = this.logs.slice(fromIndex).find(match);
        if (found) return found;
        if (!this.alive)
          throw new Error(
            `${this.label} (pid ${this.pid}) exited (${JSON.stringify(this.exitInfo)}) while waiting for ${what}\n${this.tail()}`,
          );
        return undefined;
      },
      timeoutMs,
      () => this.tail(),
    );
  }

  waitForEvent(event: string, timeoutMs: number, fromIndex = 0): Promise<LogLine> {
    return this.waitForLog(`event ${event}`, (l) => l.event === event, timeoutMs, fromIndex);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Resolves with the exit, or rejects after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<ExitInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.label} (pid ${this.pid}) did not exit within ${timeoutMs} ms\n${this.tail()}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The last log and text lines, for failure messages. */
  tail(n = 25, skipEvents: readonly string[] = []): string {
    const logs = this.logs
      .filter((l) => !skipEvents.includes(l.event ?? ''))
      .slice(-n)
      .map((l) => `  ${l.time} ${l.level} ${l.event ?? ''} ${l.msg ?? ''} ${l['err'] === undefined ? '' : JSON.stringify(l['err'])}`);
    const text = this.text.slice(-n).map((t) => `  | ${t}`);
    const state = this.exitInfo === undefined ? 'running' : `exited ${JSON.stringify(this.exitInfo)}`;
    return [`--- ${this.label} (pid ${this.pid}, ${state}) last lines:`, ...logs, ...text].join('\n');
  }

  /** Everything it printed, as text (to look for a leaked secret, say). */
  allOutput(): string {
    return [...this.logs.map((l) => JSON.stringify(l)), ...this.outputLines.map((o) => JSON.stringify(o)), ...this.text].join('\n');
  }
}

export interface SpawnOptions {
  readonly config: string;
  readonly label?: string;
  readonly args?: readonly string[];
  /** Extra environment; the process gets PATH and these only, so the test environment's BEAT_/CELERY_ variables never leak in. */
  readonly env?: NodeJS.ProcessEnv;
  /** Node's own options, before the script (`--import` of a preload, say). */
  readonly nodeArgs?: readonly string[];
}

/** Tracks every beat process it spawns; `killAll` SIGKILLs whatever is still running (stopped ones too). */
export class BeatFleet {
  readonly all: BeatProcess[] = [];
  private counter = 0;
  private readonly onExit = (): void => {
    for (const p of this.all) if (p.alive) p.child.kill('SIGKILL');
  };

  constructor() {
    process.once('exit', this.onExit);
  }

  spawn(options: SpawnOptions): BeatProcess {
    this.counter += 1;
    const label = options.label ?? `beat-${this.counter}`;
    const p = new BeatProcess(
      label,
      ['run', '--config', options.config, ...(options.args ?? [])],
      { PATH: process.env['PATH'] ?? '', ...options.env },
      options.nodeArgs,
    );
    this.all.push(p);
    return p;
  }

  alive(): BeatProcess[] {
    return this.all.filter((p) => p.alive);
  }

  byPid(pid: number): BeatProcess | undefined {
    return this.all.find((p) => p.pid === pid);
  }

  async killAll(): Promise<void> {
    const running = this.alive();
    for (const p of running) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.waitForExit(10_000).catch(() => undefined)));
  }

  dump(): string {
    // Leadership and errors matter here; the publishes would drown them.
    return this.all.map((p) => p.tail(25, ['beat.fire', 'beat.catch_up'])).join('\n');
  }
}

/** A temp dir for config files; `remove()` in afterAll. */
export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), 'tsbeat-it-'));

  write(name: string, content: unknown): string {
    const file = join(this.path, name);
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * Runs `act` while `frozen` are SIGSTOPped (as a hung host is: their sockets open, answering
 * nothing), and lets them go after it. Keep `act` well under the lock's TTL, or a standby takes over.
 */
export async function whileFrozen<T>(frozen: readonly BeatProcess[], act: () => Promise<T>): Promise<T> {
  for (const p of frozen) p.signal('SIGSTOP');
  try {
    return await act();
  } finally {
    for (const p of frozen) p.signal('SIGCONT');
  }
}

/** Short lock timings that keep failovers fast in tests. */
export const FAST_LOCK = { ttl: '2s', renewEvery: '500ms', retryEvery: '200ms' } as const;

/** A YAML config of a deployment reading `sources` (a YAML flow mapping), woken often, with FAST_LOCK. */
export function fastSourcesYaml(name: string, brokerUrl: string, sources: string): string {
  return [
    `name: ${name}`,
    `broker: { url: "${brokerUrl}" }`,
    'maxInterval: 200ms',
    `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
    `sources: ${sources}`,
    '',
  ].join('\n');
}

/** The pid in an instance id (`host:pid:random`), as written to the leader hash. */
export function pidOfInstance(instance: string): number {
  const parts = instance.split(':');
  return Number(parts[parts.length - 2]);
}

/**
 * The replica of `fleet` that leads deployment `name` now: alive, its last leadership event an
 * acquisition, and named by the leader hash (in `redis`, the state's).
 */
export async function currentLeader(redis: Redis, fleet: BeatFleet, name: string): Promise<BeatProcess | undefined> {
  const info = (await redis.hgetall(schedulerKeys('tsbeat', name).leader)) as { instance?: string };
  const p = info.instance === undefined ? undefined : fleet.byPid(pidOfInstance(info.instance));
  if (p === undefined || !p.alive) return undefined;
  const last = [...p.logs]
    .reverse()
    .find((l) => l.event?.startsWith('beat.lock.') && l.event !== 'beat.lock.renew_failed' && l.event !== 'beat.lock.handover');
  return last?.event === 'beat.lock.acquired' ? p : undefined;
}
