/**
 * A private MariaDB server for tests: Debian's `mariadb-install-db` and `mariadbd` on a loopback
 * port, with its own data directory and socket under a temp dir, `root` without a password. When
 * the tests run as root the server runs as the `mysql` system user (Debian's package creates it).
 * Start it in beforeAll, `stop()` it in afterAll. Give it a port below 32768: Linux lends
 * 32768–60999 to outgoing connections, so a fixed port there can be held by one when it starts.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { waitUntil } from './beat-process.js';
import { serverUser } from './postgres-server.js';
import { portOpen } from './redis-server.js';

export const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';

export class PrivateMariaDb {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly dir = mkdtempSync(join(tmpdir(), 'tsbeat-maria-'));
  private readonly user = serverUser('mysql');
  output = '';

  constructor(readonly port: number) {
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  url(database = 'mysql'): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`;
  }

  async connection(database = 'mysql'): Promise<mysql.Connection> {
    return mysql.createConnection({ host: '127.0.0.1', port: this.port, user: 'root', database });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`mariadbd on ${this.port} is already running`);
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is in use: not starting a private mariadbd there`);
    if (!existsSync(MARIADBD)) throw new Error(`MariaDB is not installed (${MARIADBD}); apt-get install mariadb-server`);
    const data = join(this.dir, 'data');
    const userArgs = this.user === undefined ? [] : ['--user=mysql'];
    if (this.user !== undefined) chownSync(this.dir, this.user.uid, this.user.gid);
    if (!existsSync(data)) {
      execFileSync(
        INSTALL_DB,
        ['--no-defaults', `--datadir=${data}`, ...userArgs, '--auth-root-authentication-method=normal', '--skip-test-db'],
        { stdio: 'pipe' },
      );
    }
    const args = [
      '--no-defaults',
      `--datadir=${data}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(this.dir, 'mysqld.sock')}`,
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      '--skip-name-resolve',
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-buffer-pool-size=32M',
      '--skip-log-bin',
      ...userArgs,
    ];
    const child = spawn(MARIADBD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitUntil(
      `mariadbd on port ${this.port} to answer`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`mariadbd on ${this.port} exited: ${this.output}`);
        try {
          const c = await this.connection();
          // Another server may hold the port while ours fails to bind it: only ours (its data directory) counts.
          const [rows] = await c.query('SELECT @@datadir AS datadir');
          await c.end();
          const datadir = (rows as { datadir?: string }[])[0]?.datadir;
          return datadir?.replace(/\/$/, '') === data ? true : undefined;
        } catch {
          return undefined;
        }
      },
      60_000,
      () => this.output,
    );
  }

  async createDatabase(name: string): Promise<void> {
    const c = await this.connection();
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4`);
    } finally {
      await c.end();
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async halt(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
