/**
 * Labels and selectors through the CLI (its own `main`, in this process) against a private
 * redis-server: labels written by `beat entries set --labels` and by a config file are stored,
 * shown by `beat status` (--json and --wide), refused with their path and rule (exit 2, nothing
 * written).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schedulerKeys } from '../../src/redis/keys.js';
import { TempDir } from '../support/beat-process.js';
import { startPrivateRedis, uniqueName } from '../support/ops.js';
import { runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';

describe('labels (CLI in-process, private Redis)', () => {
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** A deployment of its own: a config file with one labelled file entry, `nightly`. */
  function deployment(prefix: string) {
    const name = uniqueName(prefix);
    const file = dir.write(
      `${name}.yaml`,
      [
        `name: ${name}`,
        `broker: { url: "${server.url(0)}" }`,
        'beatSchedule:',
        `  nightly: { task: ${TASK}, schedule: { cron: "0 3 * * *" }, labels: { team: ops, tier: batch } }`,
        '',
      ].join('\n'),
    );
    const keys = schedulerKeys('tsbeat', name);
    const beat = (...args: string[]): Promise<CliResult> =>
      runCli([...args, '--config', file], { env: { PATH: process.env['PATH'] ?? '' }, now: Date.now() });
    return { name, keys, beat };
  }

  it('set --labels stores them; status --json and --wide show them, file and store entries alike', async () => {
    const d = deployment('labels-set');
    const set = await d.beat('entries', 'set', 'report', '--task', TASK, '--schedule', '1h', '--labels', 'team=billing,tier=critical');
    expect(set.stderr).toBe('');
    expect(set.code).toBe(0);
    const record = JSON.parse((await redis.hget(d.keys.entries, 'report')) ?? '{}') as { entry: { labels?: unknown } };
    expect(record.entry.labels).toEqual({ team: 'billing', tier: 'critical' });
    const json = await d.beat('status', '--json');
    const entries = (JSON.parse(json.stdout) as { entries: { name: string; labels: unknown }[] }).entries;
    expect(Object.fromEntries(entries.map((e) => [e.name, e.labels]))).toEqual({
      nightly: { team: 'ops', tier: 'batch' },
      report: { team: 'billing', tier: 'critical' },
    });
    const wide = await d.beat('status', '--wide');
    expect(wide.stdout).toMatch(/LABELS/);
    expect(wide.stdout).toMatch(/report .* team=billing,tier=critical/);
    // --labels '' takes them all away; the other keys stay.
    expect((await d.beat('entries', 'set', 'report', '--labels', '')).code).toBe(0);
    const after = JSON.parse((await redis.hget(d.keys.entries, 'report')) ?? '{}') as { entry: { labels?: unknown; task?: string } };
    expect(after.entry).toMatchObject({ labels: {}, task: TASK });
  });

  it('refuses a bad label with its path and rule, exit 2, nothing written', async () => {
    const d = deployment('labels-bad');
    const bad = await d.beat('entries', 'set', 'report', '--task', TASK, '--schedule', '1h', '--labels', 'team=-billing,Bad.io/x=1');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('labels.team (--labels): label value "-billing": a label value must be empty or at most 63');
    expect(bad.stderr).toContain('DNS subdomain');
    const noEquals = await d.beat('entries', 'set', 'report', '--task', TASK, '--schedule', '1h', '--labels', 'team');
    expect(noEquals.code).toBe(2);
    expect(noEquals.stderr).toContain('"team" has no "="');
    expect(await redis.hlen(d.keys.entries)).toBe(0);
  });
});
