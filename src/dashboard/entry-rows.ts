/**
 * The entry list of the dashboard: one row per entry (config file and runtime sources, the invalid
 * runtime ones too), built from a status snapshot, then filtered, sorted and paged per request. The
 * rows are built only when someone asks, and kept for a moment (many requests of one page load, a
 * live refresh) so that 100,000 entries cost one build, not one per request.
 */
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { EntryStatus } from '../control/status.js';
import { resolveDestination } from '../celery/routing.js';
import { compareResults } from './run-results.js';
import type { LastState } from './run-results.js';
import type { EntryStateName, NoteWire, PageWire, ProblemWire, RowWire } from './wire.js';

/** An entry of the status JSON, with whatever fields other parts add (origin, problems, outcomes). */
export type StatusEntry = EntryStatus & Readonly<Record<string, unknown>>;

export interface InvalidEntry {
  readonly name: string;
  readonly origin: string;
  readonly problems: readonly { readonly path: string; readonly message: string }[];
}

/** What a build of the rows reads: the entries in force, the invalid runtime ones, and their status. */
export interface EntrySnapshot {
  readonly config: ResolvedConfig;
  /** Every entry in force: the config file's and the runtime sources'. */
  readonly entries: readonly ResolvedEntry[];
  readonly invalid: readonly InvalidEntry[];
  /** The status of those entries (as /status gives it), by name. */
  readonly status: ReadonlyMap<string, StatusEntry>;
  readonly nowMs: number;
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
  'problems',
  'history',
  'pauseNote',
  'lastNote',
]);

const queues = new WeakMap<ResolvedEntry, string>();

function queueOf(entry: ResolvedEntry, config: ResolvedConfig): string {
  let queue = queues.get(entry);
  if (queue === undefined) {
    const d = resolveDestination(entry.task, entry.options, config);
    queue = d.declareQueue ?? (d.exchange === '' ? d.routingKey : '');
    queues.set(entry, queue);
  }
  return queue;
}

function outcomeOf(status: StatusEntry): Record<string, unknown> | null {
  let out: Record<string, unknown> | null = null;
  for (const key in status) {
    const value = status[key];
    if (KNOWN_FIELDS.has(key) || value === undefined) continue;
    (out ??= {})[key] = value;
  }
  return out;
}

export interface Row extends RowWire {
  /** Lower-case name, task and queue, for the search. */
  readonly haystack: string;
}

const noteOf = (n: NoteWire | null | undefined): NoteWire | null => (n == null ? null : { note: n.note, by: n.by, at: n.at });

export function buildRows(snapshot: EntrySnapshot): Row[] {
  const rows: Row[] = [];
  for (const entry of snapshot.entries) {
    const status = snapshot.status.get(entry.name);
    const queue = queueOf(entry, snapshot.config);
    const state: EntryStateName = !entry.enabled ? 'disabled' : status?.paused === true ? 'paused' : 'active';
    const next = status?.nextRun ?? null;
    const last = status === undefined ? null : status.lastRunBy === 'trigger' ? status.lastPublishedAt : status.lastSlot;
    rows.push({
      name: entry.name,
      origin: entry.origin ?? 'file',
      task: entry.task,
      queue,
      schedule: status?.schedule ?? '',
      zone: entry.timezone,
      state,
      next,
      nextMs: next === null ? null : Date.parse(next),
      last,
      lastBy: status?.lastRunBy ?? null,
      runCount: status?.runCount ?? 0,
      result: null,
      outcome: status === undefined ? null : outcomeOf(status),
      // A valid entry whose runs are refused (its queue key holds another type…): the leader's reason.
      problems: status?.failing ? [{ path: 'publish', message: `failing since ${status.failing.since}: ${status.failing.reason}` }] : [],
      pauseNote: noteOf(status?.pauseNote),
      lastNote: status?.lastNote ?? null,
      pauseOnFailure: entry.pauseOnFailure ?? null,
      haystack: `${entry.name}\n${entry.task}\n${queue}`.toLowerCase(),
    });
  }
  for (const bad of snapshot.invalid) {
    rows.push({
      name: bad.name,
      origin: bad.origin,
      task: '',
      queue: '',
      schedule: '',
      zone: '',
      state: 'invalid',
      next: null,
      nextMs: null,
      last: null,
      lastBy: null,
      runCount: 0,
      result: null,
      outcome: null,
      problems: bad.problems.map((p): ProblemWire => ({ path: p.path, message: p.message })),
      pauseNote: null,
      lastNote: null,
      pauseOnFailure: null,
      haystack: bad.name.toLowerCase(),
    });
  }
  return rows;
}

