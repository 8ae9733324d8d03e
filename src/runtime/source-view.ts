/**
 * One source of runtime entries as the catalog (entry-catalog.ts) keeps it: everything it held at
 * the last read, the cursor to ask for changes since, and its failures; and the read that brings
 * it up to date (the whole source at first, then its changes).
 */
import { ShapeResolver } from '../config/entry-shapes.js';
import type { ResolveDefaults } from '../config/entry-shapes.js';
import type { EntrySource, SourcedEntry } from '../ports/entry-source.js';
import { heldBefore, sourceChanges } from './source-audit.js';
import type { SourceChange } from './source-audit.js';

export interface SourceView {
  readonly source: EntrySource;
  cursor: string | undefined;
  /** Everything the source holds, checked or not, by name. */
  readonly held: Map<string, SourcedEntry>;
  /** The message of its last failed read, while it fails: said once, not at every look. */
  lastError: string | undefined;
  /** When its reads began to fail (epoch ms), while they fail. */
  failingSinceMs: number | undefined;
  /** Resolves its entries under the catalog's defaults, once per definition shape. */
  resolver: ShapeResolver;
}

export function sourceView(source: EntrySource, defaults: ResolveDefaults): SourceView {
  return {
    source,
    cursor: undefined,
    held: new Map(),
    lastError: undefined,
    failingSinceMs: undefined,
    resolver: new ShapeResolver(source.origin, defaults),
  };
}

export interface ViewReadHooks {
  /** Told of what a read of the RedBeat or django source changed (see EntryCatalogOptions.onSourceChanges). */
  readonly onSourceChanges?: ((changes: readonly SourceChange[]) => void) | undefined;
  /** Told of the names a read of the RedBeat or django source found deleted. */
  readonly removed: (names: readonly string[]) => void;
}

/**
 * Reads `view`'s source into it, adding the names that changed to `touched`; throws what the source
 * throws.
 */
export async function readView(view: SourceView, touched: Set<string>, hooks: ViewReadHooks): Promise<void> {
  if (view.cursor === undefined) {
    const snapshot = await view.source.load();
    for (const name of view.held.keys()) touched.add(name);
    view.held.clear();
    for (const entry of snapshot.entries) {
      view.held.set(entry.name, entry);
      touched.add(entry.name);
    }
    view.cursor = snapshot.cursor;
    return;
  }
  const changes = await view.source.changesSince(view.cursor);
  const audited = hooks.onSourceChanges !== undefined && view.source.origin !== 'store';
  const before = audited ? heldBefore(view.held, changes) : undefined;
  // One ordered set: removals first, so that a name both removed and changed (a django row
  // deleted and created again between two looks: the old id gone, the new one there) is
  // a re-creation, never a removal.
  for (const name of changes.removed) {
    view.held.delete(name);
    touched.add(name);
  }
  for (const entry of changes.changed) {
    view.held.set(entry.name, entry);
    touched.add(entry.name);
  }
  view.cursor = changes.cursor;
  const found = before === undefined ? [] : sourceChanges(view.source.origin, before, view.held);
  if (found.length > 0) hooks.onSourceChanges?.(found);
  if (view.source.origin !== 'store') hooks.removed(changes.removed);
}

/**
 * Whether `view`'s entries `names` (those it holds) may be out of date (EntrySource.outdated);
 * undefined when its source has no such check or holds none of them. A source not read yet is; a
 * check that fails tells nothing (false): the looks retry the source.
 */
export function viewOutdated(view: SourceView, names: readonly string[] | undefined): Promise<boolean> | undefined {
  const held = names?.filter((name) => view.held.has(name));
  if (held === undefined || held.length === 0 || view.source.outdated === undefined) return undefined;
  if (view.cursor === undefined) return Promise.resolve(true);
  return view.source.outdated(view.cursor, held).catch(() => false);
}
