/**
 * The checks of a write's definitions on a worker thread (service/entry-check-pool.ts, the built
 * dist/entry-check-worker.js) give what the checks in one pass give (RedisEntryStore.prepare): the
 * same problems at the same paths in the same order, the same encoded write; one thread serves
 * write after write; a write over its time is refused naming where the checks stopped; a thread
 * that overruns a write's time is stopped and the write refused the same way; a thread that cannot
 * start fails the write instead of holding it. No Redis: checks send nothing (the client never connects).
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/base/log.js';
import { ConfigError } from '../../src/base/errors.js';
import { queueNameContext } from '../../src/config/queue-names.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { RedisEntryStore } from '../../src/redis/entry-store.js';
import type { EntryWrite, PreparedWrite } from '../../src/redis/entry-store.js';
import { EntryCheckPool } from '../../src/service/entry-check-pool.js';

const lines: Record<string, unknown>[] = [];
const logger = createLogger({ level: 'debug', destination: { write: (text: string) => void lines.push(JSON.parse(text)) } });
const client = new Redis({ lazyConnect: true });
const keys = schedulerKeys('tsbeat', 'pool-test');
const pools: EntryCheckPool[] = [];
const NOW = Date.parse('2026-03-01T00:00:00Z');

function storeWith(pool?: EntryCheckPool): RedisEntryStore {
  if (pool !== undefined) pools.push(pool);
  const queues = queueNameContext('tsbeat', {});
  return new RedisEntryStore(
    client,
    keys,
    new Set(['static-one']),
    queues,
    { zone: 'Europe/Berlin', deployment: 'default' },
    undefined,
    pool,
  );
}

afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  client.disconnect();
});

/** What a check gives: the encoded write, or the problems it threw. */
async function outcome(check: () => Promise<PreparedWrite> | PreparedWrite): Promise<unknown> {
  try {
    const { args } = await check();
    return { args };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { code: error.code, source: error.source, problems: error.problems };
  }
}

const put = (name: string, entry: unknown): EntryWrite => ({ op: 'put', name, entry });
const WEDGE = 'FREQ=SECONDLY;INTERVAL=99999;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0';
/** A rule the schema refuses after ~0.2 s of looking for its next run: a costly check. */
const never = (i: number): unknown => ({ task: 'x.y', schedule: { rrule: `FREQ=MINUTELY;BYMONTH=4;BYMONTHDAY=31;BYSECOND=${i % 60}` } });

