import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCli, repoRoot, runCli, spawnCli } from '../support/cli.js';
import { waitUntil } from '../support/beat-process.js';
import { startFakeRedis } from '../support/fake-redis.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const nyConfig = writeConfig(
  'ny.yaml',
  [
    'timezone: America/New_York',
    'beatSchedule:',
    '  backup: { task: ops.backup, schedule: { cron: "30 2 * * *" } }',
    '  ping: { task: ops.ping, schedule: 90 }',
    '  off: { task: ops.off, schedule: 5, enabled: false }',
    '',
  ].join('\n'),
);

describe('beat next', () => {
  it('prints exactly the documented JSON, fixed jobs at the gap end on the spring-forward day', async () => {
    const r = await runCli(['next', '--config', nyConfig, '--after', '2026-03-07T12:00:00-05:00', '--count', '3', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      entries: [
        {
          name: 'backup',
          task: 'ops.backup',
          timezone: 'America/New_York',
          next: ['2026-03-08T03:00:00-04:00', '2026-03-09T02:30:00-04:00', '2026-03-10T02:30:00-04:00'],
        },
        {
          name: 'ping',
          task: 'ops.ping',
          timezone: 'America/New_York',
          next: ['2026-03-07T12:01:30-05:00', '2026-03-07T12:03:00-05:00', '2026-03-07T12:04:30-05:00'],
        },
        { name: 'off', task: 'ops.off', timezone: 'America/New_York', next: [] },
      ],
    });
  });

  it('first fires an interval entry one interval after --after, as Celery does for a new entry', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-e', 'ping', '-n', '1', '-a', '2026-06-01T00:00:00Z', '--json']);
    expect(JSON.parse(r.stdout).entries[0].next).toEqual(['2026-05-31T20:01:30-04:00']);
  });

  it('defaults --after to now and --count to 5', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-e', 'backup'], { now: Date.parse('2026-11-21T06:00:00Z') });
    expect(r.stdout).toBe(
      [
        'backup  ops.backup  [America/New_York]',
        '  2026-11-21T02:30:00-05:00',
        '  2026-11-22T02:30:00-05:00',
        '  2026-11-23T02:30:00-05:00',
        '  2026-11-24T02:30:00-05:00',
        '  2026-11-25T02:30:00-05:00',
        '',
      ].join('\n'),
    );
  });

  it('names an unknown entry and suggests the nearest, with exit code 2', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-e', 'bakup']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('beat next: no entry named "bakup"; did you mean "backup"?\n');
  });

  it('rejects malformed arguments with exit code 2 and a pointer to --help', async () => {
    for (const [argv, message] of [
      [['next', '-c', nyConfig, '--count', '0'], 'beat next: --count must be a whole number from 1 to 10000, got "0"\n'],
      [['next', '-c', nyConfig, '--after', '2026-03-07 12:00'], /^beat next: --after must be an ISO-8601 instant with an offset/],
      [['next', '--bogus'], /^beat next: Unknown option '--bogus'.*See 'beat next --help'\.\n$/],
    ] as const) {
      const r = await runCli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      if (typeof message === 'string') expect(r.stderr).toBe(message);
      else expect(r.stderr).toMatch(message);
    }
  });
});

