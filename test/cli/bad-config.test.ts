/**
 * Bad input in the config file itself: each exits 2 naming the file, the cause and the fix, never
 * "unexpected error … please report it"; and `check` refuses all that `run` would refuse.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCli, runCli, spawnCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-bad-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function writeConfig(name: string, lines: string[]): string {
  writeFileSync(join(dir, name), `${lines.join('\n')}\n`);
  return name;
}

const ENTRY = ['beatSchedule:', '  a: { task: t, schedule: 5 }'];

describe('beat check on a config file it cannot use', () => {
  it('names a config path it cannot read (a directory found by the default name) with exit 2, not as an internal bug', async () => {
    const cwd = join(dir, 'unreadable');
    mkdirSync(join(cwd, 'beat.config.yaml'), { recursive: true });
    const r = await runCli(['check'], { cwd, env: {} });
    expect(r.stderr).toBe(
      'beat.config.yaml: cannot read the config file (EISDIR): it is a directory: pass the config file inside it with --config\n',
    );
    expect(r.code).toBe(2);
  });

  it('names a config file it has no permission to read (EACCES) with exit 2 and the fix', () => {
    // root reads any file: as root, the binary runs as nobody (65534), which chmod 000 keeps out.
    const uid = process.getuid?.() === 0 ? 65534 : process.getuid?.();
    const cwd = join(dir, 'forbidden');
    mkdirSync(cwd);
    chmodSync(dir, 0o755);
    chmodSync(cwd, 0o755);
    writeFileSync(join(cwd, 'beat.yaml'), ENTRY.join('\n'));
    chmodSync(join(cwd, 'beat.yaml'), 0o000);
    const r = spawnSync(process.execPath, [builtCli, 'check', '--config', 'beat.yaml'], {
      cwd,
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
      timeout: 30_000,
      ...(uid === 65534 ? { uid, gid: 65534 } : {}),
    });
    expect(r.stderr).toBe(
      `beat.yaml: cannot read the config file (EACCES): make it readable by the user beat runs as (uid ${uid}), e.g. chmod a+r beat.yaml\n`,
    );
    expect(r.status).toBe(2);
  });

  it('refuses a YAML alias bomb ("billion laughs") with exit 2 before expanding it', async () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [prev, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
      ['f', 'g'],
    ]) {
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const r = await runCli(['check', '--config', writeConfig('bomb.yaml', laughs)], { cwd: dir });
    expect(r.stderr).toBe(
      'bomb.yaml: 1 problem\n  (top level) (line 7): YAML aliases and merge keys expand 78 written values to 6,053,451, more than the 1,000,000 allowed (an alias bomb, "billion laughs"?); *f here stands for 597,871: write the values out or use each anchor fewer times\n',
    );
    expect(r.code).toBe(2);
  });

  it('refuses a !!binary schedule with one problem at its line, not a hundred naming Buffer methods', async () => {
    const r = await runCli(
      ['check', '--config', writeConfig('binary.yaml', ['beatSchedule:', '  a: { task: t, schedule: !!binary aGVsbG8= }'])],
      { cwd: dir },
    );
    expect(r.stderr).toBe(
      'binary.yaml: 1 problem\n  (top level) (line 2): YAML tag !!binary is not supported: settings take plain values (strings, numbers, true/false, null, lists, mappings); remove the tag\n',
    );
    expect(r.code).toBe(2);
  });

  it('gives file:line:column for a syntax error in a TS config', async () => {
    const name = writeConfig('syntax.ts', ['export default {', '  beatSchedule: {', '    a: { task: "t", schedule: 5 ,, }', '  }', '}']);
    const r = await runCli(['check', '--config', name], { cwd: dir });
    expect(r.stderr).toBe('syntax.ts:3:34: syntax error: Unexpected token; fix the code there\n');
    expect(r.code).toBe(2);
  });

  it('says a TS config has no default export instead of "unknown key config"', async () => {
    const name = writeConfig('named.ts', ['export const config = { beatSchedule: { a: { task: "t", schedule: 5 } } };']);
    const r = await runCli(['check', '--config', name], { cwd: dir });
    expect(r.stderr).toBe(
      'named.ts: 1 problem\n  (top level): the module has no default export (it exports "config"); write export default defineConfig({...})\n',
    );
    expect(r.code).toBe(2);
  });

  it("says so, with exit 2, when a TS config's top-level await never settles (Node alone exits 13 without a word)", () => {
    const name = writeConfig('stuck.ts', ['await new Promise(() => {});', 'export default { beatSchedule: {} };']);
    const r = spawnCli(['check', '--config', name], { cwd: dir });
    expect(r.stderr).toBe(
      'stuck.ts: the module (its top-level await) never settled: it waits on a promise that nothing will resolve, so the config never finished loading; make every promise it awaits resolve or reject\n',
    );
    expect(r.code).toBe(2);
  });
});

describe('the retired `partitions` setting', () => {
  it.each([['4'], ['1']])('partitions: %s: beat check exits 2 naming the setting, its removal and the way back', async (count) => {
    const name = writeConfig(`partitions-${count}.yaml`, [...ENTRY, `partitions: ${count}`]);
    const r = await runCli(['check', '--config', name], { cwd: dir });
    expect(r.stderr).toBe(
      `${name}: 1 problem\n  partitions (line 3): partitions was removed in 0.3.0: one leader per deployment; delete the setting. A deployment that ran with partitions > 1 must first run 'beat partitions set 1' with tsbeat 0.2.x, then upgrade\n`,
    );
    expect(r.code).toBe(2);
  });

  it('beat run refuses it the same way, before connecting to anything', () => {
    const r = spawnCli(['run', '--config', writeConfig('partitions-run.yaml', [...ENTRY, 'partitions: 2'])], { cwd: dir });
    expect(r.stderr).toContain('partitions was removed in 0.3.0: one leader per deployment; delete the setting.');
    expect(r.stderr).toContain("'beat partitions set 1' with tsbeat 0.2.x, then upgrade");
    expect(r.code).toBe(2);
  });
});

describe('check refuses what run would refuse', () => {
  const cases: [string, string[], string][] = [
    [
      'retry',
      [...ENTRY, 'taskEvents: false', 'retry: { attempts: 3 }'],
      "  retry (line 4): retry needs to know how runs ended, and this config reads no outcomes: set resultBackend (the workers' Celery result_backend) or taskEvents: true (workers with -E), or remove retry",
    ],
    [
      'retry.attempts',
      ['resultBackend: redis://127.0.0.1:6399/1', 'beatSchedule:', '  a: { task: t, schedule: 5, retry: { attempts: 101 } }'],
      '  beatSchedule.a.retry.attempts (line 3): retry.attempts must be a whole number from 1 to 100 (runs of one slot, the first included)',
    ],
    [
      'lock.urls',
      [...ENTRY, 'lock:', '  urls: ["http://x"]'],
      '  lock.urls[0] (line 4): http://x: unsupported scheme "http://"; use redis://, rediss://, redis+socket://, sentinel:// or redis-cluster://',
    ],
    [
      'state.url',
      [...ENTRY, 'broker: { url: "redis://127.0.0.1:6399/0" }', 'state: { url: "redis://:secret@127.0.0.1:6399/1" }'],
      "  state.url (line 4): redis://:***@127.0.0.1:6399/1 differs from the broker redis://127.0.0.1:6399/0: with a Redis broker the state must live on the broker's Redis, because publishing and moving the state forward is one atomic script. Remove state.url.",
    ],
    [
      'broker.url',
      [...ENTRY, 'broker: { url: "http://x" }'],
      '  broker.url (line 3): http://x: unsupported scheme "http://"; use redis://, rediss://, redis+socket://, sentinel://, amqp://, amqps:// or sqs://',
    ],
    [
      'sentinelKwargs',
      [
        ...ENTRY,
        'broker:',
        '  url: sentinel://127.0.0.1:26399',
        '  transportOptions: { masterName: m, sentinelKwargs: { socket_timeout: 1 } }',
      ],
      '  broker.transportOptions.sentinelKwargs.socket_timeout (line 5): "socket_timeout" is not supported; tsbeat passes on "password" and "username" (strings) to the sentinels',
    ],
  ];
  for (const [what, lines, problem] of cases) {
    it(`refuses a bad ${what} in check and in run alike, naming the setting (exit 2)`, () => {
      const name = writeConfig(`${what}.yaml`, lines);
      const expected = `${name}: 1 problem\n${problem}\n`;
      const check = spawnCli(['check', '--config', name], { cwd: dir });
      expect(check.stderr).toBe(expected);
      expect(check.code).toBe(2);
      const run = spawnCli(['run', '--config', name], { cwd: dir });
      expect(run.stderr).toBe(expected);
      expect(run.code).toBe(2);
    });
  }

  it("masks the values of a refused URL's every query parameter in check, next, status and plan, not only those named like a secret", async () => {
    const name = writeConfig('bogus-query.yaml', [
      ...ENTRY,
      'broker: { url: "redis://127.0.0.1:6399/0?bogus=zz-bogus-secret&db=zz-db-secret" }',
    ]);
    for (const command of ['check', 'next', 'status', 'plan']) {
      const r = await runCli([command, '--config', name], { cwd: dir });
      expect(r.stderr, command).toContain('broker.url (line 3): redis://127.0.0.1:6399/0?bogus=***&db=***: unknown query option "bogus"');
      expect(r.stderr, command).not.toContain('zz-');
      expect(r.code, command).toBe(2);
    }
  });

  it('names --broker when the override is the bad URL', () => {
    const name = writeConfig('override.yaml', ENTRY);
    const r = spawnCli(['run', '--config', name, '--broker', 'http://:secret@x'], { cwd: dir });
    expect(r.stderr).toBe(
      'override.yaml: 1 problem\n  --broker: http://:***@x: unsupported scheme "http://"; use redis://, rediss://, redis+socket://, sentinel://, amqp://, amqps:// or sqs://\n',
    );
    expect(r.code).toBe(2);
  });

  it('refuses monitor.sentry without a DSN, naming the entry and where a DSN goes; $SENTRY_DSN gives one', async () => {
    const file = writeConfig('sentry.yaml', [
      'beatSchedule:',
      '  nightly: { task: t, schedule: { cron: "0 3 * * *" }, monitor: { sentry: true } }',
    ]);
    const refused = await runCli(['check', '--config', file], { cwd: dir, env: {} });
    expect(refused.stderr).toBe(
      "sentry.yaml: 1 problem\n  beatSchedule.nightly.monitor.sentry (line 2): Sentry check-ins need a DSN: set sentry.dsn in the config or $SENTRY_DSN (the DSN your workers' sentry_sdk.init uses), or leave monitor.sentry out\n",
    );
    expect(refused.code).toBe(2);
    const given = await runCli(['check', '--config', file], { cwd: dir, env: { SENTRY_DSN: 'https://key@o0.ingest.sentry.io/42' } });
    expect(given.code).toBe(0);
  });
});
