/**
 * The entries API's handlers (src/http/api-app.ts) on the runtime store in Redis: the same
 * writes, checks and errors as `beat entries` and the TypeScript client. A failure to reach Redis
 * becomes REDIS_UNAVAILABLE (503), answered at once while the connection is down; any other failure
 * stays what it is (tsbeat's own: 500).
 */
import { parseSelector, selectorProblemText, selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import { storedLabels } from '../core/labels.js';
import { deploymentGrant } from '../core/grants.js';
import { DEFAULTS } from '../base/defaults.js';
import type { RedisClient } from '../redis/connect.js';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { currentEntryLimits } from '../config/entry-definition.js';
import type { ApiEntry, EntriesHandlers } from '../http/api-ports.js';
import { unreachableReason } from '../base/outages.js';
import { staticNameError } from '../redis/entry-store.js';
import type { RedisEntryStore, StoredEntry } from '../redis/entry-store.js';
import type { RedisEntryFailures } from '../redis/failing-entries-store.js';
import type { EntryFailure } from '../ports/events.js';
import { deleteEntry, putEntries } from '../operations/entry-verbs.js';
import { mayRead, scopedEntry } from '../operations/operator.js';
import type { Caller } from '../http/auth.js';
import type { Logger } from '../base/log.js';
import type { EntryView } from '../control/entry-view-schema.js';

/** A failing entry's reason, as a problem at the pseudo-path `publish` (the definition is valid; publishing it is refused). */
function failingProblem(failure: EntryFailure): { path: string; message: string } {
  return {
    path: 'publish',
    message: `${failure.reason} (failing since ${new Date(failure.sinceMs).toISOString()}, ${failure.attempts} attempts; retried at ${new Date(failure.retryAtMs).toISOString()})`,
  };
}

/** The `selector` query parameter, parsed (blank: none); one that does not parse is a 400 naming the character. */
function selectorOf(text: string | undefined): LabelSelector | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const parsed = parseSelector(text);
  if (parsed.ok) return parsed.selector;
  throw new BeatError(ErrorCode.ApiBadRequest, `selector ${shown(text)}: ${selectorProblemText(parsed.problem)}`);
}

/** A page of the list: the entries kept, and the `after` of the page that follows, if one does. */
interface ListedPage {
  readonly kept: readonly StoredEntry[];
  readonly next?: string;
}

/** Whether the caller reads every entry (no grants: a trusted reader; or a read grant on the whole deployment). */
function readsEverything(by: Caller | undefined): boolean {
  return by?.grants === undefined || deploymentGrant(by.grants, 'read') !== undefined;
}

export function apiEntry(stored: StoredEntry, failure?: EntryFailure): ApiEntry {
  const problems = [...(stored.problems ?? []), ...(failure === undefined ? [] : [failingProblem(failure)])];
  return {
    name: stored.name,
    entry: stored.entry,
    version: stored.version,
    createdAt: new Date(stored.createdMs).toISOString(),
    updatedAt: new Date(stored.updatedMs).toISOString(),
    ...(stored.problems === undefined && failure === undefined ? {} : { problems }),
  };
}

