/**
 * The audit trail's field diff (control/audit-events.ts), against hand-written expectations: fields added,
 * removed and changed by path, objects compared by value whatever their key order, long values
 * shortened, and a bounded number of changes per event.
 */
import { describe, expect, it } from 'vitest';
import { AUDIT_CHANGES_MAX, AUDIT_VALUE_MAX, auditNote, changeText, entryDiff } from '../../src/control/audit-events.js';

describe('entryDiff', () => {
  it('names added, removed and changed fields by path, in path order', () => {
    const before = { task: 'a.b', schedule: { cron: '0 6 * * *' }, options: { queue: 'q1', priority: 3 }, jitter: 5 };
    const after = { task: 'a.b', schedule: { cron: '0 7 * * *' }, options: { queue: 'q2' }, kwargs: { id: 7 } };
    expect(entryDiff(before, after)).toEqual([
      { path: 'jitter', before: '5' },
      { path: 'kwargs.id', after: '7' },
      { path: 'options.priority', before: '3' },
      { path: 'options.queue', before: '"q1"', after: '"q2"' },
      { path: 'schedule.cron', before: '"0 6 * * *"', after: '"0 7 * * *"' },
    ]);
  });

  it('sees no change in a reordered object, and compares arrays and deep values whole', () => {
    expect(entryDiff({ kwargs: { a: { b: { c: 1, d: 2 } } } }, { kwargs: { a: { b: { d: 2, c: 1 } } } })).toEqual([]);
    expect(entryDiff({ args: [1, 2] }, { args: [2, 1] })).toEqual([{ path: 'args', before: '[1,2]', after: '[2,1]' }]);
    expect(entryDiff({ kwargs: { a: { b: { c: 1 } } } }, { kwargs: { a: { b: { c: 2 } } } })).toEqual([
      { path: 'kwargs.a.b', before: '{"c":1}', after: '{"c":2}' },
    ]);
  });

  it('lists every field of a created or deleted entry', () => {
    expect(entryDiff(undefined, { task: 't', schedule: 60 })).toEqual([
      { path: 'schedule', after: '60' },
      { path: 'task', after: '"t"' },
    ]);
    expect(entryDiff({ task: 't' }, undefined)).toEqual([{ path: 'task', before: '"t"' }]);
  });

  it('shortens long values and bounds the number of changes', () => {
    const [change] = entryDiff({}, { kwargs: 'x'.repeat(1000) });
    expect(change?.after).toHaveLength(AUDIT_VALUE_MAX);
    expect(change?.after?.endsWith('…')).toBe(true);
    const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`k${String(i).padStart(2, '0')}`, i]));
    const changes = entryDiff({}, { kwargs: many });
    expect(changes).toHaveLength(AUDIT_CHANGES_MAX + 1);
    expect(changes[AUDIT_CHANGES_MAX]).toEqual({ path: '…', after: '30 more changes' });
  });

  it('words a change, and trims notes', () => {
    expect(changeText({ path: 'a', after: '1' })).toBe('+a: 1');
    expect(changeText({ path: 'a', before: '1' })).toBe('-a: 1');
    expect(changeText({ path: 'a', before: '1', after: '2' })).toBe('a: 1 → 2');
    expect(auditNote('  why  ')).toBe('why');
    expect(auditNote('   ')).toBeUndefined();
    expect(auditNote('n'.repeat(600))).toHaveLength(500);
  });
});
