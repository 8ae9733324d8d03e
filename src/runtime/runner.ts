/**
 * The scheduler loop of a leader. Entries wait in a min-heap keyed by their next due instant; each
 * wake-up pops only what is due, asks `planDue` which slots to run (the missed-run policy), renders
 * the messages and hands them to the dispatcher in batches. It never sleeps longer than
 * `maxInterval`, re-reads the clock on every wake-up, and treats early and late wake-ups alike:
 * whatever is due at the current instant runs, nothing else.
 */
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv, MessageTemplate } from '../celery/message.js';
import type { Destination } from '../celery/routing.js';
import { slotIdPrefix, slotTaskId } from '../celery/task-id.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { jitterFor, planDue, skipThrough } from '../core/due.js';
import type { DuePlan } from '../core/due.js';
import { MinHeap } from '../core/heap.js';
import { nextFires } from '../core/schedule.js';
import { formatInstant } from '../time/zone.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Clock } from '../ports/clock.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { Logger } from '../base/log.js';
import type { DispatchResult, Dispatcher, DueRun, RunOutcome, SlotAhead, StagedDispatch } from '../ports/dispatcher.js';
import type { EntryState, StateStore } from '../ports/state.js';


export interface RunnerOptions {
  readonly config: ResolvedConfig;
  readonly dispatcher: Dispatcher;
  readonly state: StateStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly messageEnv: MessageEnv;
  /** The fence token to publish with, or undefined when this instance must not publish now. */
  readonly lease: () => string | undefined;
  /** Called when the dispatcher reports that another instance holds the fence. */
  readonly onFenced: () => void;
  /**
   * The last run of each entry that this process saw published while it led before (see
   * `lastRuns()`): a stored state missing or older than this was lost, and is not trusted.
   */
  readonly knownRuns?: ReadonlyMap<string, number>;
  /** Where published runs and lost states are reported (`stateLost` once at start, see `knownRuns`). */
  readonly events?: SchedulerEvents;
  /** Called when the dispatcher refused a slot ahead of Redis's clock (this clock is ahead): nothing was published. */
  readonly onClockAhead?: (ahead: SlotAhead) => void;
  /** Runs per dispatcher call (one Lua script invocation on Redis). */
  readonly batchSize?: number;
  /** Most slots replayed per entry per wake-up with catchUp "all". */
  readonly maxSlotsPerTick?: number;
  /**
   * Wake this long before a due instant and wait for it exactly (see fire()); 0, the default, arms
   * plain timers (what tests on fake timers need: a fake clock does not move while the loop waits).
   */
  readonly timerLeadMs?: number;
}

/** What the runner keeps of a batch handed to the dispatcher until it is recorded: `runtimes[i]` ran `slots[i]` as task `ids[i]`. */
interface SentBatch {
  readonly runtimes: EntryRuntime[];
  readonly slots: number[];
  readonly ids: string[];
}

/** Runs taken off the heap together, rendered; only until they are handed to the dispatcher. */
interface Batch extends SentBatch {
  readonly runs: DueRun[];
}

/**
 * A dispatch staged just before its instant (see stageFor), with what must still
 * hold at the instant for it to be sent: the same lease, and the same entries due, none of them
 * moved, paused or re-keyed since.
 */
interface Staged {
  readonly dueMs: number;
  readonly token: string;
  /** The entries due at dueMs, each once, with their heap key and cursor when staged. */
  readonly entries: readonly { readonly runtime: EntryRuntime; readonly key: number; readonly cursorMs: number; readonly plan: DuePlan }[];
  readonly batch: Batch;
  readonly dispatch: StagedDispatch;
}

function emptyBatch(): Batch {
  return { runtimes: [], slots: [], ids: [], runs: [] };
}

function addRun(batch: Batch, runtime: EntryRuntime, run: DueRun): void {
  batch.runtimes.push(runtime);
  batch.slots.push(run.slotMs);
  batch.ids.push(run.message.id);
  batch.runs.push(run);
}

/** What is kept of a batch once it is handed over: not its messages (see runDue). */
function sentPart(batch: Batch): SentBatch {
  return { runtimes: batch.runtimes, slots: batch.slots, ids: batch.ids };
}

interface EntryRuntime {
  key: number;
  heapIndex: number;
  readonly entry: ResolvedEntry;
  /** Compiled ahead of the first fire, not at start: most of a large schedule is idle most of the time. */
  template: MessageTemplate | undefined;
  /** slotIdPrefix of the entry, made with the template. */
  idPrefix: Buffer | undefined;
  /** The last slot that ran or was passed over (or the first-seen anchor): slots after it are pending. */
  cursorMs: number;
  /** The last slot known to be published (stored, or published since): what the stored state must not fall behind. */
  lastRunMs: number | undefined;
  /** The next slot, undefined when the schedule has run out. */
  nextSlotMs: number | undefined;
  /** Paused entries stay out of the heap; slots that pass meanwhile are skipped, not caught up. */
  paused: boolean;
}

