/** `beat next`: the coming fire instants of each entry, from every source that can be read. */
import { selected, selectorArg, selectorOption } from './selector-args.js';
import { DEFAULTS } from '../base/defaults.js';
import { nextFires } from '../core/schedule.js';
import { entryWindow } from '../config/resolve.js';
import { describeExclusions } from '../core/exclusions.js';
import { formatInstant } from '../time/zone.js';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { parseCount, parseInstant, unknownEntryError } from './args.js';
import { brokerOverride, djangoOverride, loadFromArgs, redisOptions } from './config-args.js';
import { djangoOption } from './django-read.js';
import { ExitCode, terminalColumns } from './io.js';
import { wrapLines } from './table.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';
import { isScheduleError } from '../base/step-budget.js';
import type { ScheduleError } from '../base/step-budget.js';

export const nextSpec = leaf({
  name: 'next',
  about: `Prints the next N fire instants of each entry, strictly after --after, in the entry's time zone:
the config file's entries, then the runtime entries as beat status reads them (once, read-only):
the store's (beat entries), RedBeat's (sources.redbeat) and django's rows (sources.django,
--django-url), each with its origin (file, store, redbeat, django). Runtime entries that cannot
run are named on stderr. A source that cannot be read (the deployment's Redis, RedBeat's, the
database) is named on stderr with the fix, "<origin> entries not listed", and the others are
listed: the exit stays 0, as beat status warns of such a source (the file's entries need no Redis).
An interval entry has no history here, so it first fires one interval after --after (as in Celery,
a new entry waits one interval), or at its startAt when that is later; without --after a line on
stderr says so, since a running deployment continues an interval from its last run (its next
run is in beat status). No instant falls before an
entry's startAt or at or after its endAt, and an entry with maxRuns (oneOff: 1) shows at most that
many (its runs so far are in Redis: see beat status). A slot the entry's exclude names is not
listed (it does not run). Needs no broker. An entry whose next fires cannot be
computed within its step budget (a schedule that fires once in centuries, if ever) is named on
stderr with the reason, the others listed, and the exit is 2.
`,
  options: {
    ...redisOptions,
    ...djangoOption,
    entry: { type: 'string', short: 'e', value: 'NAME', help: 'only this entry' },
    ...selectorOption,
    count: { type: 'string', short: 'n', value: 'N', help: `instants per entry, 1 to 10000 (default ${DEFAULTS.nextCount})` },
    after: {
      type: 'string',
      short: 'a',
      value: 'ISO',
      help: 'an ISO-8601 instant with offset, e.g. 2026-03-08T00:00:00-05:00 (default: now)',
    },
    json: { type: 'boolean', help: 'print {"entries":[{"name","task","timezone","origin","next":[ISO,…]}]}' },
  },
  run: (args, io) => nextCommand(args.values, io),
});

