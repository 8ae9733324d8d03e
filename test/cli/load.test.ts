/**
 * The load a schedule makes on the command line (issue 71): `beat check` warns, exit 0, when more
 * than loadWarnAt runs start in one second, naming the second, the count and the fix; `--load`
 * prints the runs, the busiest minute and second and an hour a line; `--horizon` sets the window
 * (a week at most); `beat plan` (of a config and of an owner's entries) shows the load now and
 * after, in text and in --json. A private redis-server holds the recorded definition.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { definitionOf } from '../../src/control/deployment-definition.js';
import type { DeploymentDefinition } from '../../src/control/deployment-definition.js';
import type { PlanLoad } from '../../src/control/entry-plan.js';
import { recordDefinition } from '../../src/redis/definition-store.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { TempDir } from '../support/beat-process.js';
import { runCli } from '../support/cli.js';
import { PrivateRedis, freePort } from '../support/redis-server.js';

/** runCli's now: 2026-11-21T06:00:00Z, a Saturday. */
const NOW = Date.parse('2026-11-21T06:00:00Z');
/**
 * The deployment's name is half of every H hash. 3,000 entries at hashed minutes fall like 3,000
 * balls into the 1,440 minutes of a day: the fullest minute holds 8 or 9 for most names, 10 or more
 * for about one set of names in ten (as for uniform random draws; 300 deployments' names measured).
 * Named "prod", these 3,000 entries' busiest minute holds 9.
 */
const DEPLOYMENT = 'prod';
const dir = new TempDir();
let server: PrivateRedis;

/** 3,000 entries at midnight UTC, each at its own hashed minute and hour, or spread over the 1,440 minutes of a day. */
const STACKED = (i: number): string => `e${i}: { task: t.nightly, schedule: { cron: "0 0 * * *" } }`;
const HASHED = (i: number): string => `e${i}: { task: t.nightly, schedule: { cron: "H H * * *" } }`;
const SPREAD = (i: number): string => `e${i}: { task: t.nightly, schedule: { cron: "${i % 60} ${Math.floor(i / 60) % 24} * * *" } }`;

function configText(line: (i: number) => string, settings: readonly string[] = [], n = 3000): string {
  return [
    `name: ${DEPLOYMENT}`,
    `broker: { url: "${server.url(0)}" }`,
    ...settings,
    'beatSchedule:',
    ...Array.from({ length: n }, (_, i) => `  ${line(i)}`),
    '',
  ].join('\n');
}

