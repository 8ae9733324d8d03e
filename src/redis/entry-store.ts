/**
 * The runtime entry store in Redis: entries created, changed and deleted while beat runs, by
 * `beat entries`, the HTTP API or the TypeScript client, under the deployment's keys (keys.ts).
 * Writes go through entries-write.lua (all or nothing, one version per write, a pub/sub message);
 * the scheduler reads them as an EntrySource: everything at start, then what changed since the
 * version it last saw (the `entries:changes` zset), told by the message or found every maxInterval.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { RedisClient } from './connect.js';
import { BeatError, ConfigError, ErrorCode, shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import type { EntryLimits } from '../config/entry-definition.js';
import { EntryShapes } from '../config/entry-shapes.js';
import { queueNameContext } from '../config/queue-names.js';
import type { QueueNameContext } from '../config/queue-names.js';
import { DEFAULTS } from '../base/defaults.js';
import type { EntryChanges, EntrySnapshot, EntrySource, SourcedEntry } from '../ports/entry-source.js';
import { UNREADABLE } from './entry-state-codec.js';
import { canonicalEntryJson, decodeEntryRecord } from './entry-record-codec.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { AuditLog, auditCap, auditEvent, logAudit } from './audit-log.js';
import type { AuditContext } from './audit-log.js';
import { entryDiff } from '../control/audit-events.js';
import type { AuditEvent } from '../control/audit-events.js';
import { nameWrongType } from './server-errors.js';
import { forgetOwned } from './entry-owned.js';
import { chunksOf, pushAll } from '../base/chunks.js';
import { WorkMeter } from '../base/work-meter.js';
import { ScheduleCosts } from '../config/schedule-cost.js';
import type { ScheduleDefaults } from '../config/schedule-cost.js';
import { currentEntryLimits, newEntryNameProblems, prefixProblems } from '../config/entry-definition.js';
import { entryDefinitionProblems } from '../config/entry-checks.js';
import type { EntryCheckItem, EntryCheckOutcomes, EntryChecker } from '../config/entry-checks.js';
import { sourced, storedEntry } from './entry-reads.js';
import type { StoredEntry } from './entry-reads.js';
import type { EntryWrite, PreparedWrite, WriteOptions } from './entry-writes.js';

export type { EntryWrite, PreparedWrite, WriteOptions } from './entry-writes.js';
export type { StoredEntry } from './entry-reads.js';

/** How many runtime entries the store may hold, and how many bytes of names and definitions (entryLimits). */
export type StoreBudget = Pick<EntryLimits, 'maxEntries' | 'maxStoreBytes'>;

/** The store's budget a config sets (entryLimits), or the defaults. */
export function storeBudget(config: { readonly entryLimits?: Partial<StoreBudget> | undefined }): StoreBudget {
  return {
    maxEntries: config.entryLimits?.maxEntries ?? DEFAULTS.entryMaxEntries,
    maxStoreBytes: config.entryLimits?.maxStoreBytes ?? DEFAULTS.entryMaxStoreBytes,
  };
}

/** A write expected a version of an entry that is no longer the stored one: someone changed it meanwhile. */
export class EntryConflictError extends BeatError {
  constructor(
    readonly entry: string,
    readonly expected: number,
    readonly stored: number,
  ) {
    super(
      ErrorCode.EntryConflict,
      `entry ${shown(entry)} was changed meanwhile (expected version ${expected}, stored ${stored === 0 ? 'none' : stored}); read it again and retry`,
    );
    this.name = 'EntryConflictError';
  }
}

export type WriteOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent';

export interface WriteResult {
  /** The store's version after the write. */
  readonly version: number;
  /** The outcome of each write, in order. */
  readonly outcomes: readonly WriteOutcome[];
}

/** Names per HMGET of the definitions an audited write diffs against. */
const AUDIT_READ_CHUNK = 1000;
/** HSCAN's batch: large enough to be quick, small enough not to hold Redis up. */
const SCAN_COUNT = 1000;
/**
 * CPU time the checks of one write of runtime entries (a bulk PUT, a client's setMany) may take
 * on the scheduler's process, ms, plus writeCheckEntryMs per entry written: past it the rest of
 * its entries are refused unchecked and nothing is written. An ordinary entry takes some tens of
 * microseconds to check, one whose schedule spends its step budget tens to hundreds of
 * milliseconds: this bounds what one request costs (some forty costly entries over what its
 * ordinary ones take), never how many ordinary entries it may hold.
 */
