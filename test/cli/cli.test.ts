import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { builtinModules } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAIN_HELP } from '../../src/commands/main.js';
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
          origin: 'file',
          next: ['2026-03-08T03:00:00-04:00', '2026-03-09T02:30:00-04:00', '2026-03-10T02:30:00-04:00'],
        },
        {
          name: 'ping',
          task: 'ops.ping',
          timezone: 'America/New_York',
          origin: 'file',
          next: ['2026-03-07T12:01:30-05:00', '2026-03-07T12:03:00-05:00', '2026-03-07T12:04:30-05:00'],
        },
        { name: 'off', task: 'ops.off', timezone: 'America/New_York', origin: 'file', next: [] },
      ],
    });
  });

  it('first fires an interval entry one interval after --after, as Celery does for a new entry', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-e', 'ping', '-n', '1', '-a', '2026-06-01T00:00:00Z', '--json']);
    expect(JSON.parse(r.stdout).entries[0].next).toEqual(['2026-05-31T20:01:30-04:00']);
  });

  it('without --after, says on stderr that an interval starts from now, not from the state beat status reads', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-n', '1'], { now: Date.parse('2026-11-21T06:00:00Z') });
    expect(r.code).toBe(0);
    // Wrapped at the width (100 without $COLUMNS or a terminal), the rest indented under it.
    expect(r.stderr).toBe(
      `beat next: the interval entry "ping" shown from now, as if new; a running deployment continues each\n  from its last run: its next run is in 'beat status'\n`,
    );
    expect(r.stdout).toContain('ping  ops.ping  [America/New_York]\n  2026-11-21T01:01:30-05:00');
    expect((await runCli(['next', '-c', nyConfig, '-n', '1', '--after', '2026-11-21T06:00:00Z'])).stderr).toBe('');
    expect((await runCli(['next', '-c', nyConfig, '-e', 'backup'])).stderr).toBe('');
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
    expect(r.stderr).toBe('beat next: no entry named "bakup" in the config; did you mean "backup"?\n');
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

describe('beat next --after', () => {
  it('refuses a date that does not exist (exit 2) instead of rolling it over into the next month', async () => {
    for (const after of ['2026-02-30T00:00:00Z', '2027-02-29T12:00:00+01:00', '2026-04-31T00:00:00-05:00', '2026-06-01T12:00:60Z']) {
      const r = await runCli(['next', '-c', nyConfig, '--after', after]);
      expect(r.code, after).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`beat next: --after "${after}" is not a real date and time\n`);
    }
  });

  it('says that fires past the year 9999 cannot be shown (exit 2), never prints a malformed date', async () => {
    const r = await runCli(['next', '-c', nyConfig, '-e', 'backup', '--after', '9999-12-31T12:00:00Z', '-n', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'beat next: entry "backup" next fires after the year 9999 when asked from --after 9999-12-31T12:00:00Z, and ISO-8601 dates end there; give an earlier --after or a smaller --count\n',
    );
    for (const after of ['0000-06-01T00:00:00Z', '9999-12-31T23:00:00-05:00']) {
      const outside = await runCli(['next', '-c', nyConfig, '--after', after]);
      expect(outside.code).toBe(2);
      expect(outside.stderr).toBe(`beat next: --after must be in the years 0001-9999, got "${after}"\n`);
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
    const bad = writeConfig(
      'bad.yaml',
      'beatSchedule:\n  a: { task: t, schedule: { crontab: { hour: 25, minute: 61 } } }\n  b: { tsk: t, schedule: 1 }\n',
    );
    const r = await runCli(['check', '--config', bad], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatchInlineSnapshot(`
      "bad.yaml: 4 problems
        beatSchedule.a.schedule.crontab.hour (line 2): 25 is out of range 0-23
        beatSchedule.a.schedule.crontab.minute (line 2): 61 is out of range 0-59
        beatSchedule.b.tsk (line 3): unknown key "tsk"; did you mean "task"?
        beatSchedule.b.task (line 3): task is required: the registered name of a Celery task, such as "proj.tasks.add"
      "
    `);
  });
});

describe('beat check --consumers', () => {
  it('asks the broker of $CELERY_BROKER_URL, and $BEAT_BROKER_URL before it, as beat run would publish to, not broker.url', async () => {
    const server = await startFakeRedis();
    const fake = `redis://127.0.0.1:${server.port}/0`;
    try {
      for (const env of [{ CELERY_BROKER_URL: fake }, { BEAT_BROKER_URL: fake, CELERY_BROKER_URL: 'redis://127.0.0.1:1/0' }]) {
        const before = server.connections();
        const r = await runCli(['check', '--config', nyConfig, '--consumers'], { cwd: dir, env });
        expect(server.connections()).toBeGreaterThan(before);
        // Whatever the fake answers, the check's verdict names the broker it asked.
        expect(r.stderr).toContain(`127.0.0.1:${server.port}`);
        expect(r.stderr).not.toContain('127.0.0.1:6379');
      }
    } finally {
      await server.close();
    }
  });
});

/** The commands MAIN_HELP lists. */
function commandNames(): string[] {
  const rows = MAIN_HELP.split('Commands:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
  return rows.map((row) => row.trim().split(/\s+/)[0] as string);
}

/** The long options a text names, in order, each once. */
function flagsOf(text: string): string[] {
  return [...new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]))];
}

describe('beat check bounds', () => {
  it('refuses intervals of 1e308, 0.0001 and 1e15 s (every Infinityd, a busy loop, year +31690765) with the allowed range, exit 2', () => {
    const path = writeConfig(
      'intervals.yaml',
      [
        'beatSchedule:',
        '  huge: { task: t, schedule: 1e308 }',
        '  tiny: { task: t, schedule: 0.0001 }',
        '  far: { task: t, schedule: 1e15 }',
        '',
      ].join('\n'),
    );
    const r = spawnCli(['check', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        `${path}: 3 problems`,
        '  beatSchedule.huge.schedule (line 2): an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 1e+308',
        '  beatSchedule.tiny.schedule (line 3): an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 0.0001',
        '  beatSchedule.far.schedule (line 4): an interval must be between 0.1 s and 100 years (3,155,760,000 s), got 1000000000000000',
        '',
      ].join('\n'),
    );
  });

  it('cuts a 100,000-character time zone (or option, or argument) to 80 characters where it is echoed, exit 2', async () => {
    const zone = `Europe/${'B'.repeat(100_000)}`;
    const cut = `${JSON.stringify(zone.slice(0, 80))}…(100007 chars)`;
    const path = writeConfig('zone.yaml', `timezone: ${zone}\n`);
    const r = spawnCli(['check', '--config', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${path}: 1 problem\n  timezone (line 1): unknown time zone ${cut}; use an IANA name such as "Europe/Berlin" or "UTC"\n`,
    );
    const after = await runCli(['next', '-c', nyConfig, '--after', zone]);
    expect(after.code).toBe(2);
    expect(after.stderr).toBe(
      `beat next: --after must be an ISO-8601 instant with an offset, such as 2026-03-08T00:00:00-05:00 or 2026-03-08T05:00:00Z, got ${cut}\n`,
    );
    const option = await runCli(['next', `--${zone}`]);
    expect(option.code).toBe(2);
    expect(option.stderr.length).toBeLessThan(400);
    expect(option.stderr).toContain(`"--${zone.slice(0, 78)}"…(100009 chars)`);
    const command = await runCli([zone]);
    expect(command.code).toBe(2);
    expect(command.stderr).toBe(
      `beat: unknown command ${cut}. Commands: run, check, next, status, history, audit, trigger, backfill, pause, resume, dead-letter, entries, plan, apply, import. See 'beat --help'.\n`,
    );
  });
});

describe('the beat binary', () => {
  it('prints its version and help', () => {
    const version = spawnCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const command of ['run', 'check', 'next', 'status', 'history', 'trigger', 'pause', 'resume', 'entries']) {
      const help = spawnCli([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: beat ${command}`);
    }
    const main = spawnCli(['--help']);
    expect(main.stdout).toContain('Commands:');
    // Each summary starts in one column, at least two spaces after the longest command name.
    const commandRows = main.stdout.split('Commands:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
    expect(commandRows).toHaveLength(15);
    const summaryColumns = commandRows.map((line) => /^ {2}[a-z-]+ {2,}(?=\S)/.exec(line)?.[0].length);
    expect(new Set(summaryColumns)).toEqual(new Set([summaryColumns[0]]));
    expect(summaryColumns[0]).toBeDefined();
    expect(main.stdout).toMatch(/\nOptions:\n {2}-V, -v, --version/);
  });

  it("`beat help <command>` prints that command's help, not the general one", async () => {
    for (const command of commandNames()) {
      const viaHelp = await runCli(['help', command]);
      expect(viaHelp, command).toEqual(await runCli([command, '--help']));
      expect(viaHelp.stdout, command).toMatch(new RegExp(`^Usage: beat ${command} `));
    }
    const unknown = await runCli(['help', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^beat: unknown command "frobnicate"\./);
  });

  it('-v prints the version, as -V and --version do (not "unknown command")', async () => {
    const version = await runCli(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await runCli(['-v'])).toEqual(version);
    expect(await runCli(['-V'])).toEqual(version);
  });

  it("the docs' commands (docs/getting-started.md, Each command) list exactly the options of each command's --help", async () => {
    const page = readFileSync(join(repoRoot, 'docs', 'getting-started.md'), 'utf8');
    const section = page.split('\n## Each command\n')[1]?.split('\n## ')[0] ?? '';
    const documented = new Map<string, string[]>();
    // `beat import` has a --help of its own for each source it lists; the docs document those.
    const sources = (await runCli(['import', '--help'])).stdout.split('Sources:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
    // `beat entries` too, for each command its help lists.
    const entryCommands = (await runCli(['entries', '--help'])).stdout.split('Commands:\n')[1]?.split('\n\n')[0]?.split('\n') ?? [];
    const targets = [
      ...commandNames().filter((c) => c !== 'import'),
      ...sources.map((row) => `import ${row.trim().split(/\s+/)[0] ?? ''}`),
      ...new Set(entryCommands.map((row) => `entries ${row.trim().split(/\s+/)[0] ?? ''}`)),
    ];
    expect(targets).toContain('import crontab');
    expect(targets).toContain('entries export');
    // Each command's section opens with its syntax: one line of `beat …` (pause's names resume too).
    for (const cell of section.split('\n').filter((line) => line.startsWith('`beat '))) {
      for (const [, command, rest] of cell.matchAll(/`beat ([a-z-]+(?: [a-z]+)?)([^`]*)`/g)) {
        if (targets.includes(command as string)) documented.set(command as string, flagsOf(rest as string));
      }
    }
    expect([...documented.keys()].sort()).toEqual([...targets].sort());
    for (const command of targets) {
      const help = (await runCli([...command.split(' '), '--help'])).stdout;
      const usage = help.split('\n')[0] ?? '';
      const options = flagsOf(help.split('\nOptions:\n')[1] ?? '').filter((flag) => flag !== '--help');
      expect(flagsOf(usage), `${command}: Usage line against the Options list`).toEqual(options);
      expect(documented.get(command), `${command}: docs/getting-started.md against --help`).toEqual(options);
    }
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
    expect(unknown.stderr).toBe(
      'beat: unknown command "frobnicate". Commands: run, check, next, status, history, audit, trigger, backfill, pause, resume, dead-letter, entries, plan, apply, import. See \'beat --help\'.\n',
    );
  });
});

/** The built command line: the entry point, then each chunk it reaches, by file name (relative to dist/). */
function builtFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const visit = (name: string): void => {
    if (files.has(name)) return;
    const text = readFileSync(join(dirname(builtCli), name), 'utf8');
    files.set(name, text);
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)["'](\.\/[^"']+)["']/g)) visit((m[1] as string).slice(2));
  };
  visit(basename(builtCli));
  return files;
}

/** Every module specifier a file imports statically (`import … from "x"`). */
function staticImports(text: string): string[] {
  return [...text.matchAll(/\bimport\s*(?:[\w$]+\s*,?\s*)?(?:\{[^}]*\}|\*\s*as\s+[\w$]+)?\s*from\s*["']([^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
}

describe('the built command line', () => {
  it('is bundled: an entry point and its chunks, no module of ours loaded one by one, only the dependencies kept out on purpose, ASCII source', () => {
    const files = builtFiles();
    // Every chunk on disk is one the entry point reaches (none left from an earlier build).
    const chunks = readdirSync(dirname(builtCli)).filter((name) => /^cli-.*\.js$/.test(name));
    expect([...files.keys()].sort()).toEqual([basename(builtCli), ...chunks].sort());
    for (const [name, text] of files) {
      const imports = staticImports(text);
      // Static imports left in the bundle: Node's built-ins and the chunks only (jiti and amqplib are dynamic
      // imports), and the HTTP packages in the chunks only `beat run --http` imports: the API's, and the
      // service's HTTP part (the dashboard's routes).
      const httpOnly = /^cli-(api-app|http-part)-/.test(name) ? /^(hono|@hono\/node-server|@hono\/zod-openapi)(\/|$)/ : /^$/;
      expect(
        imports.filter((s) => !(s.startsWith('node:') || builtinModules.includes(s) || /^\.\/cli-[\w-]+\.js$/.test(s) || httpOnly.test(s))),
        name,
      ).toEqual([]);
      expect(text, name).not.toMatch(/["']\.\.?\/(commands|config|runtime|broker|redis)\//);
      // Non-ASCII text would make V8 keep the source as two bytes per character.
      expect(/[^\x00-\x7f]/.test(text), name).toBe(false);
    }
  });

  it('holds SIGTERM before it loads the commands: the entry point itself is a few lines, the commands a chunk it imports after', () => {
    const entry = builtFiles().get(basename(builtCli)) as string;
    // A start spends 0.1 to 0.4 s parsing and running the commands' chunk: none of it before the signals are held.
    expect(entry.length).toBeLessThan(4_000);
    expect(entry.indexOf('holdStopSignals()')).toBeGreaterThan(0);
    expect(entry.indexOf('holdStopSignals()')).toBeLessThan(entry.search(/import\("\.\/cli-main-/));
  });

  it('reports the version of the ioredis it bundles, read from node_modules when it runs (CLIENT SETINFO LIB-VER)', async () => {
    const expected = (JSON.parse(readFileSync(join(repoRoot, 'node_modules/ioredis/package.json'), 'utf8')) as { version: string }).version;
    const server = await startFakeRedis();
    const child = spawn(process.execPath, [builtCli, 'run', '--config', join(repoRoot, 'schedules/example.yaml')], {
      env: { PATH: process.env.PATH ?? '', BEAT_BROKER_URL: `redis://127.0.0.1:${server.port}/0` },
      stdio: 'ignore',
    });
    const libVer = (): string | undefined =>
      server.commands.find((c) => c[0]?.toLowerCase() === 'client' && c[1] === 'SETINFO' && c[2] === 'LIB-VER')?.[3];
    try {
      expect(await waitUntil('CLIENT SETINFO LIB-VER', libVer, 20_000)).toBe(expected);
    } finally {
      child.kill('SIGKILL');
      await server.close();
    }
  });

  it("keeps the code Node compiled in the user's cache folder, none with NODE_DISABLE_COMPILE_CACHE=1, and starts without one it cannot write", () => {
    // A cron entry only: its next fire does not move from one start to the next, as an interval's would.
    const config = writeConfig('cron-only.yaml', 'beatSchedule:\n  backup: { task: ops.backup, schedule: { cron: "30 2 * * *" } }\n');
    const check = ['check', '--config', config];
    const cache = mkdtempSync(join(dir, 'cache-'));
    const first = spawnCli(check, { env: { XDG_CACHE_HOME: cache } });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const kept = readdirSync(join(cache, 'tsbeat', 'compiled'), { recursive: true });
    expect(kept.length).toBeGreaterThan(3);
    // The second start reads the kept code and says the same.
    expect(spawnCli(check, { env: { XDG_CACHE_HOME: cache } })).toEqual(first);
    const off = mkdtempSync(join(dir, 'cache-off-'));
    expect(spawnCli(check, { env: { XDG_CACHE_HOME: off, NODE_DISABLE_COMPILE_CACHE: '1' } })).toEqual(first);
    expect(readdirSync(off)).toEqual([]);
    // A cache folder that is a file: no cache, the same answer, nothing said about it.
    const blocked = writeConfig('not-a-folder', '');
    expect(spawnCli(check, { env: { XDG_CACHE_HOME: blocked } })).toEqual(first);
    // A relative XDG_CACHE_HOME is ignored (the XDG spec): nothing written below the working folder.
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const home = mkdtempSync(join(dir, 'home-'));
    expect(spawnCli(check, { cwd, env: { XDG_CACHE_HOME: 'relative-cache', HOME: home } })).toEqual(first);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(join(home, '.cache', 'tsbeat', 'compiled')).length).toBeGreaterThan(0);
  });

  it('holds only the parts of zod it uses: none of its other locales (`import * as z`, not `import { z }`)', () => {
    const text = [...builtFiles().values()].join('\n');
    // From zod's Dutch locale; through `import { z } from 'zod'` esbuild kept all 40 (0.3 MB).
    expect(text).not.toContain('Ongeldige invoer');
    expect(text).toContain('Invalid input');
  });
});
