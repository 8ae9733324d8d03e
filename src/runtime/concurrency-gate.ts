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
 * Places are counted from the tracker, plus the places reserved for runs being published that the
 * tracker has not heard of yet (a wake-up's runs until they are recorded, a released run until its
 * publish is told). A release does not begin while a wake-up admits (its census would be stale),
 * and it reserves the places of the runs it will publish before its first await, so that the
 * runner, the control loop and the retries never take the same place. Until the tracker has read
 * the runs the last leader left (RunningRuns.ready, and the runner's look at the runs it published
 * without writing them: known), a group that waits counts as full.
 */
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { errorMessage } from '../base/errors.js';
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import { slotTaskId } from '../celery/task-id.js';
import type { Concurrency } from '../config/concurrency.js';
import { concurrencyWaitMs } from '../config/concurrency.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { DuePlan } from '../core/schedule.js';
import type { SlotAhead } from '../ports/dispatcher.js';
import type { PublishResult } from '../ports/dispatcher.js';
import type { WaitingRun, WaitingRunsStore } from '../ports/waiting-runs.js';
import type { TriggerPublisher } from '../ports/control-source.js';
import type { SchedulerEvents } from '../ports/events.js';
import { RetryPublishResult } from '../ports/outcomes.js';
import type { RunningRuns } from '../ports/outcomes.js';
import { formatInstant } from '../time/zone.js';
import type { BookEntry, EntryBook } from './entry-book.js';
import type { RunLogOptions } from './run-log.js';

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
  /**
   * Whether runs may wait: the broker's publish takes part in a Redis script (BrokerKind.sharesRedis).
   * Elsewhere a group's runs are passed over when it is full, whatever `whenFull` says (beat check
   * refuses `wait` there; a runtime entry's is taken as `skip`).
   */
  readonly canWait: boolean;
}

export class ConcurrencyGate {
  /** Places taken by runs being published that the tracker has not heard of yet, by group. */
  private readonly reserved = new Map<string, number>();
  /** Runs waiting, by group and by entry, as this leader last read or wrote them (undefined until read). */
  private waiting: { groups: Map<string, number>; entries: Map<string, number> } | undefined;
  /** Counts the runs made to wait: a read begun before one of them is not taken over the count (see releaseWaiting). */
  private waitedCount = 0;
  /** A wake-up of the runner is admitting runs (Wake): no release begins meanwhile. */
  private admitting = false;
  /** The tracker has read the runs the last leader left running: until then a group may look emptier than it is. */
  private trackerReady = false;
  /** The last failure of a wait's step, said once until another comes. */
  private lastFailure: string | undefined;

  constructor(readonly options: ConcurrencyGateOptions) {}

  /** The tracker holds the runs the last leader left, those it published unwritten included (the runner's start). */
  known(): void {
    this.trackerReady = true;
  }

  /** Runs in flight by group: the tracker's unfinished runs of the groups' entries, and the places reserved. */
  census(): Map<string, number> {
    const counts = new Map(this.reserved);
    for (const { entry } of this.options.running.unfinished?.() ?? []) {
      const group = this.options.groupOf(entry)?.group;
      if (group !== undefined) counts.set(group, (counts.get(group) ?? 0) + 1);
    }
    return counts;
  }

  /** Whether runs of `group` wait (every group's may, before the first read). */
  waitsAhead(group: string): boolean {
    return this.waiting === undefined || (this.waiting.groups.get(group) ?? 0) > 0;
  }

  /** Whether a run of this entry waits (any may, before the first read). */
  entryWaits(entry: string): boolean {
    return this.waiting === undefined || (this.waiting.entries.get(entry) ?? 0) > 0;
  }

  /** Whether any run waits (or may: not read yet). */
  hasWaiting(): boolean {
    if (this.waiting === undefined) return true;
    for (const count of this.waiting.groups.values()) if (count > 0) return true;
    return false;
  }

  /** Whether the tracker is known to hold the runs in flight (see trackerReady). */
  get ready(): boolean {
    return this.trackerReady;
  }

  get isAdmitting(): boolean {
    return this.admitting;
  }

  reserve(group: string, count = 1): void {
    this.reserved.set(group, (this.reserved.get(group) ?? 0) + count);
  }

