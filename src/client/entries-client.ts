/**
 * The TypeScript client of the runtime entry store: `import { Entries } from 'tsbeat'`. It reaches a
 * deployment one of two ways, with the same methods, answers and errors (a ConfigError with code
 * ENTRY_INVALID and every problem by path, a BeatError ENTRY_IS_STATIC for a config file's name…):
 * straight to its state Redis (`url`; store-transport.ts), whose credentials are then the boundary,
 * or through `beat run --http`'s /api with a token (`api`, `token`; api-transport.ts), the server
 * deciding each call on the token's grants. A running leader applies each write within a second.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import { noteProblem } from '../base/note-text.js';
import type { EntryInput } from '../config/schema.js';
import type { EntryPlan } from '../control/entry-plan.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { SlotView } from '../control/entry-view-schema.js';
import type { EntryPauseAnswer, SelectionPauseAnswer, StopAnswer, TriggerAnswer } from '../operations/control-verbs.js';
import type { DeploymentStopView } from '../control/deployment-stop.js';
import type { DeadLetterView } from '../control/dead-letter-view.js';
import type { BackfillResult, BackfillSlotsPage } from '../operations/backfill-verbs.js';
import type { AuditQuery, DeploymentBrief, EntriesTransport, EntryRecord, SetOutcome } from './entries-transport.js';
import type { VerbAnswer, VerbInput, VerbName } from '../operations/door.js';
import type { RedisConnectOptions } from './store-transport.js';
import type { ApiConnectOptions } from './api-transport.js';

export type { AuditQuery, EntryRecord, SetOutcome } from './entries-transport.js';
export type { BackfillResult, BackfillSlotsPage } from '../operations/backfill-verbs.js';
export type { RedisConnectOptions } from './store-transport.js';
export type { ApiConnectOptions } from './api-transport.js';
export type { VerbAnswer, VerbInput, VerbName } from '../operations/door.js';

/**
 * Where the client connects: the deployment's state Redis (`url` and the options of that path; the
 * default), or `api`, the address of `beat run --http`, with a `token` of its tokens file.
 */
export type EntriesConnectOptions = RedisConnectOptions | ApiConnectOptions;

/** Why a change is made: kept with it in the audit trail (`beat audit`). */
export interface ChangeOptions {
  readonly note?: string;
}

/**
 * A write of one entry held to the version read (a record's `version`; 0: only if there is none):
 * another version stored now rejects with ENTRY_CONFLICT and nothing is written (If-Match through the API).
 */
export interface VersionedChange extends ChangeOptions {
  readonly ifVersion?: number;
}

/**
 * A trigger's options: the note, and how long to wait for the leader to publish (default 10 s; then
 * the run is withdrawn). Through the API the server waits `waitMs`, 5 s at most, and answers the
 * run `queued` (left for the leader) when it was not taken.
 */
export interface TriggerOptions extends ChangeOptions {
  readonly waitMs?: number;
}

/** A past range of an entry's slots: its first and last slot (both included), a Date or an ISO-8601 instant with an offset. */
export interface BackfillRange {
  readonly from: Date | string;
  readonly to: Date | string;
}

/**
 * A backfill's options (as `beat backfill`'s flags): at most `limit` slots (refused whole past it),
 * the `overlap` policy its slots go out under (the entry's own by default), `unrecorded` to publish
 * slots older than the record of passed-over slots speaks for, the note; and how long to wait for
 * the leader to finish (default 10 s): past it the request stays queued (`done` false), and
 * `backfillProgress(id)` reads on. Never withdrawn.
 */
export interface BackfillOptions extends BackfillRange, TriggerOptions {
  readonly limit?: number;
  readonly overlap?: 'allowAll' | 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther';
  readonly unrecorded?: boolean;
}

