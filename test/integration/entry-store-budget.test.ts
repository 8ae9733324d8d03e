/**
 * The runtime entry store's budget: how many entries it may hold (entryLimits.maxEntries) and how
 * many bytes of names and definitions (entryLimits.maxStoreBytes), checked atomically by
 * entries-write.lua against its counter. A write that would pass either is refused whole with exit
 * 2 naming the limit and the setting; one that does not grow the store passes; a counter that is
 * missing or garbled is counted again. Before: nothing bounded the store (the 96 entries of
 * 480 KB task names took a replica to 1.46 GB; such names are refused since, at 256 characters).
 * Redis: a private redis-server; the CLI as a real process.
 */
import { describe, expect, it } from 'vitest';
import { Entries } from '../../src/client/entries-client.js';
import { schedulerKeys } from '../../src/redis/keys.js';
import { beatSuite } from '../support/beat-suite.js';
import { runBeatCli, uniqueName } from '../support/ops.js';

describe("the store's budget (entryLimits.maxEntries, maxStoreBytes)", () => {
  const suite = beatSuite();

  function deployment(entryLimits: Record<string, number>): { file: string; name: string } {
    const name = uniqueName('budget');
    const file = suite.dir.write(`${name}.json`, { name, broker: { url: suite.redis.url(0) }, entryLimits, beatSchedule: {} });
    return { file, name };
  }
  const set = (file: string, entry: string, ...flags: string[]) =>
    runBeatCli(['entries', 'set', entry, '--task', 't.x', '--schedule', '60', ...flags, '--config', file]);

  it('a write past maxEntries is refused whole, naming the limit and the setting; deletes and updates pass', async () => {
    const { file, name } = deployment({ maxEntries: 3 });
    for (const entry of ['a', 'b', 'c']) expect((await set(file, entry)).code).toBe(0);
    const refused = await set(file, 'd');
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain('this write would take the store to 4 entries, past its limit of 3 (entryLimits.maxEntries)');
    expect(refused.stderr).toContain('nothing was written');
    const keys = schedulerKeys('tsbeat', name);
    expect(await suite.client.hkeys(keys.entries)).toEqual(expect.arrayContaining(['a', 'b', 'c']));
    expect(await suite.client.hexists(keys.entries, 'd')).toBe(0);
    // At the limit, an update and a delete pass; then there is room again.
    expect((await set(file, 'a', '--options', '{"queue": "other"}')).code).toBe(0);
    expect((await runBeatCli(['entries', 'delete', 'c', '--config', file])).code).toBe(0);
    expect((await set(file, 'd')).code).toBe(0);
  });

  it('the TypeScript client keeps to its budget option: a setMany past it is refused whole, naming the setting', async () => {
    const deployment = uniqueName('budget-client');
    const entries = await Entries.connect({ url: suite.redis.url(0), deployment, budget: { maxEntries: 2 } });
    try {
      const three = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, { task: 't.x', schedule: 60 }]));
      await expect(entries.setMany(three)).rejects.toMatchObject({
        code: 'ENTRY_INVALID',
        message: expect.stringContaining('past its limit of 2 (entryLimits.maxEntries)'),
      });
      expect(await suite.client.hlen(schedulerKeys('tsbeat', deployment).entries)).toBe(0);
    } finally {
      await entries.close();
    }
  });

  it('a write past maxStoreBytes is refused; a garbled counter is counted again from the entries', async () => {
    const { file, name } = deployment({ maxStoreBytes: 1024 });
    const keys = schedulerKeys('tsbeat', name);
    expect((await set(file, 'small')).code).toBe(0);
    const counted = Number(await suite.client.get(keys.entriesBytes));
    const json = JSON.parse((await suite.client.hget(keys.entries, 'small')) ?? '{}') as { entry: unknown };
    expect(counted).toBe('small'.length + JSON.stringify(json.entry).length);
    const big = await set(file, 'big', '--kwargs', JSON.stringify({ blob: 'x'.repeat(1200) }));
    expect(big.code, big.stderr).toBe(2);
    expect(big.stderr).toMatch(
      /this write would take the store to [\d,]+ bytes of names and definitions, past its limit of 1,024 \(entryLimits\.maxStoreBytes\)/,
    );
    expect(await suite.client.hexists(keys.entries, 'big')).toBe(0);
    // Something else wrote the counter: the next write counts again, and keeps the count right. Lua's
    // tonumber reads "-1e15" (which lifted the budget: big was written), " 5", "0x10", "2.5" as numbers.
    let held = counted;
    for (const [i, garbled] of ['garbage', '-1e15', ' 5', '0x10', '2.5', '99999999999999999999'].entries()) {
      await suite.client.set(keys.entriesBytes, garbled);
      const name = `next${i}`;
      if (garbled === '-1e15')
        expect((await set(file, 'big', '--kwargs', JSON.stringify({ blob: 'x'.repeat(1200) }))).code, garbled).toBe(2);
      const written = await set(file, name);
      expect(written.code, `${garbled}: ${written.stderr}`).toBe(0);
      const next = JSON.parse((await suite.client.hget(keys.entries, name)) ?? '{}') as { entry: unknown };
      held += name.length + JSON.stringify(next.entry).length;
      expect(Number(await suite.client.get(keys.entriesBytes)), garbled).toBe(held);
    }
  });
});
