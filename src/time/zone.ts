/**
 * Time-zone primitives for the schedule engine: UTC offsets, wall time <-> instants, DST gaps.
 *
 * Pure (no clock) and built for the hot path: luxon's `IANAZone.offset` costs ~5 µs (an Intl
 * format), so offsets are cached per zone in UTC-day buckets. A bucket is probed at its two ends;
 * when they differ, the transition(s) inside are located by bisection to the second. This is exact
 * as long as a zone never has two transitions within one UTC day that cancel out; no zone in
 * tzdata 2025b has two transitions closer than 4 days (checked over every TZif file).
 *
 * Wall times are handled as "wall-as-UTC" milliseconds: the epoch ms that the wall fields would
 * denote in UTC. instant = wall - offset.
 */
import { DateTime, IANAZone } from 'luxon';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { readUtcDateTime } from './utc-date-time.js';

export const DAY_MS = 86_400_000;

/**
 * UTC itself, the default zone: its offset is always 0, answered without Intl. The first Intl
 * time-zone lookup maps ICU's zone data into the process, about 8 MB of resident memory that a
 * UTC-only deployment never needs.
 */
const UTC_NAMES: ReadonlySet<string> = new Set(['UTC', 'Etc/UTC']);

/** A local calendar date and time of day, as shown on a wall clock. Month 1-12. */
export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Wall fields of an instant; weekday 0 = Sunday … 6 = Saturday. */
export interface LocalParts extends WallTime {
  readonly millisecond: number;
  readonly weekday: number;
}

// ---------------------------------------------------------------------------------------------
// Civil calendar arithmetic (proleptic Gregorian): plain integer maths, cheaper than Date objects
// in the hot path and free of Date.UTC's mapping of years 0-99 to 1900-1999.

/** Days since 1970-01-01 of a civil date (H. Hinnant's `days_from_civil`). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (month + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** The civil date of a day number (inverse of daysFromCivil). */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day: doy - Math.floor((153 * mp + 2) / 5) + 1 };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Weekday of a day number, 0 = Sunday (1970-01-01 was a Thursday). */
export function weekdayOfDays(days: number): number {
  return (((days + 4) % 7) + 7) % 7;
}

function wallMs(wall: WallTime): number {
  const { year, month, day, hour, minute, second } = wall;
  const ok =
    Number.isInteger(year) &&
    Number.isInteger(month) &&
    month >= 1 &&
    month <= 12 &&
    Number.isInteger(day) &&
    day >= 1 &&
    day <= daysInMonth(year, month) &&
    Number.isInteger(hour) &&
    hour >= 0 &&
    hour <= 23 &&
    Number.isInteger(minute) &&
    minute >= 0 &&
    minute <= 59 &&
    Number.isInteger(second) &&
    second >= 0 &&
    second <= 59;
  if (!ok) throw new RangeError(`invalid wall time ${JSON.stringify(wall)}`);
  return daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000;
}

// ---------------------------------------------------------------------------------------------
// Offset cache

interface Bucket {
  /** Offset (ms) at the bucket's first instant. */
  readonly start: number;
  /** Instants inside the bucket where the offset changes, ascending; empty for most days. */
  readonly at: readonly number[];
  /** offsets[i] applies from at[i] on. */
  readonly offsets: readonly number[];
}

/** Bounds memory for long-running processes that wander far in time; refilled on demand. */
const MAX_BUCKETS = 20_000;

/**
 * Cached offsets of one zone. Exposed for the cron engine, which needs a few offset lookups per
 * call and must not pay a Map lookup on the zone name each time.
 */
export class ZoneOffsets {
  /** Undefined for UTC (see UTC_NAMES). */
  private readonly zone: IANAZone | undefined;
  private readonly buckets = new Map<number, Bucket>();
  private readonly probes = new Map<number, number>();

  constructor(readonly name: string) {
    this.zone = UTC_NAMES.has(name) ? undefined : IANAZone.create(name);
  }

