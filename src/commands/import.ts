/** `beat import`: schedules kept elsewhere (a crontab, a Celery app) as a tsbeat config. */
import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { isValidZone } from '../time/zone.js';
import { parseCrontab } from '../importers/crontab-lines.js';
import type { CrontabJob } from '../importers/crontab-lines.js';
import { importCrontab } from '../importers/crontab-import.js';
import { renderImportedConfig } from '../importers/render.js';
import { leaf } from './command-spec.js';
import type { Command } from './command-spec.js';
import type { ExitCode } from './io.js';
import { importIntoStore, intoStoreOptions, writeImported } from './import-output.js';
import { importCelerySpec } from './import-celery.js';
import { importRedbeatSpec } from './import-redbeat.js';
import { importDjangoSpec } from './import-django.js';
import type { Io } from './io.js';

export const importCrontabSpec = leaf({
  name: 'import crontab',
  summary: 'a crontab file (user or /etc/crontab format)',
  listed: [{ label: 'crontab FILE --task NAME', summary: 'a crontab file (user or /etc/crontab format)' }],
  positionals: { usage: 'FILE', most: 1 },
  helpColumn: 24,
  about: `Turns a crontab into tsbeat entries: each job becomes { cron: "<its time fields>" } calling the
Celery task NAME with the command as its one argument, and what cron would give the command as
keyword arguments: env (the NAME=value lines above it), user (system format) and input (the text
after %, as crontab(5) feeds it to standard input). examples/cron_tasks.py is such a task.
CRON_TZ= and TZ= lines set the zone of the jobs below them. Entry names come from the commands.
What cron does that the config will not (@reboot, MAILTO, …) is listed on stderr with its line;
a line cron or tsbeat would refuse stops the import (exit 2, file:line and the fix).
`,
  options: {
    task: { type: 'string', short: 't', value: 'NAME', required: true, help: 'the Celery task every entry calls (required)' },
    queue: {
      type: 'string',
      short: 'q',
      value: 'Q',
      required: true,
      help: `options.queue of every entry (required): a queue of its own, consumed only by
        the workers meant to run commands, or celery (the default queue) given knowingly`,
    },
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write the config there (default: stdout)' },
    'name-prefix': { type: 'string', value: 'P', help: 'put P before every entry name' },
    timezone: {
      type: 'string',
      value: 'ZONE',
      help: "the zone of jobs without CRON_TZ/TZ (cron's is its machine's; default UTC)",
    },
    system: {
      type: 'boolean',
      help: `the /etc/crontab format, with a user field before the command (the
        default for /etc/crontab and files in /etc/cron.d)`,
    },
    ...intoStoreOptions,
  },
  run: (args, io) => crontabImportCommand(args.values, args.positionals, io),
});

/** /etc/crontab and /etc/cron.d/* are in the system format, with a user field. */
function isSystemCrontabPath(path: string): boolean {
  return path === '/etc/crontab' || /^\/etc\/cron\.d\/[^/]+$/.test(path);
}

async function crontabImportCommand(
  values: {
    task?: string;
    out?: string;
    'name-prefix'?: string;
    queue?: string;
    timezone?: string;
    system?: boolean;
    'into-store'?: boolean;
    config?: string;
    broker?: string;
  },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const usage = (problem: string) => new BeatError(ErrorCode.Usage, `beat import crontab: ${problem}. See 'beat import crontab --help'.`);
  const file = positionals[0];
  if (file === undefined) throw usage('name the crontab file, e.g. "beat import crontab /etc/crontab --task cron.run_command"');
  const task = values.task;
  if (task === undefined || task === '' || /\s/.test(task))
    throw usage('--task must name the Celery task that runs a command, e.g. --task cron.run_command (see examples/cron_tasks.py)');
  if (values.queue === '') throw usage('--queue must not be empty');
  // The task runs any command it is sent: on the default queue every worker of the app would run
  // them, so the queue is asked for, and the default one must be named knowingly.
  if (values.queue === undefined)
    throw usage(
      'give the task that runs commands its own queue, consumed only by the workers meant to run them: --queue NAME (e.g. --queue cron), or --queue celery to use the default queue knowingly',
    );
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
  if (!system) refuseSystemFormat(file, parsed.jobs);
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
    `taskEvents: a failed command shows in beat history and the dashboard; start the workers with -E (worker_send_task_events).`,
  ];
  const notes = imported.notes.map((n) => `${file}:${n.line}: ${n.message}`);
  if (values['into-store'] === true) return importIntoStore(io, 'import crontab', values, imported.config, notes);
  const rendered = renderImportedConfig(imported.config, header, values.out ?? '<stdout>');
  return writeImported(io, values.out, rendered, Object.keys(imported.config.beatSchedule).length, notes);
}

/** The users of this machine (/etc/passwd), and root wherever it is read. */
function knownUsers(): Set<string> {
  const users = new Set(['root']);
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const name = line.split(':')[0];
      if (name !== undefined && name !== '' && !name.startsWith('#')) users.add(name);
    }
  } catch {
    // No passwd file to read (another OS, a container without one): root alone is known.
  }
  return users;
}

/**
 * A system crontab (/etc/crontab's format, a user before the command) read without --system makes
 * every command start with the user, which would then run as `root cmd`: refused. Judged on the
 * whole file, so that one command that starts with a user's name (a script called `backup`) is not
 * refused: every job's first word is a user, and root is one of them or there are several jobs.
 */
function refuseSystemFormat(file: string, jobs: readonly CrontabJob[]): void {
  if (jobs.length === 0) return;
  const users = knownUsers();
  const firsts = jobs.map((job) => /^\S+/.exec(job.command)?.[0] ?? '');
  if (!firsts.every((word) => users.has(word)) || !(firsts.includes('root') || jobs.length > 1)) return;
  const named = [...new Set(firsts)].slice(0, 3).join(', ');
  throw new BeatError(
    ErrorCode.ImportInput,
    `beat import crontab: ${shown(file)} looks like a system crontab (the /etc/crontab format, a user before each command): every job's command starts with a user name (${named}); pass --system to read that field as the user, or remove it from the lines`,
  );
}

export const importSpec: Command = {
  name: 'import',
  usage: '<source> [options]',
  about: `Writes the schedules of another scheduler as a tsbeat config (YAML that 'beat check' accepts).
Whatever cannot be expressed is listed on stderr, never dropped silently.
`,
  heading: 'Sources',
  commands: [importCrontabSpec, importCelerySpec, importRedbeatSpec, importDjangoSpec],
  after: `Run 'beat import <source> --help' for its options.
`,
};