/**
 * Runs per dispatcher call. Small enough that the batches in flight (their messages and
 * envelopes) stay few megabytes: every young-generation collection copies what is live, and with
 * 2,000 a run a third of a burst went to garbage collection. Large enough that the script's fixed
 * cost per call is noise.
 */
const DEFAULT_BATCH = 500;
const ERROR_BACKOFF_MS = 1000;
/** Atomics.wait needs a shared cell to sleep on; nothing ever wakes it early. */
const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
/**
 * waitFor's edge: the last milliseconds before an instant, as the clock reads them, in which the
 * dispatch is staged (primeFor) and then the instant watched for in short sleeps. Two, not one: the
 * clock reads whole milliseconds, so "1 to go" may be anything from a hair to a whole one, and a
 * sleep that ended a tenth of a millisecond late then overslept the instant, unprimed (one wait in three).
 */
const EDGE_MS = 2;
/** The short sleeps at the edge (the kernel makes each ~0.1 ms). */
const EDGE_SLEEP_MS = 0.02;
/** Most runs rehearsed, or staged, just before an instant (more go the usual way). */
const PRIME_RUNS = 8;
/**
 * How late after its instant a staged dispatch may still be sent. Its runs were planned for the
 * instant; this close to it, planning again would find the same slots (a slot that came due
 * meanwhile is planned by the usual path, after the staged runs).
 */
const STAGED_VALID_MS = 50;

/** Longest wait in stop() for the publish in flight (see stop()). A healthy publish takes milliseconds. */
export const STOP_WAIT_MS = 5000;

export class Runner {
  private readonly heap = new MinHeap<EntryRuntime>();
  private readonly entries: EntryRuntime[] = [];
  private timer: NodeJS.Timeout | undefined;
  private waitAgain: NodeJS.Immediate | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;
  private wakeAfterTick = false;
  private warming = false;
  private rehearsed = false;
  private staged: Staged | undefined;
  private readonly batchSize: number;
  private readonly maxSlots: number;
  private pausedNames: ReadonlySet<string> = new Set();
  /** When the loop last woke up (performance.now(), immune to clock steps), for the health check; 0 before the first. */
  lastWakeMs = 0;

  constructor(private readonly options: RunnerOptions) {
    this.batchSize = options.batchSize ?? DEFAULT_BATCH;
    this.maxSlots = options.maxSlotsPerTick ?? 10_000;
  }

  /** Loads the stored state and starts the loop. */
  async start(): Promise<void> {
    const { config, clock, state } = this.options;
    const enabled = config.entries.filter((e) => e.enabled);
    const stored = await state.load(
      enabled.map((e) => e.name),
      clock.now(),
    );
    const now = clock.now();
    const lost: string[] = [];
    for (const entry of enabled) {
      const s: EntryState | undefined = stored.get(entry.name);
      let cursorMs = s?.slotMs ?? s?.seenMs ?? now;
      let lastRunMs = s?.slotMs;
      const knownMs = this.options.knownRuns?.get(entry.name);
      if (knownMs !== undefined && (lastRunMs === undefined || lastRunMs < knownMs)) {
        // Re-anchoring at now would drop the slots of the outage whatever the catch-up policy and
        // shift an interval's phase; what this instance saw published is a better history.
        lost.push(entry.name);
        cursorMs = lastRunMs = knownMs;
      }
      // Slots that passed while the entry was paused stay skipped across restarts and failovers.
      if (s?.resumedAtMs !== undefined) cursorMs = skipThrough(entry.schedule, entry.timezone, cursorMs, s.resumedAtMs);
      const runtime: EntryRuntime = {
        key: 0,
        heapIndex: -1,
        entry,
        template: undefined,
        idPrefix: undefined,
        cursorMs,
        lastRunMs,
        nextSlotMs: undefined,
        paused: this.pausedNames.has(entry.name),
      };
      this.entries.push(runtime);
      if (runtime.paused) continue;
      // Due at once if a slot was missed while no one led; `planDue` then applies the catch-up policy.
      this.schedule(runtime, this.nextSlotAfter(runtime, cursorMs));
    }
    if (lost.length > 0) {
      this.options.logger.warn(
        { event: EVENTS.stateLost, entries: lost.length, examples: lost.slice(0, 5) },
        'the stored state is missing or older than the runs this instance saw published (Redis lost data: a restart without persistence, a flush, or a failover to a lagging replica); continuing from the last runs this instance knew',
      );
      (this.options.events ?? NO_EVENTS).stateLost(lost);
    }
    this.running = true;
    this.options.logger.info({ event: EVENTS.start, entries: enabled.length, disabled: config.entries.length - enabled.length }, 'scheduling');
    this.wake(0);
  }

