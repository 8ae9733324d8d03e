/**
 * `beat backfill` against a real `beat run` leader on a private Redis: it publishes exactly the
 * slots `beat next --after` lists for the range (less the excluded day), each with the task id the
 * schedule gives that slot (computed here from its RFC 9562 definition, not by tsbeat's code);
 * again, none; with the leader SIGKILLed half-way (held still by CLIENT PAUSE so that "half-way" is
 * certain) the standby goes on and no slot goes out twice, and the command repeated publishes none.
 * Slots passed over while paused (recorded by the leader, not by each publish) are backfilled: after
 * it the queue holds every slot `beat next` lists for the range exactly once.
 * Bad input exits 2 naming the field; the API (write scope) answers 400 naming it, lists a dry run,
 * backfills and audits under the token's name.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS } from '../../src/base/log-events.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { BeatFleet, FAST_LOCK, TempDir, sleep, waitUntil, whileFrozen } from '../support/beat-process.js';
import { killLeaderMidBackfill } from '../support/backfill-takeover.js';
import { readQueue } from '../support/beat-queue.js';
import type { QueuedRun } from '../support/beat-queue.js';
import { httpPortOf, runBeatCli, startPrivateRedis, uniqueName } from '../support/ops.js';
import type { PrivateRedis } from '../support/redis-server.js';
import { slotId } from '../support/slot-id.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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
  let tokenFile: string;
  const TOKEN = 'backfill-test-token-0123456789';
  const httpArgs = (): string[] => ['--http', '127.0.0.1:0', '--api-token-file', tokenFile];
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
    tokenFile = dir.write('token', `${TOKEN}\n`);
    file = dir.write(`${name}.json`, {
      name,
      broker: { url: redis.url(0) },
      lock: FAST_LOCK,
      beatSchedule: {
        // Every 10 minutes, with one whole day excluded: 288 slots over the two days, 144 of them excluded.
        tenth: { task: 'tsbeat_test.record', schedule: { crontab: { minute: '*/10' } }, exclude: [excludedDay] },
        // Every minute: 2,881 slots over the two days, enough steps to stop a leader half-way.
        minutely: { task: 'tsbeat_test.record', schedule: { crontab: { minute: '*' } }, options: { queue: 'minutely' } },
        // Every second: its slots passed over while paused are what the leader records for backfills.
        secondly: { task: 'tsbeat_test.record', schedule: { cron: '* * * * * *', seconds: true }, options: { queue: 'secondly' } },
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

  /** The runs of the range in a queue: the schedule publishes its current slots there too (after the range). */
  async function inRange(queue: string): Promise<QueuedRun[]> {
    return (await readQueue(client, queue)).filter((r) => r.slotMs <= toMs);
  }

  /** `beat next --after` for a range: the oracle of which slots it holds. */
  async function nextInRangeOf(entry: string, first: number, last: number, count = 1000): Promise<number[]> {
    const args = ['next', '--config', file, '--entry', entry, '--after', iso(first - 1000), '--count', String(count), '--json'];
    const run = await runBeatCli(args);
    expect(run.code, run.stderr).toBe(0);
    const fires = (JSON.parse(run.stdout) as { entries: { next: string[] }[] }).entries[0]?.next ?? [];
    return fires.map((text) => Date.parse(text)).filter((ms) => ms <= last);
  }

  const nextInRange = (entry: string, count: number): Promise<number[]> => nextInRangeOf(entry, fromMs, toMs, count);

  it('publishes exactly the slots beat next lists for the range, each once, with its slot id; again none', async () => {
    const leader = fleet.spawn({ config: file, label: 'leader', args: httpArgs() });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);

    const expected = await nextInRange('tenth', 1000);
    expect(expected.length).toBe(144 + 1); // 12:00 to 12:00 two days later, less the excluded day
    const dry = await runBeatCli(['backfill', 'tenth', '--config', file, '--from', iso(fromMs), '--to', iso(toMs), '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout) as { slots: string[]; excluded: string[] };
    expect(plan.slots.map((s) => Date.parse(s))).toEqual(expected);
    expect(plan.excluded).toHaveLength(144);
    expect(await inRange('celery')).toEqual([]);

    const first = await backfill('tenth', '--note', 'outage of 2026-11-19');
    expect(first).toMatchObject({
      published: expected.length,
      total: 289,
      skipped: { recorded: 0, excluded: 144, ahead: 0, unrecorded: 0 },
    });
    const queued = await inRange('celery');
    expect(queued.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'tenth', ms)).sort());

    const again = await backfill('tenth');
    expect(again).toMatchObject({ published: 0, skipped: { recorded: expected.length, excluded: 144 } });
    expect(await inRange('celery')).toHaveLength(expected.length);
    // Audited, with its note and range.
    const events = JSON.stringify(await client.xrange(schedulerKeys('tsbeat', name).audit, '-', '+'));
    expect(events).toContain('backfill');
    expect(events).toContain('outage of 2026-11-19');
  }, 120_000);

  it('a leader SIGKILLed half-way: the standby goes on, no slot twice; repeated, none', async () => {
    const keys = schedulerKeys('tsbeat', name);
    const leader = fleet.alive().find((p) => p.label === 'leader') ?? fleet.spawn({ config: file, label: 'leader', args: httpArgs() });
    await leader.waitForEvent(EVENTS.lockAcquired, 15_000);
    const standby = fleet.spawn({ config: file, label: 'standby', args: httpArgs() });
    await standby.waitForEvent(EVENTS.standby, 15_000);
    // Every minute of the range: plain arithmetic in UTC.
    const expected = Array.from({ length: 2 * 24 * 60 + 1 }, (_, i) => fromMs + i * 60_000);

    // The earlier tests' backfills left their progress keys: this one's is the key not among them.
    const earlier = new Set(await client.keys(keys.backfill('*')));
    const running = backfill('minutely');
    // The first step is out: hold every write still (the leader's next step waits), kill the leader, let go.
    // Polled without sleeping (a step takes milliseconds): the next command runs as soon as this one answers.
    const halfWay = await killLeaderMidBackfill(client, keys.backfill('*'), leader, fleet, (k) => !earlier.has(k));
    expect(halfWay).toBeLessThan(expected.length);

    const result = await running;
    expect(result.published).toBe(expected.length);
    // The schedule publishes this entry's current minutes into the same queue: those are after the range.
    const queued = await inRange('minutely');
    expect(queued).toHaveLength(expected.length);
    expect(queued.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'minutely', ms)).sort());
    expect(standby.logs.some((l) => l['event'] === EVENTS.backfill)).toBe(true);

    const again = await backfill('minutely');
    expect(again).toMatchObject({ published: 0, skipped: { recorded: expected.length } });
    expect(await inRange('minutely')).toHaveLength(expected.length);
  }, 180_000);

  it('slots passed over while paused are backfilled, each once: the queue then holds every slot of the range once', async () => {
    if (fleet.alive().length === 0)
      await fleet.spawn({ config: file, label: 'leader', args: httpArgs() }).waitForEvent(EVENTS.lockAcquired, 15_000);
    const startMs = Date.now();
    const running = (): Promise<QueuedRun[]> => readQueue(client, 'secondly');
    const after = async (ms: number): Promise<QueuedRun[]> => (await running()).filter((r) => r.slotMs >= ms);
    await waitUntil(
      'two scheduled slots',
      async () => ((await after(startMs)).length >= 2 ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    const applied = async (event: string, run: string[]): Promise<void> => {
      const from = new Map(fleet.alive().map((p) => [p, p.events(event).length]));
      const cli = await runBeatCli([...run, 'secondly', '--config', file]);
      expect(cli.code, cli.stderr).toBe(0);
      await waitUntil(event, () => (fleet.alive().some((p) => p.events(event).length > (from.get(p) ?? 0)) ? true : undefined), 15_000);
    };
    await applied(EVENTS.pause, ['pause']);
    // Paused for three slots and more: they pass; the leader passes them over at the resume.
    await sleep(3500);
    await applied(EVENTS.resume, ['resume']);
    const resumedMs = Date.now();
    // The schedule goes on after the resume: its stored slot is past the paused ones.
    await waitUntil('a slot after the resume', async () => ((await after(resumedMs)).length > 0 ? true : undefined), 15_000);
    const queued = (await after(startMs)).map((r) => r.slotMs);
    const from = Math.min(...queued);
    const to = Math.max(...queued);
    const expected = await nextInRangeOf('secondly', from, to, 200);
    const before = (await running()).filter((r) => r.slotMs >= from && r.slotMs <= to);
    const missing = expected.filter((ms) => !before.some((r) => r.slotMs === ms));
    expect(missing.length).toBeGreaterThanOrEqual(3);

    const run = await runBeatCli(['backfill', 'secondly', '--config', file, '--from', iso(from), '--to', iso(to), '--json'], {
      timeoutMs: 60_000,
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      published: missing.length,
      skipped: { recorded: expected.length - missing.length, unrecorded: 0 },
    });
    const inRangeNow = (await running()).filter((r) => r.slotMs >= from && r.slotMs <= to);
    expect(inRangeNow.map((r) => r.slotMs).sort((a, b) => a - b)).toEqual(expected);
    expect(inRangeNow.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'secondly', ms)).sort());
    const again = await runBeatCli(['backfill', 'secondly', '--config', file, '--from', iso(from), '--to', iso(to), '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ published: 0 });
  }, 90_000);

  it('an entry that has run since it was first seen: the slots before its first sighting still never ran, backfilled once each', async () => {
    if (fleet.alive().length === 0)
      await fleet.spawn({ config: file, label: 'leader', args: httpArgs() }).waitForEvent(EVENTS.lockAcquired, 15_000);
    const keys = schedulerKeys('tsbeat', name);
    // The schedule has run it (a scheduled run's state, not the first sighting's) before the backfill asks.
    await waitUntil(
      'a scheduled run of secondly in its state',
      async () => (((await client.hget(keys.state, 'secondly')) ?? '').includes('"slot":') ? true : undefined),
      20_000,
      () => fleet.dump(),
    );
    // Ten minutes an hour back: long before the leader first saw the entry.
    const first = Math.floor(Date.now() / 1000) * 1000 - HOUR;
    const last = first + 10 * 60_000;
    const expected = Array.from({ length: 601 }, (_, i) => first + i * 1000);
    const range = ['--from', iso(first), '--to', iso(last), '--json'];
    const run = await runBeatCli(['backfill', 'secondly', '--config', file, ...range], { timeoutMs: 60_000 });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ published: 601, skipped: { recorded: 0, unrecorded: 0 } });
    const queued = (await readQueue(client, 'secondly')).filter((r) => r.slotMs >= first && r.slotMs <= last);
    expect(queued.map((r) => r.id).sort()).toEqual(expected.map((ms) => slotId(name, 'secondly', ms)).sort());
    const again = await runBeatCli(['backfill', 'secondly', '--config', file, ...range]);
    expect(JSON.parse(again.stdout)).toMatchObject({ published: 0, skipped: { recorded: 601 } });
  }, 90_000);

  it('refuses bad input with exit 2, naming the field, and publishes nothing', async () => {
    const before = (await inRange('celery')).length;
    // Each field's problems are held to their messages in test/unit/backfill.test.ts; here, the exit code.
    const cases: [string[], RegExp][] = [
      [['tenth', '--from', iso(toMs), '--to', iso(fromMs)], /--to .* is before --from/],
      [['tenth', '--from', iso(fromMs), '--to', iso(toMs), '--limit', '100'], /more than 100 slots .* raise --limit/],
      [['tenht', '--from', iso(fromMs), '--to', iso(toMs)], /no entry named "tenht".*did you mean "tenth"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => runBeatCli(['backfill', ...args, '--config', file])));
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(cases[i]?.[1] as RegExp);
    });
    expect(await inRange('celery')).toHaveLength(before);
  }, 30_000);

  it('POST /api/entries/NAME/backfill: write scope, 400 naming the field, a dry run, a backfill audited by token', async () => {
    const server = fleet.alive().find((p) => p.label === 'standby') ?? fleet.spawn({ config: file, label: 'api', args: httpArgs() });
    const port = await httpPortOf(server);
    const post = async (
      body: unknown,
      token: string | null = TOKEN,
      at = port,
    ): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`http://127.0.0.1:${at}/api/entries/tenth/backfill`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    expect((await post({ from: iso(fromMs), to: iso(toMs) }, null)).status).toBe(401);
    const bad = await post({ from: 'yesterday', to: iso(toMs), limit: 0 });
    expect(bad.status).toBe(400);
    expect((bad.json['problems'] as { path: string }[]).map((p) => p.path)).toEqual(['from', 'limit']);

    // The hour before the range: six slots no one published yet.
    const hour = { from: iso(fromMs - 60 * 60_000), to: iso(fromMs - 60_000) };
    const dry = await post({ ...hour, dryRun: true });
    expect(dry.status).toBe(200);
    const slots = (dry.json['slots'] as string[]).map((t) => Date.parse(t));
    expect(slots).toEqual(await nextInRangeOf('tenth', fromMs - 60 * 60_000, fromMs - 60_000));
    expect(slots).toHaveLength(6);
    // Two weeks before it, asked with the largest limit: pages of at most 1000 slots (run and excluded
    // together), each naming the next; together they are exactly the slots beat next lists, each once.
    const weeks = { from: iso(fromMs - 14 * 24 * 3600_000), to: iso(fromMs - 60_000), dryRun: true, limit: 1_000_000 };
    const paged: number[] = [];
    let pages = 0;
    for (let after: unknown; pages === 0 || after !== undefined; pages += 1) {
      const page = await post({ ...weeks, ...(after === undefined ? {} : { after }) });
      expect(page.status).toBe(200);
      const run = (page.json['slots'] as string[]).map((t) => Date.parse(t));
      expect(run.length + (page.json['excluded'] as string[]).length).toBeLessThanOrEqual(1000);
      paged.push(...run);
      after = page.json['next'];
    }
    expect(pages).toBe(3);
    expect(paged).toEqual(await nextInRangeOf('tenth', fromMs - 14 * 24 * 3600_000, fromMs - 60_000, 3000));
    expect((await post({ ...hour, after: iso(fromMs) })).json['problems']).toEqual([
      { path: 'after', message: 'after pages a dry run: give it with "dryRun": true' },
    ]);

    const done = await post({ ...hour, note: 'from the API' });
    expect(done).toMatchObject({ status: 200, json: { entry: 'tenth', done: true, published: 6 } });
    const queued = (await readQueue(client, 'celery')).filter((r) => r.slotMs < fromMs);
    expect(queued.map((r) => r.id).sort()).toEqual(slots.map((ms) => slotId(name, 'tenth', ms)).sort());
    expect(await post({ ...hour })).toMatchObject({ status: 200, json: { published: 0, skipped: { recorded: 6 } } });
    // The backfill with the note (the repeat after it is audited too, without one), under the token's name.
    const events = await client.xrange(schedulerKeys('tsbeat', name).audit, '-', '+');
    const noted = events.map(([, fields]) => JSON.stringify(fields)).find((text) => text.includes('from the API'));
    expect(noted).toContain('"who","api"'); // a token file of one bare token names it api
    expect(noted).toContain('"action","backfill"');

    // waitMs: how long the server waits for the leader, up to its own 5 s. 0 answers at once, the
    // request queued (202, done false), here from a standby while every other process (the leader)
    // is frozen; its progress route then shows the leader finishing it.
    const early = { from: iso(fromMs - 3 * HOUR), to: iso(fromMs - 2 * HOUR - 60_000) };
    for (const waitMs of [-1, 5001, 1.5, '0'])
      expect((await post({ ...early, waitMs })).json['problems'], String(waitMs)).toEqual([
        {
          path: 'waitMs',
          message: `waitMs must be a whole number of milliseconds from 0 to 5000, got ${JSON.stringify(JSON.stringify(waitMs))}; past it, read the progress route`,
        },
      ]);
    const answering = fleet.spawn({ config: file, label: 'api-standby', args: httpArgs() });
    await answering.waitForEvent(EVENTS.standby, 15_000);
    const others = fleet.alive().filter((p) => p !== answering);
    const answeringPort = await httpPortOf(answering);
    const queuedNow = await whileFrozen(others, () => post({ ...early, waitMs: 0 }, TOKEN, answeringPort));
    expect(queuedNow).toMatchObject({ status: 202, json: { entry: 'tenth', done: false } });
    const progress = await waitUntil(
      'the backfill asked with waitMs 0 done',
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/entries/tenth/backfill/${String(queuedNow.json['id'])}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        const json = (await res.json()) as Record<string, unknown>;
        return res.status === 200 && json['done'] === true ? json : undefined;
      },
      30_000,
    );
    expect(progress).toMatchObject({ entry: 'tenth', published: 6 });
  }, 120_000);
});
