/**
 * The fast reader of UTC date-times (src/time/utc-date-time.ts) held to Luxon's ISO reader, the
 * oracle parseIsoDateTime used alone before it: on random texts of the shape, with fields in and out
 * of range, every offset spelling and both separators, it answers exactly as Luxon does or leaves
 * the text to it.
 */
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { readUtcDateTime } from '../../src/time/utc-date-time.js';
import { parseIsoDateTime } from '../../src/time/zone.js';
import { int, pick, prng } from '../support/prng.js';

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function luxon(text: string, zone: string): number | undefined {
  const parsed = DateTime.fromISO(text.replace(' ', 'T'), { zone, setZone: true });
  return parsed.isValid ? parsed.toMillis() : undefined;
}

describe('readUtcDateTime', () => {
  it('reads what databases hand over as Luxon does, and leaves everything else to it', () => {
    const r = prng(20261123);
    let fast = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const year = pick(r, [int(r, 1970, 2100), int(r, 0, 9999), 2024, 2000, 1900, 2100]);
      const month = int(r, 0, 13);
      const day = int(r, 0, 32);
      const hour = pick(r, [int(r, 0, 23), 24, 0, 23]);
      const minute = pick(r, [int(r, 0, 59), 60]);
      const second = pick(r, [int(r, 0, 59), 60]);
      const fraction = pick(r, [
        '',
        `.${pad(int(r, 0, 999), 3)}`,
        `.${pad(int(r, 0, 999_999), 6)}`,
        `.${int(r, 0, 9)}`,
        `.${pad(int(r, 0, 999_999_999), 9)}`,
      ]);
      const offset = pick(r, ['', 'Z', '+00', '-00', '+00:00', '+0000', '+01', '-05:30', 'z']);
      const separator = pick(r, ['T', ' ', 't']);
      const zone = pick(r, ['UTC', 'Europe/Berlin']);
      const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}${separator}${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${fraction}${offset}`;
      const read = readUtcDateTime(text, zone);
      if (read === null) continue;
      fast += 1;
      expect({ text, zone, ms: read }).toEqual({ text, zone, ms: luxon(text, zone) });
    }
    // The shapes it is for are read by it (not all left to Luxon, which would make it pointless).
    expect(fast).toBeGreaterThan(1_000);
    expect(readUtcDateTime('2026-11-23 05:00:00.123456+00', 'UTC')).toBe(Date.UTC(2026, 10, 23, 5, 0, 0, 123));
    expect(readUtcDateTime('2026-11-23 05:00:00', 'Europe/Berlin')).toBeNull();
  });

  it('leaves parseIsoDateTime answering as before on the dates that do not exist', () => {
    for (const text of ['2026-02-29 00:00:00+00', '2026-02-30T00:00:00Z', '2026-13-01 00:00:00+00', '2026-01-01 24:00:00+00'])
      expect(parseIsoDateTime(text, 'UTC')).toBe(luxon(text, 'UTC'));
    expect(parseIsoDateTime('2024-02-29 12:00:00+00', 'UTC')).toBe(Date.UTC(2024, 1, 29, 12));
  });
});
