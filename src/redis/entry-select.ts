/**
 * The runtime entries a label selector selects, in name order, for the TypeScript client's
 * `list({ selector })`: what `GET /api/entries?selector=` and `beat entries list -l` select (an
 * entry that does not run has no labels to select by).
 */
import { selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import { storedLabels } from '../core/labels.js';
import type { RedisEntryStore, StoredEntry } from './entry-store.js';

/**
 * Up to `limit` entries after `after` that `selector` selects, reading the store a page at a time
 * (never the whole store at once): pass the last name as the next call's `after`.
 */
export async function selectedEntries(
  store: Pick<RedisEntryStore, 'page'>,
  selector: LabelSelector,
  after: string | undefined,
  limit: number,
  pageSize: number,
): Promise<StoredEntry[]> {
  const out: StoredEntry[] = [];
  let from = after;
  for (;;) {
    const { entries, more } = await store.page(from, pageSize);
    for (const entry of entries) {
      if (entry.problems !== undefined || !selects(selector, storedLabels(entry.entry))) continue;
      out.push(entry);
      if (out.length >= limit) return out;
    }
    const last = entries[entries.length - 1];
    if (!more || last === undefined) return out;
    from = last.name;
  }
}
