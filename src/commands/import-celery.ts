/** `beat import celery`: a Celery app's beat_schedule and the settings tsbeat reads, as a config. */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { APP_SPEC, dumpCeleryApp, importCeleryDump } from '../importers/celery-app.js';
import { renderImportedConfig } from '../importers/render.js';
import { lastRunsOf } from '../importers/celery-schedule-file.js';
import { adoptCeleryLastRuns } from './import-celery-state.js';
import { leaf } from './command-spec.js';
import type { ExitCode } from './io.js';
import type { Io } from './io.js';
import { importIntoStore, intoStoreOptions, writeImported } from './import-output.js';

export const importCelerySpec = leaf({
  name: 'import celery',
  summary: "a Celery app's beat_schedule and the settings tsbeat reads",
  listed: [{ label: 'celery --app MODULE:ATTR', summary: "a Celery app's beat_schedule and the settings tsbeat reads" }],
  about: `Runs your project's Python once to import the Celery app (as 'celery -A' does, from the working
directory) and writes its beat_schedule as tsbeat entries (crontab, timedelta and schedule with
relative, solar; args, kwargs, options) with the settings tsbeat reads: timezone, task_routes,
task_default_queue, task_protocol, task_queue_max_priority, broker_url (left out when it holds a
password) and broker_transport_options. Whatever it cannot express (a custom schedule class, a
router function, an apply_async option tsbeat does not send, …) is listed on stderr.
With --schedule-file, celery beat's schedule file (its -s, celerybeat-schedule) is read with the
same Python, taking only the classes celery beat writes there (a file that names another, such as
os.system, is refused: exit 2, nothing imported), and each entry's last_run_at and
total_run_count go into the state of the deployment (--config, else the --out file written: its name and Redis, --broker over it), where
tsbeat has no newer run of it: each entry then runs first when celery beat would have run it next.
Stop celery beat first, then start beat run before the next run is due. An entry celery beat
never sent counts from when it first saw it; a file celery beat would reset (another timezone or
enable_utc) carries nothing over (said on stderr).
`,
  options: {
    app: {
      type: 'string',
      short: 'A',
      value: 'MODULE:ATTR',
      required: true,
      help: 'the app, e.g. proj.celery:app (or proj, as celery -A finds it)',
    },
    python: { type: 'string', value: 'PATH', help: "the interpreter with your project's Celery (default python3)" },
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write the config there (default: stdout)' },
    'schedule-file': {
      type: 'string',
      value: 'PATH',
      help: `celery beat's schedule file (its -s, or the name ls shows with the .db dbm adds): carry each
        entry's last run over into the state of the deployment that the written config file, or the
        config option's, describes`,
    },
    ...intoStoreOptions,
  },
  run: (args, io) => celeryImportCommand(args.values, args.positionals, io),
});

async function celeryImportCommand(
  values: {
    app?: string;
    python?: string;
    out?: string;
    'schedule-file'?: string;
    'into-store'?: boolean;
    config?: string;
    broker?: string;
  },
  _positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const app = values.app;
  if (app === undefined || !APP_SPEC.test(app)) {
    const got = app === undefined ? 'none given' : `got ${shown(app)}`;
    throw new BeatError(
      ErrorCode.Usage,
      `beat import celery: --app must name the Celery app as celery -A takes it, a module path and optionally :attribute, e.g. --app proj.celery:app (${got}). See 'beat import celery --help'.`,
    );
  }
  if (values['into-store'] === true && values.out !== undefined) {
    throw new BeatError(
      ErrorCode.Usage,
      "beat import celery: give --out (a file) or --into-store (the runtime store), not both. See 'beat import celery --help'.",
    );
  }
  const scheduleFile = values['schedule-file'];
  // The last runs go into a deployment's state: one whose config file holds the entries.
  const deployment = values.config ?? values.out;
  if (scheduleFile !== undefined && (values['into-store'] === true || deployment === undefined)) {
    throw new BeatError(
      ErrorCode.Usage,
      `beat import celery: --schedule-file carries celery beat's last runs into the state of the deployment whose config file holds the entries: give --out FILE (the config written names it), or --config with the deployment's config${values['into-store'] === true ? ', not --into-store (runtime entries start afresh)' : ''}. See 'beat import celery --help'.`,
    );
  }
  const python = values.python ?? 'python3';
  const dump = dumpCeleryApp({ app, python, cwd: io.cwd, env: io.env, scheduleFile });
  const imported = importCeleryDump(dump, values.out ?? '<stdout>');
  const header = [`Imported by \`beat import celery\` from ${app} (Celery ${dump.celery_version}).`];
  const notes = imported.notes.map((n) => `${app}: ${n.where}: ${n.message}`);
  if (values['into-store'] === true) return importIntoStore(io, 'import celery', values, imported.config, notes);
  const rendered = renderImportedConfig(imported.config, header, values.out ?? '<stdout>');
  const exit = writeImported(io, values.out, rendered, imported.entries, notes);
  if (scheduleFile === undefined || deployment === undefined || dump.schedule_file == null) return exit;
  const entries = (imported.config.beatSchedule ?? {}) as Record<string, unknown>;
  const lastRuns = lastRunsOf(dump.schedule_file, Object.keys(entries), scheduleFile);
  for (const n of lastRuns.notes) io.err(`${app}: ${n.where}: ${n.message}`);
  await adoptCeleryLastRuns(io, { config: deployment, broker: values.broker }, lastRuns.runs, entries, scheduleFile);
  return exit;
}