const writeCheckMs = 3000;
/** What each entry of a write adds to writeCheckMs, ms: several times an ordinary entry's check on a loaded machine. */
const writeCheckEntryMs = 0.2;

export class RedisEntryStore implements EntrySource {
  readonly origin = 'store' as const;
  /** The definition shapes its reads met: per-tenant entries share one check and one resolution. */
  private readonly shapes = new EntryShapes();

  constructor(
    private readonly client: RedisClient,
    private readonly keys: SchedulerKeys,
    /** The names of the config file's entries, known to the writer (checked here as well as in Redis). */
    private readonly staticNames: ReadonlySet<string> = new Set(),
    /** What decides which keys a queue name lands on: a queue name that can only collide is refused (config/queue-names.ts). */
    private readonly queueNames: QueueNameContext | undefined = queueNameContext(DEFAULTS.statePrefix, {}),
    /** The config's zone, name and calendars, in which an entry's schedule must be computable within its step budget (config/schedule-cost.ts). */
    private readonly schedules: ScheduleDefaults = { zone: DEFAULTS.timezone, deployment: DEFAULTS.deploymentName },
    /** The store's budget (the config's entryLimits.maxEntries and maxStoreBytes), checked by entries-write.lua. */
    private readonly budget: StoreBudget = { maxEntries: DEFAULTS.entryMaxEntries, maxStoreBytes: DEFAULTS.entryMaxStoreBytes },
    /**
     * Where write and check check the definitions (the schema, queue names, schedules' cost: `beat
     * run`'s is a worker thread, so that the scheduler's loop never runs them); without it, on this
     * loop, in slices.
     */
    private readonly entryChecker?: EntryChecker,
  ) {}

  /**
   * Checks every write, then applies them all or none. Throws ConfigError (code ENTRY_INVALID)
   * naming every problem with its path (`entries.<name>.schedule`), or BeatError ENTRY_IS_STATIC.
   */
  async write(writes: readonly EntryWrite[], options: WriteOptions): Promise<WriteResult> {
    return this.apply(await this.check(writes, options));
  }

  /**
   * The checks of write, without Redis, for a process whose loop runs a scheduler (the API's
   * writes, plans and applies). They run in slices of writeCheckSliceMs with a turn of the event
   * loop between them, the definitions' on the store's entry checker when it has one (a worker
   * thread), and take writeCheckMs (and writeCheckEntryMs per entry) at most, the rest refused
   * unchecked: a write of many entries, or of costly ones, never holds that scheduler for long.
   */
  async check(writes: readonly EntryWrite[], options: WriteOptions): Promise<PreparedWrite> {
    const allowanceMs = writeCheckAllowanceMs(writes.length);
    const deferred: Deferred | undefined = this.entryChecker === undefined || options.checked === true ? undefined : { items: [], at: [] };
    const check = this.checkPass(options, deferred);
    const meter = new WorkMeter(allowanceMs, DEFAULTS.writeCheckSliceMs);
    for (let i = 0; i < writes.length; i += 1) {
      // (With an entry checker, this is the time of the names' checks alone, microseconds an entry:
      // should it run out, the refusal names the entry they stopped at, no definition checked.)
      if (meter.exhausted) check.refuseRest(writes, i);
      meter.begin();
      try {
        check.add(writes[i] as EntryWrite, i);
      } finally {
        meter.end();
      }
      await meter.pause();
    }
    if (deferred !== undefined && deferred.items.length > 0 && this.entryChecker !== undefined) {
      const outcomes = await this.entryChecker.check({
        schedules: { ...this.schedules, nowMs: options.nowMs },
        queueNames: this.queueNames,
        limits: currentEntryLimits(),
        items: deferred.items,
        allowanceMs: allowanceMs - meter.spentMs,
      });
      check.checked(outcomes, writes);
      // Encoded once all are known to be fine, in slices too (an invalid one could be too deep to encode).
      for (let i = 0; i < deferred.items.length; i += 1) {
        meter.begin();
        check.encode(deferred, i);
        meter.end();
        await meter.pause();
      }
    }
    return check.done(writes);
  }

