/**
 * `beat status` fits 100 columns by default (issue 51): relative times, the columns read at a glance,
 * long cells cut; `--wide` is the full table with ISO instants, `--json` the /status document. Against
 * a real `beat run` leader on a private redis-server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { relativeText } from '../../src/commands/relative-time.js';
import { renderTable } from '../../src/commands/table.js';
import { BeatFleet, TempDir, waitUntil } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

const fleet = new BeatFleet();
const dir = new TempDir();
let redis: PrivateRedis;
let config: string;

beforeAll(async () => {
  redis = new PrivateRedis(await freePort());
  await redis.start();
  config = dir.write(
    'beat.yaml',
    [
      'name: narrow-status',
      'timezone: Europe/Berlin',
      `broker: { url: "${redis.url()}" }`,
      // The layout without run outcomes (task events read by default add the outcome columns).
      'taskEvents: false',
      'beatSchedule:',
      '  every-second: { task: reports.generate_the_quarterly_summary_for_finance, schedule: 1 }',
      '  half-hourly-at-night: { task: ops.sync, schedule: { crontab: { minute: "*/30", hour: "1-3" } } }',
      '  nightly-backup-of-the-primary-database-cluster: { task: ops.backup, schedule: { cron: "30 2 * * *" } }',
      '  weekly: { task: reports.weekly, schedule: { crontab: { hour: 7, minute: 30, day_of_week: 1 } }, enabled: false }',
      '',
    ].join('\n'),
  );
  const leader = fleet.spawn({ config });
  await leader.waitForEvent(EVENTS.lockAcquired, 20_000);
  const env = { BEAT_BROKER_URL: redis.url() };
  await waitUntil(
    'a run of every-second',
    async () => {
      const r = await runCli(['status', '--config', config, '--json'], { env, now: Date.now() });
      const entries = (JSON.parse(r.stdout) as { entries: { name: string; lastSlot: string | null }[] }).entries;
      return entries.some((e) => e.name === 'every-second' && e.lastSlot !== null) ? true : undefined;
    },
    15_000,
  );
});
afterAll(async () => {
  await fleet.killAll();
  await redis.stop();
  dir.remove();
});

describe('beat status', () => {
  it('fits 100 columns: the leader, its replicas and every entry, times relative to now, schedules in words', async () => {
    const r = await runCli(['status', '--config', config], { env: {}, now: Date.now() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(100);
    expect(lines[0]).toMatch(/^deployment narrow-status: leader \S+ since (\d+ s ago|now)$/);
    expect(lines).toContainEqual(expect.stringMatching(/^REPLICA\s+ROLE\s+HOST\s+VERSION\s+STARTED\s+HEARTBEAT$/));
    expect(lines).toContainEqual(expect.stringMatching(/^NAME\s+SCHEDULE\s+LAST RUN\s+NEXT RUN\s+STATE$/));
    expect(lines).toContainEqual(expect.stringMatching(/^every-second\s+every 1s\s+(\d s ago|now)\s+(in \d s|now)\s+active$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^half-hourly-at-night\s+every 30 minutes from 01:00 to 03:30\s+-\s+in \d+ [mhd]\s+active$/),
    );
    // A name longer than its share of the 100 columns is cut, and says so.
    expect(lines).toContainEqual(
      expect.stringMatching(/^nightly-backup-of-the-prim\S*…\s+at 02:30 every day\s+-\s+in \d+ [mhd]\s+active$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^weekly\s+at 07:30 on Mon\s+-\s+-\s+disabled$/));
    expect(r.stdout).not.toMatch(/\d{4}-\d\d-\d\dT/);
  });

  it('--wide is the full table: TASK, RUNS, every instant in ISO 8601', async () => {
    const r = await runCli(['status', '--wide', '--config', config], { env: {}, now: Date.now() });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+TASK\s+SCHEDULE\s+LAST RUN\s+NEXT RUN\s+RUNS\s+STATE$/m);
    expect(r.stdout).toMatch(/^nightly-backup-of-the-primary-database-cluster\s+ops\.backup\s/m);
    expect(r.stdout).toMatch(/^every-second\s+reports\.generate_the_quarterly_summary_for_finance\s+every 1s\s+\d{4}-\d\d-\d\dT/m);
  });

  it('--json is the /status document, unchanged by the narrow table', async () => {
    const r = await runCli(['status', '--json', '--config', config], { env: {}, now: Date.now() });
    const json = JSON.parse(r.stdout) as { entries: { name: string; task: string; nextRun: string | null }[] };
    expect(json.entries.find((e) => e.name === 'nightly-backup-of-the-primary-database-cluster')).toMatchObject({
      task: 'ops.backup',
      nextRun: expect.stringMatching(/^\d{4}-\d\d-\d\dT02:30:00\+0[12]:00$/),
    });
  });
});

describe('the narrow table', () => {
  it('says times relative to now in the whole unit below the next', () => {
    const now = Date.parse('2026-11-21T06:00:00Z');
    expect(relativeText(now, now)).toBe('now');
    expect(relativeText(now + 45_000, now)).toBe('in 45 s');
    expect(relativeText(now - 3 * 60_000 - 59_000, now)).toBe('3 m ago');
    expect(relativeText(now + 5 * 3_600_000, now)).toBe('in 5 h');
    expect(relativeText(now + 47 * 3_600_000, now)).toBe('in 47 h');
    expect(relativeText(now - 3 * 86_400_000, now)).toBe('3 d ago');
  });

  it('cuts the widest shrinkable column first until the lines fit, never below 8 characters (past that, wider than asked)', () => {
    const lines = renderTable(
      ['NAME', 'SCHEDULE', 'WHEN'],
      [
        ['a'.repeat(40), 'b'.repeat(30), 'in 3 m'],
        ['short', 'every day', 'now'],
      ],
      50,
      [
        { column: 0, keep: 8 },
        { column: 1, keep: 8 },
      ],
    ).split('\n');
    expect(lines.map((l) => l.length)).toEqual([48, 50, 47]);
    expect(lines[1]).toBe(`${'a'.repeat(19)}…  ${'b'.repeat(19)}…  in 3 m`);
    const two = [
      { column: 0, keep: 8 },
      { column: 1, keep: 8 },
    ];
    expect(renderTable(['N', 'S'], [['x'.repeat(30), 'y'.repeat(30)]], 10, two).split('\n')[1]).toBe(
      `${'x'.repeat(7)}…  ${'y'.repeat(7)}…`,
    );
    // A column is cut to what is worth keeping of it before another is cut below that.
    const kept = renderTable(['N', 'S'], [['x'.repeat(30), 'y'.repeat(30)]], 40, [
      { column: 0, keep: 10 },
      { column: 1, keep: 25 },
    ]).split('\n');
    expect(kept[1]).toBe(`${'x'.repeat(12)}…  ${'y'.repeat(24)}…`);
  });
});