  unreserve(group: string, count = 1): void {
    const left = (this.reserved.get(group) ?? 0) - count;
    if (left > 0) this.reserved.set(group, left);
    else this.reserved.delete(group);
  }

  /** The counts of a whole read of the zset. */
  countWaiting(read: readonly { run: WaitingRun | undefined }[]): void {
    const groups = new Map<string, number>();
    const entries = new Map<string, number>();
    for (const { run } of read) {
      if (run === undefined) continue;
      groups.set(run.group, (groups.get(run.group) ?? 0) + 1);
      entries.set(run.entry, (entries.get(run.entry) ?? 0) + 1);
    }
    this.waiting = { groups, entries };
  }

  /** How many runs this leader made to wait so far. */
  get waitedSoFar(): number {
    return this.waitedCount;
  }

  /** One wake-up's admissions (see Wake); `end` it, whatever happens. */
  wake(runLog: RunLogOptions): Wake {
    this.admitting = true;
    return new Wake(this, runLog);
  }

  /** @internal Wake.end. */
  woke(): void {
    this.admitting = false;
  }

  /** @internal A run was made to wait (Wake) or left the zset (releaseWaiting). */
  changeWaiting(run: WaitingRun, by: 1 | -1): void {
    if (by === 1) this.waitedCount += 1;
    if (this.waiting === undefined) return;
    const { groups, entries } = this.waiting;
    groups.set(run.group, Math.max(0, (groups.get(run.group) ?? 0) + by));
    entries.set(run.entry, Math.max(0, (entries.get(run.entry) ?? 0) + by));
  }

  /** @internal Says a wait's failed step once until another failure comes. */
  failed(error: unknown, runs: number): void {
    const message = errorMessage(error);
    if (message === this.lastFailure) return;
    this.lastFailure = message;
    this.options.logger.warn(
      { event: EVENTS.concurrencyFull, err: error, runs },
      `runs of full concurrency groups could not be made to wait (${message}); they stay due and are tried again`,
    );
  }

  /** @internal The wait's step went through again. */
  recovered(): void {
    this.lastFailure = undefined;
  }
}

/** What Wake.settle reports back to the dispatch. */
export interface Settled {
  /** Runtime entries whose runs were refused as superseded: read them again. */
  readonly superseded: readonly string[];
  /** A slot ahead of Redis's clock: nothing was written. */
  readonly ahead?: SlotAhead;
}

/**
 * The admissions of one wake-up of the runner: the census taken once (no release runs meanwhile),
 * the places its runs take reserved until they are recorded (end), the runs made to wait written
 * in one step (settle).
 */
export class Wake {
  private census: Map<string, number> | undefined;
  private readonly taken = new Map<string, number>();
  private readonly waits: { held: BookEntry; run: WaitingRun }[] = [];

  constructor(
    private readonly gate: ConcurrencyGate,
    private readonly runLog: RunLogOptions,
  ) {}

