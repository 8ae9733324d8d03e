/**
 * Celery's time fields (celery-protocol.md §1.5). Python writes `datetime.isoformat()` of an aware
 * UTC datetime; tsbeat always writes six fraction digits and `+00:00` (never `Z`), the one form
 * every worker version parses, including 5.3.0–5.3.4 on Python ≤ 3.10 (`fromisoformat`).
 */
import { parseIsoDateTime } from '../time/zone.js';

const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/**
 * `YYYY-MM-DDTHH:MM:` of the last two minutes formatted: messages rendered together share them
 * (one for publish times, one for slots), and formatting the date is most of the cost.
 */
const minuteCache: { minute: number; text: string }[] = [
  { minute: Number.NaN, text: '' },
  { minute: Number.NaN, text: '' },
];

function minutePrefix(minute: number): string {
  const [a, b] = minuteCache as [{ minute: number; text: string }, { minute: number; text: string }];
  if (a.minute === minute) return a.text;
  if (b.minute === minute) return b.text;
  const text = new Date(minute * 60_000).toISOString().slice(0, 17);
  minuteCache[1] = a;
  minuteCache[0] = { minute, text };
  return text;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` for an instant in integer epoch microseconds. */
export function isoFromMicros(epochUs: number): string {
  const us = Math.round(epochUs);
  const ms = Math.floor(us / 1000);
  const minute = Math.floor(ms / 60_000);
  const inMinute = ms - minute * 60_000;
  const seconds = Math.floor(inMinute / 1000);
  return `${minutePrefix(minute)}${seconds < 10 ? '0' : ''}${seconds}.${PAD3[inMinute - seconds * 1000]}${PAD3[us - ms * 1000]}+00:00`;
}

/** The same format for an instant in epoch milliseconds. */
export function isoFromMillis(epochMs: number): string {
  return isoFromMicros(epochMs * 1000);
}

/**
 * An ISO-8601 date-time to epoch milliseconds, or undefined when it is not a real one. Without an
 * offset it is read as UTC, as Celery's `maybe_make_aware` does.
 */
export function parseIsoInstant(text: string): number | undefined {
  return parseIsoDateTime(text, 'UTC');
}
