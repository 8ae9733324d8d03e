/**
 * The runtime entries in force: what the sources of entries that change while beat runs (the store,
 * RedBeat, django) hold, checked and resolved, less those that cannot run (invalid, or with a name
 * already taken by a config-file entry or an earlier source). Every replica keeps one, leader or
 * not, so that a standby that takes over has them at hand and status shows them everywhere.
 *
 * It looks for changes every `intervalMs` (the config's maxInterval: a missed pub/sub message is
 * caught then) and at once when poked (the message), and hands what changed to its listener (the
 * leader's runner). A listener that fails gets everything again at the next look.
 */
import type { ConfigProblem } from '../base/errors.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { resolveEntry } from '../config/resolve.js';
import type { EntryOrigin, ResolvedEntry } from '../config/resolve.js';
import type { EntrySource, SourcedEntry } from '../ports/entries.js';

/** What changed in the catalog, for its listener: entries added or changed, and names that left. */
export type CatalogListener = (changed: readonly ResolvedEntry[], removed: readonly string[]) => Promise<void>;

/** A runtime entry that does not run, and why. */
export interface EntryProblem {
  readonly name: string;
  readonly origin: EntryOrigin;
  readonly problems: readonly ConfigProblem[];
}

export interface EntryCatalogOptions {
  readonly sources: readonly EntrySource[];
  readonly logger: Logger;
  /** Look for changes this often without being poked. */
  readonly intervalMs: number;
  /** The config's zone, for entries that name none, and the config file's entry names. */
  readonly defaultZone: string;
  readonly staticNames: ReadonlySet<string>;
}

/** How many names a change line lists. */
const EXAMPLES = 5;

interface SourceView {
  readonly source: EntrySource;
  cursor: string | undefined;
  /** Everything the source holds, checked or not, by name. */
  readonly held: Map<string, SourcedEntry>;
}

export class EntryCatalog {
  private readonly views: SourceView[];
  private defaultZone: string;
  private staticNames: ReadonlySet<string>;
  /** The entries in force, by name. */
  private current = new Map<string, ResolvedEntry>();
  /** Runtime entries that do not run, by origin and name. */
  private readonly problemMap = new Map<string, EntryProblem>();
  private listener: CatalogListener | undefined;
  /** The listener failed: hand it everything next time. */
  private resendAll = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private again = false;
  private running = false;
  private lastError: string | undefined;

  constructor(private readonly options: EntryCatalogOptions) {
    this.views = options.sources.map((source) => ({ source, cursor: undefined, held: new Map() }));
    this.defaultZone = options.defaultZone;
    this.staticNames = options.staticNames;
  }

  /** True when there are runtime sources at all. */
  get active(): boolean {
    return this.views.length > 0;
  }

  /** The runtime entries in force. */
  entries(): ResolvedEntry[] {
    return [...this.current.values()];
  }

  find(name: string): ResolvedEntry | undefined {
    return this.current.get(name);
  }

  /** Runtime entries that do not run, and why. */
  problems(): readonly EntryProblem[] {
    return [...this.problemMap.values()];
  }

  /** Reads every source whole; a source that cannot be read now is read at the next look. */
  async load(): Promise<void> {
    await this.look();
  }

  /** Where changes go from now on (the leader's runner), or nowhere. */
  listen(listener: CatalogListener | undefined): void {
    this.listener = listener;
  }

  /** A reload: the config file's names and zone may have changed. Applied at the next look. */
  reconfigure(defaultZone: string, staticNames: ReadonlySet<string>): void {
    this.defaultZone = defaultZone;
    this.staticNames = staticNames;
    void this.rebuild('all', false);
  }

  start(): void {
    if (!this.active) return;
    this.running = true;
    this.schedule();
  }

