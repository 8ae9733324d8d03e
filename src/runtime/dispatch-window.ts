/**
 * Publishing everything due at an instant: batch by batch, with up to DEFAULTS.dispatchMaxInFlight
 * batches awaiting their reply, so that while Redis runs one batch's script the next is encoded and
 * sent and the one after planned. The bookkeeping of published batches (cursors, next slots, the
 * log line and metrics of each run) waits until the last batch is answered: in a burst the process
 * is CPU-bound, and time spent there would delay the messages still to go. Meanwhile only the runs'
 * slots and ids are kept, not their messages (see sentPart).
 *
 * A run is rendered as it is taken into a batch (RunRenderer): its Celery message, the entry's
 * template filled with the slot's task id and times. Templates are compiled while the runner
 * sleeps for the entries due within TEMPLATE_KEPT_AHEAD_MS (warm-up.ts), or at an entry's first run,
 * not at start: most of a large schedule is idle most of the time. At most TEMPLATES_KEPT are kept;
 * the template of an entry due later, or past that bound, is made for its run only and dies with
 * the run's batch, and a batch's entries not due again soon let theirs go once it is answered
 * (Recording).
 */
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv, MessageTemplate } from '../celery/message.js';
import { MessageShapes } from '../celery/message-shape.js';
import { slotTaskId } from '../celery/task-id.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { Clock } from '../ports/clock.js';
import type { DispatchResult, Dispatcher, DueRun, PublishResult, SlotAhead } from '../ports/dispatcher.js';
import type { BookEntry, EntryBook } from './entry-book.js';
import type { EntryFailures } from './entry-backoff.js';
import { fireTally, logBurst, logClockAhead, logMissed, logRecorded } from './run-log.js';
import type { RunLogOptions, SentBatch } from './run-log.js';
import type { DuePlan } from '../core/schedule.js';
import type { OverlapGate, Released } from './overlap.js';
import type { ConcurrencyGate, Wake } from './concurrency-gate.js';

/**
 * An entry due within this long has its template compiled ahead (warm-up.ts) and kept; one due later
 * has it made for each run. Kept for every entry of a burst, the templates of hourly entries were
 * most of the memory the burst left behind (~630 B each).
 */
export const TEMPLATE_KEPT_AHEAD_MS = 10_000;
/**
 * Most templates kept at once (~630 B of heap each): past it, the warm-up compiles no more and an
 * entry's template is made for its run alone. A burst of 1,000,000 first runs kept ~630 MB of
 * templates used once, which the collector copied, promoted and marked through the burst.
 */
const TEMPLATES_KEPT = 100_000;
/**
 * Runs in a wake-up's first batch: few, so that they reach the broker while the first full batch
 * (DEFAULTS.dispatchBatchRuns) of a burst is still being rendered. With the book's order (its
 * frequent lane first at a shared instant), a 1 s entry due with a minute's burst is not held
 * behind it (issue 69: its lateness beside 10,000 every-minute entries).
 */
export const FIRST_BATCH_RUNS = 20;

export interface DispatchWindowOptions {
  readonly book: EntryBook;
  readonly renderer: RunRenderer;
  readonly dispatcher: Dispatcher;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly runLog: RunLogOptions;
  /** The fence token to publish with, or undefined when this instance must not publish now. */
  readonly lease: () => string | undefined;
  /** The dispatcher reported that another instance holds the fence. */
  readonly onFenced: () => void;
  /** The dispatcher reported the deployment stopped (`beat pause --all`): nothing was published, the runs stay due. */
  readonly onStopped: () => void;
  /** The dispatcher refused a slot ahead of Redis's clock (this clock is ahead): nothing was published. */
  readonly onClockAhead: ((ahead: SlotAhead) => void) | undefined;
  /**
   * A batch's publish failed (thrown, or only part of it went out), once reported to the events:
   * whoever holds the leadership decides whether retrying can fix it (a refusal cannot: hand over).
   */
  readonly onPublishFailed: ((error: unknown) => void) | undefined;
  /** The overlap policies: slots due while the previous run has not finished. */
  readonly overlap: OverlapGate;
  /** Concurrency groups: runs due while their group is full wait or are skipped; undefined where no outcomes are followed. */
  readonly concurrency?: ConcurrencyGate | undefined;
  /** Runs of these runtime entries were refused ('superseded'): they changed since they were read. */
  readonly onSuperseded: ((names: readonly string[]) => void) | undefined;
  /** Entries whose runs are refused because of the entry alone, retried with their own backoff. */
  readonly failures: EntryFailures;
}

