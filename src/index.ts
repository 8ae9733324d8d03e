/**
 * The package's public API, for TypeScript and JavaScript config files:
 *
 *   import { defineConfig, crontab, timedelta } from 'tsbeat';
 *   export default defineConfig({ beatSchedule: { nightly: { task: 'proj.backup', schedule: crontab({ hour: 3, minute: 0 }) } } });
 *
 * and for Node services that manage runtime entries (see examples/entries-client.ts):
 *
 *   const entries = await Entries.connect({ url: 'redis://127.0.0.1:6379/0', deployment: 'default' });
 *   await entries.set('report-42', { task: 'reports.build', schedule: crontab({ hour: 6, minute: 0 }), args: [42] });
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
export type { ConfigProblem } from './base/errors.js';
export { Entries } from './client/entries-client.js';
export type {
  ApiConnectOptions,
  AuditQuery,
  BackfillOptions,
  BackfillRange,
  BackfillResult,
  BackfillSlotsPage,
  ChangeOptions,
  DeploymentHandle,
  EntriesConnectOptions,
  EntryHandle,
  EntryRecord,
  RedisConnectOptions,
  SelectionHandle,
  SetOutcome,
  TriggerOptions,
  VerbAnswer,
  VerbInput,
  VerbName,
  VersionedChange,
} from './client/entries-client.js';
export type { EntryPauseAnswer, SelectionPauseAnswer, StopAnswer, TriggerAnswer } from './operations/control-verbs.js';
export type { DeploymentStopView } from './control/deployment-stop.js';
export type { DeadLetterView } from './control/dead-letter-view.js';
export type { AttemptView, SlotView } from './control/entry-view-schema.js';

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

/**
 * A crontab line with Vixie cron semantics: `cron('*\/5 * * * *')`, `cron('@daily')`; a 6-field
 * line, seconds first, says so: `cron('*\/10 * * * * *', { seconds: true })` (without it, refused).
 */
export function cron(line: string, options: { seconds?: boolean } = {}): { cron: string; seconds?: boolean } {
  return options.seconds === undefined ? { cron: line } : { cron: line, seconds: options.seconds };
}

/** Celery's `solar(event, lat, lon)`. */
export function solar(event: SolarEvent, lat: number, lon: number): { solar: SolarInput } {
  return { solar: { event, lat, lon } };
}

/** Runs once, at an ISO-8601 instant (read in the entry's zone when it has no offset). */
export function clocked(at: string): { clocked: string } {
  return { clocked: at };
}
