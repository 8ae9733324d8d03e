/**
 * The entry list of the dashboard. Its index (RowIndex) holds what a row shows that changes only
 * with the entries in force (name, origin, task, queue, zone, enabled, an invalid entry's problems),
 * in name order: it is made again only when the service hands over another set of entries (the
 * catalog or the config changed), in slices that yield to the event loop, never per request. A
 * request filters and pages the index with cheap reads (the paused set, the failures hash) and the
 * status of its page's rows alone is computed (their next fire, last run): a page of the default
 * order costs O(page); a filter adds one cheap pass over the index, never a status computation.
 */
import { selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import type { Labels } from '../core/labels.js';
import { forEachSliced, yieldToLoop } from '../base/chunks.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { EntryStatus } from '../control/status.js';
import { queueOf } from '../celery/routing.js';
import { compareResults } from './run-results.js';
import type { LastState } from './run-results.js';
import type { EntryStateName, NoteWire, PageWire, ProblemWire, RowStateName, RowWire } from './wire.js';

/** An entry of the status JSON, with whatever fields other parts add (origin, problems, outcomes). */
export type StatusEntry = EntryStatus & Readonly<Record<string, unknown>>;

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

/** The status fields the row has its own columns for; the rest is the outcome, shown as found. */
const KNOWN_FIELDS = new Set([
  'name',
  'task',
  'schedule',
  'timezone',
  'enabled',
  'paused',
  'lastSlot',
  'lastPublishedAt',
  'lastTaskId',
  'lastRunBy',
  'runCount',
  'nextRun',
  'origin',
  'labels',
  'problems',
  'history',
  'pauseNote',
  'lastNote',
  'unconsumed',
]);

function outcomeOf(status: StatusEntry): Record<string, unknown> | null {
  let out: Record<string, unknown> | null = null;
  for (const key in status) {
    const value = status[key];
    if (KNOWN_FIELDS.has(key) || value === undefined) continue;
    (out ??= {})[key] = value;
  }
  return out;
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
  readonly pauseOnFailure: number | null;
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
      pauseOnFailure: entry.pauseOnFailure ?? null,
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
      pauseOnFailure: null,
      labels: NO_LABELS,
      haystack: bad.name.toLowerCase(),
    });
  await yieldToLoop();
  rows.sort(byNameOf);
  return { set, rows, byName: new Map(rows.map((r) => [r.name, r])), entries, disabled, orders: new Map() };
}

export function stateOf(row: IndexRow, paused: ReadonlySet<string>): EntryStateName {
  return row.invalid !== null ? 'invalid' : !row.enabled ? 'disabled' : paused.has(row.name) ? 'paused' : 'active';
}

const noteOf = (n: NoteWire | null | undefined): NoteWire | null => (n == null ? null : { note: n.note, by: n.by, at: n.at });

/**
 * The state a row shows, as `beat status` says it (control/status.ts entryStateText): `finished`
 * once its maxRuns are made, over paused, as disabled is over both.
 */
function rowState(row: IndexRow, status: StatusEntry | undefined, paused: ReadonlySet<string>): RowStateName {
  const state = stateOf(row, paused);
  return status?.finished === true && (state === 'active' || state === 'paused') ? 'finished' : state;
}

/** A row of a page: the index's columns and the entry's status (computed for the page's rows only). */
export function pageRow(row: IndexRow, status: StatusEntry | undefined, paused: ReadonlySet<string>): RowWire {
  const next = status?.nextRun ?? null;
  const last = status === undefined ? null : status.lastRunBy === 'trigger' ? status.lastPublishedAt : status.lastSlot;
  return {
    name: row.name,
    origin: row.origin,
    task: row.task,
    canvas: status?.canvas ?? null,
    queue: row.queue,
    schedule: status?.schedule ?? '',
    zone: row.zone,
    state: rowState(row, status, paused),
    next,
    nextMs: next === null ? null : Date.parse(next),
    last,
    lastBy: status?.lastRunBy ?? null,
    runCount: status?.runCount ?? 0,
    result: null,
    outcome: status === undefined ? null : outcomeOf(status),
    // A valid entry whose runs are refused (its queue key holds another type…): the leader's reason.
    problems:
      row.invalid ??
      (status?.failing ? [{ path: 'publish', message: `failing since ${status.failing.since}: ${status.failing.reason}` }] : []),
    pauseNote: noteOf(status?.pauseNote),
    lastNote: status?.lastNote ?? null,
    pauseOnFailure: row.pauseOnFailure,
    labels: row.labels,
    unconsumed: status?.unconsumed ? `${status.unconsumed.reason} since ${status.unconsumed.since}` : null,
  };
}

export const SORT_KEYS = ['name', 'task', 'queue', 'origin', 'state', 'next', 'last', 'zone', 'runs', 'result', 'success'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
/** The sorts that need every entry's results, not only the page's. */
export const RESULT_SORTS: ReadonlySet<SortKey> = new Set<SortKey>(['result', 'success']);
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