describe('the checks of a write on a worker thread', () => {
  const mixed: EntryWrite[] = [
    put('fine', { task: 'x.y', schedule: 60 }),
    put('wedge', { task: 'x.y', schedule: { rrule: WEDGE } }),
    put('cover', { task: 'x.y', schedule: 86_400, exclude: ['* * * * *'] }),
    // The same shape with other arguments: one computation, the problem named at both entries.
    put('wedge-2', { task: 'x.y', args: [1, 2], schedule: { rrule: WEDGE } }),
    put('bad name\u0000', { task: 'x.y', schedule: { cron: '0 0 29 2 1' } }),
    put('no-schedule', { task: 'x.y' }),
    put('queue', { task: 'x.y', schedule: 60, options: { queue: 'unacked' } }),
    { op: 'delete', name: 'gone' },
    put('rare', { task: 'x.y', schedule: { cron: '0 0 29 2 *' } }),
    put('never', never(0)),
  ];

  it('names the same problems at the same paths, in the same order, as the checks in one pass', async () => {
    const pool = new EntryCheckPool(logger);
    const inline = await outcome(() => storeWith().prepare(mixed, { nowMs: NOW, source: 'request body' }));
    const threaded = await outcome(() => storeWith(pool).check(mixed, { nowMs: NOW, source: 'request body' }));
    expect(threaded).toEqual(inline);
    // The oracle can fail: every kind of problem is among them, each at its own entry, in the writes' order.
    const paths = (inline as { problems: { path: string }[] }).problems.map((p) => p.path);
    expect(paths).toEqual([
      'entries.wedge.schedule',
      'entries.cover.exclude',
      'entries.wedge-2.schedule',
      'entries["bad name\\u0000"]',
      'entries.no-schedule.schedule',
      'entries.queue.options.queue',
      'entries.never.schedule.rrule',
    ]);
  });

  it('encodes a write of fine entries as the checks in one pass do, on one thread kept for write after write', async () => {
    const pool = new EntryCheckPool(logger);
    const store = storeWith(pool);
    const fine: EntryWrite[] = Array.from({ length: 2500 }, (_, i) =>
      put(`e${i}`, { task: 'x.y', schedule: i % 2 === 0 ? 60 + i : { cron: `${i % 60} * * * *` }, kwargs: { i } }),
    );
    fine.splice(7, 0, { op: 'delete', name: 'gone' });
    const inline = await outcome(() => storeWith().prepare(fine, { nowMs: NOW }));
    expect((inline as { args: string[] }).args).toHaveLength(3 * fine.length);
    for (let round = 0; round < 3; round += 1) expect(await outcome(() => store.check(fine, { nowMs: NOW }))).toEqual(inline);
    await expect(store.check([put('static-one', { task: 'x.y', schedule: 60 })], { nowMs: NOW })).rejects.toMatchObject({
      code: 'ENTRY_IS_STATIC',
    });
    expect(pool.threadsStarted).toBe(1);
  });

  it('refuses a write whose checks take more than writeCheckMs, naming the entry they stopped at', async () => {
    const store = storeWith(new EntryCheckPool(logger));
    const writes = Array.from({ length: 100 }, (_, i) => put(`many-${i}`, never(i)));
    const { problems } = (await outcome(() => store.check(writes, { nowMs: NOW }))) as { problems: { path: string; message: string }[] };
    const last = problems.at(-1)!;
    expect(problems.length).toBeLessThan(100);
    expect(last.path).toBe(`entries.many-${problems.length - 1}`);
    expect(last.message).toMatch(
      new RegExp(
        `^checking the ${problems.length - 1} entries before this one took more than 3020 ms \\(writeCheckMs, and writeCheckEntryMs per entry written\\), so it and the ${100 - problems.length} after it were not checked, and nothing was written`,
      ),
    );
    expect(problems.slice(0, -1).map((p) => p.path)).toEqual(problems.slice(0, -1).map((_, i) => `entries.many-${i}.schedule.rrule`));
  }, 30_000);

  it('stops a thread that overruns the time, keeps what it found, and refuses the rest unchecked', async () => {
    lines.length = 0;
    // This thread answers a job's first entry, then computes without end.
    const pool = new EntryCheckPool(logger, { url: new URL('./fixtures/stuck-entry-check-worker.mjs', import.meta.url), stopMs: 100 });
    const store = storeWith(pool);
    const writes = Array.from({ length: 5 }, (_, i) => put(`s-${i}`, { task: 'x.y', schedule: 60 + i }));
    const { problems } = (await outcome(() => store.check(writes, { nowMs: NOW }))) as { problems: { path: string; message: string }[] };
    expect(problems).toEqual([
      {
        path: 'entries.s-1',
        message: expect.stringMatching(
          /^checking the 1 entries before this one took more than 3001 ms .* so it and the 3 after it were not checked/,
        ),
      },
    ]);
    expect(lines.filter((l) => l['event'] === 'beat.api.check_stopped')).toEqual([
      expect.objectContaining({ level: 'warn', overranMs: 100, checked: 1, items: 5 }),
    ]);
  }, 30_000);

  it('fails a write whose thread cannot start, and the writes waiting with it, instead of holding them', async () => {
    const pool = new EntryCheckPool(logger, { url: new URL('./fixtures/no-such-worker.mjs', import.meta.url) });
    const store = storeWith(pool);
    const writes = [put('a', { task: 'x.y', schedule: 60 })];
    const both = await Promise.allSettled([store.check(writes, { nowMs: NOW }), store.check(writes, { nowMs: NOW })]);
    expect(both.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(String((both[0] as PromiseRejectedResult).reason)).toMatch(/no-such-worker/);
  });
});
