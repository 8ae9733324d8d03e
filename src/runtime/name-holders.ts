/**
 * Which entry is in force under a name, the rule the catalog (entry-catalog.ts) decides by. The
 * commands that read a store or django's rows once, without a catalog (`beat entries list`,
 * `entries export`, `status`), ask the same questions here, so that they say what a replica says:
 * a config-file entry's name is never a runtime entry's; among the runtime sources the first that
 * holds a name wins; an entry that excludes a calendar the config does not define does not run.
 */
import type { ConfigProblem } from '../base/errors.js';
import { unknownCalendarMessage, unknownCalendars } from '../config/exclude-schema.js';
import type { CalendarDrafts, ExclusionDraft } from '../config/exclude-schema.js';

/** Who holds a name first: the config file, or an earlier runtime source. */
export type NameHolder = { readonly file: true } | { readonly source: string };

/** The problem of an entry whose name `holder` took first. */
export function nameTakenProblems(holder: NameHolder): ConfigProblem[] {
  const takenBy = 'file' in holder ? 'a config-file entry' : `an entry of the ${holder.source} source`;
  return [{ path: 'name', message: `the name is taken by ${takenBy}; rename one of them` }];
}

/** The problem of a runtime entry named like one of `fileNames` (the config file's), if it is. */
export function takenByFileProblems(name: string, fileNames: ReadonlySet<string>): ConfigProblem[] | undefined {
  return fileNames.has(name) ? nameTakenProblems({ file: true }) : undefined;
}

/** The problems of an entry that excludes calendars `calendars` does not define, if it does. */
export function unknownCalendarProblems(
  exclude: readonly ExclusionDraft[] | undefined,
  calendars: CalendarDrafts | undefined,
): ConfigProblem[] | undefined {
  const unknown = unknownCalendars(exclude, calendars);
  if (unknown.length === 0) return undefined;
  return unknown.map((calendar) => ({ path: 'exclude', message: unknownCalendarMessage(calendar, calendars) }));
}