describe('beat check', () => {
  it('prints a table of entries with their schedule in words and next fire', async () => {
    const r = await runCli(['check', '--config', 'ny.yaml'], { cwd: dir, now: Date.parse('2026-03-07T17:00:00Z') });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatchInlineSnapshot(`
      "NAME    TASK        SCHEDULE            TIMEZONE          NEXT
      backup  ops.backup  at 02:30 every day  America/New_York  2026-03-08T03:00:00-04:00
      ping    ops.ping    every 1m 30s        America/New_York  2026-03-07T12:01:30-05:00
      off     ops.off     every 5s            America/New_York  disabled
      ny.yaml: valid, 3 entries
      "
    `);
  });

  it('exits 2 and lists every problem on stderr', async () => {
    const bad = writeConfig('bad.yaml', 'beatSchedule:\n  a: { task: t, schedule: { crontab: { hour: 25, minute: 61 } } }\n  b: { tsk: t, schedule: 1 }\n');
    const r = await runCli(['check', '--config', bad], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatchInlineSnapshot(`
      "bad.yaml: 4 problems
        beatSchedule.a.schedule.crontab.hour (line 2): 25 is out of range 0-23
        beatSchedule.a.schedule.crontab.minute (line 2): 61 is out of range 0-59
        beatSchedule.b.task (line 3): task is required: the registered name of a Celery task, such as "proj.tasks.add"
        beatSchedule.b.tsk (line 3): unknown key "tsk"; did you mean "task"?
      "
    `);
  });
});

describe('the beat binary', () => {
  it('prints its version and help', () => {
    const version = spawnCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const command of ['run', 'check', 'next', 'status', 'trigger', 'pause', 'resume']) {
      const help = spawnCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: beat ${command}`);
    }
    const main = spawnCli(['--help']);
    expect(main.stdout).toContain('Commands:');
    // Each summary starts in one column, at least two spaces after the longest command name.
    const commandRows = main.stdout.split('Commands:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
    expect(commandRows).toHaveLength(7);
    const summaryColumns = commandRows.map((line) => /^ {2}[a-z]+ {2,}(?=\S)/.exec(line)?.[0].length);
    expect(new Set(summaryColumns)).toEqual(new Set([summaryColumns[0]]));
    expect(summaryColumns[0]).toBeDefined();
    expect(main.stdout).toMatch(/\nOptions:\n {2}-V, --version/);
  });

  it('validates every example schedule shipped in schedules/', () => {
    const files = readdirSync(new URL('../../schedules', import.meta.url));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const r = spawnCli(['check', '--config', `schedules/${file}`]);
      expect(r.stderr, file).toBe('');
      expect(r.code, file).toBe(0);
    }
  });

  it('finds schedules/ configs by default name and never prints a stack trace on bad input', () => {
    const broken = writeConfig('beat.config.mjs', 'export default {{ broken');
    const r = spawnCli(['check'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('beat.config.mjs:1:17: syntax error: Unexpected token; fix the code there\n');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    rmSync(broken);
    const unknown = spawnCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('beat: unknown command "frobnicate". Commands: run, check, next, status, trigger, pause, resume. See \'beat --help\'.\n');
  });
});

describe('the built command line', () => {
  it('is one bundled file: no module of ours loaded one by one, only the dependencies kept out on purpose, ASCII source', () => {
    const text = readFileSync(builtCli, 'utf8');
    // Static imports left in the bundle: Node's built-ins only (yaml, jiti and amqplib are dynamic imports).
    const staticImports = [...text.matchAll(/\bimport\s*(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*from\s*["']([^"']+)["']/g)].map((m) => m[1]);
    expect(staticImports.length).toBeGreaterThan(0);
    expect(staticImports.filter((s) => !(s?.startsWith('node:') || builtinModules.includes(s ?? '')))).toEqual([]);
    expect(text).not.toMatch(/["']\.\.?\/(commands|config|runtime|broker|redis)\//);
    // Non-ASCII text would make V8 keep the source as two bytes per character.
    expect(/[^\x00-\x7f]/.test(text)).toBe(false);
  });

  it('reports the version of the ioredis it bundles, read from node_modules when it runs (CLIENT SETINFO LIB-VER)', async () => {
    const expected = (JSON.parse(readFileSync(join(repoRoot, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string }).version;
    const server = await startFakeRedis();
    const child = spawn(process.execPath, [builtCli, 'run', '--config', join(repoRoot, 'schedules/example.yaml')], {
      env: { PATH: process.env.PATH ?? '', BEAT_BROKER_URL: `redis://127.0.0.1:${server.port}/0` },
      stdio: 'ignore',
    });
    const libVer = (): string | undefined => server.commands.find((c) => c[0]?.toLowerCase() === 'client' && c[1] === 'SETINFO' && c[2] === 'LIB-VER')?.[3];
    try {
      expect(await waitUntil('CLIENT SETINFO LIB-VER', libVer, 20_000)).toBe(expected);
    } finally {
      child.kill('SIGKILL');
      await server.close();
    }
  });

  it('holds only the parts of zod it uses: none of its other locales (`import * as z`, not `import { z }`)', () => {
    const text = readFileSync(builtCli, 'utf8');
    // From zod's Dutch locale; through `import { z } from 'zod'` esbuild kept all 40 (0.3 MB).
    expect(text).not.toContain('Ongeldige invoer');
    expect(text).toContain('Invalid input');
  });
});
