/**
 * A helper process spoken to in JSON lines: one command a line on its stdin, one answer a line on
 * its stdout, in order (orm.py, redbeat_client.py --serve), so that a test makes many calls without
 * starting Python for each.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

export class JsonLineProcess {
  private readonly child: ChildProcess;
  private buffer = '';
  private stderr = '';
  private readonly waiting: ((line: string) => void)[] = [];

  constructor(
    private readonly label: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions,
  ) {
    this.child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString('utf8')));
    process.once('exit', () => this.child.kill('SIGKILL'));
  }

  /** Sends one command; resolves with its answer, rejects with the error the process reports. */
  async call<T>(command: Record<string, unknown>): Promise<T> {
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.label} did not answer ${JSON.stringify(command)}: ${this.stderr}`)), 30_000);
      this.waiting.push((text) => {
        clearTimeout(timer);
        resolve(text);
      });
      this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    });
    const answer = JSON.parse(line) as { error?: string };
    if (answer.error !== undefined) throw new Error(`${this.label} ${String(command['op'])}: ${answer.error}`);
    return answer as T;
  }

  /** Ends its stdin and waits for it to exit (SIGKILL after 5 s). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin?.end();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }
}
