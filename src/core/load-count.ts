/**
 * The load a schedule makes: how many runs a set of entries starts in each minute and each second
 * of a coming window, and the busiest of each (issue 71: 3,000 entries at `0 0 * * *` all publish
 * in one second). Pure: the window is an argument, and the work is bounded by a budget of fires,
 * whatever the entries say; an entry whose runs were not all counted is counted as `capped`, so a
 * reader knows the figures are a floor.
 *
 * The caller adds entries one at a time (`add`), so that an adapter on a shared event loop can turn
 * the loop over between them (control/entries-load.ts), and reads the figures once (`result`).
 */
import { isScheduleError } from '../base/step-budget.js';
import { nextFires } from './schedule.js';
import type { FireWindow } from './schedule.js';
import type { Schedule } from './types.js';

const SECOND_MS = 1000;
const MINUTE_MS = 60_000;

/**
 * Most fires one load counts, all entries together: some seconds of one core at worst (a fire
 * costs tens to hundreds of nanoseconds), whatever the entries. Past it the remaining entries are
 * `capped`, their runs not counted.
 */
export const LOAD_FIRES_MAX = 5_000_000;
/**
 * Most fires counted for one entry: a day of an entry every second is 86,400. One that fires more
 * often than that over the window is capped (it adds at most one run a second of its own, never a
 * peak; a peak is many entries on one instant).
 */
export const LOAD_ENTRY_FIRES_MAX = 100_000;
/**
 * Fires asked of the schedule by the first call for an entry, doubled on each call up to the most:
 * a daily entry in a day's window needs one, and asking it for a thousand would compute years of
 * its fires (its step budget grows with the fires asked, core/schedule.ts).
 */
const FIRST_CALL_FIRES = 4;
const MOST_CALL_FIRES = 1024;

/** A busiest minute or second: its first instant (epoch ms) and the runs that start in it. */
export interface LoadPeak {
  readonly atMs: number;
  readonly runs: number;
}

export interface Load {
  /** The first minute's start (the minute of the window's start) and the window's end, epoch ms. */
  readonly startMs: number;
  readonly endMs: number;
  /** Runs that start in each minute from `startMs` (the first and last minutes may be partial). */
  readonly perMinute: readonly number[];
  readonly total: number;
  /** The busiest minute and second (the earliest of equals); runs 0 when nothing runs. */
  readonly peakMinute: LoadPeak;
  readonly peakSecond: LoadPeak;
  /** Entries some of whose runs in the window were not counted (a budget spent, or their schedule failed). */
  readonly capped: number;
}

/** Where an entry's fires are read: as `nextFires` takes them (its zone, its window), an interval's grid from its next run or now. */
export interface LoadEntry {
  readonly schedule: Schedule;
  readonly zone: string;
  readonly window?: FireWindow | undefined;
  /**
   * Its next run as its runner holds it (the dashboard's rows): counted when it falls in the window
   * or its first minute, and the fires after it read on its grid. Absent: the fires after the window's start.
   */
  readonly nextMs?: number | undefined;
  /** Most runs it has left (`maxRuns`), when it has a limit. */
  readonly maxRuns?: number | undefined;
}

/** Counts the runs of entries that start after `afterMs` and before `endMs`. */
export class LoadCount {
  private readonly startMs: number;
  /** Runs per second from startMs: the window is at most days, so an array of its seconds is small (a week: 2.4 MB). */
  private readonly seconds: Uint32Array;
  private left: number;
  private capped = 0;

  constructor(
    private readonly afterMs: number,
    private readonly endMs: number,
    fireBudget: number = LOAD_FIRES_MAX,
  ) {
    this.startMs = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS;
    this.seconds = new Uint32Array(Math.max(0, Math.ceil((endMs - this.startMs) / MINUTE_MS)) * 60);
    this.left = fireBudget;
  }

  /** Counts one entry's runs in the window. */
  add(entry: LoadEntry): void {
    if (this.left <= 0) {
      this.capped += 1;
      return;
    }
    const most = Math.min(LOAD_ENTRY_FIRES_MAX, this.left, entry.maxRuns ?? Number.POSITIVE_INFINITY);
    let counted = 0;
    let after = this.afterMs;
    const first = entry.nextMs;
    if (first !== undefined) {
      if (first >= this.endMs) return;
      if (first >= this.startMs) {
        this.seconds[Math.floor((first - this.startMs) / SECOND_MS)]! += 1;
        counted += 1;
      }
      after = Math.max(after, first);
    }
    const query = { zone: entry.zone, window: entry.window, anchorMs: first ?? this.afterMs };
    let ask = FIRST_CALL_FIRES;
    try {
      while (counted < most) {
        const fires = nextFires(entry.schedule, { ...query, afterMs: after }, Math.min(ask, most - counted));
        ask = Math.min(ask * 2, MOST_CALL_FIRES);
        for (const at of fires) {
          if (at >= this.endMs) {
            this.left -= counted;
            return;
          }
          this.seconds[Math.floor((at - this.startMs) / SECOND_MS)]! += 1;
          counted += 1;
        }
        if (fires.length === 0) {
          this.left -= counted;
          return;
        }
        after = fires[fires.length - 1]!;
      }
    } catch (error) {
      // Its schedule cannot be computed (its step budget): the caller names it where it lists entries.
      if (!isScheduleError(error)) throw error;
    }
    this.left -= counted;
    // maxRuns reached is the entry's own end, not a cap.
    if (counted < (entry.maxRuns ?? Number.POSITIVE_INFINITY)) this.capped += 1;
  }

  /** The figures of the entries added so far. */
  result(): Load {
    const minutes = this.seconds.length / 60;
    const perMinute = new Array<number>(minutes).fill(0);
    let total = 0;
    let peakSecond: LoadPeak = { atMs: this.startMs, runs: 0 };
    for (let i = 0; i < this.seconds.length; i += 1) {
      const runs = this.seconds[i]!;
      if (runs === 0) continue;
      perMinute[Math.floor(i / 60)]! += runs;
      total += runs;
      if (runs > peakSecond.runs) peakSecond = { atMs: this.startMs + i * SECOND_MS, runs };
    }
    let peakMinute: LoadPeak = { atMs: this.startMs, runs: 0 };
    perMinute.forEach((runs, i) => {
      if (runs > peakMinute.runs) peakMinute = { atMs: this.startMs + i * MINUTE_MS, runs };
    });
    return { startMs: this.startMs, endMs: this.endMs, perMinute, total, peakMinute, peakSecond, capped: this.capped };
  }
}