/** Runs taken off the book together, rendered, handed to the dispatcher in one call. */
interface Batch extends SentBatch {
  readonly runs: DueRun[];
  /** Whether a run is a chord run, whose size the dispatcher writes first (most batches hold none). */
  hasChordRun: boolean;
  /** Whether an entry of it has an overlap policy (not "allow"), which may have decided revokes. */
  gated: boolean;
}

function emptyBatch(atMs: number): Batch {
  return { atMs, entries: [], slots: [], ids: [], destinations: [], runs: [], hasChordRun: false, gated: false };
}

function addRun(batch: Batch, entry: BookEntry, run: DueRun): void {
  if (run.message.chordSize !== undefined) batch.hasChordRun = true;
  batch.entries.push(entry);
  batch.slots.push(run.slotMs);
  batch.ids.push(run.message.id);
  batch.destinations.push(run.message.destination);
  batch.runs.push(run);
}

/**
 * What is kept of a batch once it is handed over: not its messages. Messages kept until a whole
 * burst is recorded would be copied by every young-generation collection and promoted.
 */
function sentPart(batch: Batch): SentBatch {
  return { atMs: batch.atMs, entries: batch.entries, slots: batch.slots, ids: batch.ids, destinations: batch.destinations };
}

type Reply = { result: DispatchResult } | { error: unknown };

/** Why a wake-up's dispatch stopped before its end; its remaining runs stay due. */
type Halt = { reason: 'lease' | 'fenced' | 'ahead' | 'stopped' } | { reason: 'error'; error: unknown };

function replyOf(result: Promise<DispatchResult>): Promise<Reply> {
  return result.then(
    (result): Reply => ({ result }),
    (error: unknown): Reply => ({ error }),
  );
}

/** A wake-up's dispatch as it goes: the batches awaiting their reply, those published, and why it stopped, if it did. */
interface WindowState {
  readonly inFlight: { sent: SentBatch; reply: Promise<Reply> }[];
  readonly published: Published[];
  halted: Halt | undefined;
}

/**
 * A wake-up whose due runs were checked with their sources at its instant (runner.ts checkWakeUp):
 * the buffered runs it releases are those `mayRelease` allows, and no frequent entry that falls due
 * during its dispatch is taken in it (unchecked: it waits for the next wake-up's check).
 */
export interface CheckedWakeUp {
  readonly mayRelease: (entry: ResolvedEntry) => boolean;
}

/**
 * Publishes every run due at `nowMs` with `token`, the buffered runs released then, and the
 * frequent entries that fall due while it goes out (unless `checked`), and records what went out.
 * Throws the failure when a batch failed (in full or in part) after recording what did go out:
 * the runs it left stay due for the next wake-up.
 */
export async function dispatchDue(options: DispatchWindowOptions, token: string, nowMs: number, checked?: CheckedWakeUp): Promise<void> {
  const state: WindowState = { inFlight: [], published: [], halted: undefined };
  const wake = options.concurrency?.wake(options.runLog);
  try {
    await dispatchWoken(options, token, nowMs, state, wake, checked);
  } finally {
    // Recorded (or failed): the tracker follows the runs published, which hold their groups' places from here.
    wake?.end();
  }
  if (state.halted?.reason === 'error') throw state.halted.error;
}