  /**
   * The part of `plan` (an entry of a group, `due`) to publish now: its first slot when a place is
   * free and nothing of its group waits ahead; else undefined, the slot passed over (skip) or kept to
   * wait (settle writes it). One slot per wake-up, as an entry that may not overlap runs: the next is
   * found due at once and asks again. `queue`: the run waits behind a run of its own entry that
   * waits (its overlap policy holds it), whatever the group's places.
   */
  admit(book: EntryBook, held: BookEntry, plan: DuePlan, nowMs: number, queue = false): DuePlan | undefined {
    const { entry } = held;
    const group = entry.concurrency;
    const first = plan.slots[0];
    if (group === undefined || first === undefined) return plan;
    const whenFull = this.gate.options.canWait ? group.whenFull : 'skip';
    this.census ??= this.gate.census();
    const running = this.census.get(group.group) ?? 0;
    // Before the tracker has read the runs left running, a group that can wait counts as full.
    const ahead = whenFull === 'wait' && (this.gate.waitsAhead(group.group) || !this.gate.ready);
    if (running < group.limit && !ahead && !queue) {
      this.census.set(group.group, running + 1);
      this.taken.set(group.group, (this.taken.get(group.group) ?? 0) + 1);
      this.gate.reserve(group.group);
      return plan.slots.length > 1 ? { ...plan, slots: [first] } : plan;
    }
    const fields = { event: EVENTS.concurrencyFull, entry: entry.name, group: group.group, limit: group.limit, running };
    if (whenFull === 'skip') {
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
    const revision = entry.revision === undefined || entry.revision === '' ? {} : { revision: entry.revision };
    this.waits.push({ held, run: { group: group.group, entry: entry.name, slotMs: first, taskId, untilMs, ...revision } });
    this.runLog.logger.info(
      { ...fields, whenFull: 'wait', slot: formatInstant(first, entry.timezone), until: new Date(untilMs).toISOString() },
      queue
        ? `a run of this entry waits for concurrency group "${group.group}": this one waits behind it (its overlap policy)`
        : running < group.limit
          ? `runs of concurrency group "${group.group}" wait ahead of this one: it waits its turn`
          : `concurrency group "${group.group}" is full (${running} of ${group.limit} in flight): the run waits its turn`,
    );
    return undefined;
  }

  /**
   * Writes the runs made to wait (group-wait.lua) and records them in the book: a run that waits
   * (or was taken already: stale) moves its entry on, as a published one; a superseded one is
   * read again; when the step is fenced, stopped, ahead or fails, they stay due (a failure said once).
   */
  async settle(book: EntryBook, token: string, nowMs: number): Promise<Settled> {
    if (this.waits.length === 0) return { superseded: [] };
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
      this.gate.failed(error, waits.length);
      return { superseded: [] };
    }
    this.gate.recovered();
    if (!Array.isArray(codes)) {
      for (const { held } of waits) book.keepDue(held, nowMs);
      return typeof codes === 'object' ? { superseded: [], ahead: codes.ahead } : { superseded: [] };
    }
    const outcomes = codes.map((code): PublishResult => (code === 'waits' ? 'published' : code));
    const superseded: string[] = [];
    codes.forEach((code, i) => {
      const { run } = waits[i] as (typeof waits)[number];
      if (code === 'waits') this.gate.changeWaiting(run, 1);
      if (code === 'superseded') superseded.push(run.entry);
    });
    book.record(
      waits.map((w) => w.held),
      waits.map((w) => w.run.slotMs),
      outcomes,
      nowMs,
    );
    return { superseded };
  }

  /** The wake-up's runs are recorded (the tracker heard of those published): their reserved places go back, releases may begin. */
  end(): void {
    for (const [group, count] of this.taken) this.gate.unreserve(group, count);
    this.taken.clear();
    this.gate.woke();
  }
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
  /** The entry in force under a name now (the config's, else a runtime one), as the catalog holds it. */
  readonly entryNamed: (name: string) => ResolvedEntry | undefined;
  /** The same, checked against its source before it is published (RedBeat, django), as a manual run is. */
  readonly checked: (entry: ResolvedEntry) => Promise<ResolvedEntry | undefined>;
  readonly paused: () => ReadonlySet<string>;
  readonly events?: Pick<SchedulerEvents, 'published' | 'missed'> | undefined;
}

/**
 * Publishes the waiting runs whose group has a place, in their slots' order, each once; drops those
 * past their wait (missed) and those that do not decode. The places are decided and reserved first,
 * with no await between (see the module's head); then each run is published. A group whose first
 * waiting run cannot go holds its later ones; a run of a paused entry, of an entry this config does
 * not have (yet), or whose entry's previous run has not finished under an overlap policy, waits on
 * and holds no one. Nothing while the runner admits a wake-up's runs (the next look comes within a
 * second, or when a run finishes). 'not leading' once the lease is gone or the step was fenced or stopped.
 */
