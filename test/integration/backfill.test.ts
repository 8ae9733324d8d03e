/**
 * `beat backfill` against a real `beat run` leader on a private Redis: it publishes exactly the
 * slots `beat next --after` lists for the range (less the excluded day), each with the task id the
 * schedule gives that slot (computed here from its RFC 9562 definition, not by tsbeat's code);
 * again, none; with the leader SIGKILLed half-way (held still by CLIENT PAUSE so that "half-way" is
 * certain) the standby goes on and no slot goes out twice, and the command repeated publishes none.
 * Bad input exits 2 naming the field.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir } from '../support/beat-process.js';
import { readQueue } from '../support/beat-queue.js';
import { runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** uuid5(SLOT_ID_NAMESPACE, "deployment\nentry\nslot"), from RFC 9562 §5.5 (Python: uuid.uuid5). */
function slotId(deployment: string, entry: string, slotMs: number): string {
  const namespace = Buffer.from('bd3166c1dfde4cc5a1f798fa3cc11ff8', 'hex');
  const hash = createHash('sha1').update(namespace).update(`${deployment}\n${entry}\n${slotMs}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

interface Result {
  published: number;
  total: number;
  skipped: { recorded: number; excluded: number; ahead: number; unrecorded: number };
}

describe('beat backfill', () => {
  const fleet = new BeatFleet();
  const dir = new TempDir();
  let redis: PrivateRedis;
  let client: Redis;
  let name: string;
  let file: string;
  // A past range of whole UTC days: from two days and a half back to half a day back.
  const midnight = Math.floor(Date.now() / DAY) * DAY;
  const fromMs = midnight - 3 * DAY + 12 * HOUR;
  const toMs = midnight - 1 * DAY + 12 * HOUR;
  const excludedDay = new Date(midnight - 2 * DAY).toISOString().slice(0, 10);
  const iso = (ms: number): string => new Date(ms).toISOString();

  beforeAll(async () => {
    redis = await startPrivateRedis();
    client = redis.client(0);
    name = uniqueName('backfill');
    file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      lock: FAST_LOCK,
      beatSchedule: {
        // Every 10 minutes, with one whole day excluded: 288 slots over the two days, 144 of them excluded.
        tenth: { task: 'tsbeat_test.record', schedule: { crontab: { minute: '*/10' } }, exclude: [excludedDay] },
        // Every minute: 2,881 slots over the two days, enough steps to stop a leader half-way.
        minutely: { task: 'tsbeat_test.record', schedule: { crontab: { minute: '*' } }, options: { queue: 'minutely' } },
      },
    });
  });
  afterAll(async () => {
    await fleet.killAll();
    client?.disconnect();
    await redis?.stop();
    dir.remove();
  });

  async function backfill(entry: string, ...extra: string[]): Promise<Result> {
    const run = await runBeatCli(['backfill', entry, '--config', file, '--from', iso(fromMs), '--to', iso(toMs), '--json', ...extra], {
      timeoutMs: 60_000,
    });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    return JSON.parse(run.stdout) as Result;
  }

  /** `beat next --after` for the range: the oracle of which slots the range holds. */
  async function nextInRange(entry: string, count: number): Promise<number[]> {
    const run = await runBeatCli(['next', '--config', file, '--entry', entry, '--after', iso(fromMs - 1000), '--count', String(count), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const fires = (JSON.parse(run.stdout) as { entries: { next: string[] }[] }).entries[0]?.next ?? [];
    return fires.map((text) => Date.parse(text)).filter((ms) => ms <= toMs);
  }

  it('publishes exactly the slots beat next lists for the range, each once, with its slot id; again none', async () => {
    const leader = fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);

    const expected = await nextInRange('tenth', 1000);
    expect(expected.length).toBe(144 + 1); // 12:00 to 12:00 two days later, less the excluded day
    const dry = await runBeatCli(['backfill', 'tenth', '--config', file, '--from', iso(fromMs), '--to', iso(toMs), '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { slots: string[]; excluded: string[] };
    expect(plan.slots.map((s) => Date.parse(s))).toEqual(expected);
    expect(plan.excluded).toHaveLength(144);
    expect(await client.llen('celery')).toBe(0);

    const first = await backfill('tenth', '--note', 'outage of 2026-11-19');
    expect(first).toMatchObject({ published: expected.length, total: 289, skipped: { recorded: 0, excluded: 144, ahead: 0, unrecorded: 0 } });
    const queued = await readQueue(client, 'celery');
    expect(queued.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'tenth', ms)).sort());

    const again = await backfill('tenth');
    expect(again).toMatchObject({ published: 0, skipped: { recorded: expected.length, excluded: 144 } });
    expect(await client.llen('celery')).toBe(expected.length);
    // Audited, with its note and range.
    const audit = await runBeatCli(['audit', 'tenth', '--config', file, '--json']);
    expect(audit.stdout).toContain('"action":"backfill"');
    expect(audit.stdout).toContain('outage of 2026-11-19');
  }, 60_000);

  it('a leader SIGKILLed half-way: the standby goes on, no slot twice; repeated, none', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const leader = fleet.alive().find((p) => p.label === 'leader') ?? fleet.spawn({ config: file, label: 'leader' });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    const standby = fleet.spawn({ config: file, label: 'standby' });
    await standby.waitForEvent(EVENTS.standby, 15_000);
    const expected = await nextInRange('minutely', 5000);
    expect(expected.length).toBe(2 * 24 * 60 + 1);

    const running = backfill('minutely');
    // The first step is out: hold every write still (the leader's next step waits), kill the leader, let go.
    // Polled without sleeping (a step takes milliseconds): the next command runs as soon as this one answers.
    const deadline = Date.now() + 20_000;
    let progressKey: string | undefined;
    while (progressKey === undefined && Date.now() < deadline) {
      const [key] = await client.keys(keys.backfill('*'));
      if (key !== undefined && Number(await client.hget(key, 'published')) > 0) progressKey = key;
    }
    if (progressKey === undefined) throw new Error(`no step of the backfill within 20 s\n${fleet.dump()}`);
    await client.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    const halfWay = Number(await client.hget(progressKey, 'published'));
    leader.child.kill('SIGKILL');
    await leader.exited;
    await client.call('CLIENT', 'UNPAUSE');
    expect(halfWay).toBeLessThan(expected.length);

    const result = await running;
    expect(result.published).toBe(expected.length);
    // The schedule publishes this entry's current minutes into the same queue: those are after the range.
    const queued = (await readQueue(client, 'minutely')).filter((r) => r.slotMs <= toMs);
    expect(queued).toHaveLength(expected.length);
    expect(queued.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'minutely', ms)).sort());
    expect(standby.logs.some((l) => l['event'] === EVENTS.backfill)).toBe(true);

    const again = await backfill('minutely');
    expect(again).toMatchObject({ published: 0, skipped: { recorded: expected.length } });
    expect((await readQueue(client, 'minutely')).filter((r) => r.slotMs <= toMs)).toHaveLength(expected.length);
  }, 90_000);

  it('refuses bad input with exit 2, naming the field, and publishes nothing', async () => {
    const before = await client.llen('celery');
    const cases: [string[], RegExp][] = [
      [['--from', iso(toMs), '--to', iso(fromMs)], /--to .* is before --from/],
      [['--from', 'yesterday', '--to', iso(toMs)], /--from must be an ISO-8601 instant/],
      [['--to', iso(toMs)], /--from is required/],
      [['--from', iso(fromMs), '--to', iso(toMs), '--limit', '100'], /more than 100 slots .* raise --limit/],
      [['--from', iso(fromMs), '--to', iso(toMs), '--limit', '0'], /--limit must be a whole number from 1/],
    ];
    for (const [args, message] of cases) {
      const run = await runBeatCli(['backfill', 'tenth', '--config', file, ...args]);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    const unknown = await runBeatCli(['backfill', 'tenht', '--config', file, '--from', iso(fromMs), '--to', iso(toMs)]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no entry named "tenht".*did you mean "tenth"/);
    expect(await client.llen('celery')).toBe(before);
  }, 30_000);
});
