/**
 * The replicas registry's pure parts: the record codec (what a reader accepts), which records are
 * live at an instant (expiry strictly after it), the listing (the lock names the leader, whatever a
 * record says of itself), and the heartbeat's period for a lock TTL.
 */
import { describe, expect, it } from 'vitest';
import { ageText, replicaStatuses } from '../../src/control/replicas.js';
import type { ReplicaRecord } from '../../src/control/replicas.js';
import { decodeReplicaRecord, encodeReplicaRecord, liveReplicas } from '../../src/redis/replica-codec.js';
import { heartbeatIntervalMs } from '../../src/service/replica-heartbeat.js';

const T0 = Date.UTC(2026, 10, 23, 4, 0, 0);
const record = (instance: string, over: Partial<ReplicaRecord> = {}): ReplicaRecord => ({
  instance,
  host: 'host-a',
  pid: 4242,
  version: '0.2.0',
  role: 'standby',
  startedAtMs: T0,
  beatAtMs: T0 + 5000,
  http: '127.0.0.1:9808',
  ...over,
});

describe('the replica record codec', () => {
  it('reads back what it writes, the instance coming from the hash field', () => {
    const r = record('host-a:4242:abcd1234', { role: 'leader', http: null });
    const text = encodeReplicaRecord(r);
    expect(JSON.parse(text)).toEqual({
      v: 1,
      host: 'host-a',
      pid: 4242,
      version: '0.2.0',
      role: 'leader',
      started: T0,
      beat: T0 + 5000,
      http: null,
    });
    expect(decodeReplicaRecord('host-a:4242:abcd1234', text)).toEqual(r);
  });

  it.each([
    ['not JSON', 'hello'],
    ['an array', '[1]'],
    ['another version', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), v: 2 })],
    ['a role tsbeat does not write', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), role: 'leading' })],
    ['a pid that is not a whole number', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), pid: 1.5 })],
    ['a heartbeat past the year 9999', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), beat: 1e16 })],
    ['a start that is text', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), started: '2026' })],
    ['an http address that is a number', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), http: 9808 })],
  ])('leaves out a value that is not a record: %s', (_what, text) => {
    expect(decodeReplicaRecord('x', text)).toBeUndefined();
  });
});

describe('which replicas are live', () => {
  const records = { a: encodeReplicaRecord(record('a')), b: encodeReplicaRecord(record('b')), junk: 'not a record' };

  it('keeps a record until its expiry and drops it at that very instant', () => {
    const expiries = ['a', String(T0 + 10_000), 'b', String(T0 + 12_000)];
    expect(liveReplicas(records, expiries, T0 + 9_999).map((r) => r.instance)).toEqual(['a', 'b']);
    expect(liveReplicas(records, expiries, T0 + 10_000).map((r) => r.instance)).toEqual(['b']);
    expect(liveReplicas(records, expiries, T0 + 12_000)).toEqual([]);
  });

  it('leaves out a record without an expiry, an expiry without a record, and a record it cannot read', () => {
    const expiries = ['b', String(T0 + 12_000), 'gone', String(T0 + 12_000), 'junk', String(T0 + 12_000)];
    expect(liveReplicas({ a: records.a, b: records.b, junk: records.junk }, expiries, T0).map((r) => r.instance)).toEqual(['b']);
  });
});

describe('the listing of replicas', () => {
  it('takes the leader from the lock, not from what a record says of itself, and lists it first', () => {
    // "old" still says leader (its last heartbeat was before the handover); the lock names "new".
    const old = record('old', { role: 'leader', startedAtMs: T0 - 60_000 });
    const fresh = record('new', { role: 'standby', startedAtMs: T0 });
    const other = record('other', { startedAtMs: T0 - 30_000 });
    const list = replicaStatuses([old, fresh, other], { instance: 'new' }, T0 + 6_500);
    expect(list.map((r) => [r.instance, r.role])).toEqual([
      ['new', 'leader'],
      ['old', 'standby'],
      ['other', 'standby'],
    ]);
    expect(list[0]).toMatchObject({ heartbeatAgeMs: 1500, startedAt: '2026-11-23T04:00:00+00:00', http: '127.0.0.1:9808' });
  });

  it('lists every replica as a standby when nobody holds the lock, and a clock ahead of the reader as age 0', () => {
    const list = replicaStatuses([record('a', { role: 'leader', beatAtMs: T0 + 9000 })], undefined, T0 + 8000);
    expect(list).toMatchObject([{ instance: 'a', role: 'standby', heartbeatAgeMs: 0 }]);
  });

  it('says a heartbeat age in tenths of a second while it is fresh', () => {
    expect([ageText(400), ageText(9_940), ageText(42_000), ageText(600_000)]).toEqual(['0.4 s ago', '9.9 s ago', '42 s ago', '10 min ago']);
  });
});

describe('the heartbeat period', () => {
  it('is 2 s, or a third of a shorter lock TTL, so that three heartbeats fit in the time a record counts', () => {
    expect(heartbeatIntervalMs(10_000)).toBe(2000);
    expect(heartbeatIntervalMs(2000)).toBe(666);
    expect(heartbeatIntervalMs(1000)).toBe(333);
  });
});
