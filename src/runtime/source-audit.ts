/**
 * The audit trail of changes tsbeat does not make itself: a RedBeat key written by RedBeat's code,
 * a django row saved in the admin. The catalog sees them as a source's changes between two looks;
 * this turns one name's before and after into the event the trail records (`who` is the source:
 * `redbeat`, `django`). Pure: the catalog calls it, the service records what it returns.
 */
import { entryDiff } from '../control/audit-events.js';
import type { FieldChange } from '../control/audit-events.js';
import type { AuditAction } from '../control/audit-event-view.js';
import { sourcedDefinition } from '../ports/entry-source.js';
import type { SourcedEntry } from '../ports/entry-source.js';

/** One change a source's look found: the entry, what became of it, and the field diff. */
export interface SourceChange {
  readonly who: string;
  readonly entry: string;
  readonly action: AuditAction;
  readonly changes: readonly FieldChange[];
}

/** What a source holds of an entry, for the diff: its definition, or its problems when it has none that runs. */
const definition = (sourced: SourcedEntry | undefined): unknown =>
  sourced === undefined ? undefined : (sourcedDefinition(sourced) ?? { problems: sourced.problems });

/**
 * The change from `before` to `after` (undefined: absent) of one name of the source `who`, or
 * undefined when nothing an audit shows changed (the same definition read again). A new
 * incarnation under a held name is a create: the entry before it is gone with its state.
 */
export function sourceChange(
  who: string,
  name: string,
  before: SourcedEntry | undefined,
  after: SourcedEntry | undefined,
): SourceChange | undefined {
  if (before === undefined && after === undefined) return undefined;
  if (after === undefined) return { who, entry: name, action: 'delete', changes: entryDiff(definition(before), undefined) };
  if (before === undefined || before.incarnation !== after.incarnation)
    return { who, entry: name, action: 'create', changes: entryDiff(undefined, definition(after)) };
  const changes = entryDiff(definition(before), definition(after));
  return changes.length === 0 ? undefined : { who, entry: name, action: 'update', changes };
}

/** What `held` had of each name `changes` touches, before they are applied. */
export function heldBefore(
  held: ReadonlyMap<string, SourcedEntry>,
  changes: { readonly changed: readonly SourcedEntry[]; readonly removed: readonly string[] },
): Map<string, SourcedEntry | undefined> {
  const out = new Map<string, SourcedEntry | undefined>();
  for (const name of changes.removed) out.set(name, held.get(name));
  for (const entry of changes.changed) if (!out.has(entry.name)) out.set(entry.name, held.get(entry.name));
  return out;
}

/** The changes of source `who` from `before` (heldBefore) to what it holds now. */
export function sourceChanges(
  who: string,
  before: ReadonlyMap<string, SourcedEntry | undefined>,
  held: ReadonlyMap<string, SourcedEntry>,
): SourceChange[] {
  const found: SourceChange[] = [];
  for (const [name, was] of before) {
    const change = sourceChange(who, name, was, held.get(name));
    if (change !== undefined) found.push(change);
  }
  return found;
}
