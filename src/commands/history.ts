/**
 * `beat history ENTRY`: the entry's last runs and their outcomes, newest first, from the history the
 * leader keeps in Redis when a resultBackend or taskEvents is configured.
 */
import { oneOrSelected, selectEntries, selectorArg, selectorOption } from './selector-args.js';
import type { LabelSelector } from '../core/label-selector.js';
import { entryHistory } from '../operations/read-verbs.js';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { formatSeconds, stateText } from '../control/run-view.js';
import type { RunView } from '../control/run-view.js';
import { parseCount } from './args.js';
import { djangoOverride } from './config-args.js';
import { requireControlEntry } from './control.js';
import { openControl, redisOptions } from './control-open.js';
import { ExitCode, terminalColumns } from './io.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';
import { renderTable, wrapLines } from './table.js';
import { relativeText } from './relative-time.js';
import { keepsRunHistory } from '../config/outcome-sources.js';

export const historySpec = leaf({
  name: 'history',
  positionals: { usage: '[ENTRY]', most: 1 },
  about: `Shows ENTRY's last runs (with -l, those of every entry the selector selects, entry by entry, an
ENTRY column first, "entry" in --json), newest first: task id, slot, when it was published, its state (PENDING,
STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or unknown when no result came within outcomeTimeout),
when it finished, its runtime and the exception's first line. The leader keeps the last
${DEFAULTS.runHistoryLength} runs of each entry when the config has a resultBackend (Celery's
result_backend, a Redis one) or taskEvents (workers started with -E). ENTRY is the config file's,
a runtime entry (beat entries), one of RedBeat's (sources.redbeat) or a django row (sources.django).
STARTED shows for tasks
with task_track_started, or from task events. An ORIGIN column (schedule, trigger, backfill;
"origin" in --json) says how each run was published when any was not by its schedule.
The lines fit the terminal ($COLUMNS, else the terminal's width, else ${DEFAULTS.terminalColumns}): SLOT, STATE,
FINISHED relative to now ("2 m ago"), RUNTIME, TASK ID and EXCEPTION (when a run has one), long cells cut with "…";
--wide adds PUBLISHED, every instant in ISO 8601 and every cell whole.
`,
  options: {
    ...redisOptions,
    wide: {
      type: 'boolean',
      short: 'w',
      help: 'every column (PUBLISHED too), each instant in ISO 8601, no cell cut; without it, the lines fit the terminal',
    },
    json: { type: 'boolean', help: "print the runs as a JSON array (the fields of /status's lastOutcome)" },
    limit: {
      type: 'string',
      short: 'n',
      value: 'N',
      help: `at most N runs, 1 to ${DEFAULTS.runHistoryLength} (default ${DEFAULTS.runHistoryLength})`,
    },
    ...selectorOption,
  },
  run: (args, io) => historyCommand(args.values, args.positionals, io),
});

/**
 * The runs as a table: an ENTRY column first when they carry their entry (-l), ORIGIN when asked.
 * `columns` (without --wide): the lines fit it, FINISHED relative to `nowMs` and PUBLISHED left out
 * (a scheduled run goes out at its slot; ORIGIN says when it did not).
 */
function runTable(runs: readonly (RunView & { entry?: string })[], origins: boolean, columns: number | undefined, nowMs: number): string {
  const entries = runs.some((r) => r.entry !== undefined);
  const wide = columns === undefined;
  // On a terminal, EXCEPTION only when a run has one: its room goes to the others.
  const exceptions = wide || runs.some((r) => r.exception !== null);
  const finished = (iso: string | null): string => (iso === null ? '-' : wide ? iso : relativeText(Date.parse(iso), nowMs));
  const header = [
    ...(entries ? ['ENTRY'] : []),
    ...(wide ? ['PUBLISHED'] : []),
    'SLOT',
    'STATE',
    'FINISHED',
    'RUNTIME',
    'TASK ID',
    ...(origins ? ['ORIGIN'] : []),
    ...(exceptions ? ['EXCEPTION'] : []),
  ];
  const at = (name: string): number => header.indexOf(name);
  return renderTable(
    header,
    runs.map((r) => [
      ...(entries ? [r.entry ?? ''] : []),
      ...(wide ? [r.publishedAt] : []),
      r.slot,
      stateText(r),
      finished(r.finishedAt),
      r.runtimeSeconds === null ? '-' : formatSeconds(r.runtimeSeconds),
      r.taskId,
      ...(origins ? [r.origin] : []),
      ...(exceptions ? [r.exception ?? ''] : []),
    ]),
    columns,
    // The task id gives way first (its first characters find it), then the exception, the entry, the state.
    [
      { column: at('TASK ID'), keep: 8 },
      ...(exceptions ? [{ column: at('EXCEPTION'), keep: 20 }] : []),
      ...(entries ? [{ column: at('ENTRY'), keep: 16 }] : []),
      { column: at('STATE'), keep: 12 },
    ],
  );
}