export async function releaseWaiting(o: ReleaseOptions): Promise<'not leading' | undefined> {
  const { gate, logger } = o;
  if (gate.isAdmitting || !gate.hasWaiting() || o.publisher.publishRetry === undefined) return undefined;
  const before = gate.waitedSoFar;
  const read = await gate.options.store.waiting(WAITING_READ);
  // A whole read counts the runs waiting, unless runs were made to wait while it was on its way.
  if (read.length < WAITING_READ && gate.waitedSoFar === before) gate.countWaiting(read);
  if (gate.isAdmitting || !gate.ready) return undefined;
  const now = o.now();
  // Decided and reserved with no await: the census holds until every place taken here is told.
  const census = gate.census();
  const held = new Set<string>();
  const entriesReleased = new Set<string>();
  const chosen: { member: string; run: WaitingRun; entry: ResolvedEntry }[] = [];
  const dropped: { member: string; run: WaitingRun | undefined; entry: ResolvedEntry | undefined }[] = [];
  for (const { member, run } of read) {
    if (run === undefined || now > run.untilMs) {
      dropped.push({ member, run, entry: run === undefined ? undefined : o.entryNamed(run.entry) });
      continue;
    }
    if (held.has(run.group)) continue;
    const entry = o.entryNamed(run.entry);
    if (entry === undefined || o.paused().has(entry.name)) continue;
    // Its entry's overlap policy holds it while the entry's previous run has not finished.
    if (entry.overlap !== 'allow' && (entriesReleased.has(entry.name) || gate.options.running.unfinishedRun(entry.name) !== undefined))
      continue;
    // The group as the entry says now: an entry taken out of its group since goes at once.
    const group = entry.concurrency;
    const inFlight = census.get(run.group) ?? 0;
    if (group !== undefined && group.group === run.group && inFlight >= group.limit) {
      held.add(run.group);
      continue;
    }
    census.set(run.group, inFlight + 1);
    gate.reserve(run.group);
    entriesReleased.add(entry.name);
    chosen.push({ member, run, entry });
  }
  for (const { member, run, entry } of dropped) {
    await gate.options.store.discard(member);
    if (run === undefined) {
      logger.warn(
        { event: EVENTS.concurrencyRelease, member: member.slice(0, 200) },
        'discarding a waiting run that does not decode (something else wrote it)',
      );
      continue;
    }
    gate.changeWaiting(run, -1);
    logger.warn(
      { event: EVENTS.concurrencyRelease, entry: run.entry, group: run.group, id: run.taskId, until: new Date(run.untilMs).toISOString() },
      `a run waited for concurrency group "${run.group}" past its entry's catch-up window: missed`,
    );
    if (entry !== undefined)
      o.events?.missed({ entry, count: 1, reason: 'concurrency', firstSlotMs: run.slotMs, atMs: now, lastSlotMs: run.slotMs });
  }
  let stop: 'not leading' | undefined;
  let next = 0;
  try {
    for (; next < chosen.length; next += 1) {
      const { member, run, entry } = chosen[next] as (typeof chosen)[number];
      // Once stopped, the places reserved for the rest go back unused.
      stop ??= await releaseOne(o, member, run, entry);
      gate.unreserve(run.group);
    }
  } finally {
    // A publish that threw: its place and those after it go back.
    for (const { run } of chosen.slice(next)) gate.unreserve(run.group);
  }
  return stop;
}

/** One waiting run published (the tracker told before its reservation goes), or why not. */
async function releaseOne(o: ReleaseOptions, member: string, run: WaitingRun, found: ResolvedEntry): Promise<'not leading' | undefined> {
  const { gate, logger } = o;
  const token = o.lease();
  if (token === undefined || o.publisher.publishRetry === undefined) return 'not leading';
  const fields = {
    event: EVENTS.concurrencyRelease,
    entry: run.entry,
    group: run.group,
    id: run.taskId,
    slot: new Date(run.slotMs).toISOString(),
  };
  const entry = await o.checked(found);
  if (entry === undefined) return undefined;
  const now = o.now();
  const message = renderTaskMessage(compileMessageTemplate(entry, o.config, o.messageEnv), {
    taskId: run.taskId,
    slotMs: run.slotMs,
    nowMs: now,
  });
  const record = { taskId: run.taskId, slotMs: run.slotMs, publishedAtMs: now, state: 'PENDING' } as const;
  const result = await o.publisher.publishRetry(message, member, run.revision, token, 'waiting', record);
  if (result === RetryPublishResult.Fenced || result === RetryPublishResult.Stopped) return 'not leading';
  if (result === RetryPublishResult.Gone) return undefined;
  gate.changeWaiting(run, -1);
  if (result === RetryPublishResult.Dropped) {
    logger.info(fields, 'a waiting run was dropped: its entry was deleted or created again since it began to wait');
    return undefined;
  }
  // Told before its reservation goes back (the caller's next step): the tracker counts it from here.
  o.events?.published({ entry, slotMs: run.slotMs, id: run.taskId, destination: message.destination }, now - run.slotMs);
  logger.info(
    { ...fields, task: entry.task, waitedMs: now - run.slotMs },
    `waiting run published: a place in concurrency group "${run.group}" freed`,
  );
  return undefined;
}
