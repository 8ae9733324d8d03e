/**
 * Concurrency groups (issue 70; config/concurrency.ts): at most `limit` runs of a group's entries in
 * flight, published and not final as the outcome tracker knows them. The runner asks the gate for
 * each due run of a group's entry (Wake.admit): with a place free and no run of the group waiting
 * ahead it is published; else it is passed over (`whenFull: skip`, missed with reason
 * `concurrency`) or made to wait (`wait`): its slot taken in its state and its member added to the
 * waiting zset in one fenced step (lua/group-wait.lua), so that no failover publishes it twice or
 * loses it. The control loop publishes the waiting runs in their slots' order as places free
 * (releaseWaiting), each once through retry-fenced.lua, which takes its member off in the push; one
 * whose wait passed its entry's catch-up window (DEFAULTS.concurrencyWaitMs without one) is missed.
 *
 * Places are counted from the tracker, plus the places this leader reserved for runs it is
 * publishing and the tracker has not heard of yet (a wake-up's runs until they are recorded, a
 * released run until its publish is told), so that the runner and the control loop, which publish
 * side by side, never both take the last place.
 */
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import type { Concurrency } from '../config/concurrency.js';
import { concurrencyWaitMs } from '../config/concurrency.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { DuePlan } from '../core/schedule.js';
import type { WaitingRun, WaitingRunsStore } from '../ports/waiting-runs.js';
import type { TriggerPublisher } from '../ports/control-source.js';
import type { SchedulerEvents } from '../ports/events.js';
import { RetryPublishResult } from '../ports/outcomes.js';
import type { RunningRuns } from '../ports/outcomes.js';
import type { PublishResult } from '../ports/dispatcher.js';
import { formatInstant } from '../time/zone.js';
import type { BookEntry, EntryBook } from './entry-book.js';
import type { RunLogOptions } from './run-log.js';
import { slotTaskId } from '../celery/task-id.js';

/** Waiting runs read per look of the control loop: a group's head is among the first of them. */
const WAITING_READ = 1000;

export interface ConcurrencyGateOptions {
  readonly store: WaitingRunsStore;
  /** The outcome tracker: its unfinished runs are the groups' runs in flight. */
  readonly running: RunningRuns;
  /** The group of the entry of this name in force now (undefined: none, or no such entry). */
  readonly groupOf: (entry: string) => Concurrency | undefined;
  readonly logger: Logger;
  /** The deployment's name: a slot's task id (celery/task-id.ts). */
  readonly deployment: string;
}

export class ConcurrencyGate {
  /** Places taken by runs being published that the tracker has not heard of yet, by group. */
  private readonly reserved = new Map<string, number>();
  /** Runs waiting, by group, as this leader last read or wrote them (undefined until read). */
  private waiting: Map<string, number> | undefined;
  /** Counts the runs made to wait: a read begun before one of them is not taken over the count (see releaseWaiting). */
  private waitedCount = 0;

  constructor(readonly options: ConcurrencyGateOptions) {}

  /** Runs in flight by group: the tracker's unfinished runs of the groups' entries, and the places reserved. */
  census(): Map<string, number> {
    const counts = new Map(this.reserved);
    for (const { entry } of this.options.running.unfinished?.() ?? []) {
      const group = this.options.groupOf(entry)?.group;
      if (group !== undefined) counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    return counts;
  }

  /** Reads the waiting runs once per leadership (a run of a group must not overtake one that waits from the last leader). */
  async ready(): Promise<void> {
    if (this.waiting !== undefined) return;
    this.countWaiting(await this.options.store.waiting(Number.MAX_SAFE_INTEGER));
  }

  /** Whether runs of `group` wait (every group's may, before the first read). */
  waitsAhead(group: string): boolean {
    return this.waiting === undefined || (this.waiting.get(group) ?? 0) > 0;
  }

  /** Whether any run waits (or may: not read yet). */
  hasWaiting(): boolean {
    if (this.waiting === undefined) return true;
    for (const count of this.waiting.values()) if (count > 0) return true;
    return false;
  }

  reserve(group: string, count = 1): void {
    this.reserved.set(group, (this.reserved.get(group) ?? 0) + count);
  }

  unreserve(group: string, count = 1): void {
    const left = (this.reserved.get(group) ?? 0) - count;
    if (left > 0) this.reserved.set(group, left);
    else this.reserved.delete(group);
  }

  /** The counts of a full read of the zset (or of its first WAITING_READ, counted as all there is when fewer came). */
  countWaiting(read: readonly { run: WaitingRun | undefined }[]): void {
    const counts = new Map<string, number>();
    for (const { run } of read) if (run !== undefined) counts.set(run.group, (counts.get(run.group) ?? 0) + 1);
    this.waiting = counts;
  }

  private changeWaiting(group: string, by: number): void {
    if (this.waiting === undefined) return;
    this.waiting.set(group, Math.max(0, (this.waiting.get(group) ?? 0) + by));
  }

  /** One wake-up's admissions (see Wake). */
  wake(runLog: RunLogOptions): Wake {
    return new Wake(this, runLog);
  }

  /** How many runs this leader made to wait so far. */
  get waitedSoFar(): number {
    return this.waitedCount;
  }

  /** @internal Wake: runs made to wait. */
  waited(group: string): void {
    this.waitedCount += 1;
    this.changeWaiting(group, 1);
  }

  /** @internal releaseWaiting: a run left the zset. */
  left(group: string): void {
    this.changeWaiting(group, -1);
  }
}

/**
 * The admissions of one wake-up of the runner: the census taken once, the places its runs take
 * reserved until they are recorded (end), the runs made to wait written in one step (settle).
 */
export class Wake {
  private census: Map<string, number> | undefined;
  private readonly taken = new Map<string, number>();
  private readonly waits: { held: BookEntry; run: WaitingRun; group: Concurrency }[] = [];