export const SORT_KEYS = ['name', 'task', 'queue', 'origin', 'state', 'next', 'last', 'zone', 'runs', 'result', 'success'] as const;
/** The sorts that need every entry's results, not only the page's. */
export const RESULT_SORTS: ReadonlySet<SortKey> = new Set<SortKey>(['result', 'success']);

/** What the failing filter and the result sorts read of every entry (only the one the query needs is read). */
export interface ResultIndex {
  /** The failing entries (failed runs in a row since their last success or resume) and how many: the failing filter. */
  readonly failing?: ReadonlyMap<string, number>;
  /** Each entry's newest finished run: the result sort. */
  readonly lastStates?: ReadonlyMap<string, LastState>;
  /** Each entry's success rate over its kept history: the success sort. */
  readonly successRates?: ReadonlyMap<string, number | null>;
}
export type SortKey = (typeof SORT_KEYS)[number];

export interface RowQuery {
  /** Words that must all appear in the name, task or queue (case-insensitive). */
  readonly q: string;
  readonly state: EntryStateName | undefined;
  readonly origin: string | undefined;
  readonly queue: string | undefined;
  /** Only the entries with failed runs in a row since their last success or resume (needs the index's `failing`). */
  readonly failing: boolean;
  readonly sort: SortKey;
  readonly descending: boolean;
  readonly offset: number;
  readonly limit: number;
}

const byText = (key: 'name' | 'task' | 'queue' | 'origin' | 'state' | 'zone') => (a: Row, b: Row) =>
  a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;

/** Instants sort with the missing ones last, whichever the direction. */
function byInstant(get: (row: Row) => number | null, descending: boolean) {
  return (a: Row, b: Row): number => {
    const x = get(a);
    const y = get(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return descending ? y - x : x - y;
  };
}

function comparator(sort: SortKey, descending: boolean, index: ResultIndex): (a: Row, b: Row) => number {
  const flip = (f: (a: Row, b: Row) => number) => (descending ? (a: Row, b: Row) => f(b, a) : f);
  switch (sort) {
    case 'result':
      return flip((a, b) => compareResults(index.lastStates?.get(a.name), index.lastStates?.get(b.name)));
    case 'success':
      // Entries with no finished run last, whichever the direction.
      return byInstant((r) => index.successRates?.get(r.name) ?? null, descending);
    case 'next':
      return byInstant((r) => r.nextMs, descending);
    case 'last':
      return byInstant((r) => (r.last === null ? null : Date.parse(r.last)), descending);
    case 'runs':
      return flip((a, b) => a.runCount - b.runCount);
    case 'name':
    case 'task':
    case 'queue':
    case 'origin':
    case 'state':
    case 'zone':
      return flip(byText(sort));
  }
}

/**
 * The page of rows the query asks for. `index` is needed only by the failing filter and the result
 * sorts; the rows of the page get their results from the caller.
 */
export function queryRows(rows: readonly Row[], query: RowQuery, nowMs: number, index: ResultIndex = {}): PageWire {
  const words = query.q.toLowerCase().split(/\s+/).filter(Boolean);
  const matched = rows.filter(
    (r) =>
      (query.state === undefined || r.state === query.state) &&
      (query.origin === undefined || r.origin === query.origin) &&
      (query.queue === undefined || r.queue === query.queue) &&
      (!query.failing || (index.failing?.get(r.name) ?? 0) > 0) &&
      words.every((w) => r.haystack.includes(w)),
  );
  const compare = comparator(query.sort, query.descending, index);
  // Name breaks ties, so that a page boundary is stable between two requests.
  matched.sort((a, b) => compare(a, b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = matched.slice(query.offset, query.offset + query.limit).map(({ haystack: _h, ...row }) => row);
  return { nowMs, total: rows.length, matched: matched.length, offset: query.offset, limit: query.limit, rows: page };
}
