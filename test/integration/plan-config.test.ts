/**
 * `beat plan --config NEW` (issue 52) against a running `beat run` leader on a private
 * redis-server: before any leader ran there is nothing to compare with (exit 2, saying how to get
 * one); the leader records the config it runs, and a plan of that config is "no changes" (exit 0);
 * a plan of another names an added, a changed (its field diff and fires before and after), a
 * removed and an unchanged entry and a change of schedule kind (exit 3, and as JSON), and an added
 * name a runtime entry holds; a change of
 * the config's timezone moves every entry that names none; an invalid NEW is exit 2 naming the
 * place; a reload records the new definition, and one of the same config writes nothing; a
 * definition over entryLimits.maxStoreBytes is recorded as refused, and the plan says so. And the
 * TypeScript client lists runtime entries by a label selector.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { definitionOf } from '../../src/control/deployment-definition.js';
import type { DeploymentDefinition } from '../../src/control/deployment-definition.js';
import { recordDefinition } from '../../src/redis/definition-store.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil } from '../support/beat-process.js';
import type { BeatProcess } from '../support/beat-process.js';
import { killCliChildren, runBeatCli, startPrivateRedis } from '../support/ops.js';
import { BeatError, Entries } from '../../src/index.js';
import type { PrivateRedis } from '../support/redis-server.js';

const TASK = 'tsbeat_test.record';
const DEPLOYMENT = 'planconf';
const keys = schedulerKeys('tsbeat', DEPLOYMENT);

interface ConfigPlanJson {
  deployment: string;
  recorded: { configHash: string; source: string; at: string };
  config: { configHash: string; source: string };
  counts: Record<'add' | 'change' | 'remove' | 'unchanged', number>;
  settings: { path: string; before?: string; after?: string }[];
  entries: {
    name: string;
    action: string;
    changes?: { path: string; before?: string; after?: string }[];
    kind?: { before: string; after: string };
    firesBefore?: string[];
    firesAfter?: string[];
    dropped?: string[];
    runtimeHeldBy?: string | null;
  }[];
}

describe('beat plan --config, with a running leader', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let server: PrivateRedis;
  let redis: Redis;
  let live = '';
  let leader: BeatProcess;

  /** A config of the deployment: its settings, then its entries (YAML lines under beatSchedule). */
  const configText = (entries: readonly string[], settings: readonly string[] = []): string =>
    [
      `name: ${DEPLOYMENT}`,
      `broker: { url: "${server.url(0)}" }`,
      'maxInterval: 1s',
      `lock: { ttl: ${FAST_LOCK.ttl}, renewEvery: ${FAST_LOCK.renewEvery}, retryEvery: ${FAST_LOCK.retryEvery} }`,
      ...settings,
      'beatSchedule:',
      ...entries.map((e) => `  ${e}`),
      '',
    ].join('\n');
  const LIVE_ENTRIES = [
    `same: { task: ${TASK}, schedule: 3600 }`,
    `reports: { task: ${TASK}, schedule: { cron: "*/5 * * * *" }, args: [1], options: { queue: reports } }`,
    `cleanup: { task: ${TASK}, schedule: { cron: "0 4 * * *" } }`,
    `sweep: { task: ${TASK}, schedule: { cron: "*/15 * * * *" } }`,
  ];
  const NEXT_ENTRIES = [
    `same: { task: ${TASK}, schedule: 3600 }`,
    `reports: { task: ${TASK}, schedule: { cron: "*/10 * * * *" }, args: [2], options: { queue: reports } }`,
    `sweep: { task: ${TASK}, schedule: { timedelta: { minutes: 15 } } }`,
    `invoices: { task: ${TASK}, schedule: { cron: "0 6 * * 1-5" } }`,
  ];
  const beat = (...args: string[]) => runBeatCli(args, { timeoutMs: 60_000 });
  const recordedField = (field: string): Promise<string | null> => redis.hget(keys.definition, field);

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url(0));
    live = dir.write('beat.yaml', configText(LIVE_ENTRIES));
  }, 60_000);

  afterAll(async () => {
    await fleet.killAll();
    killCliChildren();
    redis?.disconnect();
    await server?.stop();
    dir.remove();
  });

  it('exits 2 when no leader has recorded a definition, saying how to get one', async () => {
    const none = await beat('plan', '--config', live);
    expect(none.code, none.stdout).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toContain(`deployment "${DEPLOYMENT}" has recorded no definition to compare`);
    expect(none.stderr).toContain('start beat run with the config');
  });

  it('the leader records the config it runs; a plan of that config has no changes (exit 0)', async () => {
    leader = fleet.spawn({ config: live, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    await waitUntil(
      'the recorded definition',
      async () => ((await recordedField('digest')) !== null ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    const same = await beat('plan', '--config', live);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain(`for deployment ${DEPLOYMENT}`);
    expect(same.stdout).toContain('0 to add, 0 to change, 0 to remove, 4 unchanged.');
    const json = JSON.parse((await beat('plan', '--config', live, '--json')).stdout) as ConfigPlanJson;
    expect(json.counts).toEqual({ add: 0, change: 0, remove: 0, unchanged: 4 });
    expect(json.settings).toEqual([]);
    expect(json.recorded.configHash).toBe(json.config.configHash);
    expect(json.recorded.configHash).toBe(await recordedField('configHash'));
  });

  it('names an added, a changed (its diff and fires before and after), a removed and an unchanged entry and a change of kind (exit 3)', async () => {
    // A runtime entry made by hand under the name the new config adds: the plan says it would stop running.
    const client = await Entries.connect({ url: server.url(0), deployment: DEPLOYMENT });
    try {
      expect(await client.set('invoices', { task: TASK, schedule: 3600 })).toBe('created');
    } finally {
      await client.close();
    }
    const next = dir.write('next.yaml', configText(NEXT_ENTRIES));
    const text = await beat('plan', '--config', next);
    expect(text.code, text.stderr).toBe(3);
    expect(text.stdout).toContain('~ reports (change)');
    expect(text.stdout).toContain('    args: [1] -> [2]');
    expect(text.stdout).toContain('    schedule.cron: "*/5 * * * *" -> "*/10 * * * *"');
    expect(text.stdout).toContain('~ sweep (change)');
    expect(text.stdout).toContain('    schedule kind changes: cron -> interval');
    expect(text.stdout).toContain('- cleanup (remove)');
    expect(text.stdout).toContain('+ invoices (add)\n    takes the name of a runtime entry (made by hand): that one stops running');
    expect(text.stdout).not.toContain(' same ');
    expect(text.stdout).toContain('1 to add, 2 to change, 1 to remove, 1 unchanged.');

    const run = await beat('plan', '--config', next, '--json');
    expect(run.code, run.stderr).toBe(3);
    const plan = JSON.parse(run.stdout) as ConfigPlanJson;
    expect(plan).toMatchObject({ deployment: DEPLOYMENT, recorded: { source: live }, config: { source: next } });
    expect(plan.config.configHash).not.toBe(plan.recorded.configHash);
    expect(plan.counts).toEqual({ add: 1, change: 2, remove: 1, unchanged: 1 });
    expect(plan.settings).toEqual([]);
    const by = new Map(plan.entries.map((e) => [e.name, e]));
    expect([...by.keys()]).toEqual(['cleanup', 'invoices', 'reports', 'same', 'sweep']);
    const reports = by.get('reports');
    expect(reports?.changes).toEqual([
      { path: 'args', before: '[1]', after: '[2]' },
      { path: 'schedule.cron', before: '"*/5 * * * *"', after: '"*/10 * * * *"' },
    ]);
    expect(reports?.kind).toBeUndefined();
    // Before: every 5 minutes, one of them off the 10-minute grid; after: on it.
    const minutes = (fires: readonly string[] | undefined): number[] => (fires ?? []).map((f) => Number(f.slice(14, 16)));
    expect(reports?.firesBefore).toHaveLength(3);
    expect(minutes(reports?.firesBefore).every((m) => m % 5 === 0)).toBe(true);
    expect(minutes(reports?.firesBefore).some((m) => m % 10 !== 0)).toBe(true);
    expect(reports?.firesAfter).toHaveLength(3);
    expect(minutes(reports?.firesAfter).every((m) => m % 10 === 0)).toBe(true);
    expect(by.get('sweep')).toMatchObject({ action: 'change', kind: { before: 'cron', after: 'interval' } });
    expect(by.get('sweep')?.changes).toEqual([
      { path: 'schedule.cron', before: '"*/15 * * * *"' },
      { path: 'schedule.timedelta.minutes', after: '15' },
    ]);
    expect(by.get('cleanup')).toMatchObject({ action: 'remove', dropped: [] });
    expect(by.get('cleanup')?.firesBefore?.[0]).toMatch(/T04:00:00(\.000)?\+00:00$/);
    expect(by.get('invoices')).toMatchObject({ action: 'add', runtimeHeldBy: null });
    expect(Object.hasOwn(by.get('reports') ?? {}, 'runtimeHeldBy')).toBe(false);
    expect(by.get('invoices')?.firesAfter?.[0]).toMatch(/T06:00:00(\.000)?\+00:00$/);
    expect(by.get('same')).toEqual({ name: 'same', action: 'unchanged' });
  });

  it("a change of the config's timezone moves every entry that names none, and not one that names its own", async () => {
    const entries = [...LIVE_ENTRIES.slice(0, 3), `sweep: { task: ${TASK}, schedule: { cron: "*/15 * * * *" }, timezone: UTC }`];
    const tokyo = dir.write('tokyo.yaml', configText(entries, ['timezone: Asia/Tokyo']));
    const run = await beat('plan', '--config', tokyo, '--json');
    expect(run.code, run.stderr).toBe(3);
    const plan = JSON.parse(run.stdout) as ConfigPlanJson;
    expect(plan.settings).toEqual([{ path: 'timezone', before: '"UTC"', after: '"Asia/Tokyo"' }]);
    const cleanup = plan.entries.find((e) => e.name === 'cleanup');
    expect(cleanup?.changes).toEqual([{ path: 'timezone', before: '"UTC"', after: '"Asia/Tokyo"' }]);
    expect(cleanup?.firesBefore?.[0]).toMatch(/T04:00:00(\.000)?\+00:00$/);
    expect(cleanup?.firesAfter?.[0]).toMatch(/T04:00:00(\.000)?\+09:00$/);
    // sweep named UTC, as the deployment's timezone was: the same entry.
    expect(plan.entries.find((e) => e.name === 'sweep')).toEqual({ name: 'sweep', action: 'unchanged' });
    expect(plan.counts).toEqual({ add: 0, change: 3, remove: 0, unchanged: 1 });
  });

  it('exits 2 naming the place when NEW is invalid, with nothing printed on stdout', async () => {
    const bad = dir.write('bad.yaml', configText([...LIVE_ENTRIES, `broken: { task: ${TASK}, schedule: { cron: "61 * * * *" } }`]));
    const run = await beat('plan', '--config', bad, '--json');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('beatSchedule.broken.schedule');
    expect(run.stderr).toMatch(/line \d+/);
    // --entries without --owner is a usage error, not a plan of the config.
    const half = await beat('plan', '--config', live, '--entries', bad);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--owner NAME');
  });

  it('a reload records the new definition; a reload of the same config writes nothing', async () => {
    const at = await recordedField('at');
    let from = leader.logs.length;
    leader.signal('SIGHUP');
    await leader.waitForEvent(EVENTS.reload, 10_000, from);
    // The reload started a session, which checked the digest (sent before the reload's log line):
    // the same one, nothing written.
    await sleep(500);
    expect(await recordedField('at')).toBe(at);
    // The same check, made here: the record's digest is this config's, so nothing is written.
    const definition = definitionOf((await loadConfig({ explicit: live })).config);
    expect(definition).toBeDefined();
    const again = await recordDefinition(redis, keys, definition as DeploymentDefinition, {
      nowMs: Date.now(),
      maxBytes: 1 << 20,
      limitName: 'entryLimits.maxStoreBytes',
    });
    expect(again).toEqual({ outcome: 'unchanged' });
    expect(await recordedField('at')).toBe(at);

    const before = await recordedField('configHash');
    dir.write('beat.yaml', configText(NEXT_ENTRIES));
    from = leader.logs.length;
    leader.signal('SIGHUP');
    await leader.waitForEvent(EVENTS.reload, 10_000, from);
    await waitUntil(
      'the new definition',
      async () => ((await recordedField('configHash')) !== before ? true : undefined),
      10_000,
      () => fleet.dump(),
    );
    const same = await beat('plan', '--config', live);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toContain('0 to add, 0 to change, 0 to remove, 4 unchanged.');
  });

  it('a definition over entryLimits.maxStoreBytes is recorded as refused, and the plan exits 2 saying so', async () => {
    const entries = Array.from({ length: 40 }, (_, i) => `e-${i}: { task: ${TASK}, schedule: 3600, kwargs: { pad: "${'x'.repeat(40)}" } }`);
    dir.write('beat.yaml', configText(entries, ['entryLimits: { maxStoreBytes: 1024 }']));
    const from = leader.logs.length;
    leader.signal('SIGHUP');
    const warned = await leader.waitForEvent(EVENTS.definitionNotRecorded, 10_000, from);
    expect(String(warned['msg'])).toContain('over entryLimits.maxStoreBytes (1024)');
    expect(await recordedField('body')).toBeNull();
    const run = await beat('plan', '--config', live);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('over entryLimits.maxStoreBytes (1024); it was not recorded');
    expect(run.stderr).toContain('raise entryLimits.maxStoreBytes');
  });
});

describe('the TypeScript client lists runtime entries by a label selector', () => {
  let server: PrivateRedis;
  let entries: Entries;

  beforeAll(async () => {
    server = await startPrivateRedis();
    entries = await Entries.connect({ url: server.url(0), deployment: 'selectors' });
    const many: Record<string, { task: string; schedule: number; labels?: Record<string, string> }> = {};
    for (let i = 0; i < 30; i += 1)
      many[`e-${String(i).padStart(2, '0')}`] = {
        task: TASK,
        schedule: 3600,
        ...(i % 3 === 0 ? {} : { labels: { team: i % 3 === 1 ? 'billing' : 'reports', tier: i < 15 ? 'batch' : 'web' } }),
      };
    await entries.setMany(many);
  }, 60_000);

  afterAll(async () => {
    await entries?.close();
    await server?.stop();
  });

  it('selects by equality, set and existence, in name order, and pages by limit and after', async () => {
    const names = async (options: Parameters<Entries['list']>[0]) => (await entries.list(options)).map((e) => e.name);
    const billing = await names({ selector: 'team=billing' });
    expect(billing).toEqual(['e-01', 'e-04', 'e-07', 'e-10', 'e-13', 'e-16', 'e-19', 'e-22', 'e-25', 'e-28']);
    expect(await names({ selector: 'team=billing,tier=web' })).toEqual(['e-16', 'e-19', 'e-22', 'e-25', 'e-28']);
    expect(await names({ selector: 'team in (billing, reports),tier!=batch' })).toHaveLength(10);
    expect(await names({ selector: '!team' })).toEqual(['e-00', 'e-03', 'e-06', 'e-09', 'e-12', 'e-15', 'e-18', 'e-21', 'e-24', 'e-27']);
    // A page of 4 selected, then the next from its last name: the same as all of them.
    const first = await names({ selector: 'team=billing', limit: 4 });
    expect(first).toEqual(billing.slice(0, 4));
    expect(await names({ selector: 'team=billing', limit: 4, after: first[3] })).toEqual(billing.slice(4, 8));
    // A blank selector selects every entry, as the API's does.
    expect(await names({ selector: ' ' })).toHaveLength(30);
  });

  it('refuses a selector that does not parse, naming the character', async () => {
    const refused = await entries.list({ selector: 'team in (billing' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(BeatError);
    expect((refused as BeatError).code).toBe('USAGE');
    expect((refused as BeatError).message).toMatch(/^selector "team in \(billing": at character \d+: /);
  });
});
