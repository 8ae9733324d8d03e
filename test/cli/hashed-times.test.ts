/**
 * Issue 71 through the built CLI: `beat next` and `beat check` show a hashed entry's real times
 * (never "H") and a spread entry's moved slots, and `beat check` refuses H in a Celery crontab and a
 * spread not shorter than the schedule's period with exit 2, naming the place and the fix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { TempDir } from '../support/beat-process.js';
import { spawnCli } from '../support/cli.js';

const dir = new TempDir();

function config(file: string, beatSchedule: Record<string, unknown>): string {
  // Port 1: nothing listens; neither command connects.
  return dir.write(`${file}.json`, { name: 'prod', broker: { url: 'redis://127.0.0.1:1/0' }, beatSchedule });
}

afterAll(() => {
  dir.remove();
});

describe('hashed times through the CLI', () => {
  const file = config('hashed', {
    nightly: { task: 't.nightly', schedule: { cron: 'H H * * *' } },
    spreadout: { task: 't.spread', schedule: { cron: '0 0 * * *' }, spread: '10m' },
  });

  it('beat next prints the resolved times of H and of a spread, the same on every call', () => {
    const r = spawnCli(['next', '--config', file, '--after', '2027-03-01T00:00:00Z', '--count', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\bH\b/);
    expect(r.stdout).toContain('nightly  t.nightly  [UTC]\n  2027-03-01T10:38:00+00:00\n  2027-03-02T10:38:00+00:00\n');
    // The spread entry's slots moved by its offset (35 s for "spreadout" of "prod"), not at midnight.
    expect(r.stdout).toContain('spreadout  t.spread  [UTC]\n  2027-03-01T00:00:35+00:00\n  2027-03-02T00:00:35+00:00\n');
    const again = spawnCli(['next', '--config', file, '--after', '2027-03-01T00:00:00Z', '--count', '2']);
    expect(again.stdout).toBe(r.stdout);
  });

  it('beat check describes them in words with the resolved line', () => {
    const r = spawnCli(['check', '--config', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nightly +t\.nightly +at 10:38 every day \(38 10 \* \* \*, hashed/);
    expect(r.stdout).toMatch(/spreadout +t\.spread +at 00:00 every day, each run 35 s later/);
  });

  it('beat check refuses H in a Celery crontab and a spread as long as the period, exit 2', () => {
    const bad = config('bad', {
      celery: { task: 't.a', schedule: { crontab: { minute: 'H' } } },
      wide: { task: 't.b', schedule: { cron: '*/5 * * * *' }, spread: '5m' },
    });
    const r = spawnCli(['check', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `beatSchedule.celery.schedule.crontab.minute: "H" is Jenkins' hashed value, which a Celery crontab has no field for`,
    );
    expect(r.stderr).toContain("beatSchedule.wide.spread: spread 300 s is not shorter than the schedule's shortest period, 300 s");
  });
});