  private plan(runtime: EntryRuntime, nowMs: number): DuePlan {
    const { entry } = runtime;
    return planDue(
      { schedule: entry.schedule, zone: entry.timezone, catchUp: entry.catchUp, catchUpWindowMs: entry.catchUpWindowMs },
      runtime.cursorMs,
      nowMs,
      // The jitter delays a slot on purpose: that delay is not lateness. Without it in the grace, an
      // entry with catchUp "skip" and a jitter above the grace skipped every slot it delayed.
      { graceMs: Math.max(1000, this.options.config.maxIntervalMs) + entry.jitterMs, maxSlots: this.maxSlots, nextSlotMs: runtime.nextSlotMs },
    );
  }

  private schedule(runtime: EntryRuntime, nextSlotMs: number | undefined): void {
    runtime.nextSlotMs = nextSlotMs;
    if (nextSlotMs === undefined || runtime.paused) {
      this.heap.remove(runtime);
      return;
    }
    this.heap.update(runtime, nextSlotMs + jitterFor(runtime.entry.name, nextSlotMs, runtime.entry.jitterMs));
  }

  /**
   * Applies the paused set. A paused entry leaves the heap; a resumed one continues from its next
   * slot after now: the slots that passed while it was paused are skipped (that is what pausing means).
   */
  setPaused(paused: ReadonlySet<string>): void {
    // Called every second by the control loop: with nothing changed, touch nothing (a walk over
    // 100,000 entries a second is most of an idle scheduler's CPU).
    if (paused.size === this.pausedNames.size && [...paused].every((name) => this.pausedNames.has(name))) return;
    this.pausedNames = paused;
    const now = this.options.clock.now();
    for (const runtime of this.entries) {
      const shouldPause = paused.has(runtime.entry.name);
      if (shouldPause === runtime.paused) continue;
      runtime.paused = shouldPause;
      if (shouldPause) {
        this.heap.remove(runtime);
        this.options.logger.info({ event: EVENTS.pause, entry: runtime.entry.name }, 'paused');
      } else {
        runtime.cursorMs = skipThrough(runtime.entry.schedule, runtime.entry.timezone, runtime.cursorMs, now);
        this.schedule(runtime, this.nextSlotAfter(runtime, runtime.cursorMs));
        this.options.logger.info({ event: EVENTS.resume, entry: runtime.entry.name }, 'resumed');
        this.wake(0);
      }
    }
  }

