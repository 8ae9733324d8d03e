/**
 * `Entries` straight to the deployment's state Redis: the same store, checks and script as `beat
 * run`'s HTTP API and `beat entries` (src/operations/), so it refuses the same mistakes with the same
 * errors, and a running leader applies each write within a second. Whoever holds the Redis
 * credentials can write without this client: they, not `grants`, are the boundary.
 *
 * Redis and the store load when `connect` is called, not when tsbeat is imported: config files
 * import tsbeat too, and must not pay for a Redis client.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, errorMessage, shown } from '../base/errors.js';
import type { TransportOptionsInput } from '../config/options-schema.js';
import { maskUrl } from '../config/url-parts.js';
import { queueNameContext } from '../config/queue-names.js';
import type { EntryInput } from '../config/schema.js';
import type { RedisEntryStore, StoredEntry } from '../redis/entry-store.js';
import type { RedisClient } from '../redis/connect.js';
import type { SchedulerKeys } from '../redis/keys.js';
import type { ControlStore } from '../redis/control-store.js';
import { readStop } from '../operations/control-verbs.js';
import { runVerb } from '../operations/door.js';
import type { VerbAnswer, VerbInput, VerbName } from '../operations/door.js';
import type { Door } from '../operations/door.js';
import { deleteEntry, putEntries } from '../operations/entry-verbs.js';
import type { EntryStores } from '../operations/entry-verbs.js';
import type { Operator } from '../operations/operator.js';
import { scopedEntry } from '../operations/operator.js';
import { parseGrants } from '../core/grants.js';
import { selectorOrThrow } from '../core/label-selector.js';
import type { Grant } from '../core/grants.js';
import type { PlanStores } from '../operations/plan-verbs.js';
import { auditTrail } from '../operations/read-verbs.js';
import type { ScopedEntry } from '../core/grants.js';
import type { EntriesTransport, EntryRecord, SetOutcome } from './entries-transport.js';
import { backfillProgressOf, requestBackfill } from '../operations/backfill-verbs.js';
import type { BackfillBody, BackfillDoor } from '../operations/backfill-verbs.js';
import type { DeploymentDefinition } from '../control/deployment-definition.js';
import type { FireContext } from '../control/entry-plan.js';

export interface RedisConnectOptions {
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
   * write to Redis without this client, so they stay the boundary (connect with `api` and `token`
   * for a boundary). Default: every role.
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

const CONNECT_TIMEOUT_MS = 10_000;

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

/** Connects to the deployment's state Redis; rejects with REDIS_UNAVAILABLE (or the server's refusal) when it cannot. */
export async function redisTransport(options: RedisConnectOptions): Promise<EntriesTransport> {
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
  const timezone = options.timezone ?? 'UTC';
  const keys = schedulerKeys(options.prefix ?? DEFAULTS.statePrefix, deployment);
  const store = new RedisEntryStore(
    client,
    keys,
    new Set(),
    queueNameContext(options.prefix ?? DEFAULTS.statePrefix, options.transportOptions ?? {}),
    { zone: timezone, deployment },
    storeBudget({ entryLimits: options.budget }),
  );
  const by = (note: string | undefined): Operator => ({
    who: options.who ?? localActor(),
    note,
    ...(grants === undefined ? {} : { grants }),
  });
  return new RedisTransport({ client, keys, store, timezone, deployment, by, auditMaxEvents: options.auditMaxEvents });
}

interface Connection {
  readonly store: RedisEntryStore;
  /** The Redis client and keys a plan reads besides the store (owner-apply.ts). */
  readonly client: RedisClient;
  readonly keys: SchedulerKeys;
  readonly timezone: string;
  /** The deployment's name: with an entry's, it seeds the entry's hashed times (H, spread) a plan shows. */
  readonly deployment: string;
  /** Who this client's changes are recorded as, with a change's note. */
  readonly by: (note: string | undefined) => Operator;
  readonly auditMaxEvents: number | undefined;
}

/** The config file the leader recorded, if any, and the zone and calendars an entry fires in. */
interface RecordedContext {
  readonly definition: DeploymentDefinition | undefined;
  readonly context: FireContext;
}

class RedisTransport implements EntriesTransport {
  constructor(private readonly connection: Connection) {}

  async put(entries: readonly { name: string; entry: EntryInput; ifVersion?: number }[], note: string | undefined) {
    const result = await this.call(() => putEntries(this.stores(), this.connection.by(note), entries, { nowMs: Date.now() }));
    return { version: result.version, outcomes: result.outcomes as SetOutcome[] };
  }

