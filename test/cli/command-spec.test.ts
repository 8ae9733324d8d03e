/**
 * The command spec (src/commands/command-spec.ts): help made from a spec, written out here by hand
 * as the oracle, and "did you mean" with exit 2 for an unknown command, subcommand or option.
 */
import { describe, expect, it } from 'vitest';
import { helpOf, leaf, runCommand } from '../../src/commands/command-spec.js';
import type { Command } from '../../src/commands/command-spec.js';
import { ExitCode } from '../../src/commands/io.js';
import type { Io } from '../../src/commands/io.js';
import { runCli } from '../support/cli.js';

const ran: unknown[] = [];

const demo = leaf({
  name: 'demo go',
  summary: 'go somewhere',
  positionals: { usage: 'PLACE', most: 1 },
  about: 'Goes to PLACE.\n',
  options: {
    speed: { type: 'string', short: 's', value: 'N', required: true, help: 'how fast' },
    'dry-run': { type: 'boolean', help: 'say where, go nowhere\nand print the way' },
    'a-very-long-option': { type: 'string', value: 'VALUE', help: 'its help on the next line' },
  },
  run: (args) => {
    ran.push([args.values.speed, args.values['dry-run'], args.positionals]);
    return Promise.resolve(ExitCode.Ok);
  },
});

const group: Command = {
  name: 'demo',
  summary: 'demonstrate',
  usage: '<command> [options]',
  about: 'A demonstration.\n',
  heading: 'Commands',
  commands: [demo],
  after: 'That is all.\n',
};

function capture(): Io & { out: (t: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (t) => lines.push(t), err: (t) => lines.push(t), env: {}, cwd: '.', now: () => 0 };
}

describe('the command spec', () => {
  it("makes a leaf's usage line and help from its spec", () => {
    expect(helpOf(demo)).toBe(
      [
        'Usage: beat demo go PLACE --speed N [--dry-run] [--a-very-long-option VALUE]',
        '',
        'Goes to PLACE.',
        '',
        'Options:',
        '  -s, --speed N       how fast',
        '      --dry-run       say where, go nowhere',
        '                      and print the way',
        '      --a-very-long-option VALUE',
        '                      its help on the next line',
        '  -h, --help          show this help',
        '',
      ].join('\n'),
    );
  });

  it("makes a group's help with its commands listed, and routes to them", async () => {
    expect(helpOf(group)).toBe(
      ['Usage: beat demo <command> [options]', '', 'A demonstration.', '', 'Commands:', '  go  go somewhere', '', 'That is all.', ''].join(
        '\n',
      ),
    );
    const io = capture();
    expect(await runCommand(group, ['go', 'home', '-s', '3', '--dry-run'], io)).toBe(ExitCode.Ok);
    expect(ran).toEqual([['3', true, ['home']]]);
    expect(await runCommand(group, ['go', '--help'], io)).toBe(ExitCode.Ok);
    expect(io.lines).toEqual([helpOf(demo)]);
    expect(await runCommand(group, [], io)).toBe(ExitCode.BadInput);
  });

  it('refuses an unknown subcommand, option or extra argument with the closest name', async () => {
    const io = capture();
    await expect(runCommand(group, ['og'], io)).rejects.toThrow(
      `beat demo: unknown command "og"; did you mean "go"?; commands: go. See 'beat demo --help'.`,
    );
    await expect(runCommand(group, ['go', '--sped', '3'], io)).rejects.toThrow(
      /^beat demo go: Unknown option '--sped'\..* Did you mean "--speed"\? See 'beat demo go --help'\.$/,
    );
    await expect(runCommand(group, ['go', 'a', 'b'], io)).rejects.toThrow(
      `beat demo go: unexpected argument "b". See 'beat demo go --help'.`,
    );
  });
});

describe('one spelling per option across the commands', () => {
  it('--timezone everywhere: the old --time-zone of import django exits 2 naming --timezone', async () => {
    for (const argv of [
      ['import', 'django', '--django-url', 'postgres://u@127.0.0.1:1/d', '--time-zone', 'UTC'],
      ['import', 'django', '--time-zone=UTC'],
    ]) {
      const r = await runCli(argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "beat import django: --time-zone is spelt --timezone, as in every command that takes it. See 'beat import django --help'.\n",
      );
    }
    for (const command of ['crontab', 'celery', 'redbeat', 'django']) {
      const help = (await runCli(['import', command, '--help'])).stdout;
      expect(help, command).not.toContain('--time-zone');
    }
    expect((await runCli(['import', 'django', '--help'])).stdout).toMatch(/\n {6}--timezone ZONE\s+Django's TIME_ZONE/);
    // A command without a --timezone says only that the option is unknown.
    expect((await runCli(['next', '--time-zone', 'UTC'])).stderr).toMatch(/^beat next: Unknown option '--time-zone'\./);
  });
});

describe('beat, on an unknown command or option', () => {
  it('exits 2 and names the closest command, subcommand, source or option', async () => {
    for (const [argv, message] of [
      [['entris'], 'beat: unknown command "entris"; did you mean "entries"? Commands: run, check, next,'],
      [['entries', 'lst'], 'beat entries: unknown command "lst"; did you mean "list"?; commands: list, get, set,'],
      [['import', 'redbat'], 'beat import: unknown source "redbat"; did you mean "redbeat"?; sources: crontab, celery,'],
      [['next', '--cont', '3'], `beat next: Unknown option '--cont'. Did you mean "--count"? See 'beat next --help'.`],
      [['entries', 'export', '--outptu', 'x'], `beat entries export: Unknown option '--outptu'. Did you mean "--output"?`],
    ] as const) {
      const r = await runCli([...argv]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith(message), `${argv.join(' ')}: ${r.stderr}`).toBe(true);
    }
  });
});
