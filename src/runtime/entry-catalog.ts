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
  /** The message of its last failed read, while it fails: said once, not at every look. */
  lastError: string | undefined;
}

export class EntryCatalog {
  private readonly views: SourceView[];
  private defaultZone: string;
  private staticNames: ReadonlySet<string>;
  /** The entries in force, by name. */
  private current = new Map<string, ResolvedEntry>();
  private problemList: EntryProblem[] = [];
  private listener: CatalogListener | undefined;
  /** The listener failed: hand it everything next time. */
  private resendAll = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private again = false;
  private running = false;

  constructor(private readonly options: EntryCatalogOptions) {
    this.views = options.sources.map((source) => ({ source, cursor: undefined, held: new Map(), lastError: undefined }));
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
    return this.problemList;
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
    void this.rebuild(false);
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
    let moved = false;
    for (const view of this.views) {
      try {
        if (view.cursor === undefined) {
          const snapshot = await view.source.load();
          view.held.clear();
          for (const entry of snapshot.entries) view.held.set(entry.name, entry);
          view.cursor = snapshot.cursor;
          moved = true;
        } else {
          const changes = await view.source.changesSince(view.cursor);
          for (const entry of changes.changed) view.held.set(entry.name, entry);
          for (const name of changes.removed) view.held.delete(name);
          moved ||= changes.changed.length > 0 || changes.removed.length > 0;
          view.cursor = changes.cursor;
        }
        view.lastError = undefined;
      } catch (error) {
        const message = errorMessage(error);
        if (message !== view.lastError) {
          this.options.logger.warn(
            { event: EVENTS.entriesSyncFailed, origin: view.source.origin, err: error },
            `could not read the ${view.source.origin} entries; the ones known keep running, retrying`,
          );
        }
        view.lastError = message;
      }
    }
    if (moved || this.resendAll) await this.rebuild(true);
  }

  /**
   * Recomputes the entries in force from what the sources hold; tells the listener what changed
   * (everything, after it failed). Entries are resolved again only when their definition changed.
   */
  private async rebuild(tell: boolean): Promise<void> {
    const next = new Map<string, ResolvedEntry>();
    const problems: EntryProblem[] = [];
    for (const view of this.views) {
      const { origin } = view.source;
      for (const sourced of view.held.values()) {
        const { name } = sourced;
        if (this.staticNames.has(name) || next.has(name)) {
          problems.push({
            name,
            origin,
            problems: [
              {
                path: 'name',
                message: `the name is taken by ${this.staticNames.has(name) ? 'a config-file entry' : 'an entry of another source'}; rename one of them`,
              },
            ],
          });
          continue;
        }
        if (sourced.entry === undefined) {
          problems.push({ name, origin, problems: sourced.problems });
          continue;
        }
        next.set(name, resolveEntry(name, sourced.entry, this.defaultZone, origin));
      }
    }
    const previous = this.current;
    const changed: ResolvedEntry[] = [];
    for (const [name, entry] of next) {
      const before = previous.get(name);
      if (before !== undefined && !this.resendAll && sameEntry(before, entry)) next.set(name, before);
      else changed.push(entry);
    }
    const removed = [...previous.keys()].filter((name) => !next.has(name));
    this.current = next;
    this.reportProblems(problems);
    this.problemList = problems;
    if (changed.length === 0 && removed.length === 0) {
      this.resendAll = false;
      return;
    }
    this.options.logger.info(
      {
        event: EVENTS.entriesChanged,
        changed: changed.length,
        removed: removed.length,
        total: next.size,
        examples: [...changed.slice(0, EXAMPLES).map((e) => e.name), ...removed.slice(0, EXAMPLES).map((n) => `-${n}`)],
      },
      `runtime entries: ${changed.length} added or changed, ${removed.length} removed, ${next.size} in force`,
    );
    const listener = tell ? this.listener : undefined;
    if (listener === undefined) {
      this.resendAll = false;
      return;
    }
    try {
      await listener(this.resendAll ? [...next.values()] : changed, removed);
      this.resendAll = false;
    } catch (error) {
      this.resendAll = true;
      this.options.logger.warn({ event: EVENTS.entriesSyncFailed, err: error }, 'could not apply the changed runtime entries; retrying');
    }
  }

  private reportProblems(problems: readonly EntryProblem[]): void {
    const before = new Map(this.problemList.map((p) => [p.name, JSON.stringify(p.problems)]));
    for (const problem of problems) {
      if (before.get(problem.name) === JSON.stringify(problem.problems)) continue;
      const event = problem.problems[0]?.path === 'name' ? EVENTS.entriesConflict : EVENTS.entriesInvalid;
      this.options.logger.warn(
        { event, entry: problem.name, origin: problem.origin, problems: problem.problems },
        `${problem.origin} entry "${problem.name}" does not run: ${problem.problems.map((p) => `${p.path === '' ? '' : `${p.path}: `}${p.message}`).join('; ')}`,
      );
    }
  }
}

/** Same definition: the resolved entries are plain data (schedules, args), compared as JSON. */
function sameEntry(a: ResolvedEntry, b: ResolvedEntry): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
