/** `beat import`: schedules kept elsewhere (a crontab, a Celery app) as a tsbeat config. */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { isValidZone } from '../time/zone.js';
import { parseCrontab } from '../importers/crontab-lines.js';
import { importCrontab } from '../importers/crontab-import.js';
import { renderImportedConfig } from '../importers/render.js';
import { parseCommandArgs } from './args.js';
import { ExitCode } from './io.js';
import { importIntoStore, intoStoreHelp, intoStoreOptions, writeImported } from './import-output.js';
import { celeryImportCommand } from './import-celery.js';
import { redbeatImportCommand } from './import-redbeat.js';
import { djangoImportCommand } from './import-django.js';
import type { Io } from './io.js';

export const IMPORT_CRONTAB_HELP = `Usage: beat import crontab FILE --task NAME [--out FILE] [--name-prefix P] [--queue Q] [--timezone ZONE] [--system] [--into-store] [--config PATH] [--broker URL]

Turns a crontab into tsbeat entries: each job becomes { cron: "<its time fields>" } calling the
Celery task NAME with the command as its one argument, and what cron would give the command as
keyword arguments: env (the NAME=value lines above it), user (system format) and input (the text
after %, as crontab(5) feeds it to standard input). examples/cron_tasks.py is such a task.
CRON_TZ= and TZ= lines set the zone of the jobs below them. Entry names come from the commands.
What cron does that the config will not (@reboot, MAILTO, …) is listed on stderr with its line;
a line cron or tsbeat would refuse stops the import (exit 2, file:line and the fix).

Options:
  -t, --task NAME       the Celery task every entry calls (required)
  -o, --out FILE        write the config there (default: stdout)
      --name-prefix P   put P before every entry name
  -q, --queue Q         options.queue of every entry
      --timezone ZONE   the zone of jobs without CRON_TZ/TZ (cron's is its machine's; default UTC)
      --system          the /etc/crontab format, with a user field before the command (the
                        default for /etc/crontab and files in /etc/cron.d)
${intoStoreHelp()}
  -h, --help            show this help
`;

export const IMPORT_HELP = `Usage: beat import <source> [options]

Writes the schedules of another scheduler as a tsbeat config (YAML that 'beat check' accepts).
Whatever cannot be expressed is listed on stderr, never dropped silently.

Sources:
  crontab FILE --task NAME     a crontab file (user or /etc/crontab format)
  celery --app MODULE:ATTR     a Celery app's beat_schedule and the settings tsbeat reads
  redbeat --url REDIS_URL      the entries RedBeat keeps in Redis
  django --django-url URL      django-celery-beat's rows (PeriodicTask and its schedules)

Run 'beat import <source> --help' for its options.
`;

export async function importCommand(argv: string[], io: Io): Promise<ExitCode> {
  const [source, ...rest] = argv;
  if (source === undefined || source === '-h' || source === '--help') {
    io.out(IMPORT_HELP);
    return source === undefined ? ExitCode.BadInput : ExitCode.Ok;
  }
  if (source === 'crontab') return crontabImportCommand(rest, io);
  if (source === 'celery') return celeryImportCommand(rest, io);
  if (source === 'redbeat') return redbeatImportCommand(rest, io);
  if (source === 'django') return djangoImportCommand(rest, io);
  throw new BeatError(
    ErrorCode.Usage,
    `beat import: unknown source ${shown(source)}; sources: crontab, celery, redbeat, django. See 'beat import --help'.`,
  );
}

/** /etc/crontab and /etc/cron.d/* are in the system format, with a user field. */
function isSystemCrontabPath(path: string): boolean {
  return path === '/etc/crontab' || /^\/etc\/cron\.d\/[^/]+$/.test(path);
}

async function crontabImportCommand(argv: string[], io: Io): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'import crontab',
    argv,
    {
      task: { type: 'string', short: 't' },
      out: { type: 'string', short: 'o' },
      'name-prefix': { type: 'string' },
      queue: { type: 'string', short: 'q' },
      timezone: { type: 'string' },
      system: { type: 'boolean' },
      ...intoStoreOptions,
      help: { type: 'boolean', short: 'h' },
    },
    1,
  );
  if (values.help) {
    io.out(IMPORT_CRONTAB_HELP);
    return ExitCode.Ok;
  }
  const usage = (problem: string) => new BeatError(ErrorCode.Usage, `beat import crontab: ${problem}. See 'beat import crontab --help'.`);
  const file = positionals[0];
  if (file === undefined) throw usage('name the crontab file, e.g. "beat import crontab /etc/crontab --task cron.run_command"');
  const task = values.task;
  if (task === undefined || task === '' || /\s/.test(task))
    throw usage('--task must name the Celery task that runs a command, e.g. --task cron.run_command (see examples/cron_tasks.py)');
  if (values.queue === '') throw usage('--queue must not be empty');
  if (values['into-store'] === true && values.out !== undefined)
    throw usage('give --out (a file) or --into-store (the runtime store), not both');
  if (values.timezone !== undefined && !isValidZone(values.timezone))
    throw usage(`--timezone ${shown(values.timezone)} is not a time zone; use an IANA name such as "Europe/Berlin"`);
  const path = resolve(io.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const why =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? "no such file; check the path (crontab -l > FILE saves a user's crontab)"
        : errorMessage(error);
    throw new BeatError(ErrorCode.ImportInput, `beat import crontab: cannot read ${shown(file)}: ${why}`, { cause: error });
  }
  const system = values.system === true || isSystemCrontabPath(path);
  const parsed = parseCrontab(text, system);
  if (parsed.problems.length > 0) {
    const n = parsed.problems.length;
    throw new BeatError(
      ErrorCode.ImportInput,
      [
        ...parsed.problems.map((p) => `${file}:${p.line}: ${p.message}`),
        `beat import crontab: ${n} bad line${n === 1 ? '' : 's'} in ${file}; nothing written`,
      ].join('\n'),
    );
  }
  const timezone = values.timezone ?? 'UTC';
  const imported = importCrontab(parsed, {
    task,
    timezone,
    timezoneGiven: values.timezone !== undefined,
    namePrefix: values['name-prefix'],
    queue: values.queue,
  });
  const header = [
    `Imported by \`beat import crontab\` from ${basename(file)}${system ? ' (system format)' : ''}.`,
    `Each entry calls ${task} with the command line; kwargs: env (the crontab's variables), user, input (after %).`,
  ];
  const notes = imported.notes.map((n) => `${file}:${n.line}: ${n.message}`);
  if (values['into-store'] === true) return importIntoStore(io, 'import crontab', values, imported.config, notes);
  const rendered = renderImportedConfig(imported.config, header, values.out ?? '<stdout>');
  return writeImported(io, values.out, rendered, Object.keys(imported.config.beatSchedule).length, notes);
}
