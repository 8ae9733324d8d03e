/**
 * The pure plan (control/entry-plan.ts): each kind of difference from the same inputs, the owner
 * compared rather than assumed, and a digest that names exactly what the plan saw (the same for
 * the same store and file in any order; another after a version bump or an edit of the file).
 */
import { describe, expect, it } from 'vitest';
import { owned, planEntries } from '../../src/control/entry-plan.js';
import type { PlannedInput, PlannedStored } from '../../src/control/entry-plan.js';
import { canonicalEntryJson } from '../../src/redis/entry-record-codec.js';

const NOW = Date.parse('2026-11-25T10:00:00Z');
const input = (name: string, entry: unknown, owner = 'ci'): PlannedInput => {
  const e = owned(entry, owner);
  return { name, entry: e, json: canonicalEntryJson(e) };
};
const stored = (name: string, entry: unknown, version: number): PlannedStored => ({
  name,
  entry,
  json: canonicalEntryJson(entry),
  version,
});
const storeOf = (...entries: PlannedStored[]) => new Map(entries.map((e) => [e.name, e]));

describe('planEntries', () => {
  const store = storeOf(
    stored('same', { task: 't', schedule: 60, owner: 'ci' }, 3),
    stored('edit', { task: 't', schedule: { cron: '0 * * * *' }, owner: 'ci' }, 4),
    stored('gone', { task: 't', schedule: 60, owner: 'ci' }, 5),
    stored('hand', { task: 't', schedule: 60 }, 6),
    stored('theirs', { task: 't', schedule: 60, owner: 'other' }, 7),
  );
  const inputs = [
    input('same', { task: 't', schedule: 60 }),
    input('edit', { task: 't', schedule: 120 }),
    input('new', { task: 't', schedule: { cron: '30 6 * * *' } }),
    input('hand', { task: 't', schedule: 60 }),
    input('theirs', { task: 't', schedule: 60 }),
  ];

  it('names each kind of difference, and holds another owner’s and a hand-made entry as conflicts', async () => {
    const plan = await planEntries({ owner: 'ci', inputs, stored: store, zone: 'UTC', deployment: 'default', nowMs: NOW });
    expect(plan.counts).toEqual({ add: 1, change: 1, remove: 1, unchanged: 1, conflict: 2 });
    const by = new Map(plan.entries.map((e) => [e.name, e]));
    expect(by.get('new')).toMatchObject({
      action: 'add',
      version: 0,
      firesAfter: ['2026-11-26T06:30:00+00:00', '2026-11-27T06:30:00+00:00', '2026-11-28T06:30:00+00:00'],
    });
    expect(by.get('edit')).toMatchObject({ action: 'change', version: 4, kind: { before: 'cron', after: 'interval' } });
    expect(by.get('edit')?.firesBefore).toEqual(['2026-11-25T11:00:00+00:00', '2026-11-25T12:00:00+00:00', '2026-11-25T13:00:00+00:00']);
    expect(by.get('gone')).toMatchObject({ action: 'remove', version: 5 });
    expect(by.get('hand')).toMatchObject({ action: 'conflict', heldBy: null });
    expect(by.get('theirs')).toMatchObject({ action: 'conflict', heldBy: 'other' });
    expect(by.get('same')).toEqual({ name: 'same', action: 'unchanged', version: 3 });
  });

  it('gives the same digest for the same store and file in any order, and another after any change to them', async () => {
    const digest = async (i: readonly PlannedInput[], s: ReadonlyMap<string, PlannedStored>, owner = 'ci') =>
      (await planEntries({ owner, inputs: i, stored: s, zone: 'UTC', deployment: 'default', nowMs: NOW })).digest;
    const first = await digest(inputs, store);
    expect(await digest([...inputs].reverse(), storeOf(...[...store.values()].reverse()))).toBe(first);
    expect(
      (await planEntries({ owner: 'ci', inputs, stored: store, zone: 'UTC', deployment: 'default', nowMs: NOW + 86_400_000 })).digest,
    ).toBe(first);
    const bumped = storeOf(...[...store.values()].map((e) => (e.name === 'same' ? { ...e, version: 8 } : e)));
    expect(await digest(inputs, bumped)).not.toBe(first);
    expect(await digest([...inputs.slice(1), input('same', { task: 't', schedule: 61 })], store)).not.toBe(first);
    expect(await digest(inputs, store, 'other-owner')).not.toBe(first);
  });
});