  /**
   * The CPU half of write: checks the writes and encodes the script's arguments, without Redis, so
   * that an import prepares its next chunk while Redis runs the one before (apply). Throws as write
   * does; in one go (the CLI's own process: nothing else waits on its loop).
   */
  prepare(writes: readonly EntryWrite[], options: WriteOptions): PreparedWrite {
    const check = this.checkPass(options, undefined);
    writes.forEach((write, i) => check.add(write, i));
    return check.done(writes);
  }

  /**
   * One pass of checks over a write's changes: each added in turn, the problems thrown at the end.
   * With `deferred`, the definitions are left to it (checked elsewhere: `checked` puts their
   * problems among the others, `encode` encodes them once all are fine).
   */
  private checkPass(
    options: WriteOptions,
    deferred: Deferred | undefined,
  ): {
    add(write: EntryWrite, index: number): void;
    checked(outcomes: EntryCheckOutcomes, writes: readonly EntryWrite[]): void;
    encode(deferred: Deferred, item: number): void;
    refuseRest(writes: readonly EntryWrite[], from: number): never;
    done(writes: readonly EntryWrite[]): PreparedWrite;
  } {
    let problems: ConfigProblem[] = [];
    /** The index of the write each problem is of, in step with `problems`. */
    const problemOf: number[] = [];
    const found = (index: number, more: readonly ConfigProblem[]): void => {
      for (const problem of more) {
        problems.push(problem);
        problemOf.push(index);
      }
    };
    const args: string[] = [];
    const checked = options.checked === true;
    const context = { queueNames: this.queueNames, costs: new ScheduleCosts({ ...this.schedules, nowMs: options.nowMs }) };
    const fail = (): never => {
      throw entryProblems(options.source ?? 'entries', problems);
    };
    const pass = {
      add: (write: EntryWrite, index: number): void => {
        const guard = write.ifVersion === undefined ? '' : `@${write.ifVersion}`;
        const at = checked ? '' : entryPath(write.name);
        // A delete takes any name: one stored before a name rule was added must stay deletable.
        if (!checked && write.op !== 'delete') {
          const nameProblems = newEntryNameProblems(write.name);
          if (nameProblems.length > 0)
            found(
              index,
              prefixProblems(
                at,
                nameProblems.map((p) => ({ ...p, path: '' })),
              ),
            );
        }
        if (write.op === 'delete') {
          args.push(`del${guard}`, write.name, '');
          return;
        }
        if (this.staticNames.has(write.name)) throw staticNameError(write.name);
        if (checked && write.json !== undefined) {
          args.push(`put${guard}`, write.name, write.json);
          return;
        }
        if (!checked && deferred !== undefined) {
          // Its definition's slot, filled by `encode` once the checks elsewhere found nothing.
          deferred.items.push({ name: write.name, entry: write.entry });
          deferred.at.push({ index, arg: args.length + 2 });
          args.push(`put${guard}`, write.name, '');
          return;
        }
        if (!checked) {
          const problems = entryDefinitionProblems(write.name, write.entry, context);
          // An invalid entry is not serialised: one too deep to check would overflow the stack here.
          if (problems.length > 0) {
            found(index, prefixProblems(at, problems));
            return;
          }
        }
        args.push(`put${guard}`, write.name, canonicalEntryJson(write.entry));
      },
      checked: (outcomes: EntryCheckOutcomes, writes: readonly EntryWrite[]): void => {
        // Each entry's problems go after those of its name, as when checked in one pass.
        const merged = problems.map((problem, i) => ({ problem, index: problemOf[i] as number }));
        let stoppedAt: number | undefined;
        for (const [item, { index }] of (deferred?.at ?? []).entries()) {
          const found = outcomes[item];
          if (found === undefined) {
            // Not checked in time: the first such entry and every write after it are refused unchecked.
            stoppedAt = index;
            break;
          }
          const at = entryPath((writes[index] as EntryWrite).name);
          for (const problem of prefixProblems(at, found)) merged.push({ problem, index });
        }
        problems = merged
          .filter((m) => stoppedAt === undefined || m.index < stoppedAt)
          .sort((a, b) => a.index - b.index)
          .map((m) => m.problem);
        if (stoppedAt !== undefined) pass.refuseRest(writes, stoppedAt);
        if (problems.length > 0) fail();
      },
      encode: (deferred: Deferred, item: number): void => {
        const { arg } = deferred.at[item] as { arg: number };
        args[arg] = canonicalEntryJson((deferred.items[item] as EntryCheckItem).entry);
      },
      refuseRest: (writes: readonly EntryWrite[], from: number): never => {
        const rest = writes.length - from;
        problems.push({
          path: entryPath((writes[from] as EntryWrite).name),
          message:
            `checking the ${from} entries before this one took more than ${Math.round(writeCheckAllowanceMs(writes.length))} ms ` +
            `(writeCheckMs, and writeCheckEntryMs per entry written), so it and the ` +
            `${rest - 1} after it were not checked, and nothing was written: write fewer entries at once, or entries with simpler schedules`,
        });
        return fail();
      },
      done: (writes: readonly EntryWrite[]): PreparedWrite => {
        if (problems.length > 0) fail();
        return { writes, args, options };
      },
    };
    return pass;
  }

