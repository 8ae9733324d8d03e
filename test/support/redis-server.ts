/**
 * A private `redis-server` for tests that kill, pause (SIGSTOP) or reconfigure Redis: its own process on a
 * loopback port, nothing on disk (`--save '' --appendonly no`, a temp dir), optionally with a
 * password. Start it in beforeAll (or in the test), `stop()` it in afterAll.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { waitUntil } from './beat-process.js';

/**
 * The server binary: Redis, or another that speaks its protocol and reports its own `process_id`
 * in INFO SERVER (CI's Valkey leg sets TSBEAT_TEST_REDIS_SERVER), run as itself: start() waits for
 * the answer of the very process it spawned.
 */
export const REDIS_SERVER = process.env['TSBEAT_TEST_REDIS_SERVER'] ?? '/usr/bin/redis-server';

/** Whether something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A loopback port nothing listens on right now (the OS's choice), for a private server. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** The pid of the server that answered INFO SERVER (Redis and Valkey both report process_id). */
function servedBy(info: string): number | undefined {
  const pid = /^process_id:(\d+)/m.exec(info)?.[1];
  return pid === undefined ? undefined : Number(pid);
}

export class PrivateRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir = mkdtempSync(join(tmpdir(), 'tsbeat-redis-'));
  output = '';
  /** SIGSTOPped by `pause` (running, answering nothing). */
  paused = false;

  constructor(
    readonly port: number,
    private readonly options: {
      password?: string;
      args?: readonly string[];
      /** A command that execs the server (keeping its pid) with the arguments appended: a test's way to start it late. */
      launcher?: readonly string[];
    } = {},
  ) {
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  /** The URL of a DB on it, with the password when it has one. */
  url(db = 0): string {
    return this.options.password === undefined
      ? `redis://127.0.0.1:${this.port}/${db}`
      : `redis://:${this.options.password}@127.0.0.1:${this.port}/${db}`;
  }

  client(db = 0): Redis {
    const client = new Redis(this.url(db), { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    // Probing a server that is not up yet fails; without a listener ioredis prints every failure.
    client.on('error', () => undefined);
    return client;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts it (refusing a port someone else uses) and waits until it answers, itself and not another server on the port. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`redis-server on ${this.port} is already running`);
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is in use: not starting a private redis-server there`);
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ];
    if (this.options.password !== undefined) args.push('--requirepass', this.options.password);
    args.push(...(this.options.args ?? []));
    const [command, ...prefix] = this.options.launcher ?? [REDIS_SERVER];
    const launched = this.options.launcher === undefined ? args : [...prefix, REDIS_SERVER, ...args];
    const child = spawn(command as string, launched, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    let answeredBy: number | undefined;
    await waitUntil(
      `redis-server on port ${this.port} (pid ${child.pid}) to answer`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on ${this.port} exited: ${this.output}`);
        // Bounded: a frozen server on the port (accepting, never answering) must not hold the wait past its deadline.
        const c = new Redis(this.url(), { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, commandTimeout: 1000 });
        c.on('error', () => undefined);
        try {
          await c.connect();
          // Another file's server may hold the port while ours fails to bind it (both saw it free):
          // only our own process answering counts, else ours exits and start() fails.
          answeredBy = servedBy(await c.info('server'));
          return child.pid !== undefined && answeredBy === child.pid ? true : undefined;
        } catch {
          return undefined;
        } finally {
          c.disconnect();
        }
      },
      10_000,
      () => `${answeredBy === undefined ? '' : `answered by pid ${answeredBy}; `}${this.output}`,
    );
  }

  /** SIGKILL: the server vanishes with everything it held (it keeps nothing on disk). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
    this.paused = false;
  }

  /** SIGSTOP: the server hangs as a frozen host does (connections accepted, nothing answered) until `resume`. */
  pause(): void {
    if (this.child?.kill('SIGSTOP') === true) this.paused = true;
  }

  /** SIGCONT: a paused server answers again. */
  resume(): void {
    if (this.child?.kill('SIGCONT') === true) this.paused = false;
  }

  /** Stops the server (if running) and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP listener that only counts the connections made to it: stands in for a Redis that must
 * not be contacted (a dry run, a config error). It answers nothing and closes every socket.
 */
export class ConnectionCounter {
  count = 0;
  private readonly server = createServer((socket) => {
    this.count += 1;
    socket.destroy();
  });

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is in use`);
    // portOpen itself connected to nothing (the port was closed), so the count starts at 0.
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
