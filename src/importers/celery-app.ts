/**
 * A Celery app's beat schedule as a tsbeat config: the dump script runs once in the team's own
 * Python, its JSON becomes settings and entries, and each part is checked by `beat check`'s parser
 * on its own, so that one part tsbeat refuses is listed and left out instead of spoiling the rest.
 */
import { spawnSync } from 'node:child_process';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { CELERY_DUMP_SCRIPT } from './celery-dump-script.js';
import { entryOf } from './celery-entries.js';
import type { DumpedEntry, ImportNote } from './celery-entries.js';
import { settingsOf } from './celery-settings.js';
import type { DumpedSettings } from './celery-settings.js';
import { configProblem } from './render.js';
import type { ScheduleFileDump } from './celery-schedule-file.js';

/** `beat import celery`: how long the team's app may take to import before the dump is given up. */
const IMPORT_PYTHON_TIMEOUT_MS = 120_000;

/** `module.path` or `module.path:attribute.path`, as `celery -A` takes it. */
export const APP_SPEC = /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$/;

export interface CeleryDump {
  readonly celery_version: string;
  readonly settings: DumpedSettings;
  readonly entries: DumpedEntry[];
  /** celery beat's schedule file, when one was named (DumpOptions.scheduleFile). */
  readonly schedule_file?: ScheduleFileDump | null;
}

export interface DumpOptions {
  readonly app: string;
  readonly python: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** celery beat's schedule file (its -s), read with the same Python. */
  readonly scheduleFile?: string | undefined;
}

const importError = (message: string) => new BeatError(ErrorCode.ImportInput, `beat import celery: ${message}`);

/** Runs the dump script; throws an ImportInput error naming the cause and the fix. */
export function dumpCeleryApp(options: DumpOptions): CeleryDump {
  const args = ['-c', CELERY_DUMP_SCRIPT, options.app, ...(options.scheduleFile === undefined ? [] : [options.scheduleFile])];
  const run = spawnSync(options.python, args, {
    cwd: options.cwd,
    env: options.env,
    encoding: 'utf8',
    timeout: IMPORT_PYTHON_TIMEOUT_MS,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.error !== undefined) {
    const code = (run.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw importError(
        `python ${shown(options.python)} not found; pass --python PATH, the interpreter your project runs Celery with (e.g. .venv/bin/python)`,
      );
    if (code === 'ETIMEDOUT')
      throw importError(`${options.app} took more than ${IMPORT_PYTHON_TIMEOUT_MS / 1000} s to import; does importing it start something?`);
    throw importError(`cannot run ${shown(options.python)}: ${run.error.message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch {
    const last = run.stderr.trim().split('\n').pop() ?? '';
    throw importError(
      `${shown(options.python)} exited with ${run.status ?? run.signal} without describing the app${last === '' ? '' : `: ${last}`}; is it a Python 3 with Celery installed?`,
    );
  }
  const error = (parsed as { error?: { kind: string; message: string } }).error;
  if (error !== undefined) {
    if (error.kind === 'not-app') throw importError(`${error.message}; --app names the Celery instance, e.g. proj.celery:app`);
    if (error.kind === 'schedule-file-refused')
      throw importError(
        `refused the schedule file ${shown(options.scheduleFile ?? '')}: ${error.message}; name the file celery beat itself wrote (its -s), or import without --schedule-file (every entry then starts afresh)`,
      );
    if (error.kind === 'schedule-file')
      throw importError(
        `cannot read the schedule file ${shown(options.scheduleFile ?? '')}: ${error.message}; stop celery beat first (it holds the file), and name the file its -s (beat_schedule_filename) names`,
      );
    const hint = /No module named '?celery'?$/.test(error.message)
      ? `${options.python} has no Celery; pass --python with the interpreter of the project (its virtualenv's bin/python)`
      : `run beat import from the directory you run celery -A ${options.app} from, or set PYTHONPATH`;
    throw importError(`cannot import ${options.app}: ${error.message}; ${hint}`);
  }
  return parsed as CeleryDump;
}

export interface CeleryImport {
  readonly config: Record<string, unknown>;
  readonly entries: number;
  readonly notes: ImportNote[];
}

export function importCeleryDump(dump: CeleryDump, source: string): CeleryImport {
  const notes: ImportNote[] = [];
  const settings = settingsOf(dump.settings, notes);
  // Each setting alone, then each entry in the zone it will have: what beat check refuses is listed.
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings)) {
    const problem = configProblem({ [key]: value }, source);
    if (problem === undefined) config[key] = value;
    else notes.push({ where: key, message: `${problem}; left out` });
  }
  const deadline = typeof dump.settings.beat_cron_starting_deadline === 'number' ? dump.settings.beat_cron_starting_deadline : undefined;
  const beatSchedule: Record<string, unknown> = {};
  for (const dumped of dump.entries) {
    const entry = entryOf(dumped, deadline, notes);
    if (entry === undefined) continue;
    const problem = configProblem({ timezone: config.timezone, beatSchedule: { [dumped.name]: entry } }, source);
    if (problem === undefined) beatSchedule[dumped.name] = entry;
    else notes.push({ where: `beat_schedule[${JSON.stringify(dumped.name)}]`, message: `${problem}: not imported` });
  }
  for (const entry of Object.values(beatSchedule) as { schedule: { solar?: { event: string } } }[]) {
    if (entry.schedule.solar?.event === 'dusk_astronomical') {
      notes.push({
        where: 'dusk_astronomical',
        message:
          'tsbeat computes it with the Sun 18° below the horizon; Celery up to 5.6.2 used 18° above (celery#10101), so its times differ',
      });
      break;
    }
  }
  return { config: { ...config, beatSchedule }, entries: Object.keys(beatSchedule).length, notes };
}
