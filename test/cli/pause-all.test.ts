/**
 * `beat pause --all` / `beat resume --all`: refused with exit 2 before Redis is asked when combined
 * with an ENTRY or a selector, naming the conflict and the fix; documented in --help.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const CONFIG = ['--config', 'schedules/example.yaml', '--broker', 'redis://127.0.0.1:1/0'];

describe('beat pause --all', () => {
  it.each([
    ['pause', ['--all', 'nightly'], 'got ENTRY "nightly"'],
    ['resume', ['--all', 'nightly'], 'got ENTRY "nightly"'],
    ['pause', ['--all', '-l', 'team=billing'], 'got -l "team=billing"'],
    ['resume', ['--all', '--selector', 'team=billing'], 'got -l "team=billing"'],
  ] as const)('beat %s %j: exit 2, naming the conflict', async (verb, args, conflict) => {
    const r = await runCli([verb, ...args, ...CONFIG]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`beat ${verb}: --all`);
    expect(r.stderr).toContain('takes no ENTRY or -l');
    expect(r.stderr).toContain(conflict);
    expect(r.stderr).toContain('give --all alone');
  });

  it('a bad --note is refused with exit 2 before Redis is asked', async () => {
    const r = await runCli(['pause', '--all', '--note', '', ...CONFIG]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--note');
  });

  it('--help says what --all does', async () => {
    const pause = await runCli(['pause', '--help']);
    expect(pause.stdout).toContain('--all');
    expect(pause.stdout).toContain('no\nreplica publishes anything');
    const resume = await runCli(['resume', '--help']);
    expect(resume.stdout).toContain("lift the deployment-wide stop of 'beat pause --all'");
  });
});
