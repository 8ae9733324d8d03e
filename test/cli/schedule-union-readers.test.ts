/**
 * Issue 71's readers of one entry with several specs and hashed times: `beat next`, `beat check`,
 * `beat status` and `beat plan` (and its --horizon) each show the union (its specs in order, separated by "; ", and its
 * instants merged) and every H as the real time it resolves to, never "H". The worker test
 * (schedule-union-worker.test.ts) runs a union; this file holds what each command shows of one.
 * A private redis-server holds the recorded definition `beat plan` compares with; no leader runs.
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
/** Half of every H hash: "report"'s H H * * * in deployment "prod" is 07:15 (cron-hashed.test.ts pins the hash). */
const DEPLOYMENT = 'prod';
const dir = new TempDir();
let server: PrivateRedis;

/** The config: `report` as one plain cron line (the recorded definition), or as a list with an H line. */
function config(file: string, schedule: string): string {
  return dir.write(
    file,
    [
      `name: ${DEPLOYMENT}`,
      `broker: { url: "${server.url(0)}" }`,
      'beatSchedule:',
      `  report: { task: t.report, schedule: ${schedule} }`,
      '',
    ].join('\n'),
  );
}
const PLAIN = '{ cron: "0 9 * * mon-fri" }';
const LIST = '[{ cron: "0 9 * * mon-fri" }, { crontab: { minute: 0, hour: 12, dayOfWeek: "sat,sun" } }, { cron: "H H * * *" }]';

beforeAll(async () => {
  server = new PrivateRedis(await freePort());
  await server.start();
});
afterAll(async () => {
  await server.stop();
  dir.remove();
});

describe('an entry with several specs and an H line, as each command shows it', () => {
  let file = '';
  let hashed = '';
  beforeAll(async () => {
    file = config('list.yaml', LIST);
    // The H line's real time for "report" of "prod", read once from the words beat check prints.
    const check = await runCli(['check', '--wide', '--config', file]);
    expect(check.code, check.stderr).toBe(0);
    const match = /at (\d\d):(\d\d) every day \(\d+ \d+ \* \* \*, hashed from H H \* \* \*\)/.exec(check.stdout);
    expect(match, check.stdout).not.toBeNull();
    hashed = `${match?.[1] ?? ''}:${match?.[2] ?? ''}`;
    // Pinned, so the instants below are in a known order (before 09:00, after now's 06:00).
    expect(hashed).toBe('07:15');
  });

  it('beat check describes the specs in order, separated by "; ", the H line resolved', async () => {
    const r = await runCli(['check', '--wide', '--config', file]);
    expect(r.stdout).toMatch(
      new RegExp(
        `report +t\\.report +at 09:00 on Mon–Fri; at 12:00 on Sat and Sun; at ${hashed} every day \\(\\d+ \\d+ \\* \\* \\*, hashed from H H \\* \\* \\*\\)`,
      ),
    );
  });

  it('beat next lists the union of the instants, once each, the H line at its real time', async () => {
    const r = await runCli(['next', '--config', file, '--after', '2026-11-27T00:00:00Z', '--count', '6', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\bH\b/);
    const [report] = (JSON.parse(r.stdout) as { entries: { name: string; next: string[] }[] }).entries;
    // Friday 27th to Sunday 29th, UTC: 09:00 on weekdays, 12:00 at the weekend, the H line every day.
    expect(report?.next).toEqual([
      `2026-11-27T${hashed}:00+00:00`,
      '2026-11-27T09:00:00+00:00',
      `2026-11-28T${hashed}:00+00:00`,
      '2026-11-28T12:00:00+00:00',
      `2026-11-29T${hashed}:00+00:00`,
      '2026-11-29T12:00:00+00:00',
    ]);
  });

  it('beat status shows the specs in order and the H line as its real time, with the next run of the union', async () => {
    const r = await runCli(['status', '--wide', '--config', file], { now: NOW });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`at 09:00 on Mon–Fri; at 12:00 on Sat and Sun; at ${hashed} every day (`);
    // The next run is the H line's, at its real time (now is Saturday 06:00, before 12:00).
    expect(r.stdout).toMatch(/report +t\.report .* 2026-11-21T07:15:00\+00:00 /);
    // H appears only as the line the time was hashed from.
    expect(r.stdout.replaceAll('hashed from H H * * *', '')).not.toMatch(/\bH\b/);
  });

  it("beat plan names the change of kind as a list of its specs and shows the union's real fires", async () => {
    const redis = new Redis(server.url(0));
    try {
      const running = config('plain.yaml', PLAIN);
      const definition = definitionOf((await loadConfig({ explicit: running })).config) as DeploymentDefinition;
      await recordDefinition(redis, schedulerKeys('tsbeat', DEPLOYMENT), definition, {
        nowMs: NOW,
        maxBytes: 64 << 20,
        limitName: 'entryLimits.maxStoreBytes',
      });
    } finally {
      await redis.quit();
    }
    const r = await runCli(['plan', '--config', file]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain('~ report (change)');
    expect(r.stdout).toContain('cron -> list (cron, cron, cron)');
    // Now: Saturday 06:00 UTC. After: Saturday 12:00 and the H line's time, not only Monday 09:00.
    const after = /next fires after: ([^\n]*(?:\n {6,}[^\n]*)*)/.exec(r.stdout)?.[1] ?? '';
    expect(after).toContain('2026-11-21T07:15:00+00:00, 2026-11-21T12:00:00+00:00');
    expect(after).not.toMatch(/\bH\b/);
  });

  it('beat plan --horizon 7d counts the load of a week now and after, and refuses more than a week (exit 2)', async () => {
    // The plan's test above recorded the plain entry: weekdays at 09:00, five runs a week.
    const week = await runCli(['plan', '--config', file, '--horizon', '7d', '--json']);
    expect(week.code, week.stderr).toBe(3);
    const load = (JSON.parse(week.stdout) as { load: PlanLoad }).load;
    expect(load.horizonMs).toBe(7 * 86_400_000);
    expect(load.before.total).toBe(5);
    // After: five weekdays at 09:00, two weekend days at 12:00, and the H line once a day.
    expect(load.after.total).toBe(14);
    expect(load.after.perMinute).toHaveLength(7 * 1440);
    const text = await runCli(['plan', '--config', file, '--horizon', '7d']);
    expect(text.stdout).toContain("The load of the config's entries over the next 7d, now and after");
    const long = await runCli(['plan', '--config', file, '--horizon', '8d']);
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('beat plan: --horizon "8d": give a duration between 60 s and 7 days (604,800 s)');
  });
});
