/**
 * A crontab as tsbeat entries: each job becomes `{ cron: "<its time fields>" }` calling one Celery
 * task with the command as its argument, and what cron would give the command (the environment set
 * above it, the user of a system crontab, the input after `%`) as keyword arguments.
 * examples/cron_tasks.py is a task that takes exactly these.
 */
import { slugFromCommand, UniqueNames } from './entry-names.js';
import type { CrontabJob, CrontabNote, ParsedCrontab } from './crontab-lines.js';

export interface CrontabImportOptions {
  /** The Celery task every entry calls. */
  readonly task: string;
  /** The config's zone: that of the lines without CRON_TZ/TZ (cron uses its machine's local zone). */
  readonly timezone: string;
  /** True when --timezone was given; otherwise lines without a zone are noted. */
  readonly timezoneGiven: boolean;
  readonly namePrefix?: string;
  readonly queue?: string;
}

export interface ImportedEntry {
  readonly task: string;
  readonly schedule: { readonly cron: string };
  readonly args: string[];
  readonly kwargs?: Record<string, unknown>;
  readonly options?: { readonly queue: string };
  readonly timezone?: string;
}

export interface CrontabImport {
  readonly config: { timezone: string; taskEvents: true; beatSchedule: Record<string, ImportedEntry> };
  readonly notes: CrontabNote[];
}

function toEntry(job: CrontabJob, options: CrontabImportOptions): ImportedEntry {
  const kwargs: Record<string, unknown> = {};
  if (Object.keys(job.env).length > 0) kwargs.env = job.env;
  if (job.user !== undefined) kwargs.user = job.user;
  if (job.input !== undefined) kwargs.input = job.input;
  return {
    task: options.task,
    schedule: { cron: job.schedule },
    args: [job.command],
    ...(Object.keys(kwargs).length > 0 ? { kwargs } : {}),
    ...(options.queue === undefined ? {} : { options: { queue: options.queue } }),
    ...(job.zone === undefined || job.zone === options.timezone ? {} : { timezone: job.zone }),
  };
}

export function importCrontab(parsed: ParsedCrontab, options: CrontabImportOptions): CrontabImport {
  const names = new UniqueNames(options.namePrefix ?? '');
  const beatSchedule: Record<string, ImportedEntry> = {};
  for (const job of parsed.jobs) beatSchedule[names.next(slugFromCommand(job.command))] = toEntry(job, options);
  const notes = [...parsed.notes];
  const zoneless = parsed.jobs.filter((job) => job.zone === undefined).map((job) => job.line);
  if (!options.timezoneGiven && zoneless.length > 0) {
    notes.push({
      line: zoneless[0] as number,
      message: `${zoneless.length === 1 ? 'this line has' : `${zoneless.length} lines (${lineList(zoneless)}) have`} no CRON_TZ or TZ: cron runs them in its machine's local zone, this config reads them in ${options.timezone}; pass --timezone ZONE if that is not the zone cron used`,
    });
  }
  notes.sort((a, b) => a.line - b.line);
  // Cron mailed a failed job's output; here a failure shows in beat history and the dashboard only
  // when outcomes are followed: the workers' task events need no result backend (issue 51).
  return { config: { timezone: options.timezone, taskEvents: true, beatSchedule }, notes };
}

function lineList(lines: readonly number[]): string {
  return lines.length <= 8 ? lines.join(', ') : `${lines.slice(0, 8).join(', ')}, …`;
}
