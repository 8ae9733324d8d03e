/**
 * The RunHistory port on Redis: each entry's last runs in a list, and the set of entries with a run
 * not final yet, changed only by lua/run-history.lua (keys.ts has the names, run-history-codec.ts
 * the format).
 */
import type { RedisClient } from './connect.js';
import { DEFAULTS } from '../base/defaults.js';
import { isFinal } from '../ports/outcomes.js';
import type { FinishedRuns, RunHistory, RunRecord, RunToRecord } from '../ports/outcomes.js';
import type { SchedulerKeys } from './keys.js';
import { decodeFinished, decodeRun, encodeRun } from './run-history-codec.js';
import { decodeRetryMember, encodeRetryMember } from './retry-codec.js';
import type { PendingRetry } from './retry-codec.js';
import { encodeDeadLetter } from './dead-letter-codec.js';
import type { DeadLetter } from './dead-letter-codec.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

/** Runs per script call: keys and arguments of one call stay a few hundred kilobytes at most. */
const CHUNK = 500;
/** HSCAN's batch over the finished and failures hashes. */
const SCAN_COUNT = 1000;

/** pauseOnFailure: how many failed runs in a row pause an entry, and who hears that one did. */
export interface FailurePausing {
  /** The entry's pauseOnFailure; undefined = never paused for failures. */
  pauseAfter(entry: string): number | undefined;
  /** `record`'s FAILURE just paused `entry`; must return at once and never throw. */
  paused(entry: string, record: RunRecord): void;
}

/** retry: a run's next attempt, should its record (final) be written now. */
export interface RetryScheduling {
  /** The slot's next attempt after `record`, or undefined (outcomes/attempt-end.ts nextAttempt); must not throw. */
  next(entry: string, record: RunRecord): PendingRetry | undefined;
}

/** The dead-letter list (issue 70): a run's dead letter, should its record (final) be written now, and who hears of it. */
export interface DeadLettering {
  /** The slot's dead letter after `record` (its attempts over, its entry keeping them), or undefined; must not throw. */
  of(entry: string, record: RunRecord, revision: string | undefined): DeadLetter | undefined;
  /** The list's bound (deadLetters.maxItems, deadLetters.maxBytes). */
  readonly maxItems: number;
  readonly maxBytes: number;
  /** `letter` was added (once per id, whichever leader wrote it); must return at once and never throw. */
  lettered(entry: string, record: RunRecord, letter: DeadLetter): void;
  /** The list holds `size` items after the bound dropped `dropped` of the oldest. */
  bounded(dropped: number, size: number): void;
}

type HistoryKeys = Pick<
  SchedulerKeys,
  | 'runs'
  | 'runsPending'
  | 'runsFinished'
  | 'failures'
  | 'paused'
  | 'pauseNotes'
  | 'state'
  | 'entries'
  | 'retries'
  | 'deadLetters'
  | 'deadLetterItems'
>;