/** One entry's verbs (`entries.handle(name)`), as Temporal's ScheduleHandle has a schedule's. */
export interface EntryHandle {
  readonly name: string;
  /** The stored runtime entry, or undefined (an entry of the config file is not stored). */
  describe(): Promise<EntryRecord | undefined>;
  put(entry: EntryInput, options?: VersionedChange): Promise<SetOutcome>;
  delete(options?: { keepHistory?: boolean } & VersionedChange): Promise<boolean>;
  pause(options?: ChangeOptions): Promise<EntryPauseAnswer>;
  resume(options?: ChangeOptions): Promise<EntryPauseAnswer>;
  /** One run now, through the leader's fenced path: published, refused (with why), or withdrawn when no leader took it in time. */
  trigger(options?: TriggerOptions): Promise<TriggerAnswer>;
  /**
   * Publishes every slot of the range that never ran, once each, through the leader's fenced path
   * (`beat backfill`); a slot already published is skipped. The entry is the store's or the leading
   * config file's. Through Redis the overlap policy is the leader's to check (`error` when it cannot
   * apply it); through the API a policy it cannot apply is refused first (API_BAD_REQUEST).
   */
  backfill(options: BackfillOptions): Promise<BackfillResult>;
  /** A page of the slots a backfill of the range would take and those its exclude skips, publishing nothing; `after`: the page before's `next`. */
  backfillSlots(options: BackfillRange & { readonly after?: string }): Promise<BackfillSlotsPage>;
  /** A backfill's progress by its id, within an hour of its end; UNKNOWN_ENTRY while no leader has begun it yet. */
  backfillProgress(id: string): Promise<BackfillResult>;
  /**
   * Its last slots, newest first, each with its attempts (kept with a resultBackend or taskEvents); times in
   * `timezone` (the client's, else UTC; through the API, the entry's). Through Redis the retry policy is not
   * known: `maxAttempts` is null.
   */
  history(options?: { limit?: number; timezone?: string }): Promise<SlotView[]>;
  audit(options?: AuditQuery): Promise<AuditEventView[]>;
}

/** The verbs on the store's entries a selector selects, at once, one audit event each. */
export interface SelectionHandle {
  pause(options?: ChangeOptions): Promise<SelectionPauseAnswer>;
  resume(options?: ChangeOptions): Promise<SelectionPauseAnswer>;
  trigger(options?: TriggerOptions): Promise<TriggerAnswer[]>;
}

/** The deployment's verbs: pause and resume everything (its stop), the stop, a brief status, the audit trail. */
export interface DeploymentHandle {
  pause(options?: ChangeOptions): Promise<StopAnswer>;
  resume(options?: ChangeOptions): Promise<StopAnswer>;
  stop(): Promise<DeploymentStopView | null>;
  status(): Promise<DeploymentBrief>;
  audit(options?: AuditQuery): Promise<AuditEventView[]>;
}

/** How long a trigger waits for the leader by default, as `beat trigger` does. */
const TRIGGER_WAIT_MS = 10_000;

/** The options of the Redis path, refused beside `api` (the server's own settings and the token's grants apply there). */
const REDIS_ONLY = [
  'url',
  'deployment',
  'prefix',
  'transportOptions',
  'connectTimeoutMs',
  'who',
  'grants',
  'auditMaxEvents',
  'budget',
  'timezone',
];

/** A change's note, held to the rule of the CLI's --note and the X-Beat-Note header (base/note-text.ts), in both modes alike. */
function checkedNote(note: string | undefined): string | undefined {
  const problem = note === undefined ? undefined : noteProblem(note);
  if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `note: ${problem}`);
  return note;
}

/** An instant as a backfill's body takes it: a Date as ISO-8601 UTC, a text as given (checked with the body). */
function instantText(instant: Date | string): string {
  if (!(instant instanceof Date)) return instant;
  if (Number.isNaN(instant.getTime()))
    throw new BeatError(ErrorCode.Usage, 'backfill: from and to must be valid Dates or ISO-8601 instants, got an Invalid Date');
  return instant.toISOString();
}

export class Entries {
  private constructor(private readonly transport: EntriesTransport) {}

  /**
   * Connects to the deployment's state Redis (`url`), rejecting with REDIS_UNAVAILABLE (or the
   * server's refusal) when it cannot; or to `beat run --http` (`api`, with a `token`), rejecting with
   * the API's code (API_UNAUTHORIZED for a wrong token) or REDIS_UNAVAILABLE when it is out of reach.
   */
  static async connect(options: EntriesConnectOptions = {}): Promise<Entries> {
    if ('api' in options && options.api !== undefined) {
      const beside = REDIS_ONLY.filter((key) => (options as unknown as Record<string, unknown>)[key] !== undefined);
      if (beside.length > 0)
        throw new BeatError(
          ErrorCode.Usage,
          `Entries.connect: ${beside.join(', ')} ${beside.length === 1 ? 'is an option' : 'are options'} of the Redis path (url); with api the server's settings and the token's grants apply: leave ${beside.length === 1 ? 'it' : 'them'} out`,
        );
      const { apiTransport } = await import('./api-transport.js');
      return new Entries(await apiTransport(options));
    }
    const { redisTransport } = await import('./store-transport.js');
    return new Entries(await redisTransport(options as RedisConnectOptions));
  }

