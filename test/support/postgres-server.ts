/**
 * A private PostgreSQL server for tests: Debian's `initdb` and `postgres` on a loopback port, with
 * its own data directory and socket directory under a temp dir, trust authentication for the user
 * `postgres`, fsync off. PostgreSQL refuses to run as root, so when the tests run as root the
 * processes run as the `postgres` system user (Debian's package creates it). Start it in
 * beforeAll, `stop()` it in afterAll.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { waitUntil } from './beat-process.js';
import { portOpen } from './redis-server.js';

/** Debian installs each major version under /usr/lib/postgresql/<major>/bin; the newest wins. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] === undefined ? undefined : join(root, majors[0], 'bin');
}

/** The uid/gid to run a database server as: the named system user when we are root, else ourselves. */
export function serverUser(name: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export class PrivatePostgres {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir = mkdtempSync(join(tmpdir(), 'tsbeat-pg-'));
  private readonly user = serverUser('postgres');
  /** The processes freeze() stopped. */
  private frozen: number[] = [];
  output = '';

  constructor(readonly port: number) {
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  /** A URL of a database on it. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  client(database = 'postgres'): pg.Client {
    const client = new pg.Client({ connectionString: this.url(database) });
    client.on('error', () => undefined);
    return client;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Creates the cluster on first start, starts the server and waits until it answers a query. */
  async start(): Promise<void> {
    if (this.child) throw new Error(`postgres on ${this.port} is already running`);
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is in use: not starting a private postgres there`);
    const bin = postgresBin();
    if (bin === undefined) throw new Error('PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres); apt-get install postgresql');
    const data = join(this.dir, 'data');
    const ids = this.user === undefined ? {} : { uid: this.user.uid, gid: this.user.gid };
    if (this.user !== undefined) chownSync(this.dir, this.user.uid, this.user.gid);
    if (!existsSync(data)) {
      execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], {
        ...ids,
        stdio: 'pipe',
      });
    }
    const args = ['-D', data, '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'];
    args.push('-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
    const child = spawn(join(bin, 'postgres'), args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitUntil(
      `postgres on port ${this.port} to answer`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres on ${this.port} exited: ${this.output}`);
        const c = this.client();
        try {
          await c.connect();
          // Another server may hold the port while ours fails to bind it: only ours (its data directory) counts.
          const answered = await c.query<{ data_directory: string }>('SHOW data_directory');
          return answered.rows[0]?.data_directory === data ? true : undefined;
        } catch {
          return undefined;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      30_000,
      () => this.output,
    );
  }

  /** Creates a database (if missing). */
  async createDatabase(name: string): Promise<void> {
    const c = this.client();
    await c.connect();
    try {
      const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) await c.query(`CREATE DATABASE "${name}"`);
    } finally {
      await c.end();
    }
  }

  /** SIGKILL of the postmaster (its backends exit when they notice): the connection-loss case. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /**
   * Freezes the server as a hung host would: SIGSTOP to the postmaster and every backend, so that
   * connections stay open and nothing answers (no error, no timeout of its own). thaw() undoes it.
   */
  freeze(): void {
    const pids = this.processes();
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    this.frozen = pids;
  }

  /** SIGCONT to what freeze() stopped; nothing when it is not frozen. */
  thaw(): void {
    for (const pid of this.frozen) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone meanwhile: nothing to wake.
      }
    }
    this.frozen = [];
  }

  /** The postmaster's pid and its children's (backends, background workers). */
  private processes(): number[] {
    const pid = this.child?.pid;
    if (pid === undefined) return [];
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
    return [pid, ...children];
  }

  /** Fast shutdown (SIGINT): backends are ended, the data directory stays for a restart. */
  async halt(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.thaw();
    child.kill('SIGINT');
    await this.exited;
    this.child = undefined;
  }

  /** Stops the server (if running) and removes its directory. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
