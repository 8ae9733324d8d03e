/**
 * The cron lines of an entry's `exclude` as one matcher (issue 66): whether any of them matches a
 * wall time is read from the masks of that wall time's day, compiled from every line once (per
 * hour, the minutes a 5-field line names that day; per minute, the seconds a 6-field line names),
 * so a slot costs a few bit tests however many lines there are. A day is compiled when a slot
 * first falls on it (each line's days of a month when a slot first falls in that month), and that
 * work is charged to the computation's step budget by the lines it reads (base/step-budget.ts):
 * thousands of lines cost what they weigh, once per day scanned, never once per slot.
 *
 * The same predicate as reading the lines one by one (hour, minute, second when the line has
 * seconds, then the day by monthMask), on the same wall time: the zone, DST and the spans are the
 * caller's (exclusions.ts). Pure: the wall time is an argument, and the compiled day is a memo of
 * the lines, which never change.
 */
import { spendSteps } from '../base/step-budget.js';
import { DAY_MS, civilFromDays } from '../time/zone.js';
import { monthMask } from './cron/spec.js';
import type { CronSpec } from './cron/spec.js';

/** A cron pattern that excludes every slot whose local wall time it matches. */
export interface CronExclusion {
  readonly spec: CronSpec;
  /**
   * Whether the second counts: only for 6-field lines. A 5-field line or a Celery crontab names
   * minutes, so `0 9 * * *` excludes every slot from 09:00:00 to 09:00:59.
   */
  readonly bySecond: boolean;
}

/**
 * Bit operations one step pays for: a step is about 2 µs (DEFAULTS.scheduleStepBudget), a line's
 * month mask some tens of nanoseconds, its test against a day and its hours' masks a few.
 */
const OPS_PER_STEP = 16;

export class CronExclusionSet {
  /** year * 12 + month of the compiled month, NaN before the first. */
  private month = Number.NaN;
  /** Each line's days of the compiled month (bit d - 1 for day d). */
  private readonly daysOfMonth: Int32Array;
  /** The compiled day (days since 1970-01-01), NaN before the first. */
  private day = Number.NaN;
  /** Per hour of the compiled day, the minutes some 5-field line names (0-31, and 32-59 as bit m - 32). */
  private readonly minutesLow = new Int32Array(24);
  private readonly minutesHigh = new Int32Array(24);
  /** Per minute of the compiled day (hour * 60 + minute), the seconds some 6-field line names; none without such lines. */
  private readonly secondsLow: Int32Array | undefined;
  private readonly secondsHigh: Int32Array | undefined;

  constructor(private readonly lines: readonly CronExclusion[]) {
    this.daysOfMonth = new Int32Array(lines.length);
    if (lines.some((line) => line.bySecond)) {
      this.secondsLow = new Int32Array(1440);
      this.secondsHigh = new Int32Array(1440);
    }
  }

  /**
   * The end (exclusive, wall ms) of the minute a 5-field line excludes `wall` in, else of the second
   * a 6-field line does; undefined when no line matches `wall`.
   */
  excludedUntil(wall: number): number | undefined {
    const days = Math.floor(wall / DAY_MS);
    if (days !== this.day) this.compile(days);
    const tod = wall - days * DAY_MS;
    const hour = Math.floor(tod / 3_600_000);
    const minute = Math.floor(tod / 60_000) % 60;
    const minutes = minute < 32 ? (this.minutesLow[hour] as number) >>> minute : (this.minutesHigh[hour] as number) >>> (minute - 32);
    if ((minutes & 1) === 1) return wall - (wall % 60_000) + 60_000;
    if (this.secondsLow === undefined || this.secondsHigh === undefined) return undefined;
    const second = Math.floor(tod / 1000) % 60;
    const at = hour * 60 + minute;
    const seconds = second < 32 ? (this.secondsLow[at] as number) >>> second : (this.secondsHigh[at] as number) >>> (second - 32);
    return (seconds & 1) === 1 ? wall - (wall % 1000) + 1000 : undefined;
  }

  private compile(days: number): void {
    const { year, month, day } = civilFromDays(days);
    const { lines, daysOfMonth } = this;
    let ops = lines.length;
    if (year * 12 + month !== this.month) {
      for (let i = 0; i < lines.length; i += 1) daysOfMonth[i] = monthMask((lines[i] as CronExclusion).spec, year, month);
      this.month = year * 12 + month;
      ops += lines.length * 4;
    }
    this.minutesLow.fill(0);
    this.minutesHigh.fill(0);
    this.secondsLow?.fill(0);
    this.secondsHigh?.fill(0);
    for (let i = 0; i < lines.length; i += 1) {
      if ((((daysOfMonth[i] as number) >>> (day - 1)) & 1) === 0) continue;
      const line = lines[i] as CronExclusion;
      ops += line.bySecond ? this.addSeconds(line.spec) : this.addMinutes(line.spec);
    }
    this.day = days;
    spendSteps(Math.ceil(ops / OPS_PER_STEP));
  }

  /** A 5-field line's minutes, under each of its hours; the operations spent. */
  private addMinutes(spec: CronSpec): number {
    const { hours, minutesLow, minutesHigh } = spec.masks;
    let ops = 0;
    for (let hour = 0; hour < 24; hour += 1) {
      if (((hours >>> hour) & 1) === 0) continue;
      (this.minutesLow[hour] as number) |= minutesLow;
      (this.minutesHigh[hour] as number) |= minutesHigh;
      ops += 1;
    }
    return ops;
  }

  /** A 6-field line's seconds, under each of its hours' minutes; the operations spent. */
  private addSeconds(spec: CronSpec): number {
    const { hours, minutesLow, minutesHigh, secondsLow, secondsHigh } = spec.masks;
    const low = this.secondsLow as Int32Array;
    const high = this.secondsHigh as Int32Array;
    let ops = 0;
    for (let hour = 0; hour < 24; hour += 1) {
      if (((hours >>> hour) & 1) === 0) continue;
      for (let minute = 0; minute < 60; minute += 1) {
        if (((minute < 32 ? minutesLow >>> minute : minutesHigh >>> (minute - 32)) & 1) === 0) continue;
        (low[hour * 60 + minute] as number) |= secondsLow;
        (high[hour * 60 + minute] as number) |= secondsHigh;
        ops += 1;
      }
    }
    return ops;
  }
}
