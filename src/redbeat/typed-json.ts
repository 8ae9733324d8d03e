/**
 * RedBeat's typed JSON values (redbeat/decoder.py, RedBeatJSONEncoder / RedBeatJSONDecoder): an
 * object with `__type__` stands for a Python object. Only the datetime is read and written here;
 * the schedule types are mapped to tsbeat's forms in definition.ts.
 *   datetime  { year, month, day, hour, minute, second, microsecond, timezone }: the wall time in
 *             `timezone`, which is a zone name ("UTC", "Europe/Berlin"), a UTC offset in seconds
 *             (a fixed-offset tzinfo), or absent (the decoder reads UTC)
 */
import { gapEnd, localParts, offsetMinutes, wallToInstants } from '../time/zone.js';

/** The `__type__` of a typed value, or undefined for a plain one. */
export function typeOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const type = (value as Record<string, unknown>)['__type__'];
  return typeof type === 'string' ? type : undefined;
}

const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * The instant (epoch ms) of a RedBeat datetime, or a reason it is not one. As Python reads it (fold=0):
 * a wall time that a zone repeats (DST overlap) is the first of the two; one it skips (DST gap)
 * is read with the offset before the gap.
 */
export function decodeDatetime(value: unknown): number | string {
  if (typeOf(value) !== 'datetime') return 'not a RedBeat datetime';
  const d = value as Record<string, unknown>;
  const { year, month, day } = d;
  const hour = d['hour'] ?? 0;
  const minute = d['minute'] ?? 0;
  const second = d['second'] ?? 0;
  const microsecond = d['microsecond'] ?? 0;
  if (!int(year) || !int(month) || !int(day) || !int(hour) || !int(minute) || !int(second) || !int(microsecond))
    return 'a RedBeat datetime needs whole numbers year, month, day (and hour, minute, second, microsecond)';
  const zone = d['timezone'] ?? 'UTC';
  const wall = { year, month, day, hour, minute, second };
  const fraction = Math.floor(microsecond / 1000);
  if (typeof zone === 'number') return Date.UTC(year, month - 1, day, hour, minute, second) - zone * 1000 + fraction;
  if (typeof zone !== 'string') return 'the timezone of a RedBeat datetime must be a zone name or an offset in seconds';
  try {
    const instants = wallToInstants(zone, wall);
    if (instants[0] !== undefined) return instants[0] + fraction;
    // Python reads a wall time in a gap with the offset before the gap (fold=0).
    const wallAsUtc = Date.UTC(year, month - 1, day, hour, minute, second);
    return wallAsUtc - offsetMinutes(zone, gapEnd(zone, wall) - 1) * 60_000 + fraction;
  } catch {
    return `unknown time zone ${JSON.stringify(zone)}`;
  }
}

/** An instant as RedBeat's encoder writes a UTC datetime, in its key order. */
export function encodeDatetime(ms: number): Record<string, unknown> {
  const p = localParts('UTC', ms);
  return {
    __type__: 'datetime',
    year: p.year,
    month: p.month,
    day: p.day,
    hour: p.hour,
    minute: p.minute,
    second: p.second,
    microsecond: p.millisecond * 1000,
    timezone: 'UTC',
  };
}

/** JSON text as Python's json.dumps writes it by default (", " and ": " separators), for values RedBeat reads back. */
export function pythonJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
    .join(', ')}}`;
}

/** A wall time (in UTC's arithmetic) as the rrule schema takes it: "2026-01-05T09:00:00". */
export function wallText(wallMs: number): string {
  const p = localParts('UTC', wallMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${String(p.year).padStart(4, '0')}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}:${two(p.second)}`;
}
