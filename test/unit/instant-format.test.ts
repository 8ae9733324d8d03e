import { describe, expect, it } from 'vitest';
import { describeInterval } from '../../src/core/interval.js';
import { formatInstant, parseIsoDateTime } from '../../src/time/zone.js';
import { BeatError, ErrorCode } from '../../src/base/errors.js';

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('instants as ISO 8601', () => {
  it('refuses an instant it cannot write as a four-digit-year date instead of printing "+000NaN-NaN-…" or "+31690765-…"', () => {
    for (const [ms, zone] of [
      [Number.NaN, 'UTC'],
      [Number.POSITIVE_INFINITY, 'UTC'],
      [1e15 * 1000, 'UTC'],
      [Date.parse('0000-12-31T23:59:59.999Z'), 'UTC'],
      [Date.parse('10000-01-01T00:00:00Z'), 'UTC'],
      // Still 9999 in UTC, already 10000 on Tokyo's wall clock.
      [Date.parse('9999-12-31T23:00:00Z'), 'Asia/Tokyo'],
    ] as const) {
      const error = errorOf(() => formatInstant(ms, zone));
      expect(error, String(ms)).toBeInstanceOf(BeatError);
      expect((error as BeatError).code).toBe(ErrorCode.InstantOutOfRange);
      expect((error as BeatError).message).toBe(
        `the instant ${String(ms)} (ms since 1970) is outside the years 0001-9999 that an ISO-8601 date can show in ${zone}`,
      );
    }
    expect(formatInstant(Date.parse('0001-01-01T00:00:00Z'), 'UTC')).toBe('0001-01-01T00:00:00+00:00');
    expect(formatInstant(Date.parse('9999-12-31T23:59:59.999Z'), 'UTC')).toBe('9999-12-31T23:59:59.999+00:00');
  });

  it('drops a fraction of a millisecond rather than printing "44.291.10009765625"', () => {
    expect(formatInstant(Date.parse('2026-11-22T18:55:27.924Z') + 0.10009765625, 'UTC')).toBe('2026-11-22T18:55:27.924+00:00');
  });

  it('reads only real dates: 2026-02-30 is refused, not rolled over into March as Date.parse does', () => {
    expect(Date.parse('2026-02-30T00:00:00Z')).toBe(Date.parse('2026-03-02T00:00:00Z'));
    expect(parseIsoDateTime('2026-02-30T00:00:00Z', 'UTC')).toBeUndefined();
    expect(parseIsoDateTime('2027-02-29T00:00:00Z', 'UTC')).toBeUndefined();
    expect(parseIsoDateTime('2026-04-31T12:00:00+02:00', 'UTC')).toBeUndefined();
    expect(parseIsoDateTime('2028-02-29T00:00:00Z', 'UTC')).toBe(Date.parse('2028-02-29T00:00:00Z'));
    expect(parseIsoDateTime('2027-07-01 09:00', 'America/New_York')).toBe(Date.parse('2027-07-01T13:00:00Z'));
  });
});

describe('describeInterval', () => {
  it('refuses an interval it cannot describe instead of printing "every " or "every Infinityd"', () => {
    for (const everyMs of [0, 0.1, Number.POSITIVE_INFINITY, Number.NaN, -1000]) {
      expect(() => describeInterval({ kind: 'interval', everyMs, relative: false }), String(everyMs)).toThrow(
        `an interval of ${String(everyMs)} ms cannot be described: intervals are whole milliseconds from 1`,
      );
    }
    expect(describeInterval({ kind: 'interval', everyMs: 100, relative: false })).toBe('every 100ms');
    expect(describeInterval({ kind: 'interval', everyMs: 36_525 * 86_400_000, relative: true })).toBe('every 36525d, aligned to the day');
  });
});
