/** `beat check`: validate a config and show what it schedules. Needs no Redis. */
import { DEFAULTS } from '../base/defaults.js';
import { describeSchedule, nextFires } from '../core/schedule.js';
import { entryWindow } from '../config/resolve.js';
import { describeExclusions } from '../core/exclusions.js';
import { describeCanvas } from '../config/canvas-words.js';
import { isScheduleError } from '../base/step-budget.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { formatInstant } from '../time/zone.js';
import { ENV } from '../base/env.js';
import { leaf } from './command-spec.js';
import { brokerOverride, configOption, djangoOverride, loadFromArgs } from './config-args.js';
import { djangoOption } from './django-read.js';
import { ExitCode, terminalColumns } from './io.js';
import type { Io } from './io.js';
import { renderTable, wrapLines } from './table.js';
import { horizonMs, horizonOption, horizonText, renderLoads } from './load-view.js';
import { entriesLoad, loadReport } from '../control/entries-load.js';
import type { LoadReport } from '../control/entries-load.js';

export const checkSpec = leaf({
  name: 'check',
  about: `Validates the config and prints a table of its entries: name, task, the schedule in words (with
its startAt, endAt and maxRuns), time zone and next fire. Exits 0 when the config is valid, 2 with every problem listed on stderr when not,
and 2 naming each entry whose next fire cannot be computed within its step budget (a schedule that fires once in centuries, if ever).
Needs no Redis and no broker, unless asked: with --consumers (or --broker URL) it then asks the
broker which of the entries' queues a worker consumes now, and exits 1 naming each queue nobody
consumes (a routing typo such as queue "reportz"), or when no worker answers at all.
With a django source (sources.django, --django-url) its rows are read once, read-only, and
checked as beat run takes them (the same source and rules): they join the table (ORIGIN django), and a row that would not
run (no schedule, args that are not JSON, a name a file entry takes, …) is named on stderr with
its column, and the exit is 2. A database that cannot be read exits 2, naming the URL's setting
and the fix. The lines fit the terminal ($COLUMNS, else the terminal's width, else ${DEFAULTS.terminalColumns}): long
cells cut with "…", the other lines wrapped; --wide prints every cell and line whole.
It also counts the runs the entries start in every second of the next day (--horizon): when more
than loadWarnAt (default ${DEFAULTS.loadWarnAt.toLocaleString('en-US')}) start in one second it warns on stderr, naming the second, the
count and the fix, and still exits 0. --load prints that load: the runs, the busiest minute and
second, and the runs of each hour with its busiest minute.
`,
  options: {
    ...configOption,
    ...djangoOption,
    consumers: {
      type: 'boolean',
      help: `also ask the broker which of the entries' queues a worker consumes
      now (Celery's active_queues, as the leader's consumer check does): a table of
      the queues, and exit 1 naming each queue nobody consumes (a Redis broker)`,
    },
    broker: {
      type: 'string',
      short: 'b',
      value: 'URL',
      help: `the broker to ask (default: $${ENV.brokerUrl}, then $${ENV.celeryBrokerUrl}, then broker.url, as beat run takes it); implies --consumers`,
    },
    wide: { type: 'boolean', short: 'w', help: 'every cell and line whole; without it, the lines fit the terminal' },
    load: { type: 'boolean', help: 'also print the runs the entries start per minute and their busiest minute and second' },
    ...horizonOption,
  },
  run: (args, io) => checkCommand(args.values, io),
});

