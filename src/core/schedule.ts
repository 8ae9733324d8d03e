/**
 * One entry point for every schedule form: when does it fire next, and how to say it in words.
 * Pure: the caller passes the instant to look after and, for intervals, the grid anchor.
 */
import { describeCron, nextCronFires } from './cron/index.js';
import { describeInterval, nextIntervalFires } from './interval.js';
import { describeSolar, nextSolarEvent } from './solar.js';
import { formatInstant } from './zone.js';
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

/** The next `count` fire instants (epoch ms, ascending); fewer when the schedule runs out (clocked, polar solar). */
export function nextFires(schedule: Schedule, query: FireQuery, count: number): number[] {
  switch (schedule.kind) {
    case 'interval':
      return nextIntervalFires(schedule, query.zone, query.anchorMs ?? query.afterMs, query.afterMs, count);
    case 'cron':
      return nextCronFires(schedule.spec, query.zone, query.afterMs, count);
    case 'clocked':
      return schedule.atMs > query.afterMs && count > 0 ? [schedule.atMs] : [];
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
  }
}