/** dispatchDue's work, with the wake-up's concurrency admissions (ended by the caller, whatever happens). */
async function dispatchWoken(
  options: DispatchWindowOptions,
  token: string,
  nowMs: number,
  state: WindowState,
  wake: Wake | undefined,
  checked: CheckedWakeUp | undefined,
): Promise<void> {
  const { book } = options;
  // Made once there is something to record: nothing before the first reply needs it.
  let recording: Recording | undefined;
  // Buffered runs whose previous run has finished go first: they have waited already.
  const released = book.hasBuffered() ? options.overlap.release(book, nowMs, checked?.mayRelease) : [];
  // Whether an entry went through the overlap gate: only then may revokes be pending.
  let gated = false;
  let frequentBefore = false;
  for (let sent = 0; ; sent += 1) {
    // The first batch of a wake-up is small, so that its runs (the frequent lane first, the book's
    // order) are out before a burst's first full batch is rendered.
    const most = sent === 0 ? FIRST_BATCH_RUNS : DEFAULTS.dispatchBatchRuns;
    // A frequent entry that fell due while this burst goes out is taken at once, at its own instant,
    // in a batch of its own (issue 69: a 1 s entry was held ~200 ms by every burst of 10,000 that
    // its slot followed). Never twice in a row: the burst moves on by a batch between.
    const takesLater = sent > 0 && checked === undefined;
    const frequent: Batch | undefined = takesLater && !frequentBefore ? frequentBatch(options, nowMs, wake) : undefined;
    frequentBefore = frequent !== undefined;
    // A batch of the burst is cut short when one falls due while it is rendered (~25 ms a full one).
    const cutShort = takesLater ? () => book.frequentCameDue(nowMs, options.clock.now()) : undefined;
    const batch = frequent ?? takeBatch(options, nowMs, released, wake, most, undefined, cutShort);
    if (batch.runs.length === 0) break;
    gated ||= batch.gated;
    // A window of scripts in flight: Redis runs one while the next is encoded and sent, instead of
    // sitting idle while each batch is encoded. The batch after is planned before the wait, so that
    // the scheduler works while Redis does (taken after it, the scheduler waited idle for each reply).
    const oldest = state.inFlight.length >= DEFAULTS.dispatchMaxInFlight ? state.inFlight.shift() : undefined;
    if (oldest) settle(options, state, oldest.sent, await oldest.reply, nowMs);
    if (state.halted === undefined && options.lease() !== token) state.halted = { reason: 'lease' };
    if (state.halted !== undefined) {
      keepDue(book, batch.entries, nowMs);
      break;
    }
    // Revokes of previous runs (cancelOther, terminateOther) go out before the runs replacing them.
    if (gated && options.overlap.hasRevokes()) await options.overlap.sendRevokes(nowMs, () => options.lease() === token);
    const { dispatcher } = options;
    const to = batch.hasChordRun ? dispatcher : (dispatcher.plain ?? dispatcher);
    const reply = replyOf(to.dispatch(batch.runs, token, options.clock.now()));
    state.inFlight.push({ sent: sentPart(batch), reply });
    // A long burst records what went out as it goes, once a backlog has piled up: kept to its end,
    // its slots and ids grow with the burst (hundreds of MB measured), and their recording becomes
    // one task as long as the burst is large.
    if (state.published.length >= DEFAULTS.dispatchRecordBacklog)
      (recording ??= new Recording(options, nowMs)).add(state.published.splice(0, state.published.length));
    // Let the dispatcher finish writing this batch (its steps after the first await run as
    // microtasks) before planning the next one.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  // Released runs not taken when the dispatch stopped early stay due: decided again next time, and
  // so are the revokes of a batch that did not go out.
  for (const run of released) book.keepDue(run.held, nowMs);
  if (gated) options.overlap.forgetRevokes();
  // The runs made to wait for their group: their slots taken in one fenced step (kept due if it is refused).
  const waited = await wake?.settle(book, token, nowMs);
  if (waited?.ahead !== undefined && state.halted === undefined) {
    logClockAhead(options.logger, waited.ahead);
    options.onClockAhead?.(waited.ahead);
  }
  if (waited !== undefined && waited.superseded.length > 0) reportSuperseded(options, new Set(waited.superseded));
  for (const { sent, reply } of state.inFlight) settle(options, state, sent, await reply, nowMs);
  await (recording ?? new Recording(options, nowMs)).finish(state.published);
}

/**
 * A batch that is not published (not leading any more, fenced, or the broker failed) leaves its
 * entries due at once: the next wake-up as leader plans them again from their unchanged cursor.
 */
function keepDue(book: EntryBook, entries: readonly BookEntry[], nowMs: number): void {
  for (const held of entries) book.keepDue(held, nowMs);
}

/** Reports a batch's failed publish (each failed batch once) and hands the decision on. */
function publishFailed(options: DispatchWindowOptions, error: unknown): void {
  options.runLog.events.publishFailed(error);
  options.onPublishFailed?.(error);
}

/** A batch's reply: published (kept for recording), or why the dispatch stops, said once. */
function settle(options: DispatchWindowOptions, state: WindowState, sent: SentBatch, outcome: Reply, nowMs: number): void {
  const { book, logger } = options;
  if ('error' in outcome) {
    publishFailed(options, outcome.error);
    state.halted ??= { reason: 'error', error: outcome.error };
    keepDue(book, sent.entries, nowMs);
  } else if (outcome.result.fenced) {
    if (state.halted === undefined) {
      logger.warn({ event: EVENTS.fenced }, 'another instance holds the fence; nothing was published');
      options.onFenced();
    }
    state.halted = { reason: 'fenced' };
    keepDue(book, sent.entries, nowMs);
  } else if ('stopped' in outcome.result) {
    // The deployment is stopped (the script's own check, whatever this leader had heard): the runs
    // stay due from their unchanged cursors, so that on resume each entry's catchUp decides.
    if (state.halted === undefined) options.onStopped();
    state.halted = { reason: 'stopped' };
    keepDue(book, sent.entries, nowMs);
  } else if ('ahead' in outcome.result) {
    if (state.halted === undefined) {
      logClockAhead(logger, outcome.result.ahead);
      options.onClockAhead?.(outcome.result.ahead);
    }
    state.halted = { reason: 'ahead' };
    keepDue(book, sent.entries, nowMs);
  } else {
    const { outcomes, refusals, failure } = outcome.result;
    state.published.push({ sent, outcomes, refusals });
    outcomes.forEach((o, i) => o === 'dropped' && options.runLog.events.dropped((sent.entries[i] as BookEntry).entry.name));
    // Some runs went out and were recorded, others did not (AMQP): the first are logged and
    // counted as published, the second kept due (record), and the wake-up ends as a failure, so
    // that they are tried again after the backoff and what failed is logged.
    if (failure !== undefined) {
      publishFailed(options, failure);
      state.halted ??= { reason: 'error', error: failure };
    }
  }
}

interface Published {
  readonly sent: SentBatch;
  readonly outcomes: readonly PublishResult[];
  readonly refusals: ReadonlyMap<number, string> | undefined;
}

/**
 * What a wake-up's published batches leave behind: cursors and next slots, the log lines and
 * metrics of each run, the templates no longer needed. Batch by batch, each in its own turn of the
 * event loop, so that lock renewals and signals are served all along a burst of any size.
 */
class Recording {
  private readonly tally = fireTally();
  private readonly queue: Published[] = [];
  private draining: Promise<void> | undefined;
  private superseded: Set<string> | undefined;

  constructor(
    private readonly options: DispatchWindowOptions,
    private readonly nowMs: number,
  ) {}

  /** Records these batches in later turns of the event loop (see finish). */
  add(batches: readonly Published[]): void {
    for (const batch of batches) this.queue.push(batch);
    this.draining ??= this.drain();
  }

  /** Records these batches and every one added before; then sums the wake-up up. */
  async finish(batches: readonly Published[]): Promise<void> {
    for (const batch of batches) this.queue.push(batch);
    await this.draining;
    await this.drain();
    logBurst(this.options.runLog, this.tally, this.nowMs, this.options.clock.now());
    reportSuperseded(this.options, this.superseded);
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.record(next);
    }
    this.draining = undefined;
  }

  private record({ sent, outcomes, refusals }: Published): void {
    const { options } = this;
    const nowMs = sent.atMs;
    const { book, logger, renderer } = options;
    for (const done of book.record(sent.entries, sent.slots, outcomes, nowMs)) {
      logger.info(
        { event: EVENTS.entryFinished, entry: done.entry.name, runs: done.runs },
        `made its last run (maxRuns ${String(done.entry.maxRuns)}); it runs no more unless maxRuns is raised`,
      );
    }
    if (refusals !== undefined || options.failures.size > 0) contain(options, sent, outcomes, refusals, nowMs);
    logRecorded(options.runLog, sent, outcomes, nowMs, this.tally);
    outcomes.forEach((outcome, i) => {
      if (outcome === 'superseded') (this.superseded ??= new Set()).add((sent.entries[i] as BookEntry).entry.name);
    });
    // An entry not due again soon gives its template back (compiled again at its next run).
    const soonMs = nowMs + TEMPLATE_KEPT_AHEAD_MS;
    for (const held of sent.entries) if (held.nextSlotMs === undefined || held.nextSlotMs > soonMs) renderer.forget(held.entry);
  }
}

