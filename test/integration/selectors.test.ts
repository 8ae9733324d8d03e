/**
 * Label selectors on the control commands against a real `beat run` leader and a private
 * redis-server: `beat pause/resume/trigger -l` act on every entry the selector selects (the config
 * file's and the store's) at once, each action is one audit event naming its selector and every
 * entry, the leader honours it (what it published is read back from the queue list), a selector
 * that selects nothing exits 1 having done nothing, and one that does not parse exits 2 naming the
 * character. The CLI runs in-process (its own `main`).
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { httpPortOf, startPrivateRedis, uniqueName } from '../support/ops.js';
import { runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';

describe('selectors on pause, resume, trigger and status (a real leader, private Redis)', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
  });

  afterEach(async () => {
    await fleet.killAll();
  });

  afterAll(async () => {
    await fleet.killAll();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  /** Two 1 s billing entries (one critical, one batch), a 1 s ops batch entry, an hourly billing one; and a store entry. */
  async function deployment(prefix: string) {
    const name = uniqueName(prefix);
    const queue = `q-${name}`;
    const file = dir.write(`${name}.json`, {
      name,
      broker: { url: server.url(0) },
      taskDefaultQueue: queue,
      maxInterval: '200ms',
      lock: FAST_LOCK,
      beatSchedule: {
        invoice: { task: TASK, schedule: 1, labels: { team: 'billing', tier: 'critical' } },
        ledger: { task: TASK, schedule: 1, labels: { team: 'billing', tier: 'batch' } },
        cleanup: { task: TASK, schedule: 1, labels: { team: 'ops', tier: 'batch' } },
        report: { task: TASK, schedule: 3600, labels: { team: 'billing' } },
      },
    });
    const beat = (...args: string[]): Promise<CliResult> =>
      runCli([...args, '--config', file], { env: { PATH: process.env['PATH'] ?? '' }, now: Date.now() });
    const set = await beat('entries', 'set', 'archive', '--task', TASK, '--schedule', '1', '--labels', 'team=data,tier=batch');
    expect(set.code).toBe(0);
    const keys = schedulerKeys('tsbeat', name);
    const runs = async (entry: string): Promise<number> => (await readQueue(redis, queue)).filter((r) => r.entry === entry).length;
    return { name, file, keys, beat, runs };
  }

  it('pause -l pauses every batch entry (file and store) in one audit event, the leader stops them and not the others; resume -l brings them back', async () => {
    const d = await deployment('sel-pause');
    const leader = fleet.spawn({ config: d.file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    await waitUntil(
      'a run of each 1 s entry',
      async () => ((await d.runs('archive')) >= 1 && (await d.runs('ledger')) >= 1 ? true : undefined),
      8_000,
      () => leader.tail(),
    );

    const paused = await d.beat('pause', '-l', 'tier=batch', '--note', 'incident 4711');
    expect(paused.stderr).toBe('');
    expect(paused.code).toBe(0);
    expect(paused.stdout).toBe('paused 3 of 3 entries -l tier=batch: ledger, cleanup, archive\n');
    expect(new Set(await redis.smembers(d.keys.paused))).toEqual(new Set(['ledger', 'cleanup', 'archive']));
    // One event for the action, naming the selector and every entry.
    const events = await redis.xrange(d.keys.audit, '-', '+');
    const pauses = events.filter(([, f]) => f[f.indexOf('action') + 1] === 'pause');
    expect(pauses).toHaveLength(1);
    const fields = pauses[0]?.[1] ?? [];
    expect(fields[fields.indexOf('selector') + 1]).toBe('tier=batch');
    expect(JSON.parse(fields[fields.indexOf('entries') + 1] ?? '[]')).toEqual(['ledger', 'cleanup', 'archive']);
    expect(fields[fields.indexOf('note') + 1]).toBe('incident 4711');
    const audit = await d.beat('audit');
    expect(audit.stdout).toMatch(/pause -l tier=batch: 3 entries: ledger, cleanup, archive\n {4}note: incident 4711/);
    const oneEntry = await d.beat('audit', 'archive', '--json');
    expect(JSON.parse(oneEntry.stdout)).toEqual([
      expect.objectContaining({ action: 'pause', entry: '', selector: 'tier=batch' }),
      expect.objectContaining({ action: 'create', entry: 'archive' }),
    ]);

    // Within a second the leader stops publishing them; invoice goes on.
    await sleep(1_500);
    const frozen = { ledger: await d.runs('ledger'), archive: await d.runs('archive'), invoice: await d.runs('invoice') };
    await sleep(2_500);
    expect(await d.runs('ledger')).toBe(frozen.ledger);
    expect(await d.runs('archive')).toBe(frozen.archive);
    expect(await d.runs('invoice')).toBeGreaterThan(frozen.invoice);

    // Pausing again changes nothing, and says so.
    const again = await d.beat('pause', '-l', 'team=billing,tier in (batch)');
    expect(again.stdout).toBe('paused 0 of 1 entries -l team=billing,tier in (batch) (the other 1 already were paused)\n');
    const resumed = await d.beat('resume', '-l', 'tier=batch');
    expect(resumed.code).toBe(0);
    expect(await redis.smembers(d.keys.paused)).toEqual([]);
    await waitUntil(
      'ledger publishes again',
      async () => ((await d.runs('ledger')) > frozen.ledger ? true : undefined),
      5_000,
      () => leader.tail(),
    );
  });

  it('a selector that selects nothing exits 1 having done nothing; one that does not parse, or comes with ENTRY, exits 2', async () => {
    const d = await deployment('sel-none');
    const before = await redis.xlen(d.keys.audit);
    const none = await d.beat('pause', '-l', 'team=nobody');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('beat pause: no entry matches -l "team=nobody": nothing was done');
    expect(await redis.smembers(d.keys.paused)).toEqual([]);
    expect(await redis.xlen(d.keys.audit)).toBe(before);
    const trigger = await d.beat('trigger', '-l', '!team');
    expect(trigger.code).toBe(1);
    expect(trigger.stderr).toContain('no entry matches -l "!team"');
    expect(await redis.llen(d.keys.triggers)).toBe(0);
    const bad = await d.beat('resume', '-l', 'team in billing');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-l/--selector "team in billing": at character 9: found "billing", expected "(" and a list of values');
    const both = await d.beat('pause', 'ledger', '-l', 'team=billing');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give ENTRY or -l/--selector, not both');
  });

  it('trigger -l and backfill -l go through the leader, one audit event each; status, next, list, export, history and the API select', async () => {
    const d = await deployment('sel-trigger');
    const leader = fleet.spawn({ config: d.file, label: 'leader', args: ['--http', '127.0.0.1:0'] });
    await leader.waitForEvent(EVENTS.lockAcquired, 10_000);
    // The API's selector: the store's entries it selects; one that does not parse, a 400 naming the character.
    const api = `http://127.0.0.1:${await httpPortOf(leader)}/api/entries`;
    const listed = (await (await fetch(`${api}?selector=${encodeURIComponent('tier in (batch)')}`)).json()) as {
      entries: { name: string }[];
    };
    expect(listed.entries.map((e) => e.name)).toEqual(['archive']);
    expect(((await (await fetch(`${api}?selector=team%3Dbilling`)).json()) as { entries: unknown[] }).entries).toEqual([]);
    const bad = await fetch(`${api}?selector=${encodeURIComponent('team in billing')}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('at character 9');
    const triggered = await d.beat('trigger', '-l', 'team=billing,!tier');
    expect(triggered.stderr).toBe('');
    expect(triggered.code).toBe(0);
    expect(triggered.stdout).toMatch(/^triggered report: task id \S+\n$/);
    expect(await d.runs('report')).toBe(1);
    const events = await redis.xrange(d.keys.audit, '-', '+');
    const triggers = events.filter(([, f]) => f[f.indexOf('action') + 1] === 'trigger');
    expect(triggers.map(([, f]) => [f[f.indexOf('selector') + 1], f[f.indexOf('entries') + 1]])).toEqual([
      ['team=billing,!tier', '["report"]'],
    ]);

    // backfill -l: every selected entry's range, one request each in one MULTI, one audit event, each reported.
    const from = new Date(Date.now() - 8_000).toISOString();
    const to = new Date(Date.now() - 4_000).toISOString();
    const dry = await d.beat('backfill', '-l', 'team=billing,tier in (critical,batch)', '--from', from, '--to', to, '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(
      dry.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { entry: string }).entry),
    ).toEqual(['invoice', 'ledger']);
    const backfilled = await d.beat(
      'backfill',
      '-l',
      'team=billing,tier in (critical,batch)',
      '--from',
      from,
      '--to',
      to,
      '--unrecorded',
      '--json',
    );
    expect(backfilled.stderr).toBe('');
    expect(backfilled.code).toBe(0);
    expect(
      backfilled.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { entry: string }).entry),
    ).toEqual(['invoice', 'ledger']);
    const backfills = (await redis.xrange(d.keys.audit, '-', '+')).filter(([, f]) => f[f.indexOf('action') + 1] === 'backfill');
    expect(backfills.map(([, f]) => [f[f.indexOf('selector') + 1], f[f.indexOf('entries') + 1]])).toEqual([
      ['team=billing,tier in (critical,batch)', '["invoice","ledger"]'],
    ]);

    const status = await d.beat('status', '--json', '-l', 'team=billing');
    expect((JSON.parse(status.stdout) as { entries: { name: string }[] }).entries.map((e) => e.name)).toEqual([
      'invoice',
      'ledger',
      'report',
    ]);
    // The store's entry too, as status selects it.
    const next = await d.beat('next', '--json', '-l', 'tier=batch');
    expect((JSON.parse(next.stdout) as { entries: { name: string }[] }).entries.map((e) => e.name)).toEqual([
      'ledger',
      'cleanup',
      'archive',
    ]);
    const list = await d.beat('entries', 'list', '--json', '-l', 'team=data');
    expect((JSON.parse(list.stdout) as { name: string }[]).map((e) => e.name)).toEqual(['archive']);
    expect((await d.beat('entries', 'list', '--json', '-l', 'team=billing')).stdout).toBe('[]\n');
    const exported = await d.beat('entries', 'export', '--format', 'ndjson', '-l', 'tier notin (critical)');
    expect(
      exported.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { name: string }).name),
    ).toEqual(['archive']);
    expect((await d.beat('entries', 'export', '--format', 'ndjson', '-l', 'team=ops')).stdout).toBe('');
    const history = await d.beat('history', '--json', '-l', 'team=billing,!tier');
    // The manual run of report is in its history (task events are read by default): each run names its entry.
    expect((JSON.parse(history.stdout) as { entry: string; origin: string }[]).map((r) => [r.entry, r.origin])).toEqual([
      ['report', 'trigger'],
    ]);
    const empty = await d.beat('status', '-l', 'team=nobody');
    expect(empty.code).toBe(0);
    expect(empty.stderr).toContain('beat status: no entry matches -l "team=nobody"');
  });
});