export class RedisRunHistory implements RunHistory {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: HistoryKeys,
    private readonly length: number = DEFAULTS.runHistoryLength,
    private readonly pausing?: FailurePausing,
    private readonly retrying?: RetryScheduling,
    private readonly lettering?: DeadLettering,
  ) {}

  /** History key → why it cannot be read or written (its type), while it cannot: one entry's fault, see faults(). */
  private readonly faulty = new Map<string, string>();

  faults(): readonly string[] {
    return [...this.faulty.values()];
  }

  /** Names `key` (a history list found holding another type) among the faults. */
  private async fault(key: string, error: unknown): Promise<void> {
    const named = await nameWrongType(this.client, error, [[key, 'list']]);
    this.faulty.set(
      key,
      `${named instanceof Error ? named.message : String(named)}; its entry's runs are neither recorded nor shown until then`,
    );
  }

  recordPublished(runs: readonly RunToRecord[]): Promise<void> {
    return this.write('push', runs);
  }

  update(entry: string, record: RunRecord, revision?: string): Promise<void> {
    return this.recordChanges([{ entry, record, revision }]);
  }

  recordChanges(runs: readonly RunToRecord[]): Promise<void> {
    return this.write('update', runs);
  }

  private async write(mode: 'push' | 'update', runs: readonly RunToRecord[]): Promise<void> {
    const scripts = withScripts(this.client);
    for (let from = 0; from < runs.length; from += CHUNK) {
      const chunk = runs.slice(from, from + CHUNK);
      const { runsPending, runsFinished, failures, paused, pauseNotes, state, entries, retries, deadLetters, deadLetterItems } = this.keys;
      const keys = [
        runsPending,
        runsFinished,
        failures,
        paused,
        pauseNotes,
        state,
        entries,
        retries,
        deadLetters,
        deadLetterItems,
        ...chunk.map((r) => this.keys.runs(r.entry)),
      ];
      const letters = chunk.map((r) => (isFinal(r.record.state) ? this.lettering?.of(r.entry, r.record, r.revision) : undefined));
      const args = [
        mode,
        String(this.length),
        String(this.lettering?.maxItems ?? DEFAULTS.deadLettersMaxItems),
        String(this.lettering?.maxBytes ?? DEFAULTS.deadLettersMaxBytes),
        ...chunk.flatMap((r, i) => [
          r.entry,
          r.record.taskId,
          encodeRun(r.record),
          String(this.pausing?.pauseAfter(r.entry) ?? 0),
          r.revision ?? '',
          this.retryArgument(r),
          letterArgument(letters[i]),
        ]),
      ];
      const replies = await scripts.runHistory(keys.length, ...keys, ...args);
      // After the runs' codes: the dead letters dropped, the list's size (-1: not read), the places of those added.
      const [dropped = 0, size = -1, ...added] = replies.slice(chunk.length);
      for (const place of added) {
        const r = chunk[place - 1];
        const letter = letters[place - 1];
        if (r !== undefined && letter !== undefined) this.lettering?.lettered(r.entry, r.record, letter);
      }
      if (size >= 0) this.lettering?.bounded(dropped, size);
      for (const [i, r] of chunk.entries()) {
        if (replies[i] === 2) this.pausing?.paused(r.entry, r.record);
        // Refused: its history list holds another type (run-history.lua), named as a read of it would.
        if (replies[i] === 4)
          await this.fault(this.keys.runs(r.entry), new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
      }
    }
  }

  /** A final record's next attempt as run-history.lua takes it: "<due ms> <member>", or '' for none. */
  private retryArgument(r: RunToRecord): string {
    if (this.retrying === undefined || !isFinal(r.record.state)) return '';
    const next = this.retrying.next(r.entry, r.record);
    return next === undefined ? '' : `${Math.max(0, Math.round(next.dueMs))} ${encodeRetryMember({ ...next, revision: r.revision })}`;
  }

  /** The pending attempts due at `nowMs` or before, the earliest first, at most `max`. */
  async dueRetries(nowMs: number, max: number): Promise<PendingRetry[]> {
    const flat = await this.client
      .zrangebyscore(this.keys.retries, '-inf', nowMs, 'WITHSCORES', 'LIMIT', 0, max)
      .catch(async (error: unknown) => {
        throw await nameWrongType(this.client, error, [[this.keys.retries, 'zset']]);
      });
    const out: PendingRetry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const retry = decodeRetryMember(flat[i]!, Number(flat[i + 1]));
      if (retry !== undefined) out.push(retry);
    }
    return out;
  }

  async pendingAttempts(max: number): Promise<PendingRetry[]> {
    return this.dueRetries(Number.MAX_SAFE_INTEGER, max);
  }

  async pending(): Promise<{ readonly entry: string; readonly record: RunRecord }[]> {
    const entries = await this.client.smembers(this.keys.runsPending);
    const lists = await this.readLists(entries, this.length);
    const out: { entry: string; record: RunRecord }[] = [];
    entries.forEach((entry, i) => {
      for (const record of lists[i] ?? []) if (!isFinal(record.state)) out.push({ entry, record });
    });
    return out;
  }

  async list(entry: string, limit: number): Promise<RunRecord[]> {
    return (await this.readLists([entry], limit))[0] ?? [];
  }

  /** Each named entry's runs, newest first, at most `limit` each (entries without any are left out); read in pipelines of CHUNK entries. */
  async recent(entries: readonly string[], limit: number): Promise<Map<string, RunRecord[]>> {
    const out = new Map<string, RunRecord[]>();
    for (let from = 0; from < entries.length; from += CHUNK) {
      const chunk = entries.slice(from, from + CHUNK);
      const lists = await this.readLists(chunk, limit);
      chunk.forEach((entry, i) => {
        const list = lists[i];
        if (list !== undefined && list.length > 0) out.set(entry, list);
      });
    }
    return out;
  }

  async latest(entries: readonly string[]): Promise<Map<string, RunRecord>> {
    const lists = await this.readLists(entries, 1);
    const out = new Map<string, RunRecord>();
    entries.forEach((entry, i) => {
      const first = lists[i]?.[0];
      if (first !== undefined) out.set(entry, first);
    });
    return out;
  }

  async finished(entries: readonly string[]): Promise<Map<string, FinishedRuns>> {
    const out = new Map<string, FinishedRuns>();
    for (let from = 0; from < entries.length; from += CHUNK) {
      const chunk = entries.slice(from, from + CHUNK);
      if (chunk.length === 0) break;
      const { runsFinished, failures } = this.keys;
      const [texts, counts] = await Promise.all([this.client.hmget(runsFinished, ...chunk), this.client.hmget(failures, ...chunk)]).catch(
        async (error: unknown) => {
          throw await nameWrongType(this.client, error, [
            [runsFinished, 'hash'],
            [failures, 'hash'],
          ]);
        },
      );
      chunk.forEach((entry, i) => {
        const text = texts[i];
        const summary = text === null || text === undefined ? undefined : decodeFinished(text, counts[i]);
        if (summary !== undefined) out.set(entry, summary);
      });
    }
    return out;
  }

  /**
   * The entries with failed runs in a row (the failures hash: a FAILURE since their last SUCCESS or
   * resume) and how many: an index of the failing ones, read with HSCAN in batches of SCAN_COUNT,
   * so that neither Redis nor this process holds up for the entries that do not fail.
   */
  async failureStreaks(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await this.scanHash(this.keys.failures, (entry, count) => {
      const n = Number(count);
      if (n > 0) out.set(entry, n);
    });
    return out;
  }

  /**
   * Every entry's newest finished run, its state and finish time only (the list's result sort),
   * from the finished hash in HSCAN batches.
   */
  async lastStates(): Promise<Map<string, { readonly state: string; readonly atMs: number | undefined }>> {
    const out = new Map<string, { state: string; atMs: number | undefined }>();
    await this.scanHash(this.keys.runsFinished, (entry, text) => {
      const last = decodeFinished(text, null)?.last;
      if (last !== undefined) out.set(entry, { state: last.state, atMs: last.finishedAtMs });
    });
    return out;
  }

  private async scanHash(key: string, each: (field: string, value: string) => void): Promise<void> {
    let cursor = '0';
    do {
      const [next, pairs] = await this.client.hscan(key, cursor, 'COUNT', SCAN_COUNT).catch(async (error: unknown) => {
        throw await nameWrongType(this.client, error, [[key, 'hash']]);
      });
      for (let i = 0; i + 1 < pairs.length; i += 2) each(pairs[i]!, pairs[i + 1]!);
      cursor = next;
    } while (cursor !== '0');
  }

  private async readLists(entries: readonly string[], limit: number): Promise<RunRecord[][]> {
    if (entries.length === 0) return [];
    const pipeline = this.client.pipeline();
    for (const entry of entries) pipeline.lrange(this.keys.runs(entry), 0, limit - 1);
    const replies = (await pipeline.exec()) ?? [];
    const out: RunRecord[][] = [];
    // One entry's list of another type is that entry's fault: its runs read as none, and it is named (faults()).
    for (const [i, [error, items]] of replies.entries()) {
      const key = this.keys.runs(entries[i] as string);
      if (error) {
        if (!/\bWRONGTYPE\b/.test(error.message)) throw error;
        await this.fault(key, error);
        out.push([]);
        continue;
      }
      this.faulty.delete(key);
      out.push((items as string[]).map(decodeRun).filter((r): r is RunRecord => r !== undefined));
    }
    return out;
  }
}

/** A dead letter as run-history.lua takes it: "<at ms> <id> <item>", or '' for none. */
function letterArgument(letter: DeadLetter | undefined): string {
  return letter === undefined ? '' : `${Math.max(0, Math.round(letter.atMs))} ${letter.id} ${encodeDeadLetter(letter)}`;
}