/**
 * A refused run costs its entry only: the entry is marked failing (logged once per reason, reported
 * at each refusal) and kept due after its own backoff; an entry that was failing and went out again
 * has recovered.
 */
function contain(
  options: DispatchWindowOptions,
  sent: SentBatch,
  outcomes: readonly PublishResult[],
  refusals: ReadonlyMap<number, string> | undefined,
  nowMs: number,
): void {
  const { failures, book, logger, runLog } = options;
  const seen = new Set<BookEntry>();
  sent.entries.forEach((held, i) => {
    const outcome = outcomes[i];
    const name = held.entry.name;
    if (outcome === 'refused') {
      // A catch-up batch may hold several runs of one entry: one refusal each.
      if (seen.has(held)) return;
      seen.add(held);
      const { failure, changed } = failures.refused(name, refusals?.get(i) ?? 'refused by the broker', nowMs);
      book.keepDue(held, failure.retryAtMs);
      if (changed)
        logger.error(
          { event: EVENTS.entryFailing, entry: name, task: held.entry.task, reason: failure.reason, retryInMs: failure.retryAtMs - nowMs },
          `entry "${name}" cannot publish: ${failure.reason}; retried with a backoff, the other entries go on`,
        );
      runLog.events.entryRefused?.(failure, changed);
    } else if (outcome === 'published' || outcome === 'dropped' || outcome === 'stale') {
      const failure = failures.clear(name);
      if (failure === undefined) return;
      logger.info(
        { event: EVENTS.entryRecovered, entry: name, failedForMs: nowMs - failure.sinceMs, attempts: failure.attempts },
        `entry "${name}" publishes again`,
      );
      runLog.events.entryFailureCleared?.(name, true);
    }
  });
}

