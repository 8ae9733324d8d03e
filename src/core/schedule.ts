/**
 * One entry point for every schedule form: when does it fire next, and how to say it in words.
 * Pure: the caller passes the instant to look after and, for intervals, the grid anchor.
 */
import { describeCron, nextCronFires } from './cron/index.js';
import { describeInterval, nextIntervalFires } from './interval.js';
import { nextRRuleFires, rruleText } from './rrule.js';
import { describeSolar, nextSolarEvent } from './solar.js';
import { formatInstant } from '../time/zone.js';
import type { CronSpec } from './cron/index.js';
import { excludedThrough } from './exclusions.js';
import type { Exclusions } from './exclusions.js';
import type { Schedule } from './types.js';
import { mustAdvance, spendSteps, withStepBudget } from '../base/step-budget.js';
import { DEFAULTS } from '../base/defaults.js';

export interface FireQuery {
  /** IANA zone in which the schedule's wall times are read. */
  readonly zone: string;
  /** Fire instants strictly after this one are returned. */
  readonly afterMs: number;
  /**
   * Interval grid anchor: the last slot that ran, or when the entry was first seen. Defaults to
   * `afterMs` (an entry with no history first fires one interval after it). Ignored by other forms.
   */
  readonly anchorMs?: number;
  /** The entry's `startAt`/`endAt`: no fire outside [startMs, endMs). */
  readonly window?: FireWindow | undefined;
}

/**
 * An entry's active window, epoch ms: fires at or after `startMs` and before `endMs` (half-open, as
 * django-celery-beat's `start_time` runs at the instant itself and its `expires` does not).
 */
export interface FireWindow {
  readonly startMs?: number | undefined;
  readonly endMs?: number | undefined;
  /** The entry's `exclude`: slots that fall in it do not exist (never run, never missed, never caught up). */
  readonly exclude?: Exclusions | undefined;
}

/**
 * What the exclusion scan pays from the call's budget: a step per excluded slot, and one per
 * SLOTS_PER_STEP slots of a batch it computes (a slot of a plain interval costs little, but a scan
 * over a 1-second interval computes thousands). An exclusion that covers every slot (a daily entry
 * excluding `* * * * *`) so spends the budget and fails its entry with that reason, never loops.
 */
const SLOTS_PER_STEP = 8;

/**
 * The last crontab query and its answer. Entries with the same crontab share one spec (the config
 * memoises parsed specs), and a burst asks the same question for each of them: "after this slot,
 * when next?" (100,000 entries due at the top of the hour ask it 100,000 times). Pure inputs, so
 * one remembered answer is exact; it is copied out, so no caller can change it.
 */
let lastCron: { spec: CronSpec; zone: string; afterMs: number; count: number; fires: readonly number[] } | undefined;

function nextCronFiresRemembered(spec: CronSpec, zone: string, afterMs: number, count: number): number[] {
  const last = lastCron;
  if (last !== undefined && last.spec === spec && last.afterMs === afterMs && last.count === count && last.zone === zone)
    return last.fires.slice();
  const fires = nextCronFires(spec, zone, afterMs, count);
  lastCron = { spec, zone, afterMs, count, fires: fires.slice() };
  return fires;
}

/**
 * The next `count` fire instants (epoch ms, ascending) within the query's window; fewer when the
 * schedule runs out (clocked, polar solar, past the window's end). One call has one step budget
 * (base/step-budget.ts), and each instant must be after the one before it, the first after `afterMs`:
 * a ScheduleError otherwise, which the runner takes as this entry's failure alone.
 */
export function nextFires(schedule: Schedule, query: FireQuery, count: number): number[] {
  return withStepBudget(
    () => `the next runs of ${describeSchedule(schedule, query.zone)} in ${query.zone}`,
    () => {
      const fires = excluding(schedule, query, count);
      let previous = query.afterMs;
      for (const slot of fires) {
        mustAdvance(slot, previous, () => `${describeSchedule(schedule, query.zone)} in ${query.zone}`);
        previous = slot;
      }
      return fires;
    },
    // The work grows with the fires asked for: a budget per FIRES_PER_BUDGET of them (`beat next --count 10000`).
    DEFAULTS.scheduleStepBudget * Math.max(1, Math.ceil(count / FIRES_PER_BUDGET)),
  );
}