  /** Looks now (a source said something changed), or as soon as the look in progress ends. */
  poke(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.busy = this.look().finally(() => {
      this.busy = undefined;
      if (!this.running) return;
      if (this.again) {
        this.again = false;
        this.poke();
      } else {
        this.schedule();
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.poke(), this.options.intervalMs);
    this.timer.unref();
  }

  private async look(): Promise<void> {
    // The names a source reported changed, or all of them after a source was read whole.
    let touched: Set<string> | 'all' = new Set();
    for (const view of this.views) {
      try {
        if (view.cursor === undefined) {
          const snapshot = await view.source.load();
          view.held.clear();
          for (const entry of snapshot.entries) view.held.set(entry.name, entry);
          view.cursor = snapshot.cursor;
          touched = 'all';
        } else {
          const changes = await view.source.changesSince(view.cursor);
          for (const entry of changes.changed) view.held.set(entry.name, entry);
          for (const name of changes.removed) view.held.delete(name);
          if (touched !== 'all') {
            for (const entry of changes.changed) touched.add(entry.name);
            for (const name of changes.removed) touched.add(name);
          }
          view.cursor = changes.cursor;
        }
        this.lastError = undefined;
      } catch (error) {
        const message = errorMessage(error);
        if (message !== this.lastError) {
          this.options.logger.warn(
            { event: EVENTS.entriesSyncFailed, origin: view.source.origin, err: error },
            `could not read the ${view.source.origin} entries; the ones known keep running, retrying`,
          );
        }
        this.lastError = message;
      }
    }
    if (this.resendAll) touched = 'all';
    if (touched === 'all' || touched.size > 0) await this.rebuild(touched, true);
  }

  /**
   * Recomputes the entries in force of the names given (all of them after a source was read whole,
   * a reconfiguration, or a failed listener) from what the sources hold, and tells the listener
   * what changed (everything, after it failed). An entry is resolved again only when its name was
   * touched: one write among 100,000 entries costs one entry, not 100,000.
   */
  private async rebuild(names: ReadonlySet<string> | 'all', tell: boolean): Promise<void> {
    let todo: Iterable<string>;
    if (names === 'all') {
      const all = new Set<string>(this.current.keys());
      for (const view of this.views) for (const name of view.held.keys()) all.add(name);
      for (const problem of this.problemMap.values()) all.add(problem.name);
      todo = all;
    } else {
      todo = names;
    }
    const changed: ResolvedEntry[] = [];
    const removed: string[] = [];
    for (const name of todo) {
      const entry = this.settle(name);
      const before = this.current.get(name);
      if (entry === undefined) {
        if (before !== undefined) {
          this.current.delete(name);
          removed.push(name);
        }
      } else if (before !== undefined && !this.resendAll && sameEntry(before, entry)) {
        // Unchanged: the listener keeps the object it has.
      } else {
        this.current.set(name, entry);
        changed.push(entry);
      }
    }
    const total = this.current.size;
    if (changed.length === 0 && removed.length === 0 && !this.resendAll) return;
    if (changed.length > 0 || removed.length > 0) {
      this.options.logger.info(
        {
          event: EVENTS.entriesChanged,
          changed: changed.length,
          removed: removed.length,
          total,
          examples: [...changed.slice(0, EXAMPLES).map((e) => e.name), ...removed.slice(0, EXAMPLES).map((n) => `-${n}`)],
        },
        `runtime entries: ${changed.length} added or changed, ${removed.length} removed, ${total} in force`,
      );
    }
    const listener = tell ? this.listener : undefined;
    if (listener === undefined) {
      this.resendAll = false;
      return;
    }
    try {
      await listener(this.resendAll ? [...this.current.values()] : changed, removed);
      this.resendAll = false;
    } catch (error) {
      this.resendAll = true;
      this.options.logger.warn({ event: EVENTS.entriesSyncFailed, err: error }, 'could not apply the changed runtime entries; retrying');
    }
  }

  /**
   * The entry in force under `name`, resolved, or undefined; records (and logs, when they are new)
   * the problems of the sources' entries of that name that do not run. The config file's entries
   * come first, then the sources in order; an invalid entry does not take its name from a later one.
   */
  private settle(name: string): ResolvedEntry | undefined {
    let winner: ResolvedEntry | undefined;
    for (const view of this.views) {
      const { origin } = view.source;
      const key = `${origin}\n${name}`;
      const sourced = view.held.get(name);
      let problems: readonly ConfigProblem[] | undefined;
      if (sourced === undefined) {
        problems = undefined;
      } else if (this.staticNames.has(name) || winner !== undefined) {
        problems = [
          {
            path: 'name',
            message: `the name is taken by ${this.staticNames.has(name) ? 'a config-file entry' : 'an entry of another source'}; rename one of them`,
          },
        ];
      } else if (sourced.entry === undefined) {
        problems = sourced.problems;
      } else {
        winner = resolveEntry(name, sourced.entry, this.defaultZone, origin);
      }
      const before = this.problemMap.get(key);
      if (problems === undefined) {
        this.problemMap.delete(key);
        continue;
      }
      const problem = { name, origin, problems };
      this.problemMap.set(key, problem);
      if (before !== undefined && JSON.stringify(before.problems) === JSON.stringify(problems)) continue;
      const event = problems[0]?.path === 'name' ? EVENTS.entriesConflict : EVENTS.entriesInvalid;
      this.options.logger.warn(
        { event, entry: name, origin, problems },
        `${origin} entry "${name}" does not run: ${problems.map((p) => `${p.path === '' ? '' : `${p.path}: `}${p.message}`).join('; ')}`,
      );
    }
    return winner;
  }
}

/** Same definition: the resolved entries are plain data (schedules, args), compared as JSON. */
function sameEntry(a: ResolvedEntry, b: ResolvedEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
