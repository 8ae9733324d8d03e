/**
 * A deployment's recorded definition (control/deployment-definition.ts, redis/definition-codec.ts):
 * the definition of a config as parseConfig read it, its digest (the same file, the same one), the
 * stored format read back as untrusted (every other value named, never used), the size bound, and
 * the plan of one config against another, calendars and zones read on each side.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { definitionOf, planConfig } from '../../src/control/deployment-definition.js';
import type { DeploymentDefinition } from '../../src/control/deployment-definition.js';
import { decodeDefinition, definitionBody, encodeDefinition } from '../../src/redis/definition-codec.js';

const NOW = Date.parse('2026-12-23T12:00:00Z');

function defined(value: Record<string, unknown>): DeploymentDefinition {
  const definition = definitionOf(parseConfig({ name: 'd', broker: { url: 'redis://127.0.0.1:6379/0' }, ...value }, 'beat.yaml'));
  if (definition === undefined) throw new Error('no definition');
  return definition;
}

describe('definitionOf and definitionDigest', () => {
  it('holds the entries and calendars as written and the settings that shape every entry', () => {
    const d = defined({
      timezone: 'Europe/Berlin',
      calendars: { hol: ['2026-12-24'] },
      beatSchedule: { a: { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['hol'] } },
    });
    expect(d.source).toBe('beat.yaml');
    expect(d.entries).toEqual({ a: { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['hol'] } });
    expect(d.settings).toEqual({
      timezone: 'Europe/Berlin',
      calendars: { hol: ['2026-12-24'] },
      taskDefaultQueue: 'celery',
      taskRoutes: [],
      taskProtocol: 2,
    });
    expect(d.configHash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('gives the same digest for the same file, another for any change of an entry or a setting', () => {
    const file = { beatSchedule: { a: { task: 't', schedule: 60 }, b: { schedule: 30, task: 'u' } } };
    const one = definitionBody(defined(file)).digest;
    expect(definitionBody(defined(structuredClone(file))).digest).toBe(one);
    expect(one).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(definitionBody(defined({ beatSchedule: { ...file.beatSchedule, a: { task: 't', schedule: 61 } } })).digest).not.toBe(one);
    expect(definitionBody(defined({ ...file, timezone: 'Asia/Tokyo' })).digest).not.toBe(one);
  });
});

describe('the stored format', () => {
  const d = defined({ beatSchedule: { a: { task: 't', schedule: 60 } } });

  it('reads back what it wrote', () => {
    const body = definitionBody(d);
    const { fields, refused } = encodeDefinition(d, body, NOW, 1 << 20, 'entryLimits.maxStoreBytes');
    expect(refused).toBeUndefined();
    expect(decodeDefinition(fields)).toEqual({ kind: 'recorded', definition: d, digest: body.digest, atMs: NOW });
  });

  it('records a definition over the limit as refused, naming its size and the limit', () => {
    const { fields, refused } = encodeDefinition(d, definitionBody(d), NOW, 10, 'entryLimits.maxStoreBytes');
    expect(refused).toMatch(/^the config's definition is \d+ bytes, over entryLimits\.maxStoreBytes \(10\); it was not recorded$/);
    expect(fields['body']).toBeUndefined();
    expect(decodeDefinition(fields)).toEqual({ kind: 'refused', reason: refused, configHash: d.configHash, atMs: NOW });
  });

  it('names every value it never writes as unreadable', () => {
    const head = { v: '1', digest: 'sha256:x', configHash: 'c', source: 's', at: '1' };
    expect(decodeDefinition({})).toEqual({ kind: 'none' });
    expect(decodeDefinition({ ...head, v: '2', body: '{}' })).toMatchObject({ kind: 'unreadable', problem: 'its format is "2", not 1' });
    expect(decodeDefinition({ ...head, at: 'soon', body: '{}' })).toMatchObject({ kind: 'unreadable' });
    expect(decodeDefinition(head)).toMatchObject({ kind: 'unreadable', problem: 'it has neither body nor refused' });
    expect(decodeDefinition({ ...head, body: '{' })).toMatchObject({ kind: 'unreadable', problem: 'its body is not JSON' });
    expect(decodeDefinition({ ...head, body: '{"settings":{},"entries":[]}' })).toMatchObject({
      kind: 'unreadable',
      problem: 'its body is not {settings, entries}',
    });
  });
});

describe('planConfig', () => {
  const plan = (before: Record<string, unknown>, after: Record<string, unknown>) =>
    planConfig({ deployment: 'd', recorded: { ...defined(before), atMs: NOW - 1000 }, next: defined(after), nowMs: NOW });

  it('reads each side in its own calendars: a calendar changed shows in the settings and in the fires of the entry changed with it', () => {
    const entry = { task: 't', schedule: { cron: '0 9 * * *' }, exclude: ['hol'] };
    const p = plan(
      { calendars: { hol: ['2026-12-24'] }, beatSchedule: { a: entry } },
      { calendars: { hol: ['2026-12-25'] }, beatSchedule: { a: { ...entry, args: [1] } } },
    );
    expect(p.settings).toEqual([{ path: 'calendars.hol', before: '["2026-12-24"]', after: '["2026-12-25"]' }]);
    const a = p.entries[0];
    expect(a?.action).toBe('change');
    expect(a?.firesBefore).toEqual(['2026-12-25T09:00:00+00:00', '2026-12-26T09:00:00+00:00', '2026-12-27T09:00:00+00:00']);
    expect(a?.firesAfter).toEqual(['2026-12-24T09:00:00+00:00', '2026-12-26T09:00:00+00:00', '2026-12-27T09:00:00+00:00']);
    expect(a?.changes).toEqual([
      { path: 'args', after: '[1]' },
      { path: 'calendars.hol', before: '["2026-12-24"]', after: '["2026-12-25"]' },
    ]);
  });

  it('changes an entry whose definition is the same when a calendar it names changed, and not one that names none', () => {
    const p = plan(
      {
        calendars: { hol: ['2026-12-24'], other: [] },
        beatSchedule: { a: { task: 't', schedule: { cron: '0 9 * * *' }, exclude: [{ calendar: 'hol' }] }, b: { task: 't', schedule: 60 } },
      },
      {
        calendars: { hol: ['2026-12-24', '2026-12-25'], other: [] },
        beatSchedule: { a: { task: 't', schedule: { cron: '0 9 * * *' }, exclude: [{ calendar: 'hol' }] }, b: { task: 't', schedule: 60 } },
      },
    );
    expect(p.counts).toEqual({ add: 0, change: 1, remove: 0, unchanged: 1 });
    expect(p.entries[0]).toMatchObject({
      name: 'a',
      action: 'change',
      changes: [{ path: 'calendars.hol', before: '["2026-12-24"]', after: '["2026-12-24","2026-12-25"]' }],
      firesBefore: ['2026-12-25T09:00:00+00:00', '2026-12-26T09:00:00+00:00', '2026-12-27T09:00:00+00:00'],
      firesAfter: ['2026-12-26T09:00:00+00:00', '2026-12-27T09:00:00+00:00', '2026-12-28T09:00:00+00:00'],
    });
  });

  it('compares an entry that names no timezone in its config’s, and counts each action', () => {
    const p = plan(
      {
        timezone: 'UTC',
        beatSchedule: {
          keep: { task: 't', schedule: 60 },
          own: { task: 't', schedule: 60, timezone: 'UTC' },
          old: { task: 't', schedule: 60 },
        },
      },
      {
        timezone: 'UTC',
        beatSchedule: {
          keep: { task: 't', schedule: 60, timezone: 'UTC' },
          own: { task: 't', schedule: 60, timezone: 'UTC' },
          added: { task: 't', schedule: 60 },
        },
      },
    );
    expect(p.counts).toEqual({ add: 1, change: 0, remove: 1, unchanged: 2 });
    expect(p.entries.map((e) => [e.name, e.action])).toEqual([
      ['added', 'add'],
      ['keep', 'unchanged'],
      ['old', 'remove'],
      ['own', 'unchanged'],
    ]);
    expect(p.entries.find((e) => e.name === 'old')).toMatchObject({ dropped: [] });
    expect(p.recorded).toEqual({ configHash: expect.any(String) as string, source: 'beat.yaml', at: new Date(NOW - 1000).toISOString() });
  });
});
