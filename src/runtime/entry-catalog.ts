/**
 * The runtime entries in force: what the sources of entries that change while beat runs (the store,
 * RedBeat, django) hold, checked and resolved, less those that cannot run (invalid, or with a name
 * already taken by a config-file entry or an earlier source). Every replica keeps one whole, leader
 * or not, so that a standby that takes over has them at hand and status shows them everywhere.
 *
 * It looks for changes every `intervalMs` (the config's maxInterval: a missed pub/sub message is
 * caught then) and at once when poked (the message), and hands what changed to its listener (the
 * leader's runner). A listener that fails gets everything again at the next look.
 */
import { PokedLoop } from '../base/poked-loop.js';
import { errorMessage } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import type { QueueNameContext } from '../config/queue-names.js';
import { yieldToLoop } from '../base/chunks.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { ShapeResolver, sameResolveDefaults } from '../config/entry-shapes.js';
import type { EntryOrigin, EntryScope, ResolvedEntry } from '../config/resolve.js';
import type { ParsedAlerts } from '../config/alerts-schema.js';
import type { CalendarDrafts } from '../config/exclude-schema.js';
import type { EntrySource } from '../ports/entry-source.js';
import type { SourceChange } from './source-audit.js';
import { readView, sourceView, viewOutdated } from './source-view.js';
import type { SourceView } from './source-view.js';
import { decideEntry, reportProblems, sameEntry } from './entry-decide.js';
import type { EntryProblem } from './entry-decide.js';

export type { EntryProblem } from './entry-decide.js';

/** What a supervisor and its leader sessions use of the catalog. */
export type RuntimeEntries = Pick<
  EntryCatalog,
  'entries' | 'find' | 'listen' | 'poke' | 'refresh' | 'reading' | 'onRemoved' | 'reconfigure' | 'checkedOrigins' | 'outdated'
>;

/** What changed in the catalog, for its listener: entries added or changed, and names that left. */
export type CatalogListener = (changed: readonly ResolvedEntry[], removed: readonly string[]) => Promise<void>;

/** What the config gives entries that do not say: its zone and name (EntryScope: it seeds hashed times), and its alert settings. */
export interface EntryDefaults extends EntryScope {
  readonly alerts?: ParsedAlerts | undefined;
  /** The config's named calendars, which an entry's `exclude` may name. */
  readonly calendars?: CalendarDrafts | undefined;
}

export interface EntryCatalogOptions {
  readonly sources: readonly EntrySource[];
  readonly logger: Logger;
  /** Look for changes this often without being poked. */
  readonly intervalMs: number;
  /** What the config gives entries that do not say (zone, alerts), and the config file's entry names. */
  readonly defaults: EntryDefaults;
  readonly staticNames: ReadonlySet<string>;
  /**
   * The deployment's queue names (queueNameContextOf; none: not checked): an entry whose queue, or
   * a canvas step's, can only collide with tsbeat's keys or kombu's does not run. The store's
   * writes check them too, but RedBeat's and django's entries are written by the application.
   */
  readonly queueNames?: QueueNameContext | undefined;
  /** The first retry after a failed look, doubled per failure up to intervalMs (default CATALOG_RETRY_MIN_MS). */
  readonly retryMinMs?: number;
  /** The wall clock of `outOfSync` (default Date.now). */
  readonly now?: () => number;
  /**
   * Told of the changes a look found in the RedBeat and django sources (not at the first load:
   * what a source held then was not changed then), for the audit trail; must return at once.
   * The store's changes are recorded by their writers.
   */
  readonly onSourceChanges?: (changes: readonly SourceChange[]) => void;
  /**
   * Told of the names a look found deleted at their RedBeat or django source (a read that fails
   * tells nothing), that no other source and no config entry holds: what tsbeat kept of them may
   * go. Must return at once.
   */
  readonly onSourceDeletes?: (names: readonly string[]) => void;
}

/**
 * The runtime sources in the order that decides a name several of them hold (the first wins): the
 * store, RedBeat's entries, django's rows. `beat run` and the commands that read them once
 * (resolve-once.ts) both order them here.
 */
export function runtimeSources(sources: {
  readonly store?: EntrySource | undefined;
  readonly redbeat?: EntrySource | undefined;
  readonly django?: EntrySource | undefined;
}): EntrySource[] {
  return [sources.store, sources.redbeat, sources.django].filter((s): s is EntrySource => s !== undefined);
}

/** How many names a change line lists. */
const EXAMPLES = 5;
/** After a failed look of the runtime-entries catalog, the first retry; doubled per failure up to maxInterval. */
const CATALOG_RETRY_MIN_MS = 1000;