  /**
   * Creates or replaces one entry (the same object as a config file's beatSchedule.<name>); with
   * `ifVersion`, only over that stored version (ENTRY_CONFLICT else, nothing written).
   */
  async set(name: string, entry: EntryInput, options: VersionedChange = {}): Promise<SetOutcome> {
    const { ifVersion } = options;
    const { outcomes } = await this.transport.put(
      [{ name, entry, ...(ifVersion === undefined ? {} : { ifVersion }) }],
      checkedNote(options.note),
    );
    return outcomes[0] as SetOutcome;
  }

  /** Creates or replaces several entries, all or none: one bad entry and nothing is written. */
  async setMany(
    entries: Readonly<Record<string, EntryInput>>,
    options: ChangeOptions = {},
  ): Promise<{ version: number; outcomes: Record<string, SetOutcome> }> {
    const names = Object.keys(entries);
    const note = checkedNote(options.note);
    const result = await this.transport.put(
      names.map((name) => ({ name, entry: entries[name] as EntryInput })),
      note,
    );
    return { version: result.version, outcomes: Object.fromEntries(names.map((name, i) => [name, result.outcomes[i] as SetOutcome])) };
  }

  /** The stored entry, or undefined (through the API also one outside the token's grants). */
  async get(name: string): Promise<EntryRecord | undefined> {
    return this.transport.get(name);
  }

  /**
   * The stored entries in name order: all of them, or with `limit` a page of those after `after`
   * (pass the last name of a page as the next one's `after`). With `selector` (a label selector,
   * `team=billing,tier!=batch`, as `beat entries list -l` and the API's `selector` take it) only
   * those it selects, `limit` of them at most; one that does not parse is a BeatError USAGE naming
   * the character (API_BAD_REQUEST through the API). Through the API, only those the token may read.
   */
  async list(options: { after?: string; limit?: number; selector?: string } = {}): Promise<EntryRecord[]> {
    return this.transport.list(options);
  }

  /**
   * Deletes an entry; false when there was none. Its run history goes with it (so that a new entry
   * of the same name starts afresh) unless `keepHistory`; with `ifVersion`, only that stored version.
   */
  async delete(name: string, options: { keepHistory?: boolean } & VersionedChange = {}): Promise<boolean> {
    return this.transport.remove(name, options.keepHistory === true, checkedNote(options.note), options.ifVersion);
  }

  /**
   * What `apply` would do to the entries `owner` holds (as `beat plan --json` prints it): each
   * entry added, changed, removed, unchanged or in conflict, the digest to pass to `apply`, and
   * `load`: the owner's runs per minute over the next `horizonMs` (24 h by default, 7 days at
   * most), now and after, with the busiest minute and second.
   */
  async plan(owner: string, entries: Readonly<Record<string, EntryInput>>, options: { horizonMs?: number } = {}): Promise<EntryPlan> {
    const horizonMs = options.horizonMs ?? DEFAULTS.loadHorizonMs;
    if (!Number.isInteger(horizonMs) || horizonMs < 60_000 || horizonMs > DEFAULTS.loadHorizonMaxMs)
      throw new BeatError(
        ErrorCode.Usage,
        `plan: horizonMs ${String(horizonMs)}: give a whole number of ms from 60000 (a minute) to ${DEFAULTS.loadHorizonMaxMs} (7 days); 86400000 is a day`,
      );
    return this.transport.plan(owner, entries, horizonMs);
  }

  /**
   * Makes the entries `owner` holds be `entries`, in one atomic write, never touching another
   * owner's or an entry without one. Rejects with OWNER_CONFLICT when another owner or none holds a
   * name, PLAN_STALE when `planDigest` is not the plan's of now (something changed since).
   */
  async apply(
    owner: string,
    entries: Readonly<Record<string, EntryInput>>,
    options: { planDigest?: string } & ChangeOptions = {},
  ): Promise<EntryPlan & { version: number }> {
    return this.transport.apply(owner, entries, options.planDigest, checkedNote(options.note));
  }

  /**
   * The dead-letter list (issue 70; docs/outcomes.md, "The dead-letter list"), oldest first, of the
   * entries the caller may read; with `selector`, the items whose entry the selector selects.
   */
  async deadLetters(options: { readonly selector?: string } = {}): Promise<DeadLetterView[]> {
    return this.transport.invoke('deadLetters', { selector: options.selector }, undefined);
  }

  /**
   * Publishes dead letters again, once each: the one of `target` (its id), or every one whose entry
   * `{selector}` selects. Each is a manual run through the leader, waited for `waitMs` (10 s); one not
   * published by then stays queued (`state: 'queued'`; never withdrawn: its item has left the list).
   */
  async replayDeadLetters(
    target: string | { readonly selector: string },
    options: TriggerOptions = {},
  ): Promise<(TriggerAnswer & { readonly id: string })[]> {
    return this.transport.invoke(
      'replay',
      { target: typeof target === 'string' ? { id: target } : target, waitMs: options.waitMs ?? TRIGGER_WAIT_MS },
      checkedNote(options.note),
    );
  }

