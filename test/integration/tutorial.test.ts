/**
 * docs/tutorial.md run as written: every `sh` block, in order, in the terminal it names, and each
 * `text` block after it held to what the commands printed. A person follows the page with three
 * terminals; here each terminal is a bash whose working directory and aliases carry from block to
 * block:
 * - a block opening `# terminal N (keeps running)` starts in terminal N and keeps running; its text
 *   block is waited for in what it prints;
 * - `# terminal N: Ctrl-C` sends SIGINT to what runs there, and waits for it to end;
 * - any other block runs in terminal 1 and must exit 0. A block of reads only (`beat status`,
 *   `history`, `check`, `next`) is read again until its text shows, as a person would look again.
 * In a text block, `…` stands for anything (times, ids, hosts), and each line must match a line of
 * the output, in order. The one line not run is the build (`npm ci && npm run build`): the test
 * command has just built dist/.
 *
 * The project is copied into a temporary folder (the commands write beat.config.yaml and
 * celerybeat-schedule beside it), and everything talks to a private Redis through
 * $CELERY_BROKER_URL, which the project, Celery and tsbeat all read. At the end the worker's log
 * shows the cut-over kept the 10-second cadence: Celery's runs, then tsbeat's (their task ids are
 * UUID v5), no gap of a whole period and no run twice.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../support/beat-process.js';
import { pythonCelery } from '../support/celery.js';
import { repoRoot } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const PAGE = 'docs/tutorial.md';
const BUILD = 'npm ci && npm run build';

interface Step {
  readonly script: string;
  readonly expected?: string;
}

/** The page's `sh` blocks, each with the `text` block that follows it (before the next `sh`). */
export function stepsOf(markdown: string): Step[] {
  const steps: { script: string; expected?: string }[] = [];
  for (const [, lang, body] of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    if (lang === 'sh') steps.push({ script: body as string });
    else if (lang === 'text' && steps.length > 0 && steps.at(-1)?.expected === undefined) steps.at(-1)!.expected = body as string;
  }
  return steps;
}

/** One expected line as a pattern: `…` is anything; otherwise the line itself, spaces runs alike. */
function linePattern(line: string): RegExp {
  const parts = line
    .trim()
    .split('…')
    .map((part) =>
      part
        .trim()
        .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
        .replace(/ +/g, '\\s+'),
    );
  return new RegExp(`^${parts.join('.*')}$`);
}

/** Each expected line matches a line of the output, in order: undefined, else the first line that did not. */
export function unmatched(expected: string, output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trim());
  let at = 0;
  for (const want of expected.split('\n').filter((l) => l.trim() !== '')) {
    const pattern = linePattern(want);
    const found = lines.findIndex((line, i) => i >= at && pattern.test(line));
    if (found < 0) return want;
    at = found + 1;
  }
  return undefined;
}

const READS = /^beat (status|history|check|next)\b/;

const celery = pythonCelery();
const suite = celery.ok || process.env['CI'] ? describe : describe.skip;