export class EntryCatalog {
  private readonly views: SourceView[];
  private readonly loop: PokedLoop;
  private defaults: EntryDefaults;
  private staticNames: ReadonlySet<string>;
  /** The entries in force, by name (each with its incarnation, when its source tells one: see SourcedEntry). */
  private readonly current = new Map<string, ResolvedEntry>();
  private removedListener: ((names: readonly string[]) => void) | undefined;
  private readonly problemMap = new Map<string, EntryProblem>();
  private listener: CatalogListener | undefined;
  /** The listener failed: hand it everything next time, and the names that left meanwhile (a delete must always take effect). */
  private resendAll = false;
  private readonly unsentRemovals = new Set<string>();
  /** While the listener fails: since when, and its last message (said once). */
  private listenerFailing: { sinceMs: number; message: string } | undefined;
  /** Consecutive looks that failed somewhere, for the backoff of the retry. */
  private failedLooks = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Looks run one after the other, whether the loop or refresh() asked for them. */
  private looking: Promise<void> = Promise.resolve();
  private rebuilds = 0;
  /** The source a look is reading now, and since when (epoch ms). */
  private inRead: { origin: string; sinceMs: number } | undefined;
  /** The sources being checked now (outdated), and since when. */
  private readonly inCheck = new Set<{ origin: string; sinceMs: number }>();

  constructor(private readonly options: EntryCatalogOptions) {
    this.views = options.sources.map((source) => sourceView(source, options.defaults));
    this.loop = new PokedLoop({ intervalMs: options.intervalMs, run: () => this.refresh(), runAtStart: false, unref: true });
    this.defaults = options.defaults;
    this.staticNames = options.staticNames;
  }

  /** True when there are runtime sources at all. */
  get active(): boolean {
    return this.views.length > 0;
  }

  /**
   * Counts the rebuilds that looked at some name: unchanged, the entries in force and the problems
   * are what they were (the dashboard keeps its rows while it stays the same).
   */
  get version(): number {
    return this.rebuilds;
  }

  /** The runtime entries in force. */
  entries(): ResolvedEntry[] {
    return [...this.current.values()];
  }

  /** The names `removed` from `view` that nothing else holds now, to onSourceDeletes. */
  private tellDeletes(view: SourceView, removed: readonly string[]): void {
    const gone: string[] = [];
    for (const name of removed)
      if (!view.held.has(name) && !this.staticNames.has(name) && !this.views.some((v) => v.held.has(name))) gone.push(name);
    if (gone.length > 0) this.options.onSourceDeletes?.(gone);
  }

  find(name: string): ResolvedEntry | undefined {
    return this.current.get(name);
  }

  /**
   * Since when the entries in force have not been in sync with their sources (a source that cannot
   * be read, or changes the leader could not apply), and why; undefined while they are.
   */
  outOfSync(): { sinceMs: number; reason: string } | undefined {
    let out: { sinceMs: number; reason: string } | undefined;
    // A read (or a check before a publish) that neither answers nor fails (a database that hangs): nothing else will say so.
    const read = this.reading();
    if (read !== undefined && (this.options.now ?? Date.now)() - read.sinceMs > DEFAULTS.readFirstMaxMs)
      out = { sinceMs: read.sinceMs, reason: `the ${read.origin} entries are being read and do not answer` };
    for (const view of this.views)
      if (view.failingSinceMs !== undefined && (out === undefined || view.failingSinceMs < out.sinceMs))
        out = { sinceMs: view.failingSinceMs, reason: `the ${view.source.origin} entries cannot be read: ${view.lastError ?? ''}` };
    const listener = this.listenerFailing;
    if (listener !== undefined && (out === undefined || listener.sinceMs < out.sinceMs))
      out = { sinceMs: listener.sinceMs, reason: `changes could not be applied: ${listener.message}` };
    return out;
  }

  /** Runtime entries that do not run, and why. */
  problems(): EntryProblem[] {
    return [...this.problemMap.values()];
  }

  /** Reads every source whole; a source that cannot be read now is read at the next look. */
  load(): Promise<void> {
    return this.refresh();
  }

  /**
   * Brings the catalog up to date now: a look that starts after this call (after the one in
   * progress, if any), its changes handed to the listener before it resolves. A leader calls it
   * before it publishes after a gap (a new leadership, a pause), so that it never catches up from
   * what it knew before. It does not reject: a source that cannot be read is reported and retried.
   */
  refresh(): Promise<void> {
    const next = this.looking
      .then(() => this.look())
      .catch((error: unknown) => {
        this.options.logger.warn(
          { event: EVENTS.entriesSyncFailed, err: error },
          'could not bring the runtime entries up to date; retrying',
        );
      });
    this.looking = next;
    return next;
  }

