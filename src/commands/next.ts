/** `beat next`: the coming fire instants of each entry. Needs no Redis. */
import { selected, selectorArg, selectorOption } from './selector-args.js';
import { DEFAULTS } from '../base/defaults.js';
import { nextFires } from '../core/schedule.js';
import { entryWindow } from '../config/resolve.js';
import { describeExclusions } from '../core/exclusions.js';
import { formatInstant } from '../time/zone.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { parseCount, parseInstant, unknownEntryError } from './args.js';
import { configOption, djangoOverride, loadFromArgs } from './config-args.js';
import { djangoOption } from './django-read.js';
import { ExitCode } from './io.js';
import type { Io } from './io.js';
import { leaf } from './command-spec.js';
import { isScheduleError } from '../base/step-budget.js';
import type { ScheduleError } from '../base/step-budget.js';

export const nextSpec = leaf({
  name: 'next',
  about: `Prints the next N fire instants of each entry, strictly after --after, in the entry's time zone.
An interval entry has no history here, so it first fires one interval after --after (as in Celery,
a new entry waits one interval), or at its startAt when that is later; without --after a line on
stderr says so, since a running deployment continues an interval from its last run (its next
run is in beat status). No instant falls before an
entry's startAt or at or after its endAt, and an entry with maxRuns (oneOff: 1) shows at most that
many (its runs so far are in Redis: see beat status). A slot the entry's exclude names is not
listed (it does not run). Needs no broker, and no Redis but RedBeat's. With a RedBeat source
(sources.redbeat) its entries are read too, and with a django source (sources.django,
--django-url) its rows, once and read-only, as beat run reads them; entries that cannot run are
named on stderr; a source that cannot be read exits 2 (a database) or 1 (RedBeat's Redis). The
runtime store's entries are not listed (beat status shows them). An entry whose next fires cannot be
computed within its step budget (a schedule that fires once in centuries, if ever) is named on
stderr with the reason, the others listed, and the exit is 2.
`,
  options: {
    ...configOption,
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
    json: { type: 'boolean', help: 'print {"entries":[{"name","task","timezone","next":[ISO,…]}]}' },
  },
  run: (args, io) => nextCommand(args.values, io),
});

async function nextCommand(
  values: { config?: string; 'django-url'?: string; entry?: string; count?: string; after?: string; json?: boolean; selector?: string },
  io: Io,
): Promise<ExitCode> {
  const selector = selectorArg('next', values.selector);
  const count = values.count === undefined ? DEFAULTS.nextCount : parseCount('next', '--count', values.count, 1, 10_000);
  const afterMs = values.after === undefined ? io.now() : parseInstant('next', '--after', values.after);
  const django = djangoOverride(io, values['django-url']);
  const { config } = await loadFromArgs(io, values.config, undefined, django);

  // RedBeat's entries and django's rows are entries too: read once as beat run reads them (each
  // source must answer), never written. The runtime store's are not: next reads no tsbeat state.
  const runtime =
    config.sources?.redbeat === undefined && config.sources?.django === undefined
      ? undefined
      : await import('./runtime-view.js').then(async ({ readRuntimeView, throwFailures, problemLine }) => {
          const view = await readRuntimeView(config, { django });
          throwFailures(view);
          for (const bad of view.problems) io.err(problemLine(bad));
          return view;
        });
  const all = [...config.entries, ...(runtime?.entries ?? [])];
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
      `beat next: ${which} shown from now, as if new; a running deployment continues each from its last run: its next run is in 'beat status'`,
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
      next,
      error,
      enabled: entry.enabled,
      except: describeExclusions(entry.exclude),
    };
  });
  const failed = result.filter((r) => r.error !== undefined);
  for (const r of failed) io.err(`beat next: entry ${shown(r.name)}: ${r.error?.message ?? ''} (${r.error?.code ?? ''})`);
  const exit = failed.length === 0 ? ExitCode.Ok : ExitCode.BadInput;

  if (values.json) {
    io.out(
      JSON.stringify({
        entries: result.map(({ name, task, timezone, next, error }) =>
          error === undefined
            ? { name, task, timezone, next }
            : { name, task, timezone, next, error: { code: error.code, message: error.message } },
        ),
      }),
    );
    return exit;
  }
  const blocks = result.map((r) => {
    const body =
      r.error !== undefined
        ? [`  (cannot be computed: ${r.error.message})`]
        : !r.enabled
          ? ['  (disabled)']
          : r.next.length === 0
            ? ['  (no future fire)']
            : r.next.map((iso) => `  ${iso}`);
    return [`${r.name}  ${r.task}  [${r.timezone}]`, ...(r.except === '' ? [] : [`  (${r.except})`]), ...body].join('\n');
  });
  io.out(blocks.join('\n\n'));
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
