/** `beat next` and `beat check` on entries with startAt, endAt, exclude, pauseOnFailure, retry, deadLetter, maxRuns and oneOff (in-process, a fixed "now"). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbeat-limits-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = join(dir, 'limits.yaml');
writeFileSync(
  file,
  [
    'timezone: Europe/Berlin',
    'beatSchedule:',
    '  window: { task: t.w, schedule: { cron: "0 * * * *" }, startAt: "2026-11-21T09:00:00", endAt: "2026-11-21T12:00:00" }',
    '  thrice: { task: t.t, schedule: 3600, max_runs: 3 }',
    '  once: { task: t.o, schedule: { cron: "0 9 * * *" }, oneOff: true }',
    '  over: { task: t.x, schedule: 60, endAt: "2026-11-21T06:00:00+00:00" }',
    '',
  ].join('\n'),
);
// 07:00 in Berlin.
const NOW = Date.parse('2026-11-21T06:00:00Z');

describe('limits on the command line', () => {
  it('beat next shows no instant before startAt nor at or after endAt, and at most maxRuns', async () => {
    const r = await runCli(['next', '--config', file, '--count', '5', '--json'], { now: NOW });
    expect(r.code).toBe(0);
    const next = Object.fromEntries(
      (JSON.parse(r.stdout) as { entries: { name: string; next: string[] }[] }).entries.map((e) => [e.name, e.next]),
    );
    expect(next).toEqual({
      window: ['2026-11-21T09:00:00+01:00', '2026-11-21T10:00:00+01:00', '2026-11-21T11:00:00+01:00'],
      thrice: ['2026-11-21T08:00:00+01:00', '2026-11-21T09:00:00+01:00', '2026-11-21T10:00:00+01:00'],
      once: ['2026-11-21T09:00:00+01:00'],
      over: [],
    });
  });

  it('beat check shows each limit in the schedule column, and "never" past endAt', async () => {
    // --wide: the schedules whole (the table of a terminal cuts the long one).
    const r = await runCli(['check', '--wide', '--config', file], { now: NOW });
    expect(r.code).toBe(0);
    const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(row('window')).toContain('from 2026-11-21T09:00:00+01:00, until before 2026-11-21T12:00:00+01:00');
    expect(row('thrice')).toContain('every 1h, at most 3 runs');
    expect(row('once')).toContain(', once only');
    expect(row('over')).toContain('never (no future fire)');
  });
});