  /** UTC offset in ms at an instant (luxon's answer, rounded to the millisecond). */
  offsetMs(ms: number): number {
    const b = this.bucket(Math.floor(ms / DAY_MS));
    if (b.at.length === 0) return b.start;
    let offset = b.start;
    for (let i = 0; i < b.at.length && (b.at[i] as number) <= ms; i++) offset = b.offsets[i] as number;
    return offset;
  }

  /** True when the offset is the same at every instant of [fromMs, toMs]. */
  isConstant(fromMs: number, toMs: number): boolean {
    const first = Math.floor(fromMs / DAY_MS);
    const last = Math.floor(toMs / DAY_MS);
    const offset = this.offsetMs(fromMs);
    for (let k = first; k <= last; k++) {
      const b = this.bucket(k);
      if (k > first && b.start !== offset) return false;
      for (const t of b.at) if (t > fromMs && t <= toMs) return false;
    }
    return true;
  }

  /**
   * The constant-offset pieces of [fromMs, toMs], in order: piece i runs from its `start` (the
   * first one from `fromMs`) to the next piece's start, with `offset` (ms). Each start after the
   * first is a transition instant, exact to the second.
   */
  segments(fromMs: number, toMs: number): Array<{ start: number; offset: number }> {
    const first = Math.floor(fromMs / DAY_MS);
    const last = Math.floor(toMs / DAY_MS);
    let current = this.offsetMs(fromMs);
    const out = [{ start: fromMs, offset: current }];
    for (let k = first; k <= last; k++) {
      const b = this.bucket(k);
      if (k > first && b.start !== current) out.push({ start: k * DAY_MS, offset: (current = b.start) });
      for (let i = 0; i < b.at.length; i++) {
        const t = b.at[i] as number;
        const o = b.offsets[i] as number;
        if (t > fromMs && t <= toMs && o !== current) out.push({ start: t, offset: (current = o) });
      }
    }
    return out;
  }

  /** The instants whose wall time is `wall` (wall-as-UTC ms): 0 (gap), 1, or 2 (overlap), ascending. */
  instantsOfWall(wall: number): number[] {
    // §6: the offsets in effect a day either side (plus the middle, for safety) are the only
    // candidates; a candidate is real if the offset at the resulting instant is the candidate.
    const a = this.offsetMs(wall - DAY_MS);
    const b = this.offsetMs(wall);
    const c = this.offsetMs(wall + DAY_MS);
    const out: number[] = [];
    this.tryOffset(wall, a, out);
    if (b !== a) this.tryOffset(wall, b, out);
    if (c !== a && c !== b) this.tryOffset(wall, c, out);
    return out.length > 1 ? out.sort((x, y) => x - y) : out;
  }

  private tryOffset(wall: number, offset: number, out: number[]): void {
    const t = wall - offset;
    if (this.offsetMs(t) === offset && !out.includes(t)) out.push(t);
  }

  /**
   * First instant whose wall time is later than a nonexistent `wall`: the moment the clock jumps
   * over it. Bisection on whole seconds (tz transitions are whole seconds, and luxon's offsets are
   * constant within a second).
   */
  gapEndOfWall(wall: number): number {
    const o1 = this.offsetMs(wall - DAY_MS);
    const o2 = this.offsetMs(wall);
    const o3 = this.offsetMs(wall + DAY_MS);
    const after = (t: number): boolean => t + this.offsetMs(t) > wall;
    let lo = Math.floor((wall - Math.max(o1, o2, o3)) / 1000);
    let hi = Math.ceil((wall - Math.min(o1, o2, o3)) / 1000);
    if (after(lo * 1000) || !after(hi * 1000)) {
      throw new RangeError(`${this.name}: no clock jump over wall time ${isoWall(wall)}`);
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (after(mid * 1000)) hi = mid;
      else lo = mid;
    }
    return hi * 1000;
  }

  private probe(k: number): number {
    let o = this.probes.get(k);
    if (o === undefined) {
      o = this.luxonOffsetMs(k * DAY_MS);
      this.probes.set(k, o);
    }
    return o;
  }

  private luxonOffsetMs(ms: number): number {
    return this.zone === undefined ? 0 : Math.round(this.zone.offset(ms) * 60_000);
  }

