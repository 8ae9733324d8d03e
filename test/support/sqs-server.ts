/**
 * A local SQS server for tests (test/support/sqs-server-main.mjs: npm's local-aws-sqs behind the
 * wrapper kombu 5.2's worker needs) in its own process on a loopback port, so a test can kill it
 * and start it again on the same port. It keeps nothing: a restart brings back the named queues,
 * empty. `stop()` it in afterAll.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './beat-process.js';

const MAIN = fileURLToPath(new URL('./sqs-server-main.mjs', import.meta.url));

export class LocalSqs {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  output = '';

  constructor(
    readonly port: number,
    /** Created empty at every start; a name ending in .fifo is a FIFO queue. */
    private readonly queues: readonly string[],
    /** Extra environment for the server, e.g. SQS_SERVER_LOG_AUTH=1 (see sqs-server-main.mjs). */
    private readonly env: NodeJS.ProcessEnv = {},
  ) {
    process.once('exit', () => this.child?.kill('SIGKILL'));
  }

  /** A broker URL with dummy credentials (the server checks none). */
  get url(): string {
    return `sqs://test:test@127.0.0.1:${this.port}`;
  }

  queueUrl(name: string): string {
    return `http://127.0.0.1:${this.port}/123456789012/${name}`;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [MAIN, String(this.port), ...this.queues], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    const mark = this.output.length;
    await waitUntil(
      `the SQS server on port ${this.port}`,
      () => {
        if (child.exitCode !== null) throw new Error(`the SQS server exited: ${this.output}`);
        return this.output.slice(mark).includes(`listening ${this.port}`) ? true : undefined;
      },
      15_000,
    );
  }

  /** Kills it (messages and all) and waits for the port to be free. */
  async stop(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  /** The signers of the requests so far (with SQS_SERVER_LOG_AUTH=1), in order. */
  auths(): { action: string; accessKeyId: string; region: string; token: string }[] {
    return [...this.output.matchAll(/^auth (\S+) (\S+) (\S+) (\S+)$/gm)].map((m) => ({
      action: m[1] as string,
      accessKeyId: m[2] as string,
      region: m[3] as string,
      token: m[4] as string,
    }));
  }

  /** Started and not stopped since. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /**
   * How many messages a queue holds, all lost when the server is stopped: waiting to be received
   * or received and not yet deleted (local-aws-sqs counts both in ApproximateNumberOfMessages), and
   * just sent (delayed until a timer of 0 ms has fired, counted apart).
   */
  async held(queue: string): Promise<number> {
    const reply = await fetch(`http://127.0.0.1:${this.port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueAttributes' },
      body: JSON.stringify({
        QueueUrl: this.queueUrl(queue),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    });
    if (!reply.ok) throw new Error(`GetQueueAttributes of ${queue} failed: ${reply.status} ${await reply.text()}`);
    const { Attributes: a } = (await reply.json()) as { Attributes: Record<string, string> };
    const counts = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'].map(
      (name) => Number(a[name]),
    );
    if (counts.some((n) => !Number.isInteger(n))) throw new Error(`GetQueueAttributes of ${queue}: ${JSON.stringify(a)}`);
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** The next SendMessage(Batch) is carried out but its reply waits `ms`; resolves when it is being held. */
  async holdNextSend(ms: number): Promise<() => Promise<void>> {
    const reply = await fetch(`http://127.0.0.1:${this.port}/__hold?ms=${ms}`, { method: 'POST' });
    if (!reply.ok) throw new Error(`arming the hold failed: ${reply.status}`);
    const mark = this.output.length;
    return async () => {
      await waitUntil('a held send', () => (this.output.slice(mark).includes('held\n') ? true : undefined), 30_000);
    };
  }
}
