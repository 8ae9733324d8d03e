import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/base/errors.js';
import { readEntryFile } from '../../src/commands/entry-files.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-config-yaml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function loadYaml(name: string, lines: string[]) {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return (await loadConfig({ explicit: path, cwd: dir })).config;
}

describe('YAML configs as docker-compose and Kubernetes files are written', () => {
  it('merges `<<: *defaults` into each entry, the entry\'s own keys winning, without "unknown key <<"', async () => {
    const config = await loadYaml('merge.yaml', [
      'x-defaults: &defaults',
      '  task: ops.report',
      '  options: { queue: reports, expires: 60 }',
      '  catchUp: skip',
      'beatSchedule:',
      '  hourly:',
      '    <<: *defaults',
      '    schedule: 3600',
      '  nightly:',
      '    <<: *defaults',
      '    task: ops.nightly',
      '    schedule: { crontab: { hour: 3, minute: 0 } }',
    ]);
    expect(config.entries.map((e) => [e.name, e.task, e.options, e.catchUp])).toEqual([
      ['hourly', 'ops.report', { queue: 'reports', expires: 60 }, 'skip'],
      ['nightly', 'ops.nightly', { queue: 'reports', expires: 60 }, 'skip'],
    ]);
  });

  it('merges a list of mappings, the first one winning, as YAML 1.1 says', async () => {
    const config = await loadYaml('merge-list.yaml', [
      'x-a: &a { task: a.task, jitter: 5 }',
      'x-b: &b { task: b.task, relative: true }',
      'beatSchedule:',
      '  e: { <<: [*a, *b], schedule: 60 }',
    ]);
    expect(config.entries[0]).toMatchObject({
      task: 'a.task',
      jitterMs: 5000,
      schedule: { kind: 'interval', everyMs: 60_000, relative: true },
    });
  });

  it('ignores x- extension keys in every settings object, in JSON too', () => {
    const config = parseConfig(
      {
        'x-owner': 'team-a',
        lock: { 'x-note': 'three servers later', ttl: 5 },
        beatSchedule: {
          a: { 'x-doc': 'why', task: 't', schedule: { 'x-why': 1, timedelta: { minutes: 1 } }, options: { 'x-k': 1, queue: 'q' } },
        },
      },
      'x.json',
    );
    expect(config.lock.ttlMs).toBe(5000);
    expect(config.entries[0]).toMatchObject({ task: 't', options: { queue: 'q' }, schedule: { everyMs: 60_000 } });
    expect(config.entries[0]?.options).not.toHaveProperty('x-k');
  });

  it('lets 1,500 entries share one anchor, beyond the 1,000 uses yaml itself allows', async () => {
    const lines = ['x-defaults: &d { task: t, args: [1, {k: 2}] }', 'beatSchedule:'];
    for (let i = 0; i < 1500; i += 1) lines.push(`  e${i}: { <<: *d, schedule: ${i + 1} }`);
    const config = await loadYaml('many.yaml', lines);
    expect(config.entries).toHaveLength(1500);
    expect(config.entries[1499]).toMatchObject({ task: 't', args: [1, { k: 2 }], schedule: { everyMs: 1_500_000 } });
  });

  it('still refuses a key that is neither a setting nor an extension', async () => {
    await expect(loadYaml('typo.yaml', ['x-ok: 1', 'xdefaults: 1'])).rejects.toThrow('xdefaults (line 2): unknown key "xdefaults"');
  });

  it('places a tag, a syntax error and a duplicate key on their lines (read without lines, then again with them)', async () => {
    await expect(loadYaml('tag.yaml', ['beatSchedule:', '  a: { task: t, schedule: 1, args: [!!binary aGVsbG8=] }'])).rejects.toThrow(
      'tag.yaml: 1 problem\n  (top level) (line 2): YAML tag !!binary is not supported',
    );
    await expect(loadYaml('syntax.yaml', ['beatSchedule:', '  a: { task: t, schedule: 1', 'b: 1'])).rejects.toThrow(
      'syntax.yaml: 1 problem\n  (top level) (line 3): YAML syntax: Flow map in block collection must be sufficiently indented and end with a } at line 3, column 1:',
    );
    await expect(
      loadYaml('twice.yaml', ['beatSchedule:', '  a: { task: t, schedule: 1 }', '  a: { task: u, schedule: 2 }']),
    ).rejects.toThrow('twice.yaml: 1 problem\n  (top level) (line 3): YAML syntax: Map keys must be unique; "a" appears twice');
  });

  it('places each problem on its line when the file spells keys in snake_case (beat_schedule:, max_runs:), not on line 1', async () => {
    const lines = [
      'timezone: UTC',
      'beat_schedule:',
      '  a:',
      '    task: t',
      '    schedule: 60',
      '    max_runs: -1',
      '  b:',
      '    task: u',
      '    schedule: { crontab: { day_of_week: nonday } }',
    ];
    const error = await loadYaml('snake.yaml', lines).then(
      () => undefined,
      (e: unknown) => e,
    );
    const message = error instanceof Error ? error.message : '';
    expect(message).toMatch(/beatSchedule\.a\.maxRuns \(line 6\)/);
    expect(message).toMatch(/beatSchedule\.b\.schedule\.crontab\.dayOfWeek \(line 9\)/);
    expect(message).not.toContain('(line 1)');
  });

  it('reads a config that merges its defaults into 2,000 entries', async () => {
    const lines = ['x-defaults: &defaults', '  enabled: true', '  catchUp: skip', 'beatSchedule:'];
    for (let i = 0; i < 2000; i += 1) lines.push(`  e-${i}:`, '    <<: *defaults', `    task: t.${i}`, `    schedule: ${i + 1}`);
    const config = await loadYaml('merged.yaml', lines);
    expect(config.entries).toHaveLength(2000);
    expect(config.entries[1999]).toMatchObject({ name: 'e-1999', task: 't.1999', catchUp: 'skip', schedule: { everyMs: 2_000_000 } });
  });

  it('refuses an alias bomb, with or without a block scalar', async () => {
    const laughs = ['note: |', '  a block scalar', 'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (const [prev, name] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'd'],
      ['d', 'e'],
      ['e', 'f'],
      ['f', 'g'],
    ])
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    await expect(loadYaml('bomb.yaml', laughs)).rejects.toThrow(
      'bomb.yaml: 1 problem\n  (top level) (line 9): YAML aliases and merge keys expand 80 written values to 6,053,453, more than the 1,000,000 allowed (an alias bomb, "billion laughs"?); *f here stands for 597,871: write the values out or use each anchor fewer times',
    );
    await expect(loadYaml('bomb-plain.yaml', laughs.slice(2))).rejects.toThrow(
      '(line 7): YAML aliases and merge keys expand 78 written values to 6,053,451, more than the 1,000,000 allowed',
    );
  });

  it('refuses a bomb of merge keys (each level merging the one before six times) at its line, in a config and in an entries file (beat plan --entries)', async () => {
    // 400 bytes; toJS alone would copy the first mapping 6^8 (1.7 million) times, and a few levels
    // more (issue 66: 884 bytes) take minutes and gigabytes.
    const lines = ['x-0: &l0 { a: 1, b: 2 }'];
    for (let i = 1; i <= 8; i += 1)
      lines.push(
        `x-${i}: &l${i} { <<: [${Array(6)
          .fill(`*l${i - 1}`)
          .join(', ')}], k${i}: ${i} }`,
      );
    const refusal =
      '(top level) (line 9): YAML aliases and merge keys expand 103 written values to 12,093,235, more than the 1,000,000 allowed (an alias bomb, "billion laughs"?); *l7 here stands for 1,679,615: write the values out or use each anchor fewer times';
    const started = performance.now();
    await expect(loadYaml('merge-bomb.yaml', lines)).rejects.toThrow(`merge-bomb.yaml: 1 problem\n  ${refusal}`);
    writeFileSync(join(dir, 'entries-bomb.yaml'), `${lines.join('\n')}\n`);
    await expect(readEntryFile('plan', dir, 'entries-bomb.yaml')).rejects.toMatchObject({
      code: ErrorCode.EntryInvalid,
      message: `entries-bomb.yaml: 1 problem\n  ${refusal}`,
    });
    // Generous under load: each refusal reads the 9 lines twice.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('refuses a file of many plain aliases that yaml would take many seconds to resolve (each looked up from the start), at the alias that passes the bound', async () => {
    // Issue 66's follow-up: 40,000 `*a` in 120 KB took 37 s in toJS, with no expansion to see.
    const lines = ['x-a: &a 1', 'many:'];
    for (let i = 0; i < 40_000; i += 1) lines.push('  - *a');
    const started = performance.now();
    await expect(loadYaml('aliases.yaml', lines)).rejects.toThrow(
      /^aliases\.yaml: 1 problem\n {2}\(top level\) \(line 7743\): YAML: 40,000 aliases in 40,005 values cost the YAML reader 800,[\d,]+ steps to resolve \(each one is looked up from the start of the file\), more than the 30,000,000 allowed; the alias here passed it: write the values out, use fewer aliases, or write the file as JSON$/,
    );
    // Refused in seconds, not the 37 s of resolving them all: the bound leaves room for a loaded CI
    // machine (Node.js 22's leg runs niced beside two integration legs, where it took 5.7 s and 6.1 s).
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it('refuses an alias inside the value its own anchor marks, with its line, instead of a value that contains itself', async () => {
    await expect(loadYaml('cycle.yaml', ['x-a: &a', '  task: t', '  again: [*a]'])).rejects.toThrow(
      'cycle.yaml: 1 problem\n  (top level) (line 3): YAML alias *a is inside the value its anchor &a marks, which would then contain itself without end; write the value out instead',
    );
    await expect(loadYaml('merge-cycle.yaml', ['x-a: &a', '  task: t', '  <<: *a'])).rejects.toThrow(
      '(line 3): YAML alias *a is inside the value its anchor &a marks',
    );
  });
});