  /** The last slot known published of every entry that has one: `knownRuns` for the next session. */
  lastRuns(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.entries) if (r.lastRunMs !== undefined) out.set(r.entry.name, r.lastRunMs);
    return out;
  }

  /** Every entry's next slot and paused flag, for metrics and status. */
  *snapshot(): Generator<{ name: string; nextSlotMs: number | undefined; paused: boolean }> {
    for (const r of this.entries) yield { name: r.entry.name, nextSlotMs: r.paused ? undefined : r.nextSlotMs, paused: r.paused };
  }

  /**
   * Stops the loop after the dispatch in flight (if any) has finished, waiting for it at most
   * STOP_WAIT_MS. A dispatch on a connection that went silent (black-holed, not closed) may never
   * settle; waiting for it without a bound wedged every later leadership change behind this stop
   * and kept SIGTERM from ever finishing. Not waiting longer is safe: if that publish does reach
   * Redis later, the fence and the per-slot check in the script still decide, as for any deposed leader.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.clearTimers();
    this.discardStaged();
    const inFlight = this.inFlight;
    if (inFlight === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      inFlight.then(
        () => false,
        () => false,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (gaveUp) {
      this.options.logger.warn({ event: EVENTS.tickError, waitedMs: STOP_WAIT_MS }, 'the publish in flight has not finished; stopping without it (the fence still guards it)');
    }
  }

  /**
   * Schedules the next tick. Ticks never overlap: a wake-up asked for while one runs (a resume, say)
   * is remembered and honoured as soon as it ends.
   */
  private wake(delayMs: number): void {
    if (!this.running) return;
    if (this.inFlight !== undefined) {
      this.wakeAfterTick = true;
      return;
    }
    this.clearTimers();
    const dueMs = this.options.clock.now() + Math.max(0, delayMs);
    // Waking for a due entry (not for the maxInterval re-check), a timer armed timerLeadMs early
    // hands over to fire(), which waits for the exact instant.
    const top = this.heap.peek();
    const lead = top !== undefined && top.key <= dueMs ? (this.options.timerLeadMs ?? 0) : 0;
    // Never fire() synchronously from here: a tick that ends at once (not leading, say) would wake
    // again from its own continuation, a microtask loop that starves the timers (the lock watchdog
    // among them) for good.
    if (lead > 0 && delayMs <= lead) this.fireSoon(dueMs);
    else {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.fire(lead > 0 ? dueMs : Number.NEGATIVE_INFINITY);
      }, Math.max(0, delayMs - lead));
    }
    if (delayMs > 0) this.warmUp(delayMs);
  }

  /**
   * Runs the tick once the clock reaches `dueMs`. A Node timer fires up to about a millisecond
   * late, or a little early by its loop's cached clock, and a second timer after an early one costs
   * one or two milliseconds more: so the timer is armed timerLeadMs early and the rest is waited
   * here (waitFor), which publishes a due slot within a fraction of a millisecond of its instant.
   */
  private fire(dueMs: number): void {
    if (!this.running) return;
    if (!this.waitFor(dueMs)) {
      // The clock did not get there in time. Stepped back (NTP): the instant is as far again as
      // the step, so back to timers, never longer than maxInterval (a further step is then seen);
      // a clock just short of it (a test's clock) is looked at again after a turn of the event loop.
      const left = dueMs - this.options.clock.now();
      if (left > (this.options.timerLeadMs ?? 0)) this.wake(Math.min(left, this.options.config.maxIntervalMs));
      else this.fireSoon(dueMs);
      return;
    }
    this.inFlight = this.tick().then(
      (nextDelay) => {
        this.inFlight = undefined;
        const again = this.wakeAfterTick;
        this.wakeAfterTick = false;
        this.wake(again ? 0 : nextDelay);
      },
      () => {
        this.inFlight = undefined;
      },
    );
  }

  /**
   * Blocks until the clock reads `dueMs`, for at most the timer lead and a millisecond (for an early
   * timer) of real time, measured on the monotonic clock: a wall clock stepped back during the wait
   * would otherwise hold the loop (no timer, no renewal, no signal) until it had made up the step.
   * True if it got there. It sleeps in Atomics.wait rather than spinning: a
   * spin on the clock allocated a boxed number per look (~250 KB a wait, so a young-generation
   * collection during nearly every publish of an entry due every second), and going round the event
   * loop instead (setImmediate) allocated twice as much. Each sleep ends within ~0.1 ms of its
   * timeout, which is then how late after its instant a slot may be published.
   */
  private waitFor(dueMs: number): boolean {
    const { clock } = this.options;
    const lead = this.options.timerLeadMs ?? 0;
    const giveUpAt = performance.now() + lead + 1;
    let primed = false;
    for (let now = clock.now(); now < dueMs; now = clock.now()) {
      if (performance.now() > giveUpAt) return false;
      if (dueMs - now > EDGE_MS) {
        // Whole milliseconds to go are slept in one piece, up to the edge.
        Atomics.wait(SLEEP_CELL, 0, 0, Math.min(dueMs - now - EDGE_MS, lead));
      } else if (!primed) {
        primed = true;
        this.primeFor(dueMs);
      } else {
        // The edge in short sleeps, watching for the instant.
        Atomics.wait(SLEEP_CELL, 0, 0, EDGE_SLEEP_MS);
      }
    }
    return true;
  }

  /**
   * At the edge of an instant (EDGE_MS), the dispatch of the runs due then is staged: planned,
   * rendered and encoded, so that the instant is left only the write (stageFor). Where it cannot be
   * (too many runs, a template not compiled yet, bindings to read, not leading), a rehearsal of a
   * few of them (rendered and encoded, not sent) at least brings the publish path's code and data
   * back into the CPU's caches, where an entry due every second otherwise finds them cold after a
   * second of other processes (~0.55 → ~0.33 ms from the instant to the bytes on the socket).
   */
  private primeFor(dueMs: number): void {
    if (this.stageFor(dueMs)) return;
    const rehearseRuns = this.options.dispatcher.rehearse?.bind(this.options.dispatcher);
    if (rehearseRuns === undefined) return;
    const runs: DueRun[] = [];
    for (const runtime of this.heap.upTo(dueMs, PRIME_RUNS)) {
      if (runtime.template === undefined) continue;
      const run = this.rehearsalRun(runtime, runtime.nextSlotMs ?? dueMs, dueMs);
      if (run !== undefined) runs.push(run);
    }
    if (runs.length > 0) rehearseRuns(runs);
  }

  /**
   * Stages the dispatch of every run due at `dueMs` (at most PRIME_RUNS of them): planned for that
   * instant, rendered with it as "now", encoded with the current lease. runDue() sends it if nothing
   * changed meanwhile (takeStaged) and discards it otherwise. The Lua script checks the fence and
   * each slot when it runs, as for any dispatch. True if staged.
   */
  private stageFor(dueMs: number): boolean {
    this.discardStaged();
    const stage = this.options.dispatcher.stage?.bind(this.options.dispatcher);
    const token = this.options.lease();
    if (stage === undefined || token === undefined) return false;
    const due = this.heap.upTo(dueMs, PRIME_RUNS + 1);
    if (due.length === 0 || due.length > PRIME_RUNS) return false;
    const entries: Staged['entries'][number][] = [];
    const batch = emptyBatch();
    for (const runtime of due.sort((a, b) => a.key - b.key)) {
      if (runtime.template === undefined) return false;
      const plan = this.plan(runtime, dueMs);
      // An entry that skips its slot (late with catchUp "skip") only moves on: the usual path does that.
      if (plan.slots.length === 0 || batch.runs.length + plan.slots.length > PRIME_RUNS) return false;
      entries.push({ runtime, key: runtime.key, cursorMs: runtime.cursorMs, plan });
      for (const slotMs of plan.slots) {
        const run = this.rehearsalRun(runtime, slotMs, dueMs);
        if (run === undefined) return false;
        addRun(batch, runtime, run);
      }
    }
    const dispatch = stage(batch.runs, token, dueMs);
    if (dispatch === undefined) return false;
    this.staged = { dueMs, token, entries, batch, dispatch };
    return true;
  }

  /** The staged dispatch if it may be sent now with `token`; otherwise discards it. Clears it either way. */
  private takeStaged(token: string, now: number): Staged | undefined {
    const staged = this.staged;
    this.staged = undefined;
    if (staged === undefined) return undefined;
    const unchanged =
      staged.token === token &&
      now >= staged.dueMs &&
      now - staged.dueMs <= STAGED_VALID_MS &&
      staged.entries.every(({ runtime, key, cursorMs }) => this.heap.has(runtime) && !runtime.paused && runtime.key === key && runtime.cursorMs === cursorMs) &&
      // Nothing else came due at the instant since (a resumed entry, say): it would go first.
      this.heap.upTo(staged.dueMs, staged.entries.length + 1).length === staged.entries.length;
    if (unchanged) return staged;
    staged.dispatch.discard();
    return undefined;
  }

  private discardStaged(): void {
    this.staged?.dispatch.discard();
    this.staged = undefined;
  }

  /** fire() on the next turn of the event loop, after timers and I/O. */
  private fireSoon(dueMs: number): void {
    this.waitAgain = setImmediate(() => {
      this.waitAgain = undefined;
      this.fire(dueMs);
    });
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waitAgain) clearImmediate(this.waitAgain);
    this.waitAgain = undefined;
  }

  /**
   * While the loop sleeps, compiles the message templates of the entries due before it wakes up
   * plus DEFAULTS.templateWarmAheadMs, so that their first runs (a burst of thousands at the top of
   * the hour, say) only render. In slices of about templateWarmSliceMs between which timers run: a
   * due tick waits at most one slice. A slice that finds a tick running stops the pass; whatever it
   * did not compile is compiled at the entry's first run, as without it.
   */
  private warmUp(sleepMs: number): void {
    if (this.warming) return;
    const todo = this.heap.upTo(this.options.clock.now() + sleepMs + DEFAULTS.templateWarmAheadMs).filter((r) => r.template === undefined);
    if (todo.length === 0) return;
    this.warming = true;
    let next = 0;
    const slice = (): void => {
      const until = performance.now() + DEFAULTS.templateWarmSliceMs;
      while (next < todo.length && this.running && this.inFlight === undefined && performance.now() < until) {
        try {
          this.templateOf(todo[next] as EntryRuntime);
        } catch {
          // An entry whose message cannot be built fails its first run, which reports it.
        }
        next += 1;
      }
      const go = this.running && this.inFlight === undefined;
      if (next < todo.length && go) setImmediate(slice);
      else if (go && !this.rehearsed) this.rehearse(todo.filter((r) => r.template !== undefined));
      else this.warming = false;
    };
    setImmediate(slice);
  }

  /**
   * Once per runner, after a warm-up pass: plans, renders and encodes DEFAULTS.rehearsalRuns runs of
   * the entries just compiled, without sending anything (Dispatcher.rehearse), in slices between
   * turns of the event loop. Without it the first batch of a burst ran in V8's interpreter: the first
   * message of 1,000 due at once left ~50 ms after the instant, the rest within 10 ms more.
   */
  private rehearse(sample: readonly EntryRuntime[]): void {
    const rehearseRuns = this.options.dispatcher.rehearse?.bind(this.options.dispatcher);
    const stageRuns = this.options.dispatcher.stage?.bind(this.options.dispatcher);
    if (sample.length === 0 || rehearseRuns === undefined) {
      this.warming = false;
      return;
    }
    let done = 0;
    let alone = 0;
    const nextRun = (now: number): DueRun | undefined => {
      const runtime = sample[(done + alone) % sample.length] as EntryRuntime;
      return this.rehearsalRun(runtime, this.plan(runtime, runtime.nextSlotMs ?? now).slots[0] ?? now, now);
    };
    const slice = (): void => {
      if (!this.running || this.inFlight !== undefined) {
        this.warming = false;
        return;
      }
      const now = this.options.clock.now();
      // Planning and rendering for about one slice, then encoding as much: a due tick waits little.
      const until = performance.now() + DEFAULTS.templateWarmSliceMs;
      if (done < DEFAULTS.rehearsalRuns) {
        const runs: DueRun[] = [];
        for (; done < DEFAULTS.rehearsalRuns && runs.length < this.batchSize && (runs.length === 0 || performance.now() < until); done += 1) {
          const run = nextRun(now);
          if (run !== undefined) runs.push(run);
        }
        rehearseRuns(runs);
      } else if (stageRuns !== undefined) {
        // Then runs staged one by one and discarded, as at the edge of a lone entry's instant: that
        // path gets optimized now. Left to the entry's own runs, V8 compiled it during their first
        // minute, on the other core of two, and three runs in sixty went out ~2.5 ms late.
        for (; alone < DEFAULTS.loneRehearsalRuns && performance.now() < until; alone += 1) {
          const run = nextRun(now);
          if (run !== undefined) stageRuns([run], 'rehearsal', now)?.discard();
        }
      }
      if (done < DEFAULTS.rehearsalRuns || (stageRuns !== undefined && alone < DEFAULTS.loneRehearsalRuns)) setImmediate(slice);
      else {
        this.rehearsed = true;
        this.warming = false;
      }
    };
    setImmediate(slice);
  }


  /** A run rendered for a rehearsal, or undefined if it cannot be: its real run will report why. */
  private rehearsalRun(runtime: EntryRuntime, slotMs: number, now: number): DueRun | undefined {
    try {
      return this.renderRun(runtime, slotMs, now);
    } catch {
      return undefined;
    }
  }

  private renderRun(runtime: EntryRuntime, slotMs: number, now: number): DueRun {
    const message = renderTaskMessage(this.templateOf(runtime), { taskId: slotTaskId(this.options.config.name, runtime.entry.name, slotMs, runtime.idPrefix), slotMs, nowMs: now });
    return { entry: runtime.entry, slotMs, message };
  }

  private templateOf(runtime: EntryRuntime): MessageTemplate {
    if (runtime.template === undefined) {
      runtime.template = compileMessageTemplate(runtime.entry, this.options.config, this.options.messageEnv);
      runtime.idPrefix = slotIdPrefix(this.options.config.name, runtime.entry.name);
      this.options.dispatcher.prepare?.(runtime.template);
    }
    return runtime.template;
  }

  /** One wake-up: run what is due; returns how long to sleep (until the next due instant, at most maxInterval). */
  private async tick(): Promise<number> {
    this.lastWakeMs = performance.now();
    let delay = this.options.config.maxIntervalMs;
    let failed = false;
    try {
      const token = this.options.lease();
      if (token !== undefined) delay = await this.runDue(token);
    } catch (error) {
      this.options.logger.error({ event: EVENTS.tickError, err: error }, 'publishing failed; retrying');
      delay = ERROR_BACKOFF_MS;
      failed = true;
    }
    // After a failure the runs it left due sit at the top of the heap with a key of "now": letting
    // them shorten the sleep retried at once, in a hot loop, for as long as Redis was down. The
    // backoff wins then, and it is not capped by maxInterval either.
    const next = this.heap.peek();
    if (!failed && next !== undefined) delay = Math.min(delay, next.key - this.options.clock.now());
    return failed ? delay : Math.min(delay, this.options.config.maxIntervalMs);
  }

  /**
   * Takes due entries off the heap until about `batchSize` runs are planned, and renders them. An
   * entry's runs always stay in one batch, and an entry is back on the heap only once its batch is
   * recorded, so one entry is never in two batches in flight.
   */
  private takeBatch(now: number): Batch {
    const batch = emptyBatch();
    for (let top = this.heap.peek(); top !== undefined && top.key <= now && batch.runs.length < this.batchSize; top = this.heap.peek()) {
      this.heap.remove(top);
      const plan = this.plan(top, now);
      this.logMissed(top, plan);
      if (plan.slots.length === 0) {
        top.cursorMs = plan.cursorMs;
        this.schedule(top, plan.nextSlotMs);
        continue;
      }
      for (const slotMs of plan.slots) addRun(batch, top, this.renderRun(top, slotMs, now));
    }
    return batch;
  }

  /**
   * Publishes every due run, batch by batch, with up to DEFAULTS.dispatchMaxInFlight batches awaiting their reply:
   * while Redis runs one batch's script, the next is encoded and sent and the one after planned.
   * The bookkeeping of published batches (cursors, next slots, the log line and metrics of each
   * run) waits until the last batch is answered: in a burst the process is CPU-bound, and every
   * microsecond spent there would delay the messages still to go. Meanwhile only the runs' slots
   * and ids are kept, not their messages: messages kept for the whole burst were copied by every
   * young-generation collection and promoted, which made garbage collection a third of a burst.
   * Returns how long to sleep at most.
   */
  private async runDue(token: string): Promise<number> {
    const now = this.options.clock.now();
    type Reply = { result: DispatchResult } | { error: unknown };
    const published: { sent: SentBatch; outcomes: readonly RunOutcome[] }[] = [];
    // A batch that is not published (not leading any more, fenced, or the broker failed) leaves its
    // entries due at once: the next wake-up as leader plans them again from their unchanged cursor.
    let halted: { reason: 'lease' | 'fenced' | 'ahead' } | { reason: 'error'; error: unknown } | undefined;
    const keepDue = (runtimes: readonly EntryRuntime[]): void => {
      for (const runtime of runtimes) this.retryAt(runtime, now);
    };
    const settle = (sent: SentBatch, outcome: Reply): void => {
      if ('error' in outcome) {
        halted ??= { reason: 'error', error: outcome.error };
        keepDue(sent.runtimes);
      } else if (outcome.result.fenced) {
        if (halted === undefined) {
          this.options.logger.warn({ event: EVENTS.fenced }, 'another instance holds the fence; nothing was published');
          this.options.onFenced();
        }
        halted = { reason: 'fenced' };
        keepDue(sent.runtimes);
      } else if ('ahead' in outcome.result) {
        if (halted === undefined) this.clockAhead(outcome.result.ahead);
        halted = { reason: 'ahead' };
        keepDue(sent.runtimes);
      } else {
        published.push({ sent, outcomes: outcome.result.outcomes });
        // Some runs went out and were recorded, others did not (AMQP): the first are logged and
        // counted as published, the second kept due (record), and the wake-up ends as a failure, so
        // that they are tried again after the backoff and what failed is logged.
        if (outcome.result.failure !== undefined) halted ??= { reason: 'error', error: outcome.result.failure };
      }
    };
    const inFlight: { sent: SentBatch; reply: Promise<Reply> }[] = [];
    const replyOf = (result: Promise<DispatchResult>): Promise<Reply> =>
      result.then(
        (result): Reply => ({ result }),
        (error: unknown): Reply => ({ error }),
      );
    const staged = this.takeStaged(token, now);
    if (staged !== undefined) {
      // Sent first, before anything else is looked at: this is what staging was for.
      const reply = replyOf(staged.dispatch.send());
      inFlight.push({ sent: sentPart(staged.batch), reply });
      for (const { runtime, plan } of staged.entries) {
        this.heap.remove(runtime);
        this.logMissed(runtime, plan);
      }
    }
    for (let batch = this.takeBatch(now); batch.runs.length > 0; batch = this.takeBatch(now)) {
      // A window of scripts in flight: Redis runs one while the next is encoded and sent. With one
      // at a time, Redis sat idle while each batch was encoded.
      const oldest = inFlight.length >= DEFAULTS.dispatchMaxInFlight ? inFlight.shift() : undefined;
      if (oldest) settle(oldest.sent, await oldest.reply);
      if (halted === undefined && this.options.lease() !== token) halted = { reason: 'lease' };
      if (halted !== undefined) {
        keepDue(batch.runtimes);
        break;
      }
      const sent = sentPart(batch);
      inFlight.push({ sent, reply: replyOf(this.options.dispatcher.dispatch(batch.runs, token, this.options.clock.now())) });
      // Let the dispatcher finish writing this batch (its steps after the first await run as
      // microtasks) before planning the next one.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const { sent, reply } of inFlight) settle(sent, await reply);
    for (const { sent, outcomes } of published) this.record(sent, outcomes, now);
    if (halted?.reason === 'error') throw halted.error;
    return this.options.config.maxIntervalMs;
  }

  /** The script refused a slot ahead of Redis's clock: nothing of the batch went out. */
  private clockAhead(ahead: SlotAhead): void {
    this.options.logger.error(
      { event: EVENTS.clockAhead, slot: new Date(ahead.slotMs).toISOString(), redisTime: new Date(ahead.redisMs).toISOString(), aheadMs: ahead.slotMs - ahead.redisMs },
      `refused to publish a slot ${ahead.slotMs - ahead.redisMs} ms ahead of the Redis server's clock (more than lock.maxClockSkew): the local clock is ahead; nothing was published. Synchronise the clock (NTP).`,
    );
    this.options.onClockAhead?.(ahead);
  }

  /** Keeps an entry due at `atMs` without moving its cursor (its runs were not published). */
  private retryAt(runtime: EntryRuntime, atMs: number): void {
    if (!runtime.paused) this.heap.update(runtime, atMs);
  }

  private nextSlotAfter(runtime: EntryRuntime, afterMs: number): number | undefined {
    const { entry } = runtime;
    return nextFires(entry.schedule, { zone: entry.timezone, afterMs, anchorMs: runtime.cursorMs }, 1)[0];
  }

  private record(sent: SentBatch, outcomes: readonly RunOutcome[], now: number): void {
    const touched = new Set<EntryRuntime>();
    /** Entries with a run that was not sent: due again from their cursor, which stays before it. */
    let unsent: Set<EntryRuntime> | undefined;
    // A burst is mostly runs of one slot in one zone: format it once.
    let last = { ms: Number.NaN, zone: '', text: '' };
    const slotText = (ms: number, zone: string): string => {
      if (ms !== last.ms || zone !== last.zone) last = { ms, zone, text: formatInstant(ms, zone) };
      return last.text;
    };
    sent.runtimes.forEach((runtime, i) => {
      const outcome = outcomes[i];
      if (outcome === 'unsent') {
        (unsent ??= new Set()).add(runtime);
        return;
      }
      const slotMs = sent.slots[i] as number;
      const id = sent.ids[i] as string;
      const { entry } = runtime;
      // Rendered, so compiled: the template is there.
      const destination = (runtime.template as MessageTemplate).destination;
      runtime.cursorMs = Math.max(runtime.cursorMs, slotMs);
      runtime.lastRunMs = Math.max(runtime.lastRunMs ?? slotMs, slotMs);
      touched.add(runtime);
      const fields = {
        entry: entry.name,
        task: entry.task,
        queue: destination.declareQueue ?? destination.routingKey,
        exchange: destination.exchange === '' ? undefined : destination.exchange,
        slot: slotText(slotMs, entry.timezone),
        id,
      };
      if (outcome === 'published') {
        const lateness = now - slotMs;
        this.options.logger.info({ event: EVENTS.fire, ...fields, latenessMs: lateness }, this.options.dispatcher.dryRun === true ? 'would publish (dry run: not published)' : 'published');
        (this.options.events ?? NO_EVENTS).published({ entry, slotMs, id, destination }, lateness);
      } else if (outcome === 'stale') {
        this.options.logger.info({ event: EVENTS.stale, ...fields }, 'already published; not sent again');
      }
    });
    for (const runtime of touched) if (unsent?.has(runtime) !== true) this.schedule(runtime, this.nextSlotAfter(runtime, runtime.cursorMs));
    if (unsent !== undefined) for (const runtime of unsent) this.retryAt(runtime, now);
  }

  private logMissed(runtime: EntryRuntime, plan: DuePlan): void {
    // A replay (catchUp "all") misses nothing but fires several slots at once: operators must see
    // that too, or a burst of late runs after downtime goes unexplained in the log.
    if (plan.missed === 0 && plan.slots.length <= 1) return;
    const { entry } = runtime;
    const fields = {
      entry: entry.name,
      task: entry.task,
      missed: plan.missed,
      reason: plan.missedReason,
      policy: entry.catchUp,
    };
    if (plan.slots.length === 0) {
      this.options.logger.info({ event: EVENTS.skip, ...fields }, 'missed slots skipped; waiting for the next one');
    } else {
      this.options.logger.info(
        { event: EVENTS.catchUp, ...fields, firing: plan.slots.length },
        entry.catchUp === 'all' ? 'replaying missed slots' : 'overdue: firing once for the missed slots',
      );
    }
  }
}
