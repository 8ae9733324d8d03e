/**
 * A private RabbitMQ node for tests that stop and restart the broker: its own node name, AMQP port
 * (5673-5679), distribution port, config, cookie (HOME) and data/log directories under a temp dir,
 * so the shared node on 5672 is never touched. Runs `rabbitmq-server` in the foreground as a child
 * in its own process group (so that `kill()` reaches beam.smp under the shell wrapper), stops it
 * with `rabbitmqctl -n <node> stop`. Every wait is bounded; `kill()` in afterAll (and on exit of
 * the test process) leaves nothing running.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Debian's rabbitmq-server package; the /usr/sbin wrappers would switch to the rabbitmq user and its cookie. */
export const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';
export const INSTALL_HINT = 'install rabbitmq-server (apt-get install -y rabbitmq-server)';

export function rabbitmqInstalled(): boolean {
  return existsSync(join(RABBITMQ_BIN, 'rabbitmq-server')) && existsSync(join(RABBITMQ_BIN, 'rabbitmqctl'));
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (bounded by `timeoutMs`). */
export function portOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    const done = (open: boolean): void => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Whether this process could listen on 127.0.0.1:`port` now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command to completion; rejects with its output after `timeoutMs` (killing it). */
function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const live = new Set<PrivateRabbitNode>();
process.once('exit', () => {
  for (const node of live) node.killNow();
});

export class PrivateRabbitNode {
  readonly dir = mkdtempSync(join(tmpdir(), 'tsbeat-rabbit-'));
  readonly node: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(
    readonly port: number,
    readonly distPort: number,
  ) {
    this.node = `tsbeat-test-${process.pid}-${port}@localhost`;
    for (const sub of ['mnesia', 'log', 'home']) mkdirSync(join(this.dir, sub));
    // Its own config: the shared /etc/rabbitmq one makes every node listen on 5672.
    writeFileSync(join(this.dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
    writeFileSync(join(this.dir, 'rabbitmq-env.conf'), '');
    writeFileSync(join(this.dir, 'enabled_plugins'), '[].\n');
  }

  /** Picks a free AMQP port in 5673-5679 (and a free distribution port 20000 above it). */
  static async create(): Promise<PrivateRabbitNode> {
    for (let port = 5673; port <= 5679; port += 1) {
      if ((await portFree(port)) && (await portFree(port + 20_000))) return new PrivateRabbitNode(port, port + 20_000);
    }
    throw new Error('no free port pair in 5673-5679 / 25673-25679 for a private RabbitMQ node');
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}//`;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      // The Erlang cookie lives in $HOME: a private one, shared by this node and its rabbitmqctl only.
      HOME: join(this.dir, 'home'),
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_CONF_ENV_FILE: join(this.dir, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(this.dir, 'rabbitmq.pid'),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
  }

  /** Starts the node and waits (bounded) until it accepts AMQP connections; returns how long that took. */
  async start(timeoutMs = 60_000): Promise<number> {
    if (this.child !== undefined) throw new Error(`${this.node} is already running`);
    const startedAt = Date.now();
    const child = spawn(join(RABBITMQ_BIN, 'rabbitmq-server'), [], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    live.add(this);
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    while (!(await portOpen(this.port))) {
      if (this.child !== child) throw new Error(`${this.node} exited while starting:\n${this.tail()}`);
      if (Date.now() - startedAt > timeoutMs) {
        this.killNow();
        throw new Error(`${this.node} did not accept connections on ${this.port} within ${timeoutMs} ms:\n${this.tail()}`);
      }
      await sleep(100);
    }
    return Date.now() - startedAt;
  }

  /** `rabbitmqctl -n <node> stop`, then waits (bounded) for the process to exit; returns how long that took. */
  async stop(timeoutMs = 30_000): Promise<number> {
    const child = this.child;
    if (child === undefined) return 0;
    const startedAt = Date.now();
    const result = await run(join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', this.node, 'stop'], this.env(), timeoutMs).catch(
      (error: unknown) => ({ code: -1, output: String(error) }),
    );
    const deadline = Date.now() + Math.max(1000, timeoutMs - (Date.now() - startedAt));
    while (this.child === child && Date.now() < deadline) await sleep(50);
    if (this.child === child) {
      this.killNow();
      throw new Error(`${this.node} did not stop (rabbitmqctl exited ${result.code}):\n${result.output}\n${this.tail()}`);
    }
    return Date.now() - startedAt;
  }

  /** Runs `rabbitmqctl -n <node> <args>` (bounded); rejects when it fails. */
  async ctl(args: readonly string[], timeoutMs = 30_000): Promise<string> {
    const result = await run(join(RABBITMQ_BIN, 'rabbitmqctl'), ['-n', this.node, ...args], this.env(), timeoutMs);
    if (result.code !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} exited ${result.code}:\n${result.output}`);
    return result.output;
  }

  /** A crash: SIGKILL, no shutdown; waits (bounded) until the process is gone. */
  async crash(timeoutMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.killNow();
    const deadline = Date.now() + timeoutMs;
    while (this.child === child && Date.now() < deadline) await sleep(20);
    if (this.child === child) throw new Error(`${this.node} survived SIGKILL for ${timeoutMs} ms`);
    // The kernel may hold the port a moment after the process died.
    while ((await portOpen(this.port, 200)) && Date.now() < deadline) await sleep(50);
  }

  /** SIGKILLs the node's whole process group at once (the shell wrapper and beam.smp). */
  killNow(): void {
    const pid = this.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /** Kills the node if it still runs and removes its directory. */
  async remove(): Promise<void> {
    if (this.child !== undefined) {
      await this.stop(20_000).catch(() => this.killNow());
      await Promise.race([this.exited, sleep(5000)]);
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  tail(lines = 30): string {
    return `--- ${this.node} output:\n${this.output.split('\n').slice(-lines).join('\n')}`;
  }
}