  constructor(
    private readonly gate: ConcurrencyGate,
    private readonly runLog: RunLogOptions,
  ) {}

  /**
   * The part of `plan` (an entry of a group, `due`) to publish now: its first slot when a place is
   * free and nothing of its group waits ahead; else undefined, the slot passed over (skip) or kept to
   * wait (settle writes it). One slot per wake-up, as an entry that may not overlap runs: the next is
   * found due at once and asks again.
   */
  admit(book: EntryBook, held: BookEntry, plan: DuePlan, nowMs: number): DuePlan | undefined {
    const { entry } = held;
    const group = entry.concurrency;
    const first = plan.slots[0];
    if (group === undefined || first === undefined) return plan;
    this.census ??= this.gate.census();
    const running = this.census.get(group.group) ?? 0;
    const ahead = group.whenFull === 'wait' && this.gate.waitsAhead(group.group);
    if (running < group.limit && !ahead) {
      this.census.set(group.group, running + 1);
      this.taken.set(group.group, (this.taken.get(group.group) ?? 0) + 1);
      this.gate.reserve(group.group);
      return plan.slots.length > 1 ? { ...plan, slots: [first] } : plan;
    }
    const fields = { event: EVENTS.concurrencyFull, entry: entry.name, group: group.group, limit: group.limit, running };
    if (group.whenFull === 'skip') {
      const last = plan.slots[plan.slots.length - 1] as number;
      book.passOver(held, last);
      this.runLog.logger.info(
        { ...fields, whenFull: 'skip', slot: formatInstant(first, entry.timezone), slots: plan.slots.length },
        `concurrency group "${group.group}" is full (${running} of ${group.limit} in flight): slot skipped (whenFull "skip")`,
      );
      this.runLog.events.missed({
        entry,
        count: plan.slots.length,
        reason: 'concurrency',
        firstSlotMs: first,
        atMs: nowMs,
        lastSlotMs: last,
      });
      return undefined;
    }
    const untilMs = first + concurrencyWaitMs(entry);
    const taskId = slotTaskId(this.gate.options.deployment, entry.name, first);
    const run: WaitingRun = { group: group.group, entry: entry.name, slotMs: first, taskId, untilMs, ...revisionOf(entry) };
    this.waits.push({ held, run, group });
    this.runLog.logger.info(
      { ...fields, whenFull: 'wait', slot: formatInstant(first, entry.timezone), until: new Date(untilMs).toISOString() },
      ahead && running < group.limit
        ? `runs of concurrency group "${group.group}" wait ahead of this one: it waits its turn`
        : `concurrency group "${group.group}" is full (${running} of ${group.limit} in flight): the run waits its turn`,
    );
    return undefined;
  }

  /**
   * Writes the runs made to wait (group-wait.lua) and records them in the book: a run that waits
   * (or was taken already: stale) moves its entry on, as a published one; a superseded one is
   * read again; when the step is fenced, stopped or fails, they stay due. Throws what the store
   * threw, after that.
   */
  async settle(book: EntryBook, token: string, nowMs: number): Promise<void> {
    if (this.waits.length === 0) return;
    const waits = this.waits.splice(0, this.waits.length);
    let codes: Awaited<ReturnType<WaitingRunsStore['wait']>>;
    try {
      codes = await this.gate.options.store.wait(
        waits.map((w) => w.run),
        token,
        nowMs,
      );
    } catch (error) {
      for (const { held } of waits) book.keepDue(held, nowMs);
      throw error;
    }
    if (typeof codes === 'string') {
      for (const { held } of waits) book.keepDue(held, nowMs);
      return;
    }
    const outcomes = codes.map((code): PublishResult => (code === 'waits' ? 'published' : code));
    codes.forEach((code, i) => {
      if (code === 'waits') this.gate.waited((waits[i] as (typeof waits)[number]).run.group);
    });
    book.record(
      waits.map((w) => w.held),
      waits.map((w) => w.run.slotMs),
      outcomes,
      nowMs,
    );
  }