export function entriesHandlers(options: {
  store: RedisEntryStore;
  client: RedisClient;
  /** The config file's entry names now (they change on reload). */
  staticNames: () => ReadonlySet<string>;
  now: () => number;
  /** The entries whose runs are refused because of the entry alone: shown among their problems. */
  failures?: Pick<RedisEntryFailures, 'some'>;
  /** The audit trail's cap and the log its `beat.audit` lines go to. */
  audit?: { readonly maxEvents?: number; readonly logger?: Logger };
  /** An entry's view, as /status shows it (operations/read-verbs.ts entryViews); null when it does not run. */
  view?: (name: string) => Promise<EntryView | null>;
}): EntriesHandlers {
  const { store, client, staticNames, now, failures } = options;
  const failingOf = async (names: readonly string[]): Promise<ReadonlyMap<string, EntryFailure>> =>
    failures === undefined ? new Map() : failures.some(names);
  const stores = { store, ...(options.audit === undefined ? {} : { auditSettings: options.audit }) };
  const call = <T>(what: () => Promise<T>): Promise<T> => whileConnected(client, what);
  /**
   * One page of the store, the entries `wanted` of it: a page may hold fewer than `limit` (a
   * selector's), and its `next` is the last name read, which the caller may read (every entry).
   */
  const onePage = async (after: string | undefined, limit: number, wanted: (e: StoredEntry) => boolean): Promise<ListedPage> => {
    const page = await store.page(after, limit);
    const last = page.entries[page.entries.length - 1];
    return { kept: page.entries.filter(wanted), ...(page.more && last !== undefined ? { next: last.name } : {}) };
  };
  /**
   * A scoped caller's page: the store read on, a chunk at a time, until it holds `limit` entries
   * the caller may read and one more, or ends; `next` is then the last entry of the page. A cursor
   * at the last name read (past entries outside the grants) would name an entry the caller may not
   * read, and one given whenever the store goes on would tell that such entries follow: both leak.
   * The work grows with the entries skipped, as a selector's pages do for a whole-deployment reader.
   */
  const readablePage = async (after: string | undefined, limit: number, wanted: (e: StoredEntry) => boolean): Promise<ListedPage> => {
    const kept: StoredEntry[] = [];
    let from = after;
    for (;;) {
      const page = await store.page(from, Math.max(limit + 1, DEFAULTS.ioChunk));
      for (const entry of page.entries) if (wanted(entry)) kept.push(entry);
      const last = page.entries[page.entries.length - 1];
      if (kept.length > limit || !page.more || last === undefined) break;
      from = last.name;
    }
    const shown = kept.slice(0, limit);
    const last = shown[shown.length - 1];
    return { kept: shown, ...(kept.length > limit && last !== undefined ? { next: last.name } : {}) };
  };
  return {
    entryMaxDepth: () => currentEntryLimits().maxDepth,
    list: (after, limit, selectorText, by) =>
      call(async () => {
        const selector = selectorOf(selectorText);
        // An entry that does not run has no labels to select by.
        const wanted = (e: StoredEntry): boolean =>
          mayRead(by, scopedEntry(e.name, e.entry)) &&
          (selector === undefined || (e.problems === undefined && selects(selector, storedLabels(e.entry))));
        const { kept, next } = readsEverything(by) ? await onePage(after, limit, wanted) : await readablePage(after, limit, wanted);
        const failing = await failingOf(kept.map((e) => e.name));
        return {
          entries: kept.map((e) => apiEntry(e, failing.get(e.name))),
          ...(next === undefined ? {} : { next }),
        };
      }),
    get: (name, by) =>
      call(async () => {
        const found = await store.get(name);
        // One outside the caller's grants is answered as one that does not exist (404): a scoped
        // token learns nothing of another team's entries, not even their names.
        if (found === undefined || !mayRead(by, scopedEntry(found.name, found.entry))) return undefined;
        const [failing, view] = await Promise.all([failingOf([name]), options.view?.(name) ?? null]);
        return { ...apiEntry(found, failing.get(name)), view };
      }),
    put: (name, entry, by, ifVersion, note) =>
      call(async () => {
        const put = { name, entry, ...(ifVersion === undefined ? {} : { ifVersion }) };
        const { outcomes } = await putEntries(stores, operator(by, note), [put], { nowMs: now(), source: 'request body' });
        const stored = await store.get(name);
        if (stored === undefined)
          throw new BeatError(ErrorCode.UnknownEntry, `entry ${shown(name)} was deleted right after it was written`);
        return { created: outcomes[0] === 'created', entry: apiEntry(stored) };
      }),
    putMany: (entries, by, note) =>
      call(async () => {
        const names = Object.keys(entries);
        const puts = names.map((name) => ({ name, entry: entries[name] }));
        const result = await putEntries(stores, operator(by, note), puts, { nowMs: now(), source: 'request body' });
        return { version: result.version, outcomes: Object.fromEntries(names.map((name, i) => [name, result.outcomes[i] ?? 'unchanged'])) };
      }),
    remove: (name, keepHistory, by, ifVersion, note) =>
      call(async () => {
        if (staticNames().has(name)) throw staticNameError(name);
        const deleted = await deleteEntry(stores, operator(by, note), name, {
          nowMs: now(),
          keepHistory,
          ...(ifVersion === undefined ? {} : { ifVersion }),
        });
        if (!deleted) throw notFound(staticNames(), name);
        return true;
      }),
  };
}

/** The operator verbs' caller: the API's, with its grants and the request's note. */
export function operator(by: Caller, note: string | undefined): { who: string; note: string | undefined; grants: Caller['grants'] } {
  return { who: by.who, note, grants: by.grants };
}

/** `what`, done while Redis is connected: REDIS_UNAVAILABLE (503) at once while it is not, or when the connection fails it. */
export async function whileConnected<T>(client: RedisClient, what: () => Promise<T>): Promise<T> {
  if (client.status !== 'ready') {
    throw new BeatError(ErrorCode.RedisUnavailable, `Redis is unreachable (connection ${client.status}); try again`);
  }
  try {
    return await what();
  } catch (error) {
    // Only a connection's failure is "unavailable, try again": anything else (a bug, a stack
    // overflow) is tsbeat's own, answered 500 with an id in the log, never a 503 retried for ever.
    if (error instanceof BeatError || unreachableReason(error) === undefined) throw error;
    throw new BeatError(ErrorCode.RedisUnavailable, `Redis did not answer: ${errorMessage(error)}; try again`, { cause: error });
  }
}

/** No runtime entry of this name; one of the config file's is named as such. */
function notFound(staticNames: ReadonlySet<string>, name: string): BeatError {
  return new BeatError(
    ErrorCode.UnknownEntry,
    staticNames.has(name)
      ? `${shown(name)} is an entry of the config file, not a runtime entry: /status shows it`
      : `no runtime entry ${shown(name)}`,
  );
}
