/**
 * The definitions of django rows, checked once per shape: rows that differ only in their names
 * (tens of thousands of `PeriodicTask`s on one task, schedule and arguments are common) map to one
 * definition text, checked by the config's entry schema once and then shared, its parts included,
 * by every such row (whose messages carry their own names as `periodic_task_name` anyway). A
 * django-tenants row's entry adds that header with the row's own name, which cannot make a valid
 * entry invalid (a string is any header's valid value).
 *
 * A speed-up behind its own seam: without it every row would be checked alone, with the same result.
 */
import { parseEntryDefinition } from '../config/entry-definition.js';
import type { EntryParse } from '../config/entry-definition.js';
import type { ParsedEntry } from '../config/schema.js';

/** Row shapes a django source keeps checked (django/row-shapes.ts): past it the memo starts afresh (rows that all differ gain nothing from it). */
const DJANGO_ROW_SHAPES_KEPT = 10_000;

/** One definition as rows hold it, without the row's name. */
export interface RowShape {
  /** The definition as text: the rows' change key (equal texts, same entry but for the name). */
  readonly key: string;
  /** The definition without `periodic_task_name`, as `beat import django` writes it. */
  readonly definition: Readonly<Record<string, unknown>>;
  readonly parsed: EntryParse;
}

export class RowShapes {
  private readonly shapes = new Map<string, RowShape>();

  /** The shape of `definition` (which must not hold `periodic_task_name`), checked on first sight. */
  shapeOf(definition: Readonly<Record<string, unknown>>): RowShape {
    const key = JSON.stringify(definition);
    const known = this.shapes.get(key);
    if (known !== undefined) return known;
    const shape: RowShape = { key, definition, parsed: parseEntryDefinition(definition) };
    if (this.shapes.size >= DJANGO_ROW_SHAPES_KEPT) this.shapes.clear();
    this.shapes.set(key, shape);
    return shape;
  }
}

/** A shared entry whose messages say `rowName` as `periodic_task_name` rather than the entry's name. */
export function namedEntry(entry: ParsedEntry, rowName: string): ParsedEntry {
  return { ...entry, options: { ...entry.options, headers: { ...entry.options.headers, periodic_task_name: rowName } } };
}
