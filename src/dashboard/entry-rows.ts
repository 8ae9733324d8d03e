/**
 * The entry list of the dashboard. Its index (RowIndex) holds what a row shows that changes only
 * with the entries in force (name, origin, task, queue, zone, enabled, an invalid entry's problems),
 * in name order: it is made again only when the service hands over another set of entries (the
 * catalog or the config changed), in slices that yield to the event loop, never per request. A
 * request filters and pages the index with cheap reads (the paused set, the failures hash) and the
 * status of its page's rows alone is computed (their next fire, last run): a page of the default
 * order costs O(page); a filter adds one cheap pass over the index, never a status computation.
 */
import { deploymentGrant, grantFor, grantsText } from '../core/grants.js';
import type { Grant } from '../core/grants.js';
import { selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import type { Labels } from '../core/labels.js';
import { forEachSliced, yieldToLoop } from '../base/chunks.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { EntryView } from '../control/entry-view-schema.js';
import { queueOf } from '../celery/routing.js';
import { compareResults } from './run-results.js';
import type { LastState } from './run-results.js';
import type { EntryStateName, PageWire, ProblemWire, RowStateName, RowWire } from './wire.js';

export interface InvalidEntry {
  readonly name: string;
  readonly origin: string;
  readonly problems: readonly { readonly path: string; readonly message: string }[];
}

/**
 * The entries the list shows, as the service holds them now: the same object for as long as they
 * do not change, so that the index made of it is kept.
 */
export interface EntrySet {
  readonly config: ResolvedConfig;
  /** Every entry in force: the config file's and the runtime sources'. */
  readonly entries: readonly ResolvedEntry[];
  readonly invalid: readonly InvalidEntry[];
}

/** What the index holds of one entry: the row's columns that change only with the entry. */
export interface IndexRow {
  readonly name: string;
  readonly origin: string;
  readonly task: string;
  readonly queue: string;
  readonly zone: string;
  readonly enabled: boolean;
  /** Why an invalid runtime entry does not run; null for an entry in force. */
  readonly invalid: readonly ProblemWire[] | null;
  /** Its labels ({} without any, and for an invalid entry): the selector filter and the Labels column. */
  readonly labels: Labels;
  /** Lower-case name, task and queue, for the search. */
  readonly haystack: string;
}

/** The text columns whose orders the index keeps once asked (name is its own order). */
type TextKey = 'task' | 'queue' | 'origin' | 'zone';

export interface RowIndex {
  readonly set: EntrySet;
  /** Every row, in name order. */
  readonly rows: readonly IndexRow[];
  readonly byName: ReadonlyMap<string, IndexRow>;
  readonly entries: ReadonlyMap<string, ResolvedEntry>;
  /** How many entries in force are disabled (the overview's counts). */
  readonly disabled: number;
  /** Ascending orders by a text column (name breaks ties), made when a query first sorts by it. */
  readonly orders: Map<TextKey, readonly IndexRow[]>;
}

/** The labels of a row without any, shared. */
const NO_LABELS: Labels = Object.freeze({});

const byNameOf = (a: { readonly name: string }, b: { readonly name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Rows by config (its routes decide the queue column) and resolved entry. */
const indexRows = new WeakMap<ResolvedConfig, WeakMap<ResolvedEntry, IndexRow>>();

function indexRowOf(entry: ResolvedEntry, config: ResolvedConfig): IndexRow {
  let rows = indexRows.get(config);
  if (rows === undefined) indexRows.set(config, (rows = new WeakMap()));
  let row = rows.get(entry);
  if (row === undefined) {
    const queue = queueOf(entry.task, entry.options, config);
    row = {
      name: entry.name,
      origin: entry.origin ?? 'file',
      task: entry.task,
      queue,
      zone: entry.timezone,
      enabled: entry.enabled,
      invalid: null,
      labels: entry.labels ?? NO_LABELS,
      haystack: `${entry.name}\n${entry.task}\n${queue}`.toLowerCase(),
    };
    // Kept per resolved entry: the catalog keeps the object of an entry that did not change, so a
    // new set of 100,000 entries with one edit makes one row.
    rows.set(entry, row);
  }
  return row;
}

/**
 * The index of a set of entries, made in slices with a turn of the event loop between them (the
 * scheduler's timers and lock renewal run meanwhile).
 */
export async function buildIndex(set: EntrySet): Promise<RowIndex> {
  const rows: IndexRow[] = [];
  const entries = new Map<string, ResolvedEntry>();
  let disabled = 0;
  await forEachSliced(set.entries, (entry) => {
    rows.push(indexRowOf(entry, set.config));
    entries.set(entry.name, entry);
    if (!entry.enabled) disabled += 1;
  });
  for (const bad of set.invalid)
    rows.push({
      name: bad.name,
      origin: bad.origin,
      task: '',
      queue: '',
      zone: '',
      enabled: true,
      invalid: bad.problems.map((p): ProblemWire => ({ path: p.path, message: p.message })),
      labels: NO_LABELS,
      haystack: bad.name.toLowerCase(),
    });
  await yieldToLoop();
  rows.sort(byNameOf);
  return { set, rows, byName: new Map(rows.map((r) => [r.name, r])), entries, disabled, orders: new Map() };
}

/** The indexes of readers held to a scope, by the index they narrow and the grants' text. */
const readableIndexes = new WeakMap<RowIndex, Map<string, RowIndex>>();

/**
 * The index as a caller of `grants` may read it: only the entries a grant lets it read (an invalid
 * entry, which has no owner nor labels, as a scope judges an entry without them), so that the
 * list, its counts, the strips, the timeline and an entry's page of a session scoped to
 * `team=billing` show billing's entries alone, as /status and /api do. A reader of the whole
 * deployment gets the index itself; a scoped one's is made once per index and grants.
 */
export function readableIndex(index: RowIndex, grants: readonly Grant[]): RowIndex {
  if (deploymentGrant(grants, 'read') !== undefined) return index;
  let kept = readableIndexes.get(index);
  if (kept === undefined) readableIndexes.set(index, (kept = new Map<string, RowIndex>()));
  const key = grantsText(grants);
  const made = kept.get(key);
  if (made !== undefined) return made;
  const readable = (name: string): boolean => grantFor(grants, 'read', index.entries.get(name) ?? { name }) !== undefined;
  const entries = new Map([...index.entries].filter(([name]) => readable(name)));
  const rows = index.rows.filter((r) => readable(r.name));
  let disabled = 0;
  for (const entry of entries.values()) if (!entry.enabled) disabled += 1;
  const set = { ...index.set, entries: [...entries.values()], invalid: index.set.invalid.filter((bad) => readable(bad.name)) };
  const narrowed: RowIndex = { set, rows, byName: new Map(rows.map((r) => [r.name, r])), entries, disabled, orders: new Map() };
  kept.set(key, narrowed);
  return narrowed;
}

export function stateOf(row: IndexRow, paused: ReadonlySet<string>): EntryStateName {
  return row.invalid !== null ? 'invalid' : !row.enabled ? 'disabled' : paused.has(row.name) ? 'paused' : 'active';
}

/**
 * The state a row shows, as `beat status` says it (control/status.ts entryStateText): `finished`
 * once its maxRuns are made, over paused, as disabled is over both.
 */
function rowState(row: IndexRow, view: EntryView | undefined, paused: ReadonlySet<string>): RowStateName {
  const state = stateOf(row, paused);
  return view?.finished === true && (state === 'active' || state === 'paused') ? 'finished' : state;
}

/** A row of a page: the entry's view (computed for the page's rows only) and what the list adds to it. */
export function pageRow(row: IndexRow, view: EntryView | undefined, paused: ReadonlySet<string>): RowWire {
  return {
    name: row.name,
    origin: row.origin,
    state: rowState(row, view, paused),
    nextMs: view?.nextRun == null ? null : Date.parse(view.nextRun),
    result: null,
    // A valid entry whose runs are refused (its queue key holds another type…): the leader's reason.
    problems:
      row.invalid ?? (view?.failing ? [{ path: 'publish', message: `failing since ${view.failing.since}: ${view.failing.reason}` }] : []),
    view: row.invalid === null ? (view ?? null) : null,
  };
}

export const SORT_KEYS = ['name', 'task', 'queue', 'origin', 'state', 'next', 'last', 'zone', 'runs', 'result', 'success'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
/** The sorts that need every entry's run columns (its next fire, last run, run count). */
export const RUN_SORTS: ReadonlySet<SortKey> = new Set<SortKey>(['next', 'last', 'runs']);

/** An entry's run columns as the sorts read them (RUN_SORTS), in epoch ms. */
export interface RunColumns {
  readonly nextMs: number | null;
  readonly lastMs: number | null;
  readonly runCount: number;
}

/** What the failing filter and the sorts beyond the index read of every entry (only the one the query needs is read). */
export interface ResultIndex {
  /** The failing entries (failed runs in a row since their last success or resume) and how many: the failing filter. */
  readonly failing?: ReadonlyMap<string, number>;
  /** Each entry's newest finished run: the result sort. */
  readonly lastStates?: ReadonlyMap<string, LastState>;
  /** Each entry's success rate over its kept history: the success sort. */
  readonly successRates?: ReadonlyMap<string, number | null>;
  /** Each entry's run columns: the next, last and runs sorts. */
  readonly runs?: ReadonlyMap<string, RunColumns>;
}

export interface RowQuery {
  /** Words that must all appear in the name, task or queue (case-insensitive). */
  readonly q: string;
  readonly state: EntryStateName | undefined;
  readonly origin: string | undefined;
  readonly queue: string | undefined;
  /** Only the entries its labels select (`selector=team=billing`); undefined: every entry. */
  readonly selector?: LabelSelector | undefined;
  /** Only the entries with failed runs in a row since their last success or resume (needs the index's `failing`). */
  readonly failing: boolean;
  readonly sort: SortKey;
  readonly descending: boolean;
  readonly offset: number;
  readonly limit: number;
}

/**
 * `rows` (in name order) sorted by a value read beyond the index: each row's value is looked up
 * once, not at every comparison, and the sort is stable, so that the name still breaks ties (a page
 * boundary stays put between two requests). Instants, rates and counts sort with the missing last,
 * whichever the direction.
 */
function sortByValue(rows: readonly IndexRow[], sort: SortKey, descending: boolean, index: ResultIndex): IndexRow[] {
  if (sort === 'result') {
    const keyed = rows.map((row) => ({ row, last: index.lastStates?.get(row.name) }));
    keyed.sort((a, b) => (descending ? compareResults(b.last, a.last) : compareResults(a.last, b.last)));
    return keyed.map((k) => k.row);
  }
  const runs = index.runs;
  const get: (name: string) => number | null =
    sort === 'success'
      ? (name) => index.successRates?.get(name) ?? null
      : sort === 'next'
        ? (name) => runs?.get(name)?.nextMs ?? null
        : sort === 'last'
          ? (name) => runs?.get(name)?.lastMs ?? null
          : (name) => runs?.get(name)?.runCount ?? 0;
  const keyed = rows.map((row) => ({ row, value: get(row.name) }));
  keyed.sort((a, b) => {
    const x = a.value;
    const y = b.value;
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return descending ? y - x : x - y;
  });
  return keyed.map((k) => k.row);
}

/**
 * `rows` (ascending by a key, name breaking ties) in descending order of that key, ties still by
 * name: the runs of equal keys in reverse order, each run as it was. O(rows), no comparisons.
 */
function descendingRuns<T>(rows: readonly T[], key: (row: T) => string): T[] {
  const out: T[] = [];
  let end = rows.length;
  while (end > 0) {
    let start = end - 1;
    const k = key(rows[start]!);
    while (start > 0 && key(rows[start - 1]!) === k) start -= 1;
    for (let i = start; i < end; i += 1) out.push(rows[i]!);
    end = start;
  }
  return out;
}

function textOrder(index: RowIndex, key: TextKey): readonly IndexRow[] {
  let order = index.orders.get(key);
  if (order === undefined) {
    // Stable sort of the name order: ties stay by name. Made once per index (the entries changed).
    order = [...index.rows].sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0));
    index.orders.set(key, order);
  }
  return order;
}

const STATE_ORDER: readonly EntryStateName[] = ['active', 'disabled', 'invalid', 'paused'];

/** The rows the query matches, in its order, and how many: a page of it is what a request answers. */
export function selectRows(rowIndex: RowIndex, query: RowQuery, paused: ReadonlySet<string>, index: ResultIndex = {}): readonly IndexRow[] {
  const words = query.q.toLowerCase().split(/\s+/).filter(Boolean);
  // The failing filter starts from the failures hash (an index of the failing entries): O(failing).
  let rows: readonly IndexRow[] = query.failing
    ? [...(index.failing ?? new Map<string, number>()).entries()]
        .filter(([, n]) => n > 0)
        .map(([name]) => rowIndex.byName.get(name))
        .filter((r): r is IndexRow => r !== undefined)
        .sort(byNameOf)
    : rowIndex.rows;
  const { sort, descending } = query;
  const text = sort === 'task' || sort === 'queue' || sort === 'origin' || sort === 'zone';
  // A text order of every row is kept on the index; a failing subset is small enough to sort.
  if (text && !query.failing) rows = textOrder(rowIndex, sort);
  else if (text) rows = [...rows].sort((a, b) => (a[sort] < b[sort] ? -1 : a[sort] > b[sort] ? 1 : 0));
  const filtered =
    words.length === 0 &&
    query.state === undefined &&
    query.origin === undefined &&
    query.queue === undefined &&
    query.selector === undefined
      ? rows
      : rows.filter(
          (r) =>
            (query.state === undefined || stateOf(r, paused) === query.state) &&
            (query.origin === undefined || r.origin === query.origin) &&
            (query.queue === undefined || r.queue === query.queue) &&
            // An invalid entry has no labels to select by (as `beat status -l` leaves them out).
            (query.selector === undefined || (r.invalid === null && selects(query.selector, r.labels))) &&
            words.every((w) => r.haystack.includes(w)),
        );
  if (sort === 'name') return descending ? [...filtered].reverse() : filtered;
  if (text) return descending ? descendingRuns(filtered, (r) => r[sort]) : filtered;
  if (sort === 'state') {
    // Four states: bucketed in name order, no comparisons.
    const buckets = new Map<EntryStateName, IndexRow[]>(STATE_ORDER.map((s) => [s, []]));
    for (const r of filtered) buckets.get(stateOf(r, paused))!.push(r);
    return (descending ? [...STATE_ORDER].reverse() : STATE_ORDER).flatMap((s) => buckets.get(s)!);
  }
  return sortByValue(filtered, sort, descending, index);
}

/** The page the query asks for, its rows as `rowOf` completes them. */
export function pageOf(
  rowIndex: RowIndex,
  query: RowQuery,
  paused: ReadonlySet<string>,
  nowMs: number,
  index: ResultIndex = {},
): { readonly wire: Omit<PageWire, 'rows'>; readonly rows: readonly IndexRow[] } {
  const matched = selectRows(rowIndex, query, paused, index);
  return {
    wire: { nowMs, total: rowIndex.rows.length, matched: matched.length, offset: query.offset, limit: query.limit },
    rows: matched.slice(query.offset, query.offset + query.limit),
  };
}
