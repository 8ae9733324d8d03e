/**
 * The replicas registry's pure parts: the record codec (what a reader accepts), which records are
 * live at an instant of Redis's clock (expiry strictly after it) and how old their heartbeats are by
 * that clock, the listing (the lock names the leader, whatever a record says of itself), and the
 * heartbeat's period for a lock TTL.
 */
import { describe, expect, it } from 'vitest';
import { ageText, replicaStatuses } from '../../src/control/replicas.js';
import type { LiveReplica, ReplicaRecord } from '../../src/control/replicas.js';
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
const live = (instance: string, over: Partial<LiveReplica> = {}): LiveReplica => ({ ...record(instance), heartbeatAgeMs: 0, ...over });

describe('the replica record codec', () => {
  it('reads back what it writes, the instance coming from the hash field', () => {
    const r = record('host-a:4242:abcd1234', { role: 'leader', http: null, ttlMs: 10_000 });
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
      ttl: 10_000,
    });
    expect(decodeReplicaRecord('host-a:4242:abcd1234', text)).toEqual(r);
    // A record without its ttl (from a tsbeat that did not write it) is still one.
    expect(decodeReplicaRecord('x', encodeReplicaRecord(record('x')))).toEqual(record('x'));
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
    ['a ttl of 0', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), ttl: 0 })],
    ['a ttl that is text', JSON.stringify({ ...JSON.parse(encodeReplicaRecord(record('x'))), ttl: '10s' })],
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

  it("ages a heartbeat by Redis's clock (expiry less ttl), whatever the replica's own clock said", () => {
    // a's clock was 30 s ahead of Redis's when it beat at T0 (by Redis's clock), with a ttl of 10 s.
    const skewed = { a: encodeReplicaRecord(record('a', { beatAtMs: T0 + 30_000, ttlMs: 10_000 })), b: records.b };
    const expiries = ['a', String(T0 + 10_000), 'b', String(T0 + 12_000)];
    const [a, b] = liveReplicas(skewed, expiries, T0 + 2_500);
    expect(a).toMatchObject({ instance: 'a', beatAtMs: T0 + 30_000, heartbeatAgeMs: 2_500 });
    // Without a ttl (an older writer): its own beat against Redis's clock, never below 0.
    expect(b).toMatchObject({ instance: 'b', heartbeatAgeMs: 0 });
    expect(liveReplicas(skewed, expiries, T0 + 9_000)[1]).toMatchObject({ instance: 'b', heartbeatAgeMs: 4_000 });
  });

  it('leaves out a record without an expiry, an expiry without a record, and a record it cannot read', () => {
    const expiries = ['b', String(T0 + 12_000), 'gone', String(T0 + 12_000), 'junk', String(T0 + 12_000)];
    expect(liveReplicas({ a: records.a, b: records.b, junk: records.junk }, expiries, T0).map((r) => r.instance)).toEqual(['b']);
  });
});

describe('the listing of replicas', () => {
  it('takes the leader from the lock, not from what a record says of itself, and lists it first', () => {
    // "old" still says leader (its last heartbeat was before the handover); the lock names "new".
    const old = live('old', { role: 'leader', startedAtMs: T0 - 60_000 });
    const fresh = live('new', { role: 'standby', startedAtMs: T0, heartbeatAgeMs: 1500 });
    const other = live('other', { startedAtMs: T0 - 30_000 });
    const list = replicaStatuses([old, fresh, other], { instance: 'new' });
    expect(list.map((r) => [r.instance, r.role])).toEqual([
      ['new', 'leader'],
      ['old', 'standby'],
      ['other', 'standby'],
    ]);
    expect(list[0]).toMatchObject({
      heartbeatAgeMs: 1500,
      startedAt: '2026-11-23T04:00:00+00:00',
      lastHeartbeat: '2026-11-23T04:00:05+00:00',
      http: '127.0.0.1:9808',
    });
  });

  it('lists every replica as a standby when nobody holds the lock', () => {
    const list = replicaStatuses([live('a', { role: 'leader' })], undefined);
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