  /** The wake-up's runs are recorded (the tracker heard of those published): their reserved places go back. */
  end(): void {
    for (const [group, count] of this.taken) this.gate.unreserve(group, count);
    this.taken.clear();
  }
}

function revisionOf(entry: ResolvedEntry): { revision?: string } {
  return entry.revision === undefined || entry.revision === '' ? {} : { revision: entry.revision };
}

/** What the control loop releases waiting runs with. */
export interface ReleaseOptions {
  readonly gate: ConcurrencyGate;
  readonly config: ResolvedConfig;
  readonly messageEnv: MessageEnv;
  readonly publisher: TriggerPublisher;
  readonly logger: Logger;
  readonly now: () => number;
  readonly lease: () => string | undefined;
  /** The entry in force under a name (the config's, else a runtime one), checked before publishing as a manual run is. */
  readonly findEntry: (name: string) => Promise<ResolvedEntry | undefined>;
  readonly paused: () => ReadonlySet<string>;
  readonly events?: Pick<SchedulerEvents, 'published' | 'missed'> | undefined;
}

/**
 * Publishes the waiting runs whose group has a place, in their slots' order, each once; drops those
 * past their wait (missed), of an entry gone, or that do not decode. A group whose first waiting
 * run cannot go holds its later ones (they wait behind it); a paused entry's run waits, holding no
 * one. 'not leading' once the lease is gone or the step was fenced or stopped.
 */
export async function releaseWaiting(o: ReleaseOptions): Promise<'not leading' | undefined> {
  const { gate, logger } = o;
  if (!gate.hasWaiting() || o.publisher.publishRetry === undefined) return undefined;
  const before = gate.waitedSoFar;
  const read = await gate.options.store.waiting(WAITING_READ);
  // A whole read counts the runs waiting, unless runs were made to wait while it was on its way.
  if (read.length < WAITING_READ && gate.waitedSoFar === before) gate.countWaiting(read);
  const census = gate.census();
  const held = new Set<string>();
  for (const { member, run } of read) {
    if (run === undefined) {
      logger.warn(
        { event: EVENTS.concurrencyRelease, member: member.slice(0, 200) },
        'discarding a waiting run that does not decode (something else wrote it)',
      );
      await gate.options.store.discard(member);
      continue;
    }
    if (held.has(run.group)) continue;
    const token = o.lease();
    if (token === undefined) return 'not leading';
    const now = o.now();
    const fields = {
      event: EVENTS.concurrencyRelease,
      entry: run.entry,
      group: run.group,
      id: run.taskId,
      slot: new Date(run.slotMs).toISOString(),
    };
    const entry = await o.findEntry(run.entry);
    if (entry === undefined || now > run.untilMs) {
      await gate.options.store.discard(member);
      gate.left(run.group);
      if (entry === undefined) logger.warn(fields, 'a waiting run of an entry this config no longer has was dropped');
      else {
        logger.warn(
          { ...fields, until: new Date(run.untilMs).toISOString() },
          `a run waited for concurrency group "${run.group}" past its entry's catch-up window: missed`,
        );
        o.events?.missed({ entry, count: 1, reason: 'concurrency', firstSlotMs: run.slotMs, atMs: now, lastSlotMs: run.slotMs });
      }
      continue;
    }
    if (o.paused().has(entry.name)) continue;
    // The group as the entry says now: an entry taken out of its group since goes at once.
    const group = entry.concurrency;
    const inFlight = census.get(run.group) ?? 0;
    if (group !== undefined && group.group === run.group && inFlight >= group.limit) {
      held.add(run.group);
      continue;
    }
    const message = renderTaskMessage(compileMessageTemplate(entry, o.config, o.messageEnv), {
      taskId: run.taskId,
      slotMs: run.slotMs,
      nowMs: now,
    });
    gate.reserve(run.group);
    let result: RetryPublishResult;
    try {
      result = await o.publisher.publishRetry(message, member, run.revision, token, 'waiting');
    } finally {
      gate.unreserve(run.group);
    }
    if (result === RetryPublishResult.Fenced || result === RetryPublishResult.Stopped) return 'not leading';
    if (result === RetryPublishResult.Gone) continue;
    gate.left(run.group);
    if (result === RetryPublishResult.Dropped) {
      logger.info(fields, 'a waiting run was dropped: its entry was deleted or created again since it began to wait');
      continue;
    }
    census.set(run.group, inFlight + 1);
    // Told before the reservation would matter again: the tracker follows it from here (its place counted).
    o.events?.published({ entry, slotMs: run.slotMs, id: run.taskId, destination: message.destination }, now - run.slotMs);
    logger.info(
      { ...fields, task: entry.task, waitedMs: now - run.slotMs },
      `waiting run published: a place in concurrency group "${run.group}" freed`,
    );
  }
  return undefined;
}