  /** The origins whose sources tell cheaply whether entries they handed on are out of date (EntrySource.outdated). */
  checkedOrigins(): ReadonlySet<EntryOrigin> {
    return new Set(this.views.filter((v) => v.source.outdated !== undefined).map((v) => v.source.origin));
  }

  /**
   * Whether entries in force of these sources (names by origin) may be out of date: after the look
   * in progress, if any (its changes may not be applied yet), each source's cheap check of the
   * names it holds (viewOutdated). A leader calls it before it publishes them (ReadFirst.check).
   */
  async outdated(due: ReadonlyMap<EntryOrigin, readonly string[]>): Promise<boolean> {
    await this.looking;
    const checks: Promise<boolean>[] = [];
    for (const view of this.views) {
      const check = viewOutdated(view, due.get(view.source.origin));
      if (check === undefined) continue;
      const checking = { origin: view.source.origin, sinceMs: (this.options.now ?? Date.now)() };
      this.inCheck.add(checking);
      checks.push(check.finally(() => this.inCheck.delete(checking)));
    }
    return (await Promise.all(checks)).some((outdated) => outdated);
  }

  /** The source a look (or a check, `outdated`) is reading now and since when (epoch ms), while one is. */
  reading(): { origin: string; sinceMs: number } | undefined {
    return this.inRead ?? this.inCheck.values().next().value;
  }

  /** How many runtime entries are in force. */
  heldCount(): number {
    return this.current.size;
  }

  /** Where changes go from now on (the leader's runner), or nowhere. */
  listen(listener: CatalogListener | undefined): void {
    this.listener = listener;
  }

  /**
   * Told of every entry that left or was re-created, leader or not (the supervisor forgets the runs
   * it saw published of them: a re-created entry starts afresh).
   */
  onRemoved(listener: (names: readonly string[]) => void): void {
    this.removedListener = listener;
  }

  /** A reload: the config file's names and zone may have changed. Resolves once every entry has been decided again. */
  reconfigure(defaults: EntryDefaults, staticNames: ReadonlySet<string>): Promise<void> {
    // Defaults the same as before resolve every entry as before: only the file's names are decided again.
    const resolveAgain = !sameResolveDefaults(this.defaults, defaults);
    if (resolveAgain) {
      this.defaults = defaults;
      for (const view of this.views) view.resolver = new ShapeResolver(view.source.origin, defaults);
    }
    this.staticNames = staticNames;
    // In line with the looks: a rebuild serves the event loop between slices (a look then would see it half done).
    const next = this.looking.then(() => this.rebuild(this.allNames(), false, resolveAgain));
    this.looking = next.catch((error: unknown) =>
      this.options.logger.warn({ event: EVENTS.entriesSyncFailed, err: error }, 'reload failed'),
    );
    return this.looking;
  }

  start(): void {
    if (this.active) this.loop.start();
  }

  /** Looks now (a source said something changed), or as soon as the look in progress ends. */
  poke(): void {
    this.loop.poke();
  }

  async stop(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.loop.stop();
  }

