/**
 * `beat history ENTRY`: the entry's last slots and their outcomes, newest first, each with its retry
 * attempts (control/slot-view.ts), from the history the leader keeps in Redis when a resultBackend or
 * taskEvents is configured.
 */
import { oneOrSelected, selectEntries, selectorArg, selectorOption } from './selector-args.js';
import type { LabelSelector } from '../core/label-selector.js';
import { entryHistory } from '../operations/read-verbs.js';
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { formatSeconds, stateText } from '../control/run-view.js';
import { attemptsText } from '../control/slot-view.js';
import type { AttemptView, SlotView } from '../control/entry-view-schema.js';
import { retryPolicyOf } from '../config/retry-schema.js';
import { parseCount } from './args.js';
import { djangoOverride } from './config-args.js';
import { controlDoor } from './control.js';
import { runVerb } from '../operations/door.js';
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
  about: `Shows ENTRY's last slots (with -l, those of every entry the selector selects, entry by entry, an
ENTRY column first, "entry" in --json), newest first, one row each, as its last attempt ended: task id, slot, when
it was published, its state (PENDING, STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or unknown when no result came
within outcomeTimeout), when it finished, its runtime and the exception's first line. A slot whose run was
retried (the entry's retry policy) has an ATTEMPTS column (attempts run of those allowed, "2/3"), and each
attempt on a line of its own under it ("#1", "#2", …); in --json, every slot has "attempts" (oldest first),
"attemptCount", "maxAttempts" and "slotTaskId". The leader keeps the last ${DEFAULTS.runHistoryLength} runs
(attempts) of each entry when the config has a resultBackend (Celery's result_backend, a Redis one) or
taskEvents (workers started with -E). ENTRY is the config file's,
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
    json: {
      type: 'boolean',
      help: "print the slots as a JSON array (the fields of /status's lastOutcome, of the last attempt, with its attempts)",
    },
    limit: {
      type: 'string',
      short: 'n',
      value: 'N',
      help: `at most N slots, 1 to ${DEFAULTS.runHistoryLength} (default ${DEFAULTS.runHistoryLength})`,
    },
    ...selectorOption,
  },
  run: (args, io) => historyCommand(args.values, args.positionals, io),
});

/**
 * The slots as a table: an ENTRY column first when they carry their entry (-l), ORIGIN when one was
 * not the schedule's, ATTEMPTS when one was retried or a retry policy is known, and then each of a
 * retried slot's attempts on a row under it. `columns` (without --wide): the lines fit it, FINISHED
 * relative to `nowMs` and PUBLISHED left out (a scheduled run goes out at its slot; ORIGIN says when it did not).
 */
function runTable(slots: readonly (SlotView & { entry?: string })[], columns: number | undefined, nowMs: number): string {
  const entries = slots.some((r) => r.entry !== undefined);
  // As before retries for a history without them: ORIGIN and ATTEMPTS only when they say something.
  const origins = slots.some((r) => r.origin !== 'schedule');
  const attempts = slots.some((r) => r.attemptCount > 1 || r.maxAttempts !== null);
  const wide = columns === undefined;
  const listed = (slot: SlotView): readonly AttemptView[] => (slot.attempts.length > 1 || slot.attemptCount > 1 ? slot.attempts : []);
  // On a terminal, EXCEPTION only when a run has one: its room goes to the others.
  const exceptions = wide || slots.some((r) => r.exception !== null || listed(r).some((a) => a.exception !== null));
  const finished = (iso: string | null): string => (iso === null ? '-' : wide ? iso : relativeText(Date.parse(iso), nowMs));
  const header = [
    ...(entries ? ['ENTRY'] : []),
    ...(wide ? ['PUBLISHED'] : []),
    'SLOT',
    'STATE',
    ...(attempts ? ['ATTEMPTS'] : []),
    'FINISHED',
    'RUNTIME',
    'TASK ID',
    ...(origins ? ['ORIGIN'] : []),
    ...(exceptions ? ['EXCEPTION'] : []),
  ];
  const at = (name: string): number => header.indexOf(name);
  const runtime = (s: number | null): string => (s === null ? '-' : formatSeconds(s));
  return renderTable(
    header,
    slots.flatMap((r) => [
      [
        ...(entries ? [r.entry ?? ''] : []),
        ...(wide ? [r.publishedAt] : []),
        r.slot,
        stateText(r),
        ...(attempts ? [attemptsText(r)] : []),
        finished(r.finishedAt),
        runtime(r.runtimeSeconds),
        r.taskId,
        ...(origins ? [r.origin] : []),
        ...(exceptions ? [r.exception ?? ''] : []),
      ],
      // Its attempts, oldest first, indented under the slot in its SLOT column.
      ...listed(r).map((a) => [
        ...(entries ? [''] : []),
        ...(wide ? [a.publishedAt] : []),
        `  #${a.attempt}`,
        a.state,
        ...(attempts ? [''] : []),
        finished(a.finishedAt),
        runtime(a.runtimeSeconds),
        a.taskId,
        ...(origins ? [''] : []),
        ...(exceptions ? [a.exception ?? ''] : []),
      ]),
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
    const runs: (SlotView & { entry: string })[] = [];
    for (const entry of entries) {
      const maxAttempts = retryPolicyOf(entry, control.config)?.attempts;
      for (const r of await entryHistory(control.runs, entry.name, limit, entry.timezone, maxAttempts))
        runs.push({ entry: entry.name, ...r });
    }
    if (values.json) {
      io.out(JSON.stringify(runs));
      return ExitCode.Ok;
    }
    if (runs.length === 0) {
      if (entries.length > 0) io.out(`-l ${selector.text}: no runs recorded`);
      return ExitCode.Ok;
    }
    io.out(runTable(runs, values.wide === true ? undefined : terminalColumns(io), io.now()));
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
    const runs = await runVerb('history', controlDoor('history', control, io, django), control.audit(undefined), {
      target: { entry: name },
      limit,
    });
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
    io.out(runTable(runs, values.wide === true ? undefined : terminalColumns(io), io.now()));
    return ExitCode.Ok;
  } catch (error) {
    throw control.failure('history', error);
  } finally {
    await control.close();
  }
}