  private bucket(k: number): Bucket {
    const cached = this.buckets.get(k);
    if (cached !== undefined) return cached;
    if (this.buckets.size >= MAX_BUCKETS) {
      this.buckets.clear();
      this.probes.clear();
    }
    const start = this.probe(k);
    const end = this.probe(k + 1);
    const at: number[] = [];
    const offsets: number[] = [];
    if (start !== end) this.locate(k * DAY_MS, start, (k + 1) * DAY_MS, end, at, offsets);
    // A transition exactly at the next bucket's start belongs to that bucket.
    while (at.length > 0 && (at[at.length - 1] as number) >= (k + 1) * DAY_MS) {
      at.pop();
      offsets.pop();
    }
    const b: Bucket = { start, at, offsets };
    this.buckets.set(k, b);
    return b;
  }

  /** Appends the transitions in (lo, hi] to at/offsets, given the offsets at both ends differ. */
  private locate(lo: number, olo: number, hi: number, ohi: number, at: number[], offsets: number[]): void {
    if (olo === ohi) return;
    if (hi - lo <= 1000) {
      at.push(hi);
      offsets.push(ohi);
      return;
    }
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    const omid = this.luxonOffsetMs(mid);
    this.locate(lo, olo, mid, omid, at, offsets);
    this.locate(mid, omid, hi, ohi, at, offsets);
  }
}

const zones = new Map<string, ZoneOffsets>();

/** The cached offset table of a zone; throws RangeError for a name that is not an IANA zone. */
export function zoneOffsets(zone: string): ZoneOffsets {
  let z = zones.get(zone);
  if (z === undefined) {
    if (!isValidZone(zone)) throw new RangeError(`unknown time zone ${shown(zone)}`);
    z = new ZoneOffsets(zone);
    zones.set(zone, z);
  }
  return z;
}

// ---------------------------------------------------------------------------------------------
// Public primitives

/** luxon checks a name by building an Intl.DateTimeFormat (~100 µs); configs repeat a few names. */
const validity = new Map<string, boolean>();

export function isValidZone(name: string): boolean {
  if (typeof name !== 'string' || name === '') return false;
  if (UTC_NAMES.has(name)) return true;
  let valid = validity.get(name);
  if (valid === undefined) {
    valid = IANAZone.isValidZone(name);
    if (validity.size >= 10_000) validity.clear(); // arbitrary strings must not grow it without bound
    validity.set(name, valid);
  }
  return valid;
}

/** UTC offset of `zone` at instant `ms`, in minutes (may be fractional for historical LMT). */
export function offsetMinutes(zone: string, ms: number): number {
  return zoneOffsets(zone).offsetMs(ms) / 60_000;
}

/** Instants whose wall time in `zone` is `wall`: [] in a gap, two (ascending) in an overlap. */
export function wallToInstants(zone: string, wall: WallTime): number[] {
  return zoneOffsets(zone).instantsOfWall(wallMs(wall));
}

/**
 * The instant the clock jumps over the nonexistent wall time `wall` (the first instant after the
 * gap). Throws RangeError if `wall` exists in `zone`.
 */
export function gapEnd(zone: string, wall: WallTime): number {
  const z = zoneOffsets(zone);
  const w = wallMs(wall);
  if (z.instantsOfWall(w).length > 0) throw new RangeError(`${zone}: wall time ${isoWall(w)} exists, it is not in a gap`);
  return z.gapEndOfWall(w);
}

export function localParts(zone: string, ms: number): LocalParts {
  return partsOfWall(ms + zoneOffsets(zone).offsetMs(ms));
}

