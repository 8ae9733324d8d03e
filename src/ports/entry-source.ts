/**
 * Entries that change while beat runs: what the scheduler needs from a source of them (the runtime
 * store in Redis, RedBeat's keys, django-celery-beat's tables). The scheduler keeps a copy and asks
 * each source, every `maxInterval` and whenever the source says something changed, for what changed
 * since a cursor; a source answers with the entries changed (whole) and the names removed.
 */
import type { ConfigProblem } from '../base/errors.js';
import type { EntryOrigin } from '../config/resolve.js';
import type { ParsedEntry } from '../config/schema.js';
import { definitionOf } from '../config/entry-shapes.js';
import type { ShapedDefinition } from '../config/entry-shapes.js';

/**
 * The revision of an entry whose source keeps no record in tsbeat's entries hash (RedBeat, django):
 * '@' and its incarnation. The publish scripts check it against the incarnation its stored state
 * belongs to (the state's `g`, lua/includes/entry-fence.lua): a state of an older incarnation is
 * none (a re-created entry starts afresh), a run of an older incarnation than the state's is refused.
 * An incarnation there is a kind letter and a whole number that only grows for one name.
 */
export function incarnationRevision(incarnation: string): string {
  return `@${incarnation}`;
}

/** The incarnation of an incarnationRevision, or undefined for any other revision. */
export function revisionIncarnation(revision: string | undefined): string | undefined {
  return revision?.startsWith('@') === true ? revision.slice(1) : undefined;
}

/**
 * Whether `revision` names one definition (the store's record version): an entry read again with
 * it is the same entry. An incarnationRevision does not (an edit keeps it).
 */
export function revisionNamesDefinition(revision: string | undefined): revision is string {
  return revision !== undefined && !revision.startsWith('@');
}

/**
 * An entry as a source holds it: valid (checked by the config's entry schema), or with its problems.
 * A valid one's definition is its own or, from a source that shares definition shapes between
 * entries that differ only in their args and kwargs (config/entry-shapes.ts), a shape's with these
 * (per-tenant entries hold an argument list each, not a definition each).
 * `incarnation` tells a deleted and re-created entry from an edited one (created once, never reused):
 * a new incarnation starts afresh, where an edit continues from the last run. `revision`, when the
 * source gives one, names this definition of this incarnation as the publish scripts check it
 * (the store's record version): a run of an entry whose stored revision is another is refused;
 * for sources with no record in tsbeat's hash, incarnationRevision(incarnation).
 */
export type SourcedEntry = (
  | ({ readonly name: string; readonly problems?: undefined } & ShapedDefinition)
  | { readonly name: string; readonly entry?: undefined; readonly problems: readonly ConfigProblem[]; readonly shape?: undefined }
) & { readonly incarnation?: string; readonly revision?: string };

/** A sourced entry's definition, or undefined when it has problems instead. */
export function sourcedDefinition(sourced: SourcedEntry): ParsedEntry | undefined {
  return sourced.problems === undefined ? definitionOf(sourced) : undefined;
}

/** Everything a source holds, and the cursor to ask for changes since. */
export interface EntrySnapshot {
  readonly entries: readonly SourcedEntry[];
  readonly cursor: string;
}

/** What changed since a cursor: entries created or changed, names removed, and the new cursor. */
export interface EntryChanges {
  readonly changed: readonly SourcedEntry[];
  readonly removed: readonly string[];
  readonly cursor: string;
}

export interface EntrySource {
  /** Where its entries come from, shown in status and logs. */
  readonly origin: EntryOrigin;
  /** Everything it holds now. */
  load(): Promise<EntrySnapshot>;
  /**
   * What changed since `cursor` (from load or an earlier call); a change may be reported again.
   */
  changesSince(cursor: string): Promise<EntryChanges>;
  /**
   * Whether what the read that returned `cursor` handed on of entries `names` may be out of date
   * now: a check much cheaper than changesSince (django: its change marker; RedBeat: the entries'
   * definitions), which a leader makes before each publish of these entries, so that a change that
   * returned before a slot is in force for it (docs/sources.md). False when it cannot tell (the
   * source is failing: what is known keeps running); it may say true for nothing (a look then finds
   * no change). Sources whose publish is fenced otherwise (the store) have none.
   */
  outdated?(cursor: string, names: readonly string[]): Promise<boolean>;
  /** The names of the config file's entries, which the source's writers must not take. */
  publishStaticNames?(names: readonly string[]): Promise<void>;
}