  async get(name: string): Promise<EntryRecord | undefined> {
    const stored = await this.call((store) => store.get(name));
    return stored === undefined ? undefined : record(stored);
  }

  async list(options: { after?: string; limit?: number; selector?: string }): Promise<EntryRecord[]> {
    if (options.selector !== undefined && options.selector.trim() !== '') {
      const { selectedEntries } = await import('../redis/entry-select.js');
      const selector = selectorOrThrow(options.selector);
      const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
      return (await this.call((store) => selectedEntries(store, selector, options.after, limit, DEFAULTS.ioChunk))).map(record);
    }
    if (options.limit === undefined && options.after === undefined) return (await this.call((store) => store.list())).map(record);
    const page = await this.call((store) => store.page(options.after, options.limit ?? Number.MAX_SAFE_INTEGER));
    return page.entries.map(record);
  }

  remove(name: string, keepHistory: boolean, note: string | undefined, ifVersion?: number): Promise<boolean> {
    const options = { nowMs: Date.now(), keepHistory, ...(ifVersion === undefined ? {} : { ifVersion }) };
    return this.call(() => deleteEntry(this.stores(), this.connection.by(note), name, options));
  }

  async plan(owner: string, entries: Readonly<Record<string, EntryInput>>, horizonMs: number) {
    const { planEntries } = await import('../operations/plan-verbs.js');
    const nowMs = Date.now();
    const inputs = await this.ownerInputs(owner, entries, nowMs);
    const { timezone: zone, deployment } = this.connection;
    return this.call(() =>
      planEntries(this.planStores(), this.connection.by(undefined), { owner, inputs, zone, deployment, nowMs, horizonMs }),
    );
  }

