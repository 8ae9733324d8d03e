/**
 * Compiled schedules: what the engine works with after the config has been validated.
 * Users never write these; `src/config/schema.ts` turns what they write into them.
 * All instants are epoch milliseconds (UTC); wall times exist only inside the engine.
 */
import type { CronSpec } from './cron/spec.js';
import type { RRuleSpec } from './rrule.js';

export const SOLAR_EVENTS = [
  'dawn_astronomical',
  'dawn_nautical',
  'dawn_civil',
  'sunrise',
  'solar_noon',
  'sunset',
  'dusk_civil',
  'dusk_nautical',
  'dusk_astronomical',
] as const;
export type SolarEvent = (typeof SOLAR_EVENTS)[number];

export interface IntervalSchedule {
  readonly kind: 'interval';
  /** Real elapsed time between slots, in milliseconds (> 0). */
  readonly everyMs: number;
  /** Celery's `relative=True`: each slot is truncated to the unit of the interval (day, hour, minute). */
  readonly relative: boolean;
}

export interface CronSchedule {
  readonly kind: 'cron';
  readonly spec: CronSpec;
}

export interface SolarSchedule {
  readonly kind: 'solar';
  readonly event: SolarEvent;
  readonly lat: number;
  readonly lon: number;
}

export interface ClockedSchedule {
  readonly kind: 'clocked';
  /** The one instant at which the entry runs. */
  readonly atMs: number;
}

/** An RFC 5545 recurrence rule (see rrule.ts), its wall times read in the entry's zone. */
export interface RRuleSchedule {
  readonly kind: 'rrule';
  readonly spec: RRuleSpec;
}

/**
 * An entry's `spread` as its schedule carries it: every slot `offsetMs` later than the form says
 * (core/spread.ts). Absent: none.
 */
export interface ScheduleShift {
  readonly offsetMs?: number;
}

/** One schedule form: what a list of specs (ScheduleUnion) holds. */
export type ScheduleSpec = IntervalSchedule | CronSchedule | SolarSchedule | ClockedSchedule | RRuleSchedule;

/**
 * Several specs as one schedule (issue 71): it fires at the union of their instants, an instant
 * two specs share once. Two specs at least (a list of one compiles to the plain form). An interval
 * among them runs on its grid from UNION_GRID_ORIGIN_MS, not from the entry's last run, which may
 * be another spec's: so the union's instants never depend on which spec ran last.
 */
export interface ScheduleUnion {
  readonly kind: 'union';
  readonly specs: readonly ScheduleSpec[];
}

/** Where an interval inside a ScheduleUnion counts from: 1970-01-01T00:00:00Z. */
export const UNION_GRID_ORIGIN_MS = 0;

export type Schedule = (ScheduleSpec | ScheduleUnion) & ScheduleShift;