suite(`the tutorial, run as written${celery.ok ? '' : ` (skipped: ${celery.problem})`}`, () => {
  let redis: PrivateRedis;
  let root: string;
  let env: NodeJS.ProcessEnv;
  const cwd = new Map<string, string>();
  const aliases: string[] = [];
  const running = new Map<string, { child: ChildProcess; output: () => string; exited: Promise<unknown> }>();

  beforeAll(async () => {
    if (!celery.ok) throw new Error(celery.problem);
    redis = new PrivateRedis(await freePort());
    await redis.start();
    env = { ...process.env, CELERY_BROKER_URL: redis.url(0), PYTHONDONTWRITEBYTECODE: '1', NO_COLOR: '1' };
  });

  /** A reader's fresh start (a retry's too): a new copy of the project, no terminals, an empty Redis. */
  async function freshStart(): Promise<void> {
    await stopTerminals();
    cwd.clear();
    aliases.length = 0;
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = mkdtempSync(join(tmpdir(), 'tsbeat-tutorial-'));
    symlinkSync(join(repoRoot, 'dist'), join(root, 'dist'));
    mkdirSync(join(root, 'examples/tutorial'), { recursive: true });
    cpSync(join(repoRoot, 'examples/tutorial/proj.py'), join(root, 'examples/tutorial/proj.py'));
    const client = redis.client();
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  async function stopTerminals(): Promise<void> {
    for (const { child, exited } of running.values()) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
      process.kill(-child.pid, 'SIGTERM');
      const killer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    running.clear();
  }

  afterAll(async () => {
    await stopTerminals();
    await redis?.stop();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  /** A terminal's bash: its folder, then every alias given so far, then the block. */
  function bash(terminal: string, script: string): string[] {
    const folder = cwd.get(terminal) ?? root;
    return ['-c', ['shopt -s expand_aliases', `cd ${JSON.stringify(folder)}`, ...aliases, script].join('\n')];
  }

  /** What the block's `cd` and `alias` lines leave for the blocks after it. */
  function carry(terminal: string, script: string): void {
    for (const line of script.split('\n')) {
      const cd = /^cd (\S+)$/.exec(line.trim());
      if (cd !== null) cwd.set(terminal, resolve(cwd.get(terminal) ?? root, cd[1] as string));
      if (line.startsWith('alias ')) aliases.push(line.replace('$PWD', cwd.get(terminal) ?? root));
    }
  }

  it('builds the whole cut-over from the page alone', async () => {
    await freshStart();
    const steps = stepsOf(readFileSync(join(repoRoot, PAGE), 'utf8'));
    expect(steps.length).toBeGreaterThanOrEqual(8);
    for (const { script, expected } of steps) {
      const [first = '', ...rest] = script.trimEnd().split('\n');
      const background = /^# terminal (\d+) \(keeps running\)$/.exec(first);
      const interrupt = /^# terminal (\d+): Ctrl-C$/.exec(first);
      if (background !== null) {
        const terminal = background[1] as string;
        const body = rest.join('\n');
        let output = '';
        const child = spawn('bash', bash(terminal, body), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
        running.set(terminal, { child, output: () => output, exited: new Promise((done) => child.once('exit', done)) });
        carry(terminal, body);
        if (expected !== undefined) {
          await waitUntil(
            `terminal ${terminal} to print ${JSON.stringify(expected.trim())}`,
            () => (unmatched(expected, output) === undefined ? true : undefined),
            60_000,
            () => output,
          );
        }
      } else if (interrupt !== null) {
        const { child, exited } = running.get(interrupt[1] as string) ?? {};
        expect(child?.pid, `terminal ${interrupt[1]} runs nothing to stop`).toBeDefined();
        process.kill(-(child?.pid as number), 'SIGINT');
        await Promise.race([
          exited,
          sleep(20_000).then(() => Promise.reject(new Error(`terminal ${interrupt[1]} did not stop on Ctrl-C`))),
        ]);
      } else {
        const lines = script
          .trimEnd()
          .split('\n')
          .filter((line) => line.trim() !== BUILD);
        expect(lines.length < script.trimEnd().split('\n').length || !script.includes('npm')).toBe(true);
        const body = lines.join('\n');
        const reads = lines.every((line) => READS.test(line));
        const deadline = Date.now() + (reads ? 30_000 : 0);
        for (;;) {
          const r = spawnSync('bash', bash('1', `${body} 2>&1`), { env, encoding: 'utf8', timeout: 60_000 });
          const miss = r.status === 0 && expected !== undefined ? unmatched(expected, r.stdout) : undefined;
          if (r.status === 0 && miss === undefined) break;
          if (Date.now() > deadline) {
            throw new Error(
              `${body}\nexited ${r.status}${miss === undefined ? '' : `; no line matched ${JSON.stringify(miss)}`}:\n${r.stdout}`,
            );
          }
          await sleep(1000);
        }
        carry('1', body);
      }
    }

    // The cut-over, in the worker's log: celery beat's runs (UUID v4 task ids), then tsbeat's (v5),
    // every 10 seconds: no period missed, none run twice.
    const worker = running.get('2')?.output() ?? '';
    const runs = [...worker.matchAll(/^\[(\S+ \S+?),(\d+): INFO\/\S+\] Task proj\.add\[([0-9a-f-]{36})\] succeeded/gm)].map(
      ([, time, ms, id]) => ({ at: Date.parse(`${(time as string).replace(' ', 'T')}.${ms}Z`), v: (id as string)[14] }),
    );
    const versions = runs.map((r) => r.v).join('');
    // A failure names the runs first (the worker's log opens with warnings that say nothing of them), then the log.
    const told = `the worker's runs of proj.add (time, task id version): ${runs
      .map((r) => `${new Date(r.at).toISOString().slice(11, 23)} v${r.v}`)
      .join(', ')}\nthe worker's log:\n${worker}`;
    expect(versions, told).toMatch(/^4+5+$/);
    for (let i = 1; i < runs.length; i++) {
      const gap = (runs[i]!.at - runs[i - 1]!.at) / 1000;
      expect(gap, `run ${i} came ${gap} s after the one before; ${told}`).toBeGreaterThan(5);
      expect(gap, `run ${i} came ${gap} s after the one before; ${told}`).toBeLessThan(15);
    }
  }, 240_000);
});