  /**
   * After a look that failed somewhere, looks again sooner than the interval: CATALOG_RETRY_MIN_MS,
   * doubled per failed look up to the interval (a failure that lasts is not retried in a hot loop).
   */
  private retryAfterFailure(failed: boolean): void {
    this.failedLooks = failed ? this.failedLooks + 1 : 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!failed) return;
    const min = this.options.retryMinMs ?? CATALOG_RETRY_MIN_MS;
    const delay = Math.min(this.options.intervalMs, min * 2 ** Math.min(this.failedLooks - 1, 20));
    this.retryTimer = setTimeout(() => this.loop.poke(), delay);
    this.retryTimer.unref();
  }

  private async look(): Promise<void> {
    // The names any source changed: only they are looked at again, so that one edit among 100,000
    // entries costs one entry's work.
    const touched = new Set<string>();
    for (const view of this.views) {
      this.inRead = { origin: view.source.origin, sinceMs: (this.options.now ?? Date.now)() };
      try {
        await readView(view, touched, { onSourceChanges: this.options.onSourceChanges, removed: (names) => this.tellDeletes(view, names) });
        view.lastError = undefined;
        view.failingSinceMs = undefined;
      } catch (error) {
        const message = errorMessage(error);
        view.failingSinceMs ??= (this.options.now ?? Date.now)();
        if (message !== view.lastError) {
          this.options.logger.warn(
            { event: EVENTS.entriesSyncFailed, origin: view.source.origin, err: error },
            `could not read the ${view.source.origin} entries; the ones known keep running, retrying`,
          );
        }
        view.lastError = message;
      }
    }
    this.inRead = undefined;
    if (touched.size > 0 || this.resendAll) await this.rebuild(touched, true);
    this.retryAfterFailure(this.views.some((v) => v.failingSinceMs !== undefined) || this.listenerFailing !== undefined);
  }

  /** Every name any source holds or the catalog knows: a full rebuild (a reload changed the zone or the file's names). */
  private allNames(): Set<string> {
    const names = new Set<string>([...this.current.keys(), ...this.problemMap.keys()]);
    for (const view of this.views) for (const name of view.held.keys()) names.add(name);
    return names;
  }

  /**
   * Decides again, for each of `names`, which entry is in force (the first source's, unless a
   * config-file entry has the name) and tells the listener what changed (everything, after it
   * failed). An entry whose definition did not change keeps its resolved object; one read again
   * with the revision it was resolved from is not resolved again unless `resolveAgain` (the
   * defaults changed).
   */
  private async rebuild(names: ReadonlySet<string>, tell: boolean, resolveAgain = false): Promise<void> {
    const changed: ResolvedEntry[] = [];
    const removed: string[] = [];
    const reported: EntryProblem[] = [];
    if (names.size > 0) this.rebuilds += 1;
    let sinceTurn = 0;
    for (const name of names) {
      // A turn of the event loop every DEFAULTS.loopSlice names: a million (a load, reload, import)
      // in one task would take seconds, past the lock's TTL. The listener hears of them all at the end.
      if (++sinceTurn % DEFAULTS.loopSlice === 0) await yieldToLoop();
      const before = this.current.get(name);
      const { entry, incarnation, problem } = decideEntry(
        this.views,
        this.staticNames,
        { calendars: this.defaults.calendars, queueNames: this.options.queueNames },
        name,
        resolveAgain ? undefined : before,
      );
      const previousProblem = this.problemMap.get(name);
      if (problem === undefined) this.problemMap.delete(name);
      else {
        this.problemMap.set(name, problem);
        if (JSON.stringify(previousProblem?.problems) !== JSON.stringify(problem.problems)) reported.push(problem);
      }
      if (entry === undefined) {
        if (before !== undefined) {
          this.current.delete(name);
          removed.push(name);
        }
        continue;
      }
      // Deleted and created again since the last look (a new incarnation): the runner drops the old
      // one, with its place in the schedule, before it takes the new.
      const reborn = before !== undefined && incarnation !== before.incarnation;
      if (reborn) removed.push(name);
      if (before !== undefined && !reborn && sameEntry(before, entry)) continue;
      this.current.set(name, entry);
      changed.push(entry);
    }
    reportProblems(this.options.logger, reported);
    if (removed.length > 0) this.removedListener?.(removed);
    if (changed.length > 0 || removed.length > 0) {
      this.options.logger.info(
        {
          event: EVENTS.entriesChanged,
          changed: changed.length,
          removed: removed.length,
          total: this.current.size,
          examples: [...changed.slice(0, EXAMPLES).map((e) => e.name), ...removed.slice(0, EXAMPLES).map((n) => `-${n}`)],
        },
        `runtime entries: ${changed.length} added or changed, ${removed.length} removed or re-created, ${this.current.size} in force`,
      );
    }
    const listener = tell ? this.listener : undefined;
    if (listener === undefined || (changed.length === 0 && removed.length === 0 && !this.resendAll)) {
      if (listener === undefined) {
        this.resendAll = false;
        this.unsentRemovals.clear();
        this.listenerFailing = undefined;
      }
      return;
    }
    const resent = this.resendAll;
    // Names that left while the listener failed go again: they are in no snapshot any more.
    for (const name of removed) this.unsentRemovals.add(name);
    const gone = [...this.unsentRemovals];
    try {
      await listener(resent ? [...this.current.values()] : changed, gone);
      this.resendAll = false;
      this.unsentRemovals.clear();
      this.listenerFailing = undefined;
    } catch (error) {
      this.resendAll = true;
      const message = errorMessage(error);
      if (message !== this.listenerFailing?.message)
        this.options.logger.warn({ event: EVENTS.entriesSyncFailed, err: error }, 'could not apply the changed runtime entries; retrying');
      this.listenerFailing = { sinceMs: this.listenerFailing?.sinceMs ?? (this.options.now ?? Date.now)(), message };
    }
  }
}