  async apply(owner: string, entries: Readonly<Record<string, EntryInput>>, planDigest: string | undefined, note: string | undefined) {
    const { applyEntries } = await import('../operations/plan-verbs.js');
    const nowMs = Date.now();
    const inputs = await this.ownerInputs(owner, entries, nowMs);
    const { timezone: zone, deployment } = this.connection;
    const { plan, version } = await this.call(() =>
      applyEntries(this.planStores(), this.connection.by(note), {
        owner,
        inputs,
        zone,
        deployment,
        nowMs,
        planDigest,
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

  async invoke<V extends VerbName>(verb: V, input: VerbInput<V>, note: string | undefined): Promise<VerbAnswer<V>> {
    const door = await this.door();
    return this.call(() => runVerb(verb, door, this.connection.by(note), input));
  }

  /**
   * The verbs' door here: an entry of the store or the leading config file (whose names its leader
   * records; a config file's entry has no owner or labels here), the store's entries a selector
   * selects, and a trigger no leader took in time withdrawn (its caller is told).
   */
  private async door(): Promise<Door> {
    const [control, { selectedEntries }, { RedisRunHistory }] = await Promise.all([
      this.control(),
      import('../redis/entry-select.js'),
      import('../redis/run-history-store.js'),
    ]);
    const { store, client, keys } = this.connection;
    return {
      control,
      now: () => Date.now(),
      entry: async (name) => {
        const stored = await store.get(name);
        if (stored !== undefined) return { entry: name, scoped: [scopedEntry(stored.name, stored.entry)] };
        if ((await control.leaderEntryNames())?.includes(name) === true) return { entry: name, scoped: [] };
        throw new BeatError(
          ErrorCode.UnknownEntry,
          `no entry ${shown(name)} in the store, nor in the leading config file (with no leader, or one of too many entries to name them, only the store's are known)`,
        );
      },
      selector: (text) => selectorOrThrow(text),
      selected: async (selector) =>
        (await selectedEntries(store, selector, undefined, Number.MAX_SAFE_INTEGER, DEFAULTS.ioChunk)).map((e) =>
          scopedEntry(e.name, e.entry),
        ),
      letterScope: async (letters) => {
        // The store's entries the items name; a config file's entry, or one deleted since, has none here.
        const scoped = new Map<string, ScopedEntry>();
        for (const name of new Set(letters.map((l) => l.entry))) {
          const stored = await store.get(name);
          if (stored !== undefined) scoped.set(name, scopedEntry(stored.name, stored.entry));
        }
        // An entry of the leading config file runs too (with none known, not refused here: the
        // leader refuses a run of an entry it does not have).
        const leading = await control.leaderEntryNames();
        return {
          scopeOf: (name) => scoped.get(name),
          runs: (name) => scoped.has(name) || leading === undefined || leading.includes(name),
        };
      },
      history: async () => ({ runs: new RedisRunHistory(client, keys), zone: this.connection.timezone }),
      withdrawUntaken: true,
    };
  }

  async backfill(name: string, body: BackfillBody, waitMs: number) {
    const door = await this.backfillDoor(waitMs);
    return (await this.call(() => requestBackfill(door, this.connection.by(undefined), name, body))).body;
  }

  async backfillProgress(name: string, id: string) {
    const door = await this.backfillDoor(0);
    return (await this.call(() => backfillProgressOf(door, this.connection.by(undefined), name, id))).body;
  }

  /**
   * What the backfill verbs read here: an entry of the store, or of the config file the leader
   * recorded (redis/definition-store.ts), as it runs in that file's zone and calendars. No config:
   * the outcome settings are not known here, so the leader decides the overlap policy (it refuses
   * one it cannot apply, in the answer's `error`).
   */
  private async backfillDoor(waitMs: number): Promise<BackfillDoor> {
    const [{ RedisStateStore }, { resolvedOf }] = await Promise.all([
      import('../redis/state-store.js'),
      import('../control/entry-plan.js'),
    ]);
    const { client, keys, store } = this.connection;
    const { definition, context } = await this.recordedContext();
    return {
      findEntry: async (name) => {
        // The config file's entry first, as the leader and the API take it: a store entry of its name does not run.
        const written =
          definition !== undefined && Object.hasOwn(definition.entries, name) ? definition.entries[name] : (await store.get(name))?.entry;
        try {
          return written === undefined ? undefined : resolvedOf(name, written, context);
        } catch {
          // Its fires cannot be computed within the step budget, or its definition not read: the leader does not run it.
          return undefined;
        }
      },
      states: new RedisStateStore(client, keys),
      control: await this.control(),
      now: () => Date.now(),
      waitMs,
    };
  }

  /** The recorded definition as last read, kept while the record's digest is the same (a backfill's progress is read every 250 ms). */
  private recorded: { readonly digest: string; readonly made: RecordedContext } | undefined;

  /**
   * The config file the leader recorded and the zone and calendars its entries fire in (parsed as a
   * plan parses them); without a record, this client's zone. Read whole only when its digest changed.
   */
  private async recordedContext(): Promise<RecordedContext> {
    const [{ readDefinition, readDefinitionDigest }, { fireContext }] = await Promise.all([
      import('../redis/definition-store.js'),
      import('../control/deployment-definition.js'),
    ]);
    const { client, keys, deployment } = this.connection;
    const digest = await this.call(() => readDefinitionDigest(client, keys));
    if (digest !== undefined && this.recorded?.digest === digest) return this.recorded.made;
    const read = await this.call(() => readDefinition(client, keys));
    if (read.kind !== 'recorded') return { definition: undefined, context: { zone: this.connection.timezone, deployment } };
    const made = { definition: read.definition, context: fireContext(read.definition, deployment) };
    this.recorded = { digest: read.digest, made };
    return made;
  }

  async audit(options: { limit?: number; before?: string; entry?: string }) {
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

  async status() {
    const control = await this.control();
    const [stopped, leader, paused] = await this.call(() => Promise.all([readStop(control), control.leader(), control.paused()]));
    return {
      stopped,
      leader: leader === undefined ? null : { instance: leader.instance, since: new Date(leader.sinceMs).toISOString() },
      paused: [...paused].sort(),
    };
  }

  /** The store's version: it grows with every write that changed something. */
  version(): Promise<number> {
    return this.call((store) => store.version());
  }

  async close(): Promise<void> {
    const { closeRedisClient } = await import('../redis/connect.js');
    await closeRedisClient(this.connection.client);
  }

  private async control(): Promise<ControlStore> {
    const { ControlStore } = await import('../redis/control-store.js');
    return new ControlStore(this.connection.client, this.connection.keys, { maxEvents: this.connection.auditMaxEvents });
  }

  /** The plan verbs' stores: this client's Redis, keys and store, with the deployment's audit cap. */
  private planStores(): PlanStores {
    const { client, keys, store, auditMaxEvents } = this.connection;
    return { client, keys, store, auditSettings: { maxEvents: auditMaxEvents } };
  }

  /** The entry verbs' stores: this client's store, with the deployment's audit cap. */
  private stores(): EntryStores {
    return { store: this.connection.store, auditSettings: { maxEvents: this.connection.auditMaxEvents } };
  }

  private async call<T>(what: (store: RedisEntryStore) => Promise<T>): Promise<T> {
    try {
      return await what(this.connection.store);
    } catch (error) {
      if (error instanceof BeatError) throw error;
      throw new BeatError(
        ErrorCode.RedisUnavailable,
        `Redis did not answer (connection ${this.connection.client.status}): ${errorMessage(error)}; try again`,
        { cause: error },
      );
    }
  }
}
