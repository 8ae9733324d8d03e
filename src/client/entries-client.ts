/**
 * The TypeScript client of the runtime entry store: `import { Entries } from 'tsbeat'`. It writes
 * to Redis directly, through the same store, checks and script as `beat run`'s HTTP API and
 * `beat entries`, so it refuses the same mistakes with the same errors (a ConfigError with code
 * ENTRY_INVALID and every problem by path, a BeatError ENTRY_IS_STATIC for a config file's name),
 * and a running leader applies each write within a second.
 *
 * Redis and the store load when `connect` is called, not when tsbeat is imported: config files
 * import tsbeat too, and must not pay for a Redis client.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import { noteProblem } from '../base/note-text.js';
import type { ConfigProblem } from '../base/errors.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { maskUrl } from '../config/url-parts.js';
import { queueNameContext } from '../config/queue-names.js';
import type { EntryInput } from '../config/schema.js';
import type { RedisEntryStore, StoredEntry, WriteOutcome } from '../redis/entry-store.js';
import type { RedisClient } from '../redis/connect.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { EntryPlan } from '../control/entry-plan.js';
import type { AuditEventView } from '../control/audit-event-view.js';
import type { RunView } from '../control/run-view.js';
import { awaitRuns, queueTriggers, readStop, setPaused } from '../operations/control-verbs.js';
import type { EntryPauseAnswer, SelectionPauseAnswer, StopAnswer, TriggerAnswer } from '../operations/control-verbs.js';
import { deleteEntry, putEntries } from '../operations/entry-verbs.js';
import type { EntryStores } from '../operations/entry-verbs.js';
import type { Operator } from '../operations/operator.js';
import { scopedEntry } from '../operations/operator.js';
import { parseGrants } from '../core/grants.js';
import type { Grant, ScopedEntry } from '../core/grants.js';
import type { PlanStores } from '../operations/plan-verbs.js';
import { auditTrail, entryHistory } from '../operations/read-verbs.js';
import type { DeploymentStopView } from '../control/deployment-stop.js';
import type { ControlStore } from '../redis/control-store.js';
import { deadLetterView } from '../control/dead-letter-view.js';
import type { DeadLetterView } from '../control/dead-letter-view.js';
import { discardDeadLetters, listDeadLetters, replayDeadLetters } from '../operations/dead-letter-verbs.js';
import type { DeadLetterTarget, ScopeOf } from '../operations/dead-letter-verbs.js';

export interface EntriesConnectOptions {
  /** The state Redis of the deployment (its `state.url`, else its broker's URL). Default redis://127.0.0.1:6379/0. */
  readonly url?: string;
  /** The deployment's `name`. Default "default". */
  readonly deployment?: string;
  /** The deployment's `state.prefix`. Default "tsbeat". */
  readonly prefix?: string;
  /** kombu-style transport options of that URL (Sentinel's masterName, TLS, timeouts), as in the config's broker.transportOptions. */
  readonly transportOptions?: TransportOptionsInput;
  /** Give up connecting after this long. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Who the audit trail records for this client's changes. Default `user@host` of this process. */
  readonly who?: string;
  /**
   * What this client may change, as a token's grants in the tokens file (`editor@team=billing;viewer`,
   * docs/operations.md "Who may do what"): each change is decided on them as the API decides a
   * token's (FORBIDDEN, nothing written) and the audit records the grant used. For code that should
   * hold less than its Redis credentials allow (a team's CI): whoever holds those credentials can
   * write to Redis without this client, so they stay the boundary. Default: every role.
   */
  readonly grants?: string;
  /** The deployment's `audit.maxEvents` (the audit stream's cap). Default 100,000. */
  readonly auditMaxEvents?: number;
  /**
   * The store's budget this writer keeps to: most entries and most bytes of names and definitions
   * (the config's entryLimits.maxEntries and maxStoreBytes; defaults 100,000 and 32 MiB). Set it
   * as `beat run`'s config does: a write past it is refused (ENTRY_INVALID) naming the setting.
   */
  readonly budget?: { readonly maxEntries?: number; readonly maxStoreBytes?: number };
  /** The deployment's `timezone`, in which a plan computes the next fires of entries that name none. Default UTC. */
  readonly timezone?: string;
}