async function checkCommand(
  values: {
    config?: string;
    'django-url'?: string;
    consumers?: boolean;
    broker?: string;
    wide?: boolean;
    load?: boolean;
    horizon?: string;
  },
  io: Io,
): Promise<ExitCode> {
  const horizon = horizonMs('check', values.horizon);
  const columns = values.wide === true ? undefined : terminalColumns(io);
  const fit = (text: string): string => (columns === undefined ? text : wrapLines(text, columns));
  const override = djangoOverride(io, values['django-url']);
  // The broker beat run would publish to (--broker, $BEAT_BROKER_URL, $CELERY_BROKER_URL, broker.url): the one --consumers asks.
  const { source, config } = await loadFromArgs(io, values.config, brokerOverride(io, values.broker), override);
  const askConsumers = values.consumers === true || (values.broker !== undefined && values.broker !== '');
  // A django source's rows, read once as beat run reads them (runtime-view.ts); the database must answer.
  const django =
    config.sources?.django === undefined
      ? undefined
      : await import('./runtime-view.js').then(async ({ readRuntimeView, throwFailures }) => {
          const view = await readRuntimeView(config, { django: override, redbeat: false });
          throwFailures(view);
          return view;
        });
  const entries = [...config.entries, ...(django?.entries ?? [])];
  const now = io.now();
  // An entry whose schedule cannot be computed (base/step-budget.ts) is named with its reason; beat run would fail it alone.
  const unschedulable: string[] = [];
  const rows = entries.map((entry) => {
    const window = entryWindow(entry);
    let next: number | undefined;
    let nextText: string;
    try {
      next = entry.enabled ? nextFires(entry.schedule, { zone: entry.timezone, afterMs: now, window }, 1)[0] : undefined;
      nextText = !entry.enabled ? 'disabled' : next === undefined ? 'never (no future fire)' : formatInstant(next, entry.timezone);
    } catch (error) {
      if (!isScheduleError(error)) throw error;
      unschedulable.push(`beatSchedule.${entry.name}.schedule: ${error.message} (${error.code})`);
      nextText = 'cannot be computed (below)';
    }
    const row = [entry.name, describeCanvas(entry.canvas) ?? entry.task, describeEntrySchedule(entry), entry.timezone, nextText];
    return django === undefined ? row : [...row, entry.origin ?? 'file'];
  });
  const header = ['NAME', 'TASK', 'SCHEDULE', 'TIMEZONE', 'NEXT'];
  // The schedule in words is what the table is for: the task and the name give way first.
  io.out(
    renderTable(django === undefined ? header : [...header, 'ORIGIN'], rows, columns, [
      { column: 1, keep: 16 },
      { column: 0, keep: 20 },
      { column: 2, keep: 30 },
      { column: 3, keep: 13 },
    ]),
  );
  const n = config.entries.length;
  if (unschedulable.length > 0) {
    for (const line of unschedulable) io.err(fit(line));
    io.err(
      fit(
        `${source}: ${unschedulable.length} entr${unschedulable.length === 1 ? 'y' : 'ies'} whose next run cannot be computed (above): beat run would fail ${unschedulable.length === 1 ? 'it' : 'them'} alone`,
      ),
    );
    return ExitCode.BadInput;
  }
  // Counting a day of runs costs a config of ten entries ~0.1 s; the warning needs it only when the
  // entries could start more than loadWarnAt runs in one second at all.
  if (values.load === true || mostRunsInOneSecond(entries) > (config.loadWarnAt ?? DEFAULTS.loadWarnAt)) {
    const load = loadReport(
      await entriesLoad(
        entries.map((entry) => ({ entry })),
        now,
        horizon,
      ),
    );
    if (values.load === true) io.out(renderLoads(`The load of ${source} over the next ${horizonText(horizon)}`, [{ label: 'all', load }]));
    warnOfLoad(config, source, load, io, fit);
  }
  if (django === undefined) {
    io.out(fit(`${source}: valid, ${n} entr${n === 1 ? 'y' : 'ies'}`));
    return askConsumers ? askTheBroker(config, entries, io, columns) : ExitCode.Ok;
  }
  const rowsRead = django.entries.length + django.problems.length;
  const counted = `${source}: valid, ${n} entr${n === 1 ? 'y' : 'ies'}; sources.django: ${rowsRead} row${rowsRead === 1 ? '' : 's'}`;
  if (django.problems.length === 0) {
    io.out(fit(counted));
    return askConsumers ? askTheBroker(config, entries, io, columns) : ExitCode.Ok;
  }
  const { problemLine } = await import('./runtime-view.js');
  for (const problem of django.problems) io.err(fit(problemLine(problem)));
  const bad = django.problems.length;
  io.err(fit(`${counted}, ${bad} of which do${bad === 1 ? 'es' : ''} not run (above): fix them in the Django admin or the ORM`));
  return ExitCode.BadInput;
}

/**
 * The most runs `entries` can start in one second, whatever the instant: an interval's 1,000 / its
 * period, rounded up (100 ms: 10), every other form (cron with seconds, rrule, solar, clocked) one;
 * a list of specs the sum of its own. No second of their load can hold more.
 */
function mostRunsInOneSecond(entries: readonly ResolvedEntry[]): number {
  let most = 0;
  for (const { schedule } of entries) {
    const specs = schedule.kind === 'union' ? schedule.specs : [schedule];
    for (const spec of specs) most += spec.kind === 'interval' ? Math.ceil(1000 / spec.everyMs) : 1;
  }
  return most;
}

/** The warning of more than loadWarnAt runs in one second (not an error: the config runs as it is). */
function warnOfLoad(config: ResolvedConfig, source: string, load: LoadReport, io: Io, fit: (text: string) => string): void {
  const warnAt = config.loadWarnAt ?? DEFAULTS.loadWarnAt;
  const { runs, at } = load.peakSecond;
  if (runs <= warnAt) return;
  io.err(
    fit(
      `${source}: warning: ${runs.toLocaleString('en-US')} runs start in the second ${at} (more than loadWarnAt, ${warnAt.toLocaleString('en-US')}): ` +
        `give their crontabs H for the minute and hour ("H H * * *": each entry its own, fixed by its name) or a spread, so that they start apart; ` +
        `'beat check --load' shows the busiest minutes`,
    ),
  );
}

/** The schedule in words, with the entry's limits: "every 1h, from 2027-01-01T09:00:00+01:00, at most 3 runs". */
function describeEntrySchedule(entry: ResolvedEntry): string {
  const parts = [describeSchedule(entry.schedule, entry.timezone)];
  if (entry.startAtMs !== undefined) parts.push(`from ${formatInstant(entry.startAtMs, entry.timezone)}`);
  if (entry.endAtMs !== undefined) parts.push(`until before ${formatInstant(entry.endAtMs, entry.timezone)}`);
  if (entry.maxRuns !== undefined) parts.push(entry.maxRuns === 1 ? 'once only' : `at most ${entry.maxRuns} runs`);
  const except = describeExclusions(entry.exclude);
  if (except !== '') parts.push(except);
  return parts.join(', ');
}

/** `--consumers`: loaded only when asked, so that a plain `beat check` loads no Redis or broker client (cli-imports.test.ts). */
async function askTheBroker(
  config: ResolvedConfig,
  entries: readonly ResolvedEntry[],
  io: Io,
  columns: number | undefined,
): Promise<ExitCode> {
  const { checkConsumers } = await import('./check-consumers.js');
  return checkConsumers(config, entries, io, columns);
}
