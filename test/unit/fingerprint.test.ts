/**
 * The config fingerprint a leader publishes: what makes two configs "the same" for a standby, and
 * what the warning says when they are not.
 */
import { describe, expect, it } from 'vitest';
import {
  FINGERPRINT_MAX_NAMES,
  compareFingerprint,
  configFingerprint,
  fingerprintFields,
  parseFingerprint,
  stableJson,
} from '../../src/control/fingerprint.js';
import { parseConfig } from '../../src/config/load.js';

const config = (beatSchedule: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  parseConfig({ name: 'fp', beatSchedule, ...extra }, 'fingerprint.test');
const fingerprintOf = (beatSchedule: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  configFingerprint(config(beatSchedule, extra));
/** As a standby reads it back from the leader hash. */
const published = (beatSchedule: Record<string, unknown>) => parseFingerprint(fingerprintFields(fingerprintOf(beatSchedule)));

describe('config fingerprint', () => {
  it('the same config written with its keys in another order (YAML against JSON) (and its entries in another order) is not reported as different', () => {
    const a = fingerprintOf({
      a: { task: 't.a', schedule: 5, kwargs: { x: 1, y: 2 } },
      b: { task: 't.b', schedule: { cron: '*/5 * * * *' } },
    });
    const b = fingerprintOf({
      b: { schedule: { cron: '*/5 * * * *' }, task: 't.b' },
      a: { kwargs: { y: 2, x: 1 }, schedule: 5, task: 't.a' },
    });
    expect(b.configHash).toBe(a.configHash);
    expect(compareFingerprint(a, parseFingerprint(fingerprintFields(b)), 'fp', 'leader-1')).toBeUndefined();
  });

  it('stableJson writes what JSON.stringify writes with each object sorted by a replacer (the text the fingerprint always hashed)', () => {
    const bySortingReplacer = (value: unknown): string =>
      JSON.stringify(value, (_key, v: unknown) =>
        v !== null && typeof v === 'object' && !Array.isArray(v)
          ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
          : v,
      );
    const shared = { z: [2, 1], a: { d: 1, c: 2 } };
    const tricky = {
      b: [3, undefined, { z: 1, a: new Date(0) }, () => 1, [{ y: 1, x: null }]],
      a: { '10': 'x', '2': 'y', c: undefined, f: () => 1, '': 0, Z: 'upper before lower' },
      sorted: { a: 1, b: { c: 2 } },
      shared,
      again: shared,
      text: 'quote " and \u2028',
      numbers: [NaN, -0, 1e21, Infinity],
    };
    expect(stableJson(tricky)).toBe(
      '{"a":{"2":"y","10":"x","":0,"Z":"upper before lower"},"again":{"a":{"c":2,"d":1},"z":[2,1]},' +
        '"b":[3,null,{"a":"1970-01-01T00:00:00.000Z","z":1},null,[{"x":null,"y":1}]],"numbers":[null,0,1e+21,null],' +
        '"shared":{"a":{"c":2,"d":1},"z":[2,1]},"sorted":{"a":1,"b":{"c":2}},"text":"quote \\" and \u2028"}',
    );
    expect(stableJson(tricky)).toBe(bySortingReplacer(tricky));
    // A `__proto__` key (JSON.parse and the YAML reader keep one, as in a kwarg's value) stays a key;
    // a class instance, a boxed number and a Map are written as the replacer copied them; a
    // toJSON is asked once, with its key.
    const parsedProto = JSON.parse('{"z": 1, "__proto__": {"x": 1}}') as unknown;
    class Point {
      constructor(
        readonly y: number,
        readonly x: number,
      ) {}
    }
    const odd = {
      parsedProto,
      point: new Point(2, 1),
      boxed: [new Number(5), new String('ab')],
      map: new Map([['a', 1]]),
      keyed: { b: { toJSON: (key: string) => ({ key, inner: { toJSON: () => 'asked as a property' } }) } },
      twice: { toJSON: () => ({ toJSON: () => 'not asked: what toJSON answered is not asked again' }) },
    };
    expect(stableJson(parsedProto)).toBe('{"__proto__":{"x":1},"z":1}');
    expect(stableJson(odd)).toBe(bySortingReplacer(odd));
    expect(stableJson({ keyed: odd.keyed, twice: odd.twice })).toBe('{"keyed":{"b":{"inner":"asked as a property","key":"b"}},"twice":{}}');
    // A parsed config: entries that share one compiled cron spec, an rrule, routes.
    const parsed = config(
      {
        nightly: { task: 't.n', schedule: { crontab: { minute: 0, hour: 3 } }, kwargs: { b: 1, a: [1, { y: 2, x: 3 }] } },
        other: { task: 't.o', schedule: { crontab: { minute: 0, hour: 3 } }, options: { queue: 'q', priority: 5 } },
        weekly: { task: 't.w', schedule: { rrule: 'FREQ=WEEKLY;BYDAY=MO,WE' }, timezone: 'Europe/Berlin' },
      },
      { taskRoutes: { 't.*': { queue: 'routed' } } },
    );
    expect(stableJson(parsed)).toBe(bySortingReplacer(parsed));
    // The input is left as it was.
    expect(Object.keys(tricky)).toEqual(['b', 'a', 'sorted', 'shared', 'again', 'text', 'numbers']);
  });

  it('a second deployment on the same name: names the entries only this config has, and only the leader has, and says to set `name`', () => {
    const own = fingerprintOf({ reports: { task: 't.r', schedule: 60 }, invoices: { task: 't.i', schedule: 60 } });
    const mismatch = compareFingerprint(
      own,
      published({ reports: { task: 't.r', schedule: 60 }, cleanup: { task: 't.c', schedule: 60 } }),
      'default',
      'host:1:abc',
    );
    expect(mismatch).toMatchObject({ onlyHere: ['invoices'], onlyLeader: ['cleanup'] });
    expect(mismatch?.message).toBe(
      'this config differs from the one the leader host:1:abc of deployment "default" runs: this config has 1 entry the leader lacks ("invoices") and lacks 1 of the leader\'s ("cleanup"). ' +
        'The leader publishes only its own entries. If these are two deployments, give each its own `name` in its config; during a rolling update this passes once the leader runs the new config.',
    );
  });

  it('the same entries with another schedule, task or routing are reported as defined differently', () => {
    const leader = published({ a: { task: 't.a', schedule: 60 } });
    for (const own of [
      fingerprintOf({ a: { task: 't.a', schedule: 30 } }),
      fingerprintOf({ a: { task: 't.b', schedule: 60 } }),
      fingerprintOf({ a: { task: 't.a', schedule: 60 } }, { taskDefaultQueue: 'other' }),
    ]) {
      expect(compareFingerprint(own, leader, 'fp', 'l')).toMatchObject({
        summary: 'the same entries, defined differently',
        onlyHere: [],
        onlyLeader: [],
      });
    }
  });

  it('beyond the published-names limit only the counts are compared (the leader record stays small)', () => {
    const many = Object.fromEntries(Array.from({ length: FINGERPRINT_MAX_NAMES + 1 }, (_, i) => [`e${i}`, { task: 't', schedule: 60 }]));
    const fields = fingerprintFields(fingerprintOf(many));
    expect(fields['entryNames']).toBeUndefined();
    const mismatch = compareFingerprint(fingerprintOf({ a: { task: 't', schedule: 60 } }), parseFingerprint(fields), 'fp', 'l');
    expect(mismatch?.summary).toBe(`other entries (${FINGERPRINT_MAX_NAMES + 1} there, 1 here)`);
  });

  it('a leader that published no fingerprint (an older tsbeat) is not reported', () => {
    expect(
      compareFingerprint(fingerprintOf({ a: { task: 't', schedule: 60 } }), parseFingerprint({ instance: 'x' }), 'fp', 'l'),
    ).toBeUndefined();
  });
});
