/**
 * The package's public API, for TypeScript and JavaScript config files:
 *
 *   import { defineConfig, crontab, timedelta } from 'tsbeat';
 *   export default defineConfig({ beatSchedule: { nightly: { task: 'proj.backup', schedule: crontab({ hour: 3, minute: 0 }) } } });
 */
import type { BeatConfigInput } from './config/schema.js';
import type { CrontabInput, SolarInput, TimedeltaInput } from './config/schedule-schema.js';
import type { SolarEvent } from './core/types.js';

export type { BeatConfigInput, EntryInput } from './config/schema.js';
export type { CrontabInput, ScheduleInput, SolarInput, TimedeltaInput } from './config/schedule-schema.js';
export type { OptionsInput, RouteInput, TaskRoutesInput, TransportOptionsInput } from './config/options-schema.js';
export type { SolarEvent } from './core/types.js';
export { SOLAR_EVENTS } from './core/types.js';
export { loadConfig, parseConfig } from './config/load.js';
export type { ResolvedConfig, ResolvedEntry } from './config/resolve.js';
export { nextFires, describeSchedule } from './core/schedule.js';
export { BeatError, ConfigError, ErrorCode } from './base/errors.js';

/** Types a config object; returns it unchanged. */
export function defineConfig<const T extends BeatConfigInput>(config: T): T {
  return config;
}

/** Celery's `crontab(...)`: all fields default to `*` and must all match (day of week AND day of month). */
export function crontab(fields: CrontabInput = {}): { crontab: CrontabInput } {
  return { crontab: fields };
}

/** An interval, like Python's `timedelta(...)`. */
export function timedelta(parts: TimedeltaInput): { timedelta: TimedeltaInput } {
  return { timedelta: parts };
}

/** A crontab line with Vixie cron semantics: `cron('*\/5 * * * *')`, `cron('@daily')`. */
export function cron(line: string): { cron: string } {
  return { cron: line };
}

/** Celery's `solar(event, lat, lon)`. */
export function solar(event: SolarEvent, lat: number, lon: number): { solar: SolarInput } {
  return { solar: { event, lat, lon } };
}

/** Runs once, at an ISO-8601 instant (read in the entry's zone when it has no offset). */
export function clocked(at: string): { clocked: string } {
  return { clocked: at };
}
