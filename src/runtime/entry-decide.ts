/**
 * Which runtime entry is in force under a name, as the catalog (entry-catalog.ts) decides it from
 * what its sources hold: the first source's that holds the name, unless a config-file entry has it
 * (runtime/name-holders.ts says the rule for the commands that read without a catalog); whether a
 * definition changed; and how an entry that does not run is logged.
 */
import { problemsInline } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { EntryOrigin, ResolvedEntry } from '../config/resolve.js';
import type { CalendarDrafts } from '../config/exclude-schema.js';
import { formatPath } from '../config/problems.js';
import { queueNameProblems } from '../config/queue-names.js';
import type { QueueNameContext } from '../config/queue-names.js';
import { revisionNamesDefinition } from '../ports/entry-source.js';
import type { SourcedEntry } from '../ports/entry-source.js';
import type { SourceView } from './source-view.js';
import { nameTakenProblems, unknownCalendarProblems } from './name-holders.js';

/** A runtime entry that does not run, and why. */
export interface EntryProblem {
  readonly name: string;
  readonly origin: EntryOrigin;
  readonly problems: readonly ConfigProblem[];
}

export interface Decided {
  readonly entry?: ResolvedEntry;
  readonly incarnation?: string;
  readonly problem?: EntryProblem;
}

/** What a runtime entry is checked against besides its own schema: the config's calendars and the deployment's queue names. */
export interface DecideChecks {
  readonly calendars: CalendarDrafts | undefined;
  readonly queueNames: QueueNameContext | undefined;
}

/** The entry in force under `name` now, or why there is none; `before`, the one in force so far, if it may stay as it is. */
export function decideEntry(
  views: readonly SourceView[],
  staticNames: ReadonlySet<string>,
  checks: DecideChecks,
  name: string,
  before: ResolvedEntry | undefined,
): Decided {
  let winner: { view: SourceView; sourced: SourcedEntry } | undefined;
  for (const view of views) {
    const sourced = view.held.get(name);
    if (sourced === undefined) continue;
    const { origin } = view.source;
    if (staticNames.has(name) || winner !== undefined) {
      const holder = staticNames.has(name) ? { file: true as const } : { source: winner?.view.source.origin ?? '' };
      return { problem: { name, origin, problems: nameTakenProblems(holder) }, ...keepWinner(winner, before) };
    }
    if (sourced.problems !== undefined) return { problem: { name, origin, problems: sourced.problems } };
    const definition = sourced.shape ?? sourced.entry;
    const unknown = unknownCalendarProblems(definition.exclude, checks.calendars);
    if (unknown !== undefined) return { problem: { name, origin, problems: unknown } };
    // A queue on tsbeat's keys (its stop key, its lock) would take the message pushed onto it.
    const queues = checks.queueNames === undefined ? [] : queueNameProblems(definition, checks.queueNames);
    if (queues.length > 0)
      return { problem: { name, origin, problems: queues.map((p) => ({ path: formatPath(p.path), message: p.message })) } };
    winner = { view, sourced };
  }
  return keepWinner(winner, before);
}

function keepWinner(
  winner: { view: SourceView; sourced: SourcedEntry } | undefined,
  before: ResolvedEntry | undefined,
): { entry?: ResolvedEntry; incarnation?: string } {
  if (winner === undefined || winner.sourced.problems !== undefined) return {};
  const { sourced, view } = winner;
  const { incarnation, revision } = sourced;
  // Read again with the revision it was resolved from (a reload, a change told twice): the same
  // definition, so the same entry, without resolving and comparing it again.
  if (before !== undefined && revisionNamesDefinition(revision) && before.revision === revision && before.origin === view.source.origin)
    return { entry: before, incarnation };
  return { entry: view.resolver.resolve(sourced.name, sourced, { incarnation, revision }), incarnation };
}

/** Same definition: the resolved entries are plain data (schedules, args), compared as JSON. */
export function sameEntry(a: ResolvedEntry, b: ResolvedEntry): boolean {
  if (a === b) return true;
  // Each carries its revision: two that name other definitions differ.
  if (revisionNamesDefinition(a.revision) && revisionNamesDefinition(b.revision) && a.revision !== b.revision) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Logs each runtime entry that does not run (a new problem, or one that changed), naming why. */
export function reportProblems(logger: Logger, problems: readonly EntryProblem[]): void {
  for (const problem of problems) {
    const event = problem.problems[0]?.path === 'name' ? EVENTS.entriesConflict : EVENTS.entriesInvalid;
    logger.warn(
      { event, entry: problem.name, origin: problem.origin, problems: problem.problems },
      `${problem.origin} entry "${problem.name}" does not run: ${problemsInline(problem.problems)}`,
    );
  }
}