/** `beat history -l`: the runs of every selected entry, entry by entry (an ENTRY column; "entry" in --json). */
async function selectedHistory(
  values: { config?: string; broker?: string; json?: boolean; wide?: boolean },
  selector: LabelSelector,
  limit: number,
  io: Io,
): Promise<ExitCode> {
  const django = djangoOverride(io, undefined);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  try {
    const entries = await selectEntries(control, selector, django);
    if (entries.length === 0) io.err(`beat history: no entry matches -l ${shown(selector.text)}`);
    const runs: (RunView & { entry: string })[] = [];
    for (const entry of entries)
      for (const r of await entryHistory(control.runs, entry.name, limit, entry.timezone)) runs.push({ entry: entry.name, ...r });
    if (values.json) {
      io.out(JSON.stringify(runs));
      return ExitCode.Ok;
    }
    if (runs.length === 0) {
      if (entries.length > 0) io.out(`-l ${selector.text}: no runs recorded`);
      return ExitCode.Ok;
    }
    io.out(
      runTable(
        runs,
        runs.some((r) => r.origin !== 'schedule'),
        values.wide === true ? undefined : terminalColumns(io),
        io.now(),
      ),
    );
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure('history', error);
  } finally {
    await control.close();
  }
}

async function historyCommand(
  values: { config?: string; broker?: string; json?: boolean; wide?: boolean; limit?: string; selector?: string },
  positionals: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const limit =
    values.limit === undefined ? DEFAULTS.runHistoryLength : parseCount('history', '--limit', values.limit, 1, DEFAULTS.runHistoryLength);
  const name = positionals[0];
  const selector = selectorArg('history', values.selector);
  oneOrSelected('history', name, selector);
  if (selector !== undefined) return selectedHistory(values, selector, limit, io);
  if (name === undefined)
    throw new BeatError(ErrorCode.Usage, "beat history: which entry? Usage: beat history ENTRY. See 'beat history --help'.");
  // A RedBeat entry or a django row is named as `beat run` finds it ($BEAT_DJANGO_URL too).
  const django = djangoOverride(io, undefined);
  const control = await openControl(io, values.config, values.broker, undefined, django);
  try {
    // A runtime entry's history is kept like a file entry's.
    const entry = await requireControlEntry('history', control, name, django);
    const runs = await entryHistory(control.runs, name, limit, entry.timezone);
    if (values.json) {
      io.out(JSON.stringify(runs));
      return ExitCode.Ok;
    }
    if (runs.length === 0) {
      const said = !keepsRunHistory(control.config)
        ? `${name}: no runs recorded; outcomes are kept only when the config has a resultBackend (Celery's result_backend) or reads task events (taskEvents, not false)`
        : `${name}: no runs recorded yet`;
      io.out(values.wide === true ? said : wrapLines(said, terminalColumns(io)));
      return ExitCode.Ok;
    }
    // ORIGIN only when a run was not the schedule's: a history of scheduled runs reads as before.
    io.out(
      runTable(
        runs,
        runs.some((r) => r.origin !== 'schedule'),
        values.wide === true ? undefined : terminalColumns(io),
        io.now(),
      ),
    );
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure('history', error);
  } finally {
    await control.close();
  }
}