function partsOfWall(wall: number): LocalParts {
  const days = Math.floor(wall / DAY_MS);
  const { year, month, day } = civilFromDays(days);
  const tod = wall - days * DAY_MS;
  return {
    year,
    month,
    day,
    hour: Math.floor(tod / 3_600_000),
    minute: Math.floor(tod / 60_000) % 60,
    second: Math.floor(tod / 1000) % 60,
    millisecond: tod % 1000,
    weekday: weekdayOfDays(days),
  };
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

function isoWall(wall: number): string {
  const p = partsOfWall(wall);
  const year = p.year >= 0 && p.year <= 9999 ? pad(p.year, 4) : (p.year < 0 ? '-' : '+') + pad(Math.abs(p.year), 6);
  const ms = p.millisecond === 0 ? '' : `.${pad(p.millisecond, 3)}`;
  return `${year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${ms}`;
}

/** Earliest and latest instants shown: years 0001-9999, what a four-digit ISO-8601 year and Python's datetime hold. */
const FIRST_SHOWN_MS = daysFromCivil(1, 1, 1) * DAY_MS;
const LAST_SHOWN_MS = daysFromCivil(10_000, 1, 1) * DAY_MS - 1;

/** True when an instant lies in the years 0001-9999 (UTC); dates users give must, to be shown and sent. */
export function isShownInstant(ms: number): boolean {
  return ms >= FIRST_SHOWN_MS && ms <= LAST_SHOWN_MS;
}

/**
 * ISO-8601 with the zone's offset, always `±HH:MM` (never `Z`), e.g. `2026-03-08T03:00:00-04:00`.
 * Milliseconds appear only when non-zero (a fraction of a millisecond is dropped). Historical
 * offsets with seconds (LMT) get `±HH:MM:SS`, because rounding them would name a different
 * instant. An instant outside the years 0001-9999 (or not a number) is an error, never a
 * malformed date.
 */
export function formatInstant(ms: number, zone: string): string {
  // The year that must fit is the wall clock's: 9999-12-31T23:00Z is already 10000 in Tokyo.
  const whole = Math.floor(ms);
  const offset = Math.abs(whole) <= LAST_SHOWN_MS + DAY_MS ? zoneOffsets(zone).offsetMs(whole) : 0;
  if (!(whole + offset >= FIRST_SHOWN_MS && whole + offset <= LAST_SHOWN_MS)) {
    throw new BeatError(
      ErrorCode.InstantOutOfRange,
      `the instant ${String(ms)} (ms since 1970) is outside the years 0001-9999 that an ISO-8601 date can show in ${zone}`,
    );
  }
  const abs = Math.abs(offset) / 1000;
  const secs = abs % 60;
  const off =
    (offset < 0 ? '-' : '+') + pad(Math.floor(abs / 3600)) + ':' + pad(Math.floor(abs / 60) % 60) + (secs === 0 ? '' : `:${pad(secs)}`);
  return isoWall(whole + offset) + off;
}

/** What `parseIsoDateTime` reads: `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]`, then `Z`, `±HH`, `±HHMM`, `±HH:MM` or nothing. */
export const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$/i;

/**
 * An ISO-8601 date-time as epoch milliseconds; undefined when the text is not one or names a day or
 * time that does not exist (2026-02-30 is refused, never rolled over into March as Date.parse
 * does). With an offset it is that instant; without one it is a wall time in `zone`.
 */
export function parseIsoDateTime(text: string, zone: string): number | undefined {
  const utc = readUtcDateTime(text, zone);
  if (utc !== null) return utc;
  if (!ISO_DATE_TIME.test(text)) return undefined;
  const parsed = DateTime.fromISO(text.replace(' ', 'T'), { zone, setZone: true });
  return parsed.isValid ? parsed.toMillis() : undefined;
}

/** An ISO-8601 instant with an offset (Z or ±hh:mm), as the CLI's --after/--from/--to and the API's from/to take it. */
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Reads an instant given with its offset: epoch ms, or why it is not one: 'format' (not ISO 8601
 * with an offset), 'invalid' (no such date and time), 'range' (outside the years 0001-9999).
 */
export function readInstantWithOffset(text: string): number | 'format' | 'invalid' | 'range' {
  if (!ISO_WITH_OFFSET.test(text)) return 'format';
  const ms = parseIsoDateTime(text, 'UTC');
  if (ms === undefined) return 'invalid';
  // Four digits can still name the year 0, and an offset can push 9999-12-31 into the year 10000.
  return isShownInstant(ms) ? ms : 'range';
}