async function nextCommand(
  values: {
    config?: string;
    broker?: string;
    'django-url'?: string;
    entry?: string;
    count?: string;
    after?: string;
    json?: boolean;
    selector?: string;
  },
  io: Io,
): Promise<ExitCode> {
  const selector = selectorArg('next', values.selector);
  const count = values.count === undefined ? DEFAULTS.nextCount : parseCount('next', '--count', values.count, 1, 10_000);
  const afterMs = values.after === undefined ? io.now() : parseInstant('next', '--after', values.after);
  // Every line for people fits the terminal; the full text is in --json.
  const fit = (text: string): string => wrapLines(text, terminalColumns(io));
  const django = djangoOverride(io, values['django-url']);
  const { config } = await loadFromArgs(io, values.config, brokerOverride(io, values.broker), django);

  // The runtime entries as beat status reads them (its reader, loaded only now: cli-imports.test); a
  // source away is named and the rest listed, as status warns of it: the file's entries need no Redis.
  const { readReachableView, problemLine } = await import('./runtime-view.js');
  const runtime = await readReachableView(config, django);
  for (const { origin, error } of runtime.failures) io.err(fit(`beat next: ${origin} entries not listed: ${errorMessage(error)}`));
  for (const bad of runtime.problems) io.err(fit(problemLine(bad)));
  const all = [...config.entries, ...runtime.entries];
  let entries = all;
  if (values.entry !== undefined) {
    const wanted = values.entry;
    entries = entries.filter((e) => e.name === wanted);
    if (entries.length === 0)
      throw unknownEntryError(
        'next',
        wanted,
        all.map((e) => e.name),
      );
  }

  if (selector !== undefined) {
    entries = selected(entries, selector);
    if (entries.length === 0) io.err(`beat next: no entry matches -l ${shown(selector.text)}`);
  }

  // Without --after the list reads as "what runs next", which `beat status` answers from the
  // deployment's state; an interval's grid here starts at now (no state is read), so it can differ.
  const intervals = entries.filter((e) => e.enabled && e.schedule.kind === 'interval').map((e) => e.name);
  if (values.after === undefined && intervals.length > 0) {
    const which = intervals.length === 1 ? `the interval entry ${shown(intervals[0] ?? '')}` : `${intervals.length} interval entries`;
    io.err(
      fit(
        `beat next: ${which} shown from now, as if new; a running deployment continues each from its last run: its next run is in 'beat status'`,
      ),
    );
  }

  const result = entries.map((entry) => {
    let next: string[] = [];
    let error: ScheduleError | undefined;
    try {
      next = entry.enabled
        ? nextFires(
            entry.schedule,
            { zone: entry.timezone, afterMs, window: entryWindow(entry) },
            Math.min(count, entry.maxRuns ?? count),
          ).map((ms) => shownFire(ms, entry.name, entry.timezone, values.after))
        : [];
    } catch (caught) {
      // Named with its reason, the other entries listed: beat run fails such an entry alone.
      if (!isScheduleError(caught)) throw caught;
      error = caught;
    }
    return {
      name: entry.name,
      task: entry.task,
      timezone: entry.timezone,
      origin: entry.origin ?? 'file',
      next,
      error,
      enabled: entry.enabled,
      except: describeExclusions(entry.exclude),
    };
  });
  const failed = result.filter((r) => r.error !== undefined);
  for (const r of failed) io.err(fit(`beat next: entry ${shown(r.name)}: ${r.error?.message ?? ''} (${r.error?.code ?? ''})`));
  const exit = failed.length === 0 ? ExitCode.Ok : ExitCode.BadInput;

  if (values.json) {
    io.out(
      JSON.stringify({
        entries: result.map(({ name, task, timezone, origin, next, error }) =>
          error === undefined
            ? { name, task, timezone, origin, next }
            : { name, task, timezone, origin, next, error: { code: error.code, message: error.message } },
        ),
      }),
    );
    return exit;
  }
  // Each entry's origin when any is not the file's, as beat status's ORIGIN column.
  const origins = result.some((r) => r.origin !== 'file');
  const blocks = result.map((r) => {
    const body =
      r.error !== undefined
        ? [`  (cannot be computed: ${r.error.message})`]
        : !r.enabled
          ? ['  (disabled)']
          : r.next.length === 0
            ? ['  (no future fire)']
            : r.next.map((iso) => `  ${iso}`);
    const head = `${r.name}  ${r.task}  [${r.timezone}]${origins ? `  origin: ${r.origin}` : ''}`;
    return [head, ...(r.except === '' ? [] : [`  (${r.except})`]), ...body].join('\n');
  });
  // A head's follow-on lines indented deeper than its fires (two), so that neither reads as the other.
  io.out(wrapLines(blocks.join('\n\n'), terminalColumns(io), 4));
  return exit;
}

/** A fire instant as ISO 8601; one past the year 9999 is the --after given, not a bug. */
function shownFire(ms: number, entry: string, zone: string, after: string | undefined): string {
  try {
    return formatInstant(ms, zone);
  } catch (error) {
    if (!(error instanceof BeatError) || error.code !== ErrorCode.InstantOutOfRange || after === undefined) throw error;
    throw new BeatError(
      ErrorCode.Usage,
      `beat next: entry ${shown(entry)} next fires after the year 9999 when asked from --after ${after}, and ISO-8601 dates end there; give an earlier --after or a smaller --count`,
      { cause: error },
    );
  }
}