  /** The Redis half of write: sends a prepared write (its script, then its audit), all or none. */
  async apply(prepared: PreparedWrite): Promise<WriteResult> {
    const { writes, args, options } = prepared;
    // Only the last audit.maxEvents writes are recorded: the stream would trim the earlier ones anyway.
    const audited = Math.min(writes.length, Math.max(options.unaudited ?? 0, writes.length - auditCap(options.audit?.maxEvents)));
    const before = await this.definitions(writes.slice(audited).map((w) => w.name));
    await new AuditLog(this.client, this.keys).checkKey();
    const { keys } = this;
    let reply: (string | number)[];
    try {
      // One atomic write, so one command; its arguments go as one array (ioredis flattens it), not spread.
      const head = [
        keys.entries,
        keys.entryChanges,
        keys.entriesVersion,
        keys.statics,
        keys.state,
        keys.paused,
        keys.resumed,
        keys.entryNames,
        keys.entriesReceipt(randomUUID()),
        keys.entriesBytes,
        String(options.nowMs),
        options.keepHistory === true ? '1' : '',
        keys.events,
        String(writes.length),
      ];
      const { maxEntries, maxStoreBytes } = this.budget;
      args.push(String(DEFAULTS.entriesReceiptMs), String(maxEntries), String(maxStoreBytes));
      reply = await withScripts(this.client).entriesWrite(10, pushAll(head, args));
    } catch (error) {
      // The script refuses a counter that is no number before it writes anything (entries-write.lua).
      if (error instanceof Error && /\bGARBLED\b/.test(error.message)) {
        throw await this.garbledVersion((await this.read(() => this.client.get(keys.entriesVersion))) ?? '');
      }
      throw await nameWrongType(
        this.client,
        error,
        typedKeys(keys, [
          'entries',
          'entryChanges',
          'entriesVersion',
          'statics',
          'state',
          'paused',
          'resumed',
          'entryNames',
          'entriesBytes',
        ]),
      );
    }
    if (reply[0] === 'static') throw staticNameError(String(reply[1]));
    if (reply[0] === 'budget') throw storeBudgetError(reply[1] === 'entries', Number(reply[2]), Number(reply[3]));
    if (reply[0] === 'conflict') {
      const name = String(reply[1]);
      throw new EntryConflictError(name, writes.find((w) => w.name === name)?.ifVersion ?? 0, Number(reply[2]));
    }
    const outcomes = reply.slice(1) as WriteOutcome[];
    await this.audit(writes, outcomes, audited, before, options);
    if (options.keepHistory !== true)
      await this.forget(writes.filter((w, i) => w.op === 'delete' && outcomes[i] === 'deleted').map((w) => w.name));
    return { version: Number(reply[0]), outcomes };
  }