  /** Removes dead letters unpublished: the one of `target` (its id), or every one whose entry `{selector}` selects. */
  async discardDeadLetters(target: string | { readonly selector: string }, options: ChangeOptions = {}): Promise<DeadLetterView[]> {
    return this.transport.invoke('discard', { target: typeof target === 'string' ? { id: target } : target }, checkedNote(options.note));
  }

  /**
   * One entry's every verb (as Temporal's ScheduleHandle): `entries.handle('nightly').pause({ note })`.
   * Its pause, resume and trigger act on an entry of the store, or of the leading config file.
   */
  handle(name: string): EntryHandle {
    const pause = async (paused: boolean, options: ChangeOptions): Promise<EntryPauseAnswer> =>
      (await this.transport.invoke(
        paused ? 'pause' : 'resume',
        { target: { entry: name } },
        checkedNote(options.note),
      )) as EntryPauseAnswer;
    return {
      name,
      describe: () => this.get(name),
      put: (entry, options) => this.set(name, entry, options),
      delete: (options) => this.delete(name, options),
      pause: (options = {}) => pause(true, options),
      resume: (options = {}) => pause(false, options),
      trigger: async (options = {}) => {
        const waitMs = options.waitMs ?? TRIGGER_WAIT_MS;
        const [run] = await this.transport.invoke('trigger', { target: { entry: name }, waitMs }, checkedNote(options.note));
        return run as TriggerAnswer;
      },
      backfill: async (options) => {
        const { from, to, limit, overlap, unrecorded } = options;
        const body = { from: instantText(from), to: instantText(to), limit, overlap, unrecorded, note: checkedNote(options.note) };
        return (await this.transport.backfill(name, body, options.waitMs ?? TRIGGER_WAIT_MS)) as BackfillResult;
      },
      backfillSlots: async ({ from, to, after }) =>
        (await this.transport.backfill(
          name,
          { from: instantText(from), to: instantText(to), dryRun: true, after },
          0,
        )) as BackfillSlotsPage,
      backfillProgress: (id) => this.transport.backfillProgress(name, id),
      history: (options = {}) => this.transport.invoke('history', { target: { entry: name }, ...options }, undefined),
      audit: (options = {}) => this.transport.audit({ ...options, entry: name }),
    };
  }

  /** The entries of the store a label selector (`team=billing`) selects, and the verbs on all of them at once (one audit event). */
  selection(selector: string): SelectionHandle {
    const pause = async (paused: boolean, options: ChangeOptions): Promise<SelectionPauseAnswer> =>
      (await this.transport.invoke(
        paused ? 'pause' : 'resume',
        { target: { selector } },
        checkedNote(options.note),
      )) as SelectionPauseAnswer;
    return {
      pause: (options = {}) => pause(true, options),
      resume: (options = {}) => pause(false, options),
      trigger: async (options = {}) =>
        this.transport.invoke('trigger', { target: { selector }, waitMs: options.waitMs ?? TRIGGER_WAIT_MS }, checkedNote(options.note)),
    };
  }

  /** The deployment's verbs: its stop (pause and resume of everything), its status, its audit trail. */
  deployment(): DeploymentHandle {
    const stop = async (paused: boolean, options: ChangeOptions): Promise<StopAnswer> =>
      (await this.transport.invoke(paused ? 'pause' : 'resume', { target: { all: true } }, checkedNote(options.note))) as StopAnswer;
    return {
      pause: (options = {}) => stop(true, options),
      resume: (options = {}) => stop(false, options),
      stop: () => this.transport.invoke('stop', {}, undefined),
      status: () => this.transport.status(),
      audit: (options = {}) => this.transport.audit(options),
    };
  }

  /**
   * Any verb of the table (operations/door.ts VERBS) by its name, with its input: what the handles'
   * pause, resume and trigger and the dead-letter methods call, and how a verb added to the table is
   * reached before it has a method of its own. `note`: why, kept by its audit event.
   */
  async invoke<V extends VerbName>(verb: V, input: VerbInput<V>, options: ChangeOptions = {}): Promise<VerbAnswer<V>> {
    return this.transport.invoke(verb, input, checkedNote(options.note));
  }

  /** The store's version: it grows with every write that changed something (the Redis path; /api does not serve it). */
  async version(): Promise<number> {
    return this.transport.version();
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