/**
 * The frequent entries that fell due after `sinceMs`, the wake-up's instant, taken at the clock's
 * instant; undefined when none did (or none of them has a run to publish).
 */
function frequentBatch(options: DispatchWindowOptions, sinceMs: number, wake: Wake | undefined): Batch | undefined {
  const atMs = options.clock.now();
  if (!options.book.frequentCameDue(sinceMs, atMs)) return undefined;
  const batch = takeBatch(options, atMs, [], wake, FIRST_BATCH_RUNS, 'frequent');
  return batch.runs.length > 0 ? batch : undefined;
}

/** How many runs a batch takes between two looks at `cutShort` (takeBatch). */
const RUNS_BETWEEN_LOOKS = 100;

/**
 * Takes due entries off the book (of its frequent lane only, if `lane` says so) until about `most`
 * runs are planned, or `cutShort` says to stop (asked every RUNS_BETWEEN_LOOKS runs), and renders
 * them: the `released` buffered runs first (taken from the array). An entry's runs always stay in
 * one batch.
 */
function takeBatch(
  options: DispatchWindowOptions,
  nowMs: number,
  released: Released[],
  wake: Wake | undefined,
  most: number,
  lane?: 'frequent',
  cutShort?: () => boolean,
): Batch {
  const { book, renderer } = options;
  const batch = emptyBatch(nowMs);
  let lookAt = RUNS_BETWEEN_LOOKS;
  while (batch.runs.length < most) {
    const run = released.shift();
    if (run === undefined) break;
    // A buffered run of a concurrency group's entry asks its group too, as a due one does.
    if (wake !== undefined && run.held.entry.concurrency !== undefined) {
      const one = { slots: [run.slotMs], missed: 0, missedReason: undefined, cursorMs: run.slotMs, nextSlotMs: undefined };
      if (wake.admit(book, run.held, one, nowMs) === undefined) continue;
    }
    addRun(batch, run.held, renderer.render(run.held.entry, run.slotMs, nowMs));
  }
  while (batch.runs.length < most) {
    if (cutShort !== undefined && batch.runs.length >= lookAt) {
      if (cutShort()) break;
      lookAt = batch.runs.length + RUNS_BETWEEN_LOOKS;
    }
    const due = book.takeDue(nowMs, lane);
    if (due === undefined) break;
    // An entry that allows overlap has no policy to ask (most entries: the default).
    const gate = due.held.entry.overlap !== 'allow';
    if (gate) batch.gated = true;
    const admitted = gate ? options.overlap.admit(book, due, nowMs) : due.plan;
    // An entry on time (nothing missed, one slot) has nothing to report: the common case, not asked.
    // The overlap policy keeps the plan's missed count and publishes some of its slots at most.
    if (due.plan.missed > 0 || due.plan.slots.length > 1)
      logMissed(options.runLog, due.held.entry, admitted ?? { ...due.plan, slots: [] }, due.firstSlotMs, nowMs, due.plan);
    // A run of a concurrency group goes if its group has a place (most entries have no group: not asked).
    const plan =
      admitted !== undefined && wake !== undefined && due.held.entry.concurrency !== undefined
        ? grouped(options, wake, due.held, admitted, nowMs)
        : admitted;
    if (plan === undefined) continue;
    // A template compiled here is kept only if the entry is due again soon (recording would drop it otherwise).
    const keep = plan.nextSlotMs !== undefined && plan.nextSlotMs <= nowMs + TEMPLATE_KEPT_AHEAD_MS;
    for (const slotMs of plan.slots) addRun(batch, due.held, renderer.render(due.held.entry, slotMs, nowMs, keep));
  }
  return batch;
}