  /**
   * What tsbeat kept of deleted entries besides their state (which the write removed): everything
   * entry-owned.ts names (run history, pending outcome, last result, failure count, failing mark,
   * notes, missed slots). After the write, not in it: they are the leader's keys, and an entry
   * created again under the name starts without them either way.
   */
  private async forget(names: readonly string[]): Promise<void> {
    for (const chunk of chunksOf(names, DEFAULTS.ioChunk)) {
      const batch = this.client.multi();
      forgetOwned(batch, this.keys, chunk);
      await this.read(() => batch.exec());
    }
  }

  /** One stored entry, or undefined. */
  async get(name: string): Promise<StoredEntry | undefined> {
    const text = await this.read(() => this.client.hget(this.keys.entries, name));
    return text === null ? undefined : storedEntry(name, text);
  }

  /** Every stored entry, in name order. */
  async list(): Promise<StoredEntry[]> {
    const out: StoredEntry[] = [];
    await this.scan((name, text) => out.push(storedEntry(name, text)));
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Up to `limit` entries whose names sort after `after` (from the first when undefined), in name
   * order, and whether more follow: a page of the API's listing. Read from the names' zset
   * (ZRANGEBYLEX), so a page costs the same with ten entries or a million.
   */
  async page(after: string | undefined, limit: number): Promise<{ entries: StoredEntry[]; more: boolean }> {
    await this.indexNames();
    const { keys } = this;
    const entries: StoredEntry[] = [];
    let from = after;
    // Names whose entry is gone (a hand-made HDEL) are dropped from the index and the page read on.
    for (;;) {
      const start = from === undefined ? '-' : `(${from}`;
      const names = await this.read(() => this.client.zrangebylex(keys.entryNames, start, '+', 'LIMIT', 0, limit - entries.length + 1));
      const chunk = names.slice(0, limit - entries.length);
      const wanted = chunk;
      const texts = chunk.length === 0 ? [] : await this.read(() => this.client.hmget(keys.entries, ...chunk));
      const gone: string[] = [];
      wanted.forEach((name, i) => {
        const text = texts[i];
        if (text === null || text === undefined) gone.push(name);
        else entries.push(storedEntry(name, text));
      });
      if (gone.length > 0) await this.read(() => this.client.zrem(keys.entryNames, gone));
      if (gone.length === 0 || names.length <= wanted.length) return { entries, more: names.length > wanted.length };
      from = wanted[wanted.length - 1];
    }
  }

  /** Every stored entry in name order, a page of `size` at a time: an export of any size holds one page. */
  async *pages(size: number = DEFAULTS.ioChunk): AsyncGenerator<StoredEntry[]> {
    let after: string | undefined;
    for (;;) {
      const { entries, more } = await this.page(after, size);
      if (entries.length > 0) yield entries;
      if (!more || entries.length === 0) return;
      after = entries[entries.length - 1]?.name;
    }
  }

  /**
   * Builds the names' zset when it lacks names the hash holds: a store written before it existed,
   * or entries written by hand. Idempotent (ZADD of a member already there changes nothing).
   */
  private async indexNames(): Promise<void> {
    const { keys } = this;
    const [indexed, stored] = await this.read(() => Promise.all([this.client.zcard(keys.entryNames), this.client.hlen(keys.entries)]));
    if (indexed >= stored) return;
    let cursor = '0';
    do {
      // (HSCAN's NOVALUES needs Redis 7.4: the values come along and are dropped.)
      const [next, pairs] = await this.read(() => this.client.hscan(keys.entries, cursor, 'COUNT', SCAN_COUNT));
      const chunk: (string | number)[] = [];
      for (let i = 0; i < pairs.length; i += 2) chunk.push(0, pairs[i] as string);
      if (chunk.length > 0) await this.read(() => this.client.zadd(keys.entryNames, ...chunk));
      cursor = next;
    } while (cursor !== '0');
  }

  /** How many entries are stored (HLEN). */
  async count(): Promise<number> {
    return this.read(() => this.client.hlen(this.keys.entries));
  }

  /** The store's version (0 before the first write). */
  async version(): Promise<number> {
    const text = await this.read(() => this.client.get(this.keys.entriesVersion));
    if (text === null) return 0;
    // As entries-write.lua takes it: digits without a leading zero (INCR refuses one), a safe integer.
    if (/^(0|[1-9]\d{0,15})$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
    // Never taken as a number: NaN as the sync's cursor would stop every later sync, after the key is mended too.
    throw await this.garbledVersion(text);
  }

  /**
   * The refusal for an `entries:version` that holds no counter (something else wrote it), naming
   * the command that mends it: the highest version `entries:changes` records, which every write
   * after it exceeds, so that no replica misses a change made after the mend.
   */
  private async garbledVersion(text: string): Promise<BeatError> {
    const { entriesVersion, entryChanges } = this.keys;
    const top = await this.read(() => this.client.zrevrangebyscore(entryChanges, '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, 1));
    const highest = Math.max(0, Math.floor(Number(top[1] ?? 0)) || 0);
    return new BeatError(
      ErrorCode.RedisGarbled,
      `key ${entriesVersion} holds ${shown(text.slice(0, 40))}, not the version counter of the runtime entries (a whole number from 0 to 2^53 - 1): ` +
        `something else wrote it. Runtime entries are neither read nor written until it is mended: SET ${entriesVersion} ${highest} ` +
        `(the highest version in ${entryChanges})`,
    );
  }

  /** Every record, in one scan. */
  async load(): Promise<EntrySnapshot> {
    // The version first: a write during the read has a later version and is read again as a change.
    const cursor = String(await this.version());
    const entries: SourcedEntry[] = [];
    await this.scan((name, text) => entries.push(sourced(name, text, this.shapes)));
    return { entries, cursor };
  }

  async changesSince(cursor: string): Promise<EntryChanges> {
    const since = Number(cursor);
    const version = await this.version();
    if (version === since) return { changed: [], removed: [], cursor };
    // A counter behind the cursor was reset (FLUSHDB, a restore): every name is a change.
    const all =
      version < since
        ? [...(await this.load()).entries.map((e) => e.name)]
        : await this.read(() => this.client.zrangebyscore(this.keys.entryChanges, `(${since}`, '+inf'));
    const names = all;
    // A burst of changes (a paused replica catching up) may name every entry: read in chunks, each
    // decoded before the next is read (the texts of every entry are never held at once).
    const changed: SourcedEntry[] = [];
    const removed: string[] = [];
    // Decoded in slices of the loop's time too: a rare rule's schema check (its next runs looked
    // for) takes milliseconds, and a bulk write of such entries reaches every replica as one change.
    const meter = new WorkMeter(Number.POSITIVE_INFINITY, DEFAULTS.writeCheckSliceMs);
    for (const chunk of chunksOf(names)) {
      const texts = await this.read(() => this.client.hmget(this.keys.entries, ...chunk));
      for (let i = 0; i < chunk.length; i += 1) {
        const name = chunk[i] as string;
        const text = texts[i];
        meter.begin();
        if (text === null || text === undefined) removed.push(name);
        else changed.push(sourced(name, text, this.shapes));
        meter.end();
        await meter.pause();
      }
    }
    return { changed, removed, cursor: String(version) };
  }

  /** Tells writers elsewhere (the client, other CLIs) which names belong to the config file. */
  async publishStaticNames(names: readonly string[]): Promise<void> {
    const sorted = [...names].sort();
    const id = createHash('sha1').update(sorted.join('\n')).digest('hex');
    const scripts = withScripts(this.client);
    const { statics, staticsId } = this.keys;
    await this.read(async () => {
      if ((await scripts.staticsWrite(2, statics, staticsId, id, 'check')) === -1)
        await scripts.staticsWrite(2, [statics, staticsId, id, 'write', ...sorted]);
    });
  }

  /** The stored definitions of these names (undefined: none, or unreadable), read in chunks: what an audited write diffs against. */
  private async definitions(names: readonly string[]): Promise<unknown[]> {
    const out: unknown[] = [];
    for (let i = 0; i < names.length; i += AUDIT_READ_CHUNK) {
      const chunk = names.slice(i, i + AUDIT_READ_CHUNK);
      const texts = await this.read(() => this.client.hmget(this.keys.entries, ...chunk));
      for (const text of texts) {
        const record = text === null ? UNREADABLE : decodeEntryRecord(text);
        out.push(record === UNREADABLE ? undefined : record.entry);
      }
    }
    return out;
  }

  /**
   * Records the writes that changed something in the audit trail, right after the script: the diff
   * needs the definitions as they were, which the script does not hand back. A concurrent write to
   * the same entry between the read and the script can make one diff inexact; never the who or what.
   */
  private async audit(
    writes: readonly EntryWrite[],
    outcomes: readonly WriteOutcome[],
    /** The first write recorded; `before` holds the definitions from it on. */
    from: number,
    before: readonly unknown[],
    options: { nowMs: number; audit?: AuditContext },
  ): Promise<void> {
    const context = options.audit ?? { who: 'unknown' };
    const events: AuditEvent[] = [];
    for (let i = from; i < writes.length; i += 1) {
      const write = writes[i] as EntryWrite;
      const outcome = outcomes[i];
      if (outcome !== 'created' && outcome !== 'updated' && outcome !== 'deleted') continue;
      const action = outcome === 'created' ? 'create' : outcome === 'updated' ? 'update' : 'delete';
      const after: unknown =
        write.op === 'put' ? (write.entry ?? (write.json === undefined ? undefined : (JSON.parse(write.json) as unknown))) : undefined;
      events.push(auditEvent(context, options.nowMs, write.name, action, entryDiff(before[i - from], after)));
    }
    if (events.length === 0) return;
    await new AuditLog(this.client, this.keys, context.maxEvents).record(events);
    logAudit(context.logger, events);
  }

  private async scan(each: (name: string, text: string) => void): Promise<void> {
    const batch = (cursor: string) => this.read(() => this.client.hscan(this.keys.entries, cursor, 'COUNT', SCAN_COUNT));
    let reply = await batch('0');
    for (;;) {
      const [next, pairs] = reply;
      // The next batch is asked for before this one is decoded: Redis and the decoding overlap.
      const coming = next === '0' ? undefined : batch(next);
      // (Its rejection is awaited below; one thrown by `each` meanwhile must not leave it unhandled.)
      coming?.catch(() => undefined);
      for (let i = 0; i + 1 < pairs.length; i += 2) each(pairs[i] as string, pairs[i + 1] as string);
      if (coming === undefined) return;
      reply = await coming;
    }
  }

  private async read<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw await nameWrongType(
        this.client,
        error,
        typedKeys(this.keys, ['entries', 'entryChanges', 'entriesVersion', 'statics', 'staticsId', 'entryNames']),
      );
    }
  }
}

/** The definitions a write leaves to its store's entry checker, with the index of each one's write and its slot in the script's arguments. */
interface Deferred {
  readonly items: EntryCheckItem[];
  readonly at: { readonly index: number; readonly arg: number }[];
}

/** The CPU time the checks of a write of `entries` entries may take, ms. */
function writeCheckAllowanceMs(entries: number): number {
  return writeCheckMs + entries * writeCheckEntryMs;
}

/** Where a write's problems are put: `entries.nightly`, or `entries["a b"]` for a name that is no identifier. */
function entryPath(name: string): string {
  return `entries${/^[A-Za-z_$][\w$-]*$/.test(name) ? `.${name}` : `[${shown(name)}]`}`;
}

/** A write refused because the store would hold more entries, or more bytes of them, than entryLimits allows. */
function storeBudgetError(entries: boolean, after: number, limit: number): ConfigError {
  const [what, setting] = entries ? ['entries', 'entryLimits.maxEntries'] : ['bytes of names and definitions', 'entryLimits.maxStoreBytes'];
  return new ConfigError(
    'the runtime entries',
    [
      {
        path: 'entries',
        message:
          `this write would take the store to ${after.toLocaleString('en')} ${what}, past its limit of ${limit.toLocaleString('en')} (${setting}), ` +
          `and nothing was written: delete entries first, or raise ${setting} in the config of beat run and of the writers`,
      },
    ],
    ErrorCode.EntryInvalid,
  );
}

export function staticNameError(name: string): BeatError {
  return new BeatError(
    ErrorCode.EntryIsStatic,
    `entry ${shown(name)} is defined in the config file (beatSchedule); a runtime entry may not take its name: choose another name, or remove it from the file first`,
  );
}

function entryProblems(source: string, problems: readonly ConfigProblem[]): ConfigError {
  return new ConfigError(source, problems, ErrorCode.EntryInvalid);
}
