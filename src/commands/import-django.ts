/** `beat import django`: django-celery-beat's rows, snapshotted as a config file or into the runtime store. */
import { BeatError, ErrorCode, problemsInline } from '../base/errors.js';
import { ENV } from '../base/env.js';
import { maskUrl } from '../base/redact.js';
import { djangoSourceSchema } from '../config/django-source-schema.js';
import { readDjangoEntries } from '../django/read-once.js';
import type { TaskRow } from '../django/row-entry.js';
import { configProblem, renderImportedConfig } from '../importers/render.js';
import { leaf } from './command-spec.js';
import { djangoOverride } from './config-args.js';
import { djangoWhere } from './django-read.js';
import { importIntoStore, intoStoreOptions, writeImported } from './import-output.js';
import type { ExitCode } from './io.js';
import type { Io } from './io.js';

export const importDjangoSpec = leaf({
  name: 'import django',
  summary: "django-celery-beat's rows (PeriodicTask and its schedules)",
  listed: [{ label: 'django --django-url URL', summary: "django-celery-beat's rows (PeriodicTask and its schedules)" }],
  usage: '--django-url URL [--table-prefix P] [--timezone ZONE] [--schemas S] [--out FILE | --into-store [--config PATH] [--broker URL]]',
  helpColumn: 24,
  about: `Reads django-celery-beat's rows (PeriodicTask with its interval, crontab, solar or clocked
schedule) once, read-only, and writes them as tsbeat entries, mapped as sources.django maps them
(see docs/sources.md): the task, args, kwargs, queue, exchange, routing_key, priority, headers, expires
(the message's expiry and endAt), start_time (startAt), one_off (oneOff), enabled; a crontab with
its own timezone. Rows that cannot be expressed (no schedule, args that are not JSON, an interval
under 0.1 s, a name tsbeat refuses, …) are listed on stderr with the reason and left out. Nothing
is written to the database. To run the rows where they are instead, see sources.django.
`,
  options: {
    'django-url': {
      type: 'string',
      value: 'URL',
      help: `the Django database: postgres://… or mysql://… (default: $${ENV.djangoUrl})`,
    },
    'table-prefix': { type: 'string', value: 'P', help: 'the tables\' prefix (default "django_celery_beat_")' },
    timezone: { type: 'string', value: 'ZONE', help: "Django's TIME_ZONE, only when USE_TZ = False (naive datetimes)" },
    schemas: {
      type: 'string',
      value: 'S',
      help: `django-tenants (PostgreSQL): comma-separated schemas, or "discover"
        (entries are named <schema>:<name>)`,
    },
    out: { type: 'string', short: 'o', value: 'FILE', help: 'write the config there (default: stdout)' },
    ...intoStoreOptions,
  },
  run: (args, io) => djangoImportCommand(args.values, args.positionals, io),
});

async function djangoImportCommand(
  values: {
    'django-url'?: string;
    'table-prefix'?: string;
    timezone?: string;
    schemas?: string;
    out?: string;
    'into-store'?: boolean;
    config?: string;
    broker?: string;
  },
  _positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const usage = (problem: string) => new BeatError(ErrorCode.Usage, `beat import django: ${problem}. See 'beat import django --help'.`);
  const override = djangoOverride(io, values['django-url']);
  if (override === undefined) throw usage('--django-url must name the Django database, e.g. --django-url postgres://app@db:5432/app');
  const { url } = override;
  const where = djangoWhere(override);
  if (values['into-store'] === true && values.out !== undefined)
    throw usage('give --out (a file) or --into-store (the runtime store), not both');
  const schemas = values.schemas === undefined ? undefined : values.schemas === 'discover' ? 'discover' : values.schemas.split(',');
  const parsed = djangoSourceSchema.safeParse({
    url,
    ...(values['table-prefix'] === undefined ? {} : { tablePrefix: values['table-prefix'] }),
    ...(values.timezone === undefined ? {} : { useTz: false, timeZone: values.timezone }),
    ...(schemas === undefined ? {} : { schemas }),
  });
  if (!parsed.success) {
    const flags: Readonly<Record<string, string>> = {
      url: where,
      tablePrefix: '--table-prefix',
      timeZone: '--timezone',
      schemas: '--schemas',
    };
    throw usage(
      parsed.error.issues.map((issue) => `${flags[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`).join('; '),
    );
  }
  // Only the rows are imported, as written: their resolution (zone, hashed times) is not read here.
  const reading = await readDjangoEntries(parsed.data, { zone: 'UTC', deployment: '' }, where);
  const beatSchedule: Record<string, unknown> = {};
  const notes: string[] = [];
  for (const problem of reading.problems)
    notes.push(`PeriodicTask ${JSON.stringify(problem.name)}: not imported: ${problemsInline(problem.problems)}`);
  for (const row of reading.rows) {
    if (row.definition === undefined) continue;
    const definition = importedDefinition(row, row.definition);
    // Each row alone through beat check's parser: a name or value it refuses is this row's note, not the import's failure.
    const refused = configProblem({ beatSchedule: { [row.name]: definition } }, 'beat import django');
    if (refused === undefined) beatSchedule[row.name] = definition;
    else notes.push(`PeriodicTask ${JSON.stringify(row.name)}: not imported: ${refused}`);
  }
  const config = { timezone: 'UTC', beatSchedule };
  if (values['into-store'] === true) return importIntoStore(io, 'import django', values, config, notes);
  const header = [
    `Imported by \`beat import django\` from ${maskUrl(url)} (tables ${parsed.data.tablePrefix}*).`,
    'Crontabs keep their own timezone; last_run_at and total_run_count are not carried over (tsbeat keeps runs in Redis).',
  ];
  const rendered = renderImportedConfig(config, header, values.out ?? '<stdout>');
  return writeImported(io, values.out, rendered, Object.keys(beatSchedule).length, notes);
}

/**
 * The row's definition as the file's entry: the header `periodic_task_name` is what tsbeat sends
 * for every entry anyway (the entry's name), so it is written only where the row's name differs
 * from the entry's (a django-tenants row, `<schema>:<name>`); a headers object or options that hold
 * nothing are left out.
 */
function importedDefinition(row: TaskRow, definition: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const options = { ...(definition.options as Record<string, unknown> | undefined) };
  const headers = { ...(options.headers as Record<string, unknown> | undefined) };
  const sent = row.sourced.entry?.options.headers?.periodic_task_name;
  if (sent !== undefined && sent !== row.name) headers.periodic_task_name = sent;
  if (Object.keys(headers).length === 0) delete options.headers;
  else options.headers = headers;
  const out: Record<string, unknown> = { ...definition, options };
  if (Object.keys(options).length === 0) delete out.options;
  return out;
}