/** Why a change is made: kept with it in the audit trail (`beat audit`). */
export interface ChangeOptions {
  readonly note?: string;
}

/**
 * A stored runtime entry: what `GET /api/entries/NAME` answers besides its `view` (the entry as
 * `/status` shows it, control/entry-view-schema.ts), which takes the deployment's config to compute
 * and this client does not have; `beat status --json` and the API give it.
 */
export interface EntryRecord {
  readonly name: string;
  /** The entry as written. */
  readonly entry: unknown;
  /** The store's version of its last change. */
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Why the scheduler does not run it (written by hand or another tsbeat version), if it does not. */
  readonly problems?: readonly ConfigProblem[];
}

export type SetOutcome = Extract<WriteOutcome, 'created' | 'updated' | 'unchanged'>;

/** A trigger's options: the note, and how long to wait for the leader to publish (default 10 s; then the run is withdrawn). */
export interface TriggerOptions extends ChangeOptions {
  readonly waitMs?: number;
}

/** Which audit events: `limit` (default 50) older than `before` (an event's id), newest first. */
export interface AuditQuery {
  readonly limit?: number;
  readonly before?: string;
}

/** One entry's verbs (`entries.handle(name)`), as Temporal's ScheduleHandle has a schedule's. */
export interface EntryHandle {
  readonly name: string;
  /** The stored runtime entry, or undefined (an entry of the config file is not stored). */
  describe(): Promise<EntryRecord | undefined>;
  put(entry: EntryInput, options?: ChangeOptions): Promise<SetOutcome>;
  delete(options?: { keepHistory?: boolean } & ChangeOptions): Promise<boolean>;
  pause(options?: ChangeOptions): Promise<EntryPauseAnswer>;
  resume(options?: ChangeOptions): Promise<EntryPauseAnswer>;
  /** One run now, through the leader's fenced path: published, refused (with why), or withdrawn when no leader took it in time. */
  trigger(options?: TriggerOptions): Promise<TriggerAnswer>;
  /** Its last runs, newest first (kept with a resultBackend or taskEvents); times in `timezone` (the client's, else UTC). */
  history(options?: { limit?: number; timezone?: string }): Promise<RunView[]>;
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
  status(): Promise<{
    readonly stopped: DeploymentStopView | null;
    readonly leader: { readonly instance: string; readonly since: string } | null;
    readonly paused: readonly string[];
  }>;
  audit(options?: AuditQuery): Promise<AuditEventView[]>;
}

interface Connection {
  readonly store: RedisEntryStore;
  /** The Redis client and keys a plan reads besides the store (owner-apply.ts). */
  readonly client: RedisClient;
  readonly keys: SchedulerKeys;
  readonly timezone: string;
  /** The deployment's name: with an entry's, it seeds the entry's hashed times (H, spread) a plan shows. */
  readonly deployment: string;
  /** Who this client's changes are recorded as, with a change's note (checked as the CLI's --note). */
  readonly operator: (note: string | undefined) => Operator;
  readonly auditMaxEvents: number | undefined;
  readonly status: () => string;
  readonly close: () => Promise<void>;
}

const CONNECT_TIMEOUT_MS = 10_000;
/** How long a trigger waits for the leader by default, as `beat trigger` does. */
const TRIGGER_WAIT_MS = 10_000;

function record(stored: StoredEntry): EntryRecord {
  return {
    name: stored.name,
    entry: stored.entry,
    version: stored.version,
    createdAt: new Date(stored.createdMs),
    updatedAt: new Date(stored.updatedMs),
    ...(stored.problems === undefined ? {} : { problems: stored.problems }),
  };
}