/** Fires one step budget covers; a call asking for more has a budget per this many. */
const FIRES_PER_BUDGET = 256;

function excluding(schedule: Schedule, query: FireQuery, count: number): number[] {
  const exclude = query.window?.exclude;
  if (exclude === undefined || (exclude.spans.length === 0 && exclude.crons.length === 0)) return windowed(schedule, query, count);
  const out: number[] = [];
  // The grid anchor stays where the caller put it: an interval keeps its phase over excluded slots.
  const anchorMs = query.anchorMs ?? query.afterMs;
  let afterMs = query.afterMs;
  let size = Math.max(1, count);
  while (out.length < count) {
    const batch = windowed(schedule, { ...query, afterMs, anchorMs }, size);
    spendSteps(Math.ceil(batch.length / SLOTS_PER_STEP));
    // Slots up to here are inside an exclusion already found (a whole excluded day, say).
    let skipThrough = afterMs;
    for (const slot of batch) {
      if (slot <= skipThrough) continue;
      const through = excludedThrough(exclude, query.zone, slot);
      if (through === undefined) {
        out.push(slot);
        if (out.length === count) return out;
        skipThrough = slot;
        continue;
      }
      spendSteps();
      skipThrough = through;
    }
    if (batch.length < size) return out;
    afterMs = Math.max(skipThrough, batch[batch.length - 1] as number);
    size = Math.min(256, size * 2);
  }
  return out;
}

function windowed(schedule: Schedule, query: FireQuery, count: number): number[] {
  const { window } = query;
  if (window === undefined || (window.startMs === undefined && window.endMs === undefined)) return unbounded(schedule, query, count);
  const { startMs, endMs } = window;
  if (endMs !== undefined && query.afterMs >= endMs - 1) return [];
  let { afterMs } = query;
  let anchorMs = query.anchorMs ?? query.afterMs;
  if (startMs !== undefined) {
    // Nothing before the start: a slot exactly at it is the first that can run.
    afterMs = Math.max(afterMs, startMs - 1);
    // An interval that has not run since the start has its grid start there, so its first run is at
    // startAt (django-celery-beat's start_time runs then too), not wherever it was first seen.
    if (schedule.kind === 'interval' && anchorMs < startMs) anchorMs = startMs - schedule.everyMs;
  }
  const fires = unbounded(schedule, { zone: query.zone, afterMs, anchorMs }, count);
  if (endMs === undefined) return fires;
  let inside = 0;
  while (inside < fires.length && (fires[inside] as number) < endMs) inside += 1;
  return inside === fires.length ? fires : fires.slice(0, inside);
}

function unbounded(schedule: Schedule, query: FireQuery, count: number): number[] {
  switch (schedule.kind) {
    case 'interval':
      return nextIntervalFires(schedule, query.zone, query.anchorMs ?? query.afterMs, query.afterMs, count);
    case 'cron':
      return nextCronFiresRemembered(schedule.spec, query.zone, query.afterMs, count);
    case 'clocked':
      return schedule.atMs > query.afterMs && count > 0 ? [schedule.atMs] : [];
    case 'rrule':
      return nextRRuleFires(schedule.spec, query.zone, query.afterMs, count);
    case 'solar': {
      const out: number[] = [];
      let after = query.afterMs;
      while (out.length < count) {
        const next = nextSolarEvent(schedule.event, schedule.lat, schedule.lon, after);
        if (next === null) break;
        // Checked here, not only on the answer: the next search starts from this one.
        mustAdvance(next, after, () => describeSolar(schedule.event, schedule.lat, schedule.lon));
        out.push(next);
        after = next;
      }
      return out;
    }
  }
}

export function describeSchedule(schedule: Schedule, zone: string): string {
  switch (schedule.kind) {
    case 'interval':
      return describeInterval(schedule);
    case 'cron':
      return describeCron(schedule.spec);
    case 'clocked':
      return `once at ${formatInstant(schedule.atMs, zone)}`;
    case 'solar':
      return describeSolar(schedule.event, schedule.lat, schedule.lon);
    case 'rrule':
      return `rrule ${rruleText(schedule.spec)}`;
  }
}
