/**
 * Every command in a pipe whose reader goes away (`beat status | head -1`): it ends quietly with
 * exit 0, no stack trace (issue 51). Two readers: one that closes after the first line, as `head -1`
 * does, for outputs larger than a pipe holds (64 KiB), and one closed before the command writes
 * anything, so that the first write of every command, however short its output, fails with EPIPE.
 * The commands that read Redis use a private redis-server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtCli } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-pipe-'));
let redis: PrivateRedis;
let config: string;
let crontab: string;

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  config = join(dir, 'beat.yaml');
  writeFileSync(
    config,
    [
      'name: pipe-test',
      'timezone: UTC',
      `broker: { url: "${redis.url()}" }`,
      'beatSchedule:',
      ...Array.from({ length: 20 }, (_, i) => `  tick-${i}: { task: t.tick, schedule: 1 }`),
      '  nightly: { task: t.nightly, schedule: { cron: "30 2 * * *" } }',
      '',
    ].join('\n'),
  );
  crontab = join(dir, 'crontab');
  writeFileSync(crontab, Array.from({ length: 30 }, (_, i) => `${i} * * * * /usr/bin/job-${i}\n`).join(''));
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the reader read before it closed. */
  read: string;
}

/** Runs the built CLI with its stdout read by a reader that closes at once, or after the first line. */
function piped(argv: readonly string[], reader: 'closed' | 'head -1'): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtCli, ...argv], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', BEAT_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let read = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (reader === 'closed') child.stdout.destroy();
    else
      child.stdout.on('data', (d: Buffer) => {
        read += d.toString();
        if (read.includes('\n')) child.stdout.destroy();
      });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`beat ${argv.join(' ')} did not end within 20 s of its reader closing; stderr: ${stderr}`));
    }, 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, read });
    });
  });
}

/** What a crash in a pipe wrote: an unhandled 'error' event, a stack frame, EPIPE named. */
const CRASH = /EPIPE|Unhandled|^\s+at /m;

describe('a command whose reader goes away', () => {
  it('beat next --count 10000 | head -1: the first line, then exit 0, nothing on stderr', async () => {
    const r = await piped(['next', '--config', config, '--count', '10000', '--after', '2026-01-01T00:00:00Z'], 'head -1');
    expect(r.read.split('\n')[0]).toBe('tick-0  t.tick  [UTC]');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('beat import crontab (a config for a program: written unescaped) with its reader closed: exit 0', async () => {
    const r = await piped(['import', 'crontab', crontab, '--task', 'cron.run', '--queue', 'cron'], 'closed');
    expect(r.stderr).not.toMatch(CRASH);
    expect(r.code).toBe(0);
  });

  const commands: readonly (readonly string[])[] = [
    ['--help'],
    ['--version'],
    ['help', 'status'],
    ['check'],
    ['next'],
    ['next', '--json'],
    ['status'],
    ['status', '--json'],
    ['history', 'nightly'],
    ['audit'],
    ['entries', 'list'],
    ['entries', 'export'],
    ['backfill', 'nightly', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-10T00:00:00Z', '--dry-run'],
  ];
  it.each(commands.map((argv) => ({ argv, line: argv.join(' ') })))(
    'beat $line with its reader closed before it writes: exit 0, no stack',
    async ({ argv }) => {
      const withConfig = argv[0] === '--help' || argv[0] === '--version' || argv[0] === 'help' ? argv : [...argv, '--config', config];
      const r = await piped(withConfig, 'closed');
      expect(r.stderr).not.toMatch(CRASH);
      expect(r.code).toBe(0);
    },
  );

  it('beat run --dry-run (its messages on stdout) stops as on SIGTERM: exit 0, no stack', async () => {
    const r = await piped(['run', '--dry-run', '--config', config], 'head -1');
    expect(r.stderr).not.toMatch(CRASH);
    expect(r.code).toBe(0);
  });

  it('beat run (its logs on stdout) stops cleanly, exit 0, and hands its lock over at once', async () => {
    const r = await piped(['run', '--config', config], 'head -1');
    expect(JSON.parse(r.read.split('\n')[0] ?? '')).toMatchObject({ event: 'beat.start' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const client = redis.client();
    try {
      await client.connect();
      // A clean stop releases the lock; a process killed by its pipe would leave it to expire.
      const locks = (await client.keys('*pipe-test*lock*')).filter((key) => !key.includes('fence'));
      expect(locks).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