export class Entries {
  private constructor(private readonly connection: Connection) {}

  /** Connects to the deployment's state Redis; rejects with REDIS_UNAVAILABLE (or the server's refusal) when it cannot. */
  static async connect(options: EntriesConnectOptions = {}): Promise<Entries> {
    const [{ createStateClient, connectWithRetry }, { RedisEntryStore, storeBudget }, { schedulerKeys }, { silentLogger }, { localActor }] =
      await Promise.all([
        import('../redis/connect.js'),
        import('../redis/entry-store.js'),
        import('../redis/keys.js'),
        import('../base/log.js'),
        import('../redis/audit-log.js'),
      ]);
    let grants: readonly Grant[] | undefined;
    if (options.grants !== undefined) {
      const parsed = parseGrants(options.grants);
      // Refused before connecting: a typo must not leave a client with every role.
      if (!parsed.ok) throw new BeatError(ErrorCode.Usage, `Entries.connect: grants: ${parsed.problem}`);
      grants = parsed.grants;
    }
    const url = options.url ?? DEFAULTS.brokerUrl;
    const client = createStateClient(url, options.transportOptions ?? {}, 'entries client', silentLogger);
    try {
      await connectWithRetry(client, AbortSignal.timeout(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS));
    } catch (error) {
      client.disconnect();
      if (error instanceof BeatError) throw error;
      throw new BeatError(ErrorCode.RedisUnavailable, `cannot reach Redis at ${maskUrl(url)}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    const deployment = options.deployment ?? DEFAULTS.deploymentName;
    const keys = schedulerKeys(options.prefix ?? DEFAULTS.statePrefix, deployment);
    return new Entries({
      client,
      keys,
      timezone: options.timezone ?? 'UTC',
      deployment,
      store: new RedisEntryStore(
        client,
        keys,
        new Set(),
        queueNameContext(options.prefix ?? DEFAULTS.statePrefix, options.transportOptions ?? {}),
        { zone: options.timezone ?? 'UTC', deployment },
        storeBudget({ entryLimits: options.budget }),
      ),
      operator: (note) => {
        // The rule of the CLI's --note and the X-Beat-Note header (base/note-text.ts).
        const problem = note === undefined ? undefined : noteProblem(note);
        if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `note: ${problem}`);
        return { who: options.who ?? localActor(), note, ...(grants === undefined ? {} : { grants }) };
      },
      auditMaxEvents: options.auditMaxEvents,
      status: () => client.status,
      close: async () => {
        await client.quit().catch(() => client.disconnect());
      },
    });
  }

  /** Creates or replaces one entry (the same object as a config file's beatSchedule.<name>). */
  async set(name: string, entry: EntryInput, options: ChangeOptions = {}): Promise<SetOutcome> {
    const by = this.connection.operator(options.note);
    const { outcomes } = await this.call((store) => putEntries(this.stores(store), by, [{ name, entry }], { nowMs: Date.now() }));
    return outcomes[0] as SetOutcome;
  }

  /** Creates or replaces several entries, all or none: one bad entry and nothing is written. */
  async setMany(
    entries: Readonly<Record<string, EntryInput>>,
    options: ChangeOptions = {},
  ): Promise<{ version: number; outcomes: Record<string, SetOutcome> }> {
    const names = Object.keys(entries);
    const by = this.connection.operator(options.note);
    const result = await this.call((store) =>
      putEntries(
        this.stores(store),
        by,
        names.map((name) => ({ name, entry: entries[name] })),
        { nowMs: Date.now() },
      ),
    );
    return { version: result.version, outcomes: Object.fromEntries(names.map((name, i) => [name, result.outcomes[i] as SetOutcome])) };
  }

  async get(name: string): Promise<EntryRecord | undefined> {
    const stored = await this.call((store) => store.get(name));
    return stored === undefined ? undefined : record(stored);
  }

  /**
   * The stored entries in name order: all of them, or with `limit` a page of those after `after`
   * (pass the last name of a page as the next one's `after`). With `selector` (a label selector,
   * `team=billing,tier!=batch`, as `beat entries list -l` and the API's `selector` take it) only
   * those it selects, `limit` of them at most; one that does not parse is a BeatError USAGE naming
   * the character.
   */
  async list(options: { after?: string; limit?: number; selector?: string } = {}): Promise<EntryRecord[]> {
    if (options.selector !== undefined && options.selector.trim() !== '') {
      const { selectorOrThrow, selectedEntries } = await import('../redis/entry-select.js');
      const selector = selectorOrThrow(options.selector);
      const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
      return (await this.call((store) => selectedEntries(store, selector, options.after, limit, DEFAULTS.ioChunk))).map(record);
    }
    if (options.limit === undefined && options.after === undefined) return (await this.call((store) => store.list())).map(record);
    const page = await this.call((store) => store.page(options.after, options.limit ?? Number.MAX_SAFE_INTEGER));
    return page.entries.map(record);
  }

  /**
   * Deletes an entry; false when there was none. Its run history goes with it (so that a new entry
   * of the same name starts afresh) unless `keepHistory`.
   */
  async delete(name: string, options: { keepHistory?: boolean } & ChangeOptions = {}): Promise<boolean> {
    const by = this.connection.operator(options.note);
    return this.call((store) =>
      deleteEntry(this.stores(store), by, name, { nowMs: Date.now(), keepHistory: options.keepHistory === true }),
    );
  }

  /**
   * What `apply` would do to the entries `owner` holds (as `beat plan --json` prints it): each
   * entry added, changed, removed, unchanged or in conflict, the digest to pass to `apply`, and
   * `load`: the owner's runs per minute over the next `horizonMs` (24 h by default, 7 days at
   * most), now and after, with the busiest minute and second.
   */
  async plan(owner: string, entries: Readonly<Record<string, EntryInput>>, options: { horizonMs?: number } = {}): Promise<EntryPlan> {
    const { planEntries } = await import('../operations/plan-verbs.js');
    const horizonMs = options.horizonMs ?? DEFAULTS.loadHorizonMs;
    if (!Number.isInteger(horizonMs) || horizonMs < 60_000 || horizonMs > DEFAULTS.loadHorizonMaxMs)
      throw new BeatError(
        ErrorCode.Usage,
        `plan: horizonMs ${String(horizonMs)}: give a whole number of ms from 60000 (a minute) to ${DEFAULTS.loadHorizonMaxMs} (7 days); 86400000 is a day`,
      );
    const nowMs = Date.now();
    const inputs = await this.ownerInputs(owner, entries, nowMs);
    const by = this.connection.operator(undefined);
    return this.call((store) =>
      planEntries(this.planStores(store), by, {
        owner,
        inputs,
        zone: this.connection.timezone,
        deployment: this.connection.deployment,
        nowMs,
        horizonMs,
      }),
    );
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
    const { applyEntries } = await import('../operations/plan-verbs.js');
    const nowMs = Date.now();
    const by = this.connection.operator(options.note);
    const inputs = await this.ownerInputs(owner, entries, nowMs);
    const { plan, version } = await this.call((store) =>
      applyEntries(this.planStores(store), by, {
        owner,
        inputs,
        zone: this.connection.timezone,
        deployment: this.connection.deployment,
        nowMs,
        planDigest: options.planDigest,
        checked: true,
        source: 'entries',
      }),
    );
    return { ...plan, version };
  }

  /** The entries given the owner, checked as a write of them is (ENTRY_INVALID with every problem). */
  private async ownerInputs(owner: string, entries: Readonly<Record<string, EntryInput>>, nowMs: number) {
    const [{ ownedInputs }, { newEntryNameProblems }] = await Promise.all([
      import('../redis/owner-apply.js'),
      import('../config/entry-definition.js'),
    ]);
    const problem = newEntryNameProblems(owner)[0];
    if (problem !== undefined) throw new BeatError(ErrorCode.Usage, `owner ${JSON.stringify(owner)}: ${problem.message}`);
    const inputs = ownedInputs(
      Object.keys(entries).map((name) => ({ name, entry: entries[name] })),
      owner,
      'entries',
    );
    this.connection.store.prepare(
      inputs.map((i) => ({ op: 'put', name: i.name, entry: i.entry })),
      { nowMs, source: 'entries' },
    );
    return inputs;
  }

  /**
   * The deployment-wide stop (`beat pause --all`): while it is set no replica publishes anything.
   * Sets it with its audit event; `changed` false when it was already set (nothing written).
   */
  async stopDeployment(options: ChangeOptions = {}): Promise<{ stopped: DeploymentStopView; changed: boolean }> {
    const answer = await this.deployment().pause(options);
    if (answer.stopped === null) throw new BeatError(ErrorCode.Usage, 'the deployment-wide stop was not set');
    return { stopped: answer.stopped, changed: 'changed' in answer && answer.changed };
  }

  /** Lifts the deployment-wide stop (`beat resume --all`): the stop it lifted, or undefined when none was set. */
  async resumeDeployment(options: ChangeOptions = {}): Promise<DeploymentStopView | undefined> {
    const answer = await this.deployment().resume(options);
    return 'lifted' in answer ? (answer.lifted ?? undefined) : undefined;
  }

  /** The deployment-wide stop, if it is set. */
  async deploymentStop(): Promise<DeploymentStopView | undefined> {
    return (await this.deployment().stop()) ?? undefined;
  }

  /**
   * One entry's every verb (as Temporal's ScheduleHandle): `entries.handle('nightly').pause({ note })`.
   * Its pause, resume and trigger act on an entry of the store, or of the leading config file.
   */
  handle(name: string): EntryHandle {
    const known = async (control: ControlStore): Promise<string> => {
      if ((await this.call((store) => store.get(name))) !== undefined) return name;
      if ((await this.call(() => control.leaderEntryNames()))?.includes(name) === true) return name;
      throw new BeatError(
        ErrorCode.UnknownEntry,
        `no entry ${shown(name)} in the store, nor in the leading config file (with no leader, or one of too many entries to name them, only the store's are known)`,
      );
    };
    // The entry's owner and labels as stored, which grants are decided on (a config file's entry has none here).
    const scopedOf = async (entry: string): Promise<ScopedEntry[]> => {
      const stored = await this.call((store) => store.get(entry));
      return stored === undefined ? [] : [scopedEntry(stored.name, stored.entry)];
    };
    const pause = async (paused: boolean, options: ChangeOptions): Promise<EntryPauseAnswer> => {
      const by = this.connection.operator(options.note);
      const control = await this.control();
      const entry = await known(control);
      return this.call(async () => setPaused(control, by, { entry, scoped: await scopedOf(entry) }, paused, Date.now()));
    };
    return {
      name,
      describe: () => this.get(name),
      put: (entry, options) => this.set(name, entry, options),
      delete: (options) => this.delete(name, options),
      pause: (options = {}) => pause(true, options),
      resume: (options = {}) => pause(false, options),
      trigger: async (options = {}) => {
        const by = this.connection.operator(options.note);
        const control = await this.control();
        const entry = await known(control);
        const runs = await this.call(async () => queueTriggers(control, by, { entry, scoped: await scopedOf(entry) }, Date.now()));
        const [run] = await this.call(() => awaitRuns(control, runs, { waitMs: options.waitMs ?? TRIGGER_WAIT_MS, withdraw: true }));
        return run ?? { entry, taskId: runs[0]?.taskId ?? '', state: 'withdrawn' };
      },
      history: async (options = {}) => {
        const { RedisRunHistory } = await import('../redis/run-history-store.js');
        const runs = new RedisRunHistory(this.connection.client, this.connection.keys);
        return this.call(() =>
          entryHistory(runs, name, options.limit ?? DEFAULTS.runHistoryLength, options.timezone ?? this.connection.timezone),
        );
      },
      audit: (options = {}) => this.audit({ ...options, entry: name }),
    };
  }

  /** The entries of the store a label selector (`team=billing`) selects, and the verbs on all of them at once (one audit event). */
  selection(selectorText: string): SelectionHandle {
    const target = async (): Promise<{ selector: string; entries: string[]; scoped: ScopedEntry[] }> => {
      const { selectorOrThrow, selectedEntries } = await import('../redis/entry-select.js');
      const selector = selectorOrThrow(selectorText);
      const selected = await this.call((store) => selectedEntries(store, selector, undefined, Number.MAX_SAFE_INTEGER, DEFAULTS.ioChunk));
      const entries = selected.map((e) => e.name);
      if (entries.length === 0)
        throw new BeatError(
          ErrorCode.NothingSelected,
          `no entry of the store matches the selector ${shown(selectorText)}: nothing was done`,
        );
      return { selector: selector.text, entries, scoped: selected.map((e) => scopedEntry(e.name, e.entry)) };
    };
    const pause = async (paused: boolean, options: ChangeOptions): Promise<SelectionPauseAnswer> => {
      const by = this.connection.operator(options.note);
      const [control, selected] = await Promise.all([this.control(), target()]);
      return this.call(() => setPaused(control, by, selected, paused, Date.now()));
    };
    return {
      pause: (options = {}) => pause(true, options),
      resume: (options = {}) => pause(false, options),
      trigger: async (options = {}) => {
        const by = this.connection.operator(options.note);
        const [control, selected] = await Promise.all([this.control(), target()]);
        const runs = await this.call(() => queueTriggers(control, by, selected, Date.now()));
        return this.call(() => awaitRuns(control, runs, { waitMs: options.waitMs ?? TRIGGER_WAIT_MS, withdraw: true }));
      },
    };
  }

  /** The deployment's verbs: its stop (pause and resume of everything), its status, its audit trail. */
  deployment(): DeploymentHandle {
    const stop = async (paused: boolean, options: ChangeOptions): Promise<StopAnswer> => {
      const by = this.connection.operator(options.note);
      const control = await this.control();
      return this.call(() => setPaused(control, by, { all: true }, paused, Date.now()));
    };
    return {
      pause: (options = {}) => stop(true, options),
      resume: (options = {}) => stop(false, options),
      stop: async () => this.call(async () => readStop(await this.control())),
      status: async () => {
        const control = await this.control();
        const [stopped, leader, paused] = await this.call(() => Promise.all([readStop(control), control.leader(), control.paused()]));
        return {
          stopped,
          leader: leader === undefined ? null : { instance: leader.instance, since: new Date(leader.sinceMs).toISOString() },
          paused: [...paused].sort(),
        };
      },
      audit: (options = {}) => this.audit(options),
    };
  }

  /** The audit trail, newest first: `limit` events (default 50) older than `before`, of one entry or all. */
  private async audit(options: AuditQuery & { entry?: string }): Promise<AuditEventView[]> {
    const { AuditLog } = await import('../redis/audit-log.js');
    const log = new AuditLog(this.connection.client, this.connection.keys);
    return this.call(() =>
      auditTrail(log, {
        limit: options.limit ?? DEFAULTS.auditPageDefault,
        ...(options.entry === undefined ? {} : { entry: options.entry }),
        ...(options.before === undefined ? {} : { before: options.before }),
      }),
    );
  }

  /**
   * The dead-letter list (issue 70; docs/outcomes.md, "The dead-letter list"), oldest first, of the
   * entries this client's grants may read; with `selector`, the items whose entry (as the store holds
   * it) the selector selects.
   */
  async deadLetters(options: { readonly selector?: string } = {}): Promise<DeadLetterView[]> {
    const control = await this.control();
    const selector = await this.deadLetterSelector(options.selector);
    const by = this.connection.operator(undefined);
    const scope = await this.call(async () => this.scopeOfDeadLetters(await control.deadLetters()));
    return (await this.call(() => listDeadLetters(control, by, scope, selector))).map(deadLetterView);
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
    const control = await this.control();
    const by = this.connection.operator(options.note);
    const runs = await this.call(async () => {
      const scope = await this.scopeOfDeadLetters(await control.deadLetters());
      // An entry of the store, or of the leading config file (whose names its leader publishes; with
      // none known, not refused here: the leader refuses a run of an entry it does not have).
      const leading = await control.leaderEntryNames();
      const runsNow = (name: string): boolean => scope(name) !== undefined || leading === undefined || leading.includes(name);
      return replayDeadLetters(control, by, await this.deadLetterTarget(target), scope, Date.now(), runsNow);
    });
    const answers = await this.call(() => awaitRuns(control, runs, { waitMs: options.waitMs ?? TRIGGER_WAIT_MS, withdraw: false }));
    return answers.map((a, i) => ({ id: runs[i]?.id ?? '', ...a }));
  }

  /** Removes dead letters unpublished: the one of `target` (its id), or every one whose entry `{selector}` selects. */
  async discardDeadLetters(target: string | { readonly selector: string }, options: ChangeOptions = {}): Promise<DeadLetterView[]> {
    const control = await this.control();
    const by = this.connection.operator(options.note);
    const gone = await this.call(async () =>
      discardDeadLetters(
        control,
        by,
        await this.deadLetterTarget(target),
        await this.scopeOfDeadLetters(await control.deadLetters()),
        Date.now(),
      ),
    );
    return gone.map(deadLetterView);
  }

  private async deadLetterSelector(text: string | undefined) {
    if (text === undefined) return undefined;
    const { selectorOrThrow } = await import('../redis/entry-select.js');
    return selectorOrThrow(text);
  }

  private async deadLetterTarget(target: string | { readonly selector: string }): Promise<DeadLetterTarget> {
    if (typeof target === 'string') return { id: target };
    const { selectorOrThrow } = await import('../redis/entry-select.js');
    return { selector: selectorOrThrow(target.selector) };
  }

  /** The owner and labels of the store's entries the items name (a config file's entry, or one deleted since, has none here). */
  private async scopeOfDeadLetters(letters: readonly { readonly entry: string }[]): Promise<ScopeOf> {
    const scoped = new Map<string, ScopedEntry>();
    for (const name of new Set(letters.map((l) => l.entry))) {
      const stored = await this.connection.store.get(name);
      if (stored !== undefined) scoped.set(name, scopedEntry(stored.name, stored.entry));
    }
    return (name) => scoped.get(name);
  }

  private async control(): Promise<ControlStore> {
    const { ControlStore } = await import('../redis/control-store.js');
    return new ControlStore(this.connection.client, this.connection.keys, { maxEvents: this.connection.auditMaxEvents });
  }

  /** The plan verbs' stores: this client's Redis, keys and store, with the deployment's audit cap. */
  private planStores(store: RedisEntryStore): PlanStores {
    const { client, keys, auditMaxEvents } = this.connection;
    return { client, keys, store, auditSettings: { maxEvents: auditMaxEvents } };
  }

  /** The entry verbs' stores: this client's store, with the deployment's audit cap. */
  private stores(store: RedisEntryStore): EntryStores {
    return { store, auditSettings: { maxEvents: this.connection.auditMaxEvents } };
  }

  /** The store's version: it grows with every write that changed something. */
  version(): Promise<number> {
    return this.call((store) => store.version());
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  private async call<T>(what: (store: RedisEntryStore) => Promise<T>): Promise<T> {
    try {
      return await what(this.connection.store);
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw new BeatError(
        ErrorCode.RedisUnavailable,
        `Redis did not answer (connection ${this.connection.status()}): ${errorMessage(error)}; try again`,
        { cause: error },
      );
    }
  }
}
