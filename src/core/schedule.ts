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
import type { Schedule } from './types.js';

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
}

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

/** The next `count` fire instants (epoch ms, ascending); fewer when the schedule runs out (clocked, polar solar). */
export function nextFires(schedule: Schedule, query: FireQuery, count: number): number[] {
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