/**
 * A due run of a concurrency group's entry, through the group (Wake.admit). While a run of the same
 * entry waits for the group, its overlap policy takes that one for its run in progress: skip passes
 * this one over, the others have it wait behind; and a revoke decided for it goes with it.
 */
function grouped(options: DispatchWindowOptions, wake: Wake, held: BookEntry, plan: DuePlan, nowMs: number): DuePlan | undefined {
  const { entry } = held;
  const queue = entry.overlap !== 'allow' && options.concurrency?.entryWaits(entry.name) === true;
  if (queue && entry.overlap === 'skip') {
    const first = plan.slots[0] as number;
    const last = plan.slots[plan.slots.length - 1] as number;
    options.book.passOver(held, last);
    options.runLog.events.missed({ entry, count: plan.slots.length, reason: 'overlap', firstSlotMs: first, atMs: nowMs, lastSlotMs: last });
    options.overlap.forgetRevoke(entry.name);
    return undefined;
  }
  const admitted = wake.admit(options.book, held, plan, nowMs, queue);
  if (admitted === undefined) options.overlap.forgetRevoke(entry.name);
  return admitted;
}

/** Says which entries had runs refused as superseded, and has the runtime entries read again. */
function reportSuperseded(options: DispatchWindowOptions, names: ReadonlySet<string> | undefined): void {
  if (names === undefined) return;
  const list = [...names];
  options.logger.info(
    { event: EVENTS.superseded, entries: list.length, examples: list.slice(0, 5) },
    'runs not published: these runtime entries were edited, deleted or created again since they were read; reading them again',
  );
  options.onSuperseded?.(list);
}

/** Turns an entry's slot into the run handed to the dispatcher (see the head of this module). */
export class RunRenderer {
  private readonly compiled = new Map<ResolvedEntry, MessageTemplate>();
  /** Entries of one task, options and monitor share a shape: a burst of per-tenant runs compiles a few, not one per tenant. */
  private readonly shapes: MessageShapes;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly messageEnv: MessageEnv,
  ) {
    this.shapes = new MessageShapes(config, messageEnv);
  }

  isCompiled(entry: ResolvedEntry): boolean {
    return this.compiled.has(entry);
  }

  /** Drops the compiled template of an entry that changed or left the book. */
  forget(entry: ResolvedEntry): void {
    this.compiled.delete(entry);
  }

  /** Lets every template go (the runner stopped). */
  forgetAll(): void {
    this.compiled.clear();
  }

  /** Whether a template compiled now would be kept (fewer than TEMPLATES_KEPT are). */
  hasRoom(): boolean {
    return this.compiled.size < TEMPLATES_KEPT;
  }

  /** The entry's template, compiled (and kept, if there is room) if it is not yet; throws what compiling throws. */
  compile(entry: ResolvedEntry): MessageTemplate {
    return this.compiled.get(entry) ?? this.compileNew(entry, true);
  }

  /** A new template of the entry, kept when `keep` and there is room; throws what compiling throws. */
  private compileNew(entry: ResolvedEntry, keep: boolean): MessageTemplate {
    const template = compileMessageTemplate(entry, this.config, this.messageEnv, this.shapes);
    if (keep && this.hasRoom()) this.compiled.set(entry, template);
    return template;
  }

  /**
   * The run of `entry` at `slotMs`, rendered at `nowMs`. An entry whose template is not compiled
   * keeps the one made for this run only when `keep` (it is due again soon): kept until its run
   * was recorded, the template of each run of a burst outlived a few young-generation collections
   * and was promoted, to die in the old generation (~800 B a run at 1,000,000).
   */
  render(entry: ResolvedEntry, slotMs: number, nowMs: number, keep = true): DueRun {
    const template = this.compiled.get(entry) ?? this.compileNew(entry, keep);
    const message = renderTaskMessage(template, { taskId: slotTaskId(this.config.name, entry.name, slotMs), slotMs, nowMs });
    return { entry, slotMs, message };
  }
}