beforeAll(async () => {
  server = new PrivateRedis(await freePort());
  await server.start();
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

describe('beat check: the load', () => {
  it('warns (exit 0) of 3,000 runs in one second, naming the second, the count and the fix', async () => {
    const config = dir.write('stacked.yaml', configText(STACKED));
    const r = await runCli(['check', '--config', config, '--wide']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${config}: valid, 3000 entries`);
    expect(r.stderr).toBe(
      `${config}: warning: 3,000 runs start in the second 2026-11-22T00:00:00.000Z (more than loadWarnAt, 1,000): give their crontabs H for the minute and hour ("H H * * *": each entry its own, fixed by its name) or a spread, so that they start apart; 'beat check --load' shows the busiest minutes\n`,
    );
  });

  it('says nothing of 3,000 runs spread over the day, and warns past a lower loadWarnAt', async () => {
    const spread = await runCli(['check', '--config', dir.write('spread.yaml', configText(SPREAD))]);
    expect(spread.code).toBe(0);
    expect(spread.stderr).toBe('');
    const low = await runCli(['check', '--config', dir.write('low.yaml', configText(SPREAD, ['loadWarnAt: 2'])), '--wide']);
    expect(low.code).toBe(0);
    expect(low.stderr).toMatch(/warning: 3 runs start in the second 2026-11-2\dT\d\d:\d\d:00\.000Z \(more than loadWarnAt, 2\)/);
  });

  it('refuses a loadWarnAt that is not a whole number of runs, naming the setting (exit 2)', async () => {
    const r = await runCli(['check', '--config', dir.write('bad.yaml', configText(SPREAD, ['loadWarnAt: 0.5'], 1))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('loadWarnAt must be a whole number of runs in one second, at least 1');
  });

  it('--load prints the runs, the busiest minute and second, and the hours with runs', async () => {
    const r = await runCli(['check', '--config', dir.write('stacked.yaml', configText(STACKED)), '--load', '--wide']);
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('over the next 24h: runs starting from 2026-11-21T06:00Z until 2026-11-22T06:00Z (UTC)');
    expect(out).toMatch(/all +3,000 +3,000 at 2026-11-22T00:00Z +3,000 at 2026-11-22T00:00:00Z/);
    expect(out).toMatch(/HOUR \(UTC\) +RUNS, BUSIEST MINUTE\n/);
    // One clock hour holds runs: all 3,000, in its minute 00:00.
    expect(out).toMatch(/\n2026-11-22T00:00Z +3,000, 3,000 at 00:00\n/);
  });

  it('--horizon counts a week (a weekly entry once), and refuses more than a week naming the range (exit 2)', async () => {
    const config = dir.write(
      'weekly.yaml',
      configText((i) => `w${i}: { task: t.weekly, schedule: { cron: "0 9 * * 1" } }`, [], 5),
    );
    const day = await runCli(['check', '--config', config, '--load', '--wide']);
    expect(day.stdout).toMatch(/all +0 /);
    const week = await runCli(['check', '--config', config, '--load', '--horizon', '7d', '--wide']);
    expect(week.code).toBe(0);
    expect(week.stdout).toContain('over the next 7d');
    expect(week.stdout).toMatch(/all +5 +5 at 2026-11-23T09:00Z +5 at 2026-11-23T09:00:00Z/);
    const long = await runCli(['check', '--config', config, '--horizon', '8d']);
    expect(long.code).toBe(2);
    expect(long.stderr).toBe('beat check: --horizon "8d": give a duration between 60 s and 7 days (604,800 s), such as "24h" or "7d"\n');
  });
});

describe('beat plan: the load now and after', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(server.url(0));
    // The deployment runs the 3,000 stacked entries: the definition its leader would record.
    const running = dir.write('running.yaml', configText(STACKED));
    const definition = definitionOf((await loadConfig({ explicit: running })).config) as DeploymentDefinition;
    await recordDefinition(redis, schedulerKeys('tsbeat', DEPLOYMENT), definition, {
      nowMs: NOW,
      maxBytes: 64 << 20,
      limitName: 'entryLimits.maxStoreBytes',
    });
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('of a config that moves 3,000 entries from 0 0 * * * to H H * * *: the busiest second falls from 3,000 to under 10', async () => {
    const next = dir.write('next.yaml', configText(HASHED));
    const json = await runCli(['plan', '--config', next, '--json']);
    expect(json.code).toBe(3);
    const load = (JSON.parse(json.stdout) as { load: PlanLoad }).load;
    expect(load.horizonMs).toBe(86_400_000);
    expect(load.before.peakSecond).toEqual({ at: '2026-11-22T00:00:00.000Z', runs: 3000 });
    expect(load.before.total).toBe(3000);
    // Each entry runs once a day at its hashed minute; one whose minute is 06:00, now, runs next at
    // the window's end, which the window leaves out.
    expect(load.after.total).toBeGreaterThan(2990);
    expect(load.after.total).toBeLessThanOrEqual(3000);
    // H H * * * picks a minute, so a minute's runs all start in its second :00.
    expect(load.after.peakSecond.runs).toBe(9);
    expect(load.after.peakMinute.runs).toBe(9);
    expect(load.after.perMinute).toHaveLength(1440);
    // Spread over the day: most minutes of the day hold a run (3,000 runs in 1,440 minutes).
    expect(load.after.perMinute.filter((n) => n > 0).length).toBeGreaterThan(1000);
    const text = await runCli(['plan', '--config', next]);
    expect(text.code).toBe(3);
    expect(text.stdout).toContain("The load of the config's entries over the next 24h, now and after");
    expect(text.stdout).toMatch(/now +3,000 +3,000 at 2026-11-22T00:00Z +3,000 at 2026-11-22T00:00:00Z/);
    expect(text.stdout).toMatch(new RegExp(`after +${load.after.total.toLocaleString('en-US')} +${load.after.peakMinute.runs} at `));
    // The change names the line as written, the fire times are real: e0's hashed time is 08:55.
    expect(text.stdout).toContain(
      '~ e0 (change)\n    schedule.cron: "0 0 * * *" -> "H H * * *"\n    next fires now:   2026-11-22T00:00:00+00:00',
    );
    expect(text.stdout).toContain('    next fires after: 2026-11-21T08:55:00+00:00, 2026-11-22T08:55:00+00:00,\n');
  });

  it("of an owner's entries: the file's runs after, none now (the owner holds none yet)", async () => {
    const owned = dir.write(
      'owned.yaml',
      Array.from({ length: 100 }, (_, i) => `o${i}: { task: t.owned, schedule: { cron: "30 12 * * *" } }`).join('\n'),
    );
    const r = await runCli([
      'plan',
      '--entries',
      owned,
      '--owner',
      'gitops',
      '--config',
      dir.write('next.yaml', configText(SPREAD)),
      '--json',
    ]);
    expect(r.code).toBe(3);
    const load = (JSON.parse(r.stdout) as { load: PlanLoad }).load;
    expect(load.before.total).toBe(0);
    expect(load.after).toMatchObject({ total: 100, peakSecond: { at: '2026-11-21T12:30:00.000Z', runs: 100 } });
  });
});
