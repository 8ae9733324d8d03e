/**
 * The status of a deployment, as `/status` and `beat status` show it: who leads, and every entry
 * as its view (control/entry-view-schema.ts). Pure: the caller reads Redis.
 */
import { deploymentStopView } from './deployment-stop.js';
import type { DeploymentStop, DeploymentStopView } from './deployment-stop.js';
import type { ConfigProblem } from '../base/errors.js';
import { entryWindow } from '../config/resolve.js';
import { isFinished } from '../config/max-runs.js';
import { describeCanvas } from '../config/canvas-words.js';
import type { EntryOrigin, ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { ConfigFingerprint } from './fingerprint.js';
import { describeSchedule, nextFires, skipThrough } from '../core/schedule.js';
import { formatInstant } from '../time/zone.js';
import type { EntryState } from '../ports/state.js';
import type { EntryFailure } from '../ports/events.js';
import type { FinishedRuns, RunRecord } from '../ports/outcomes.js';
import { runView } from './run-view.js';
import type { RunView } from './run-view.js';
import { replicaStatuses } from './replicas.js';
import type { ControlNote } from './notes.js';
import type { LiveReplica, ReplicaStatus } from './replicas.js';
import { isScheduleError } from '../base/step-budget.js';
import { queueOf } from '../celery/routing.js';
import type { UnconsumedQueue } from '../ports/consumers.js';
import type { OutboxPending } from '../ports/alerts.js';
import type { Labels } from '../core/labels.js';
import type { EntryView } from './entry-view-schema.js';

/** The labels of an entry without any, shared by every such row. */
const NO_LABELS: Labels = Object.freeze({});

/** Why an entry was paused: `by` "user" (`beat pause --note`, the API) or "pauseOnFailure". */
export interface PauseNote {
  readonly note: string;
  readonly by: string;
  readonly atMs: number;
}

export interface LeaderInfo {
  readonly instance: string;
  readonly sinceMs: number;
  /** The config the leader runs (absent for a leader that published none). */
  readonly fingerprint?: ConfigFingerprint;
}

/**
 * The STATE column of `beat status`: disabled, "finished: ran 3 of 3 times", paused, FAILING (its runs
 * refused: see `failing`), "UNCONSUMED: no worker consumes queue reports" (see `unconsumed`), ended
 * (past endAt), or active.
 */
export function entryStateText(e: EntryView): string {
  if (!e.enabled) return 'disabled';
  if (e.finished) {
    const manual = e.manualRuns > 0 ? `, and ${e.manualRuns} manual run${e.manualRuns === 1 ? '' : 's'}` : '';
    return `finished: ran ${e.runCount - e.manualRuns} of ${String(e.maxRuns)} time${e.maxRuns === 1 ? '' : 's'}${manual}`;
  }
  if (e.paused) return e.pauseNote === null ? 'paused' : `paused (${e.pauseNote.by}: ${e.pauseNote.note})`;
  if (e.failing !== null) return 'FAILING';
  if (e.unconsumed !== null) return `UNCONSUMED: ${e.unconsumed.reason}`;
  if (e.nextRun === null && e.endAt !== null) return `ended (endAt ${e.endAt})`;
  return 'active';
}

export interface DeploymentStatus {
  readonly deployment: string;
  readonly now: string;
  /** This process: a running instance, or the CLI asking. */
  readonly self: { readonly instance: string; readonly role: 'leader' | 'standby' | 'cli' };
  /** The instance holding the lock, or null when none does. */
  readonly leader: { readonly instance: string; readonly since: string } | null;
  /**
   * The deployment-wide stop (`beat pause --all`): who, since when, the note. Present only while it
   * is set: then no replica publishes anything.
   */
  readonly stopped?: DeploymentStopView;
  /** Every `beat run` whose heartbeat counts (the registry), the leader (the lock's) first, then the standbys. */
  readonly replicas: readonly ReplicaStatus[];
  /**
   * What keeps this deployment from working as configured, each with its fix: a config that
   * differs from the leader's, a lock key tsbeat did not write.
   */
  readonly warnings: readonly string[];
  /** The config file's entries, then the runtime entries in force (by name). */
  readonly entries: readonly EntryView[];
  /** Runtime entries that do not run, and why (invalid, or a name another entry takes). */
  readonly entryProblems: readonly RuntimeEntryProblem[];
  /** Each concurrency group (config/concurrency.ts), when an entry has one: its limit, runs in flight and waiting. */
  readonly groups?: readonly GroupStatus[];
  /**
   * The alerts not yet taken by their receivers (the outbox, ports/alerts.ts), and when the leader
   * next tries the first of them (UTC); absent when the outbox was not read (its key held another type: see warnings).
   */
  readonly alertOutbox?: { readonly pending: number; readonly nextAttemptAt: string | null };
}

/** A concurrency group as `beat status` shows it. */
export interface GroupStatus {
  readonly group: string;
  /** The smallest limit its entries say (beat check refuses two in a config file). */
  readonly limit: number;
  /** Its entries' runs published and not final, from their histories. */
  readonly running: number;
  /** Its runs waiting for a place (the waiting zset). */
  readonly waiting: number;
  readonly entries: number;
}

/** A runtime entry that does not run (src/runtime/entry-catalog.ts's EntryProblem). */
export interface RuntimeEntryProblem {
  readonly name: string;
  readonly origin: EntryOrigin;
  readonly problems: readonly ConfigProblem[];
}

export interface StatusInput {
  readonly config: ResolvedConfig;
  readonly states: ReadonlyMap<string, EntryState>;
  readonly paused: ReadonlySet<string>;
  readonly leader: LeaderInfo | undefined;
  readonly self: DeploymentStatus['self'];
  readonly nowMs: number;
  /** The live records of the replicas registry. */
  readonly replicas?: readonly LiveReplica[];
  readonly warnings?: readonly string[];
  /** The deployment-wide stop, if it is set. */
  readonly stop?: DeploymentStop | undefined;
  /** The runtime entries in force, and those that do not run. */
  readonly runtime?: { readonly entries: readonly ResolvedEntry[]; readonly problems: readonly RuntimeEntryProblem[] };
  /** Each entry's newest run from its history (run outcomes); absent without a resultBackend or taskEvents. */
  readonly outcomes?: ReadonlyMap<string, RunRecord>;
  /** Each entry's finished runs at a glance (run outcomes); absent without them. */
  readonly finished?: ReadonlyMap<string, FinishedRuns>;
  /** Why paused entries were paused. */
  readonly pauseNotes?: ReadonlyMap<string, PauseNote>;
  /** The last note given with an action on each entry. */
  readonly notes?: ReadonlyMap<string, ControlNote>;
  /** The entries whose runs the leader finds refused because of the entry alone. */
  readonly failing?: ReadonlyMap<string, EntryFailure>;
  /** The queues nobody consumes (the leader's consumer check), by queue name. */
  readonly unconsumed?: ReadonlyMap<string, UnconsumedQueue>;
  /** The alert outbox's pending deliveries. */
  readonly alertOutbox?: OutboxPending | undefined;
  /**
   * The leader's own next slots (its entry book), by name: null when the book has none (schedule run
   * out), undefined when the entry is not in the book; those it has are not computed again here.
   */
  readonly nextSlots?: (name: string) => number | null | undefined;
}

function unconsumedOf(queue: string, unconsumed: StatusInput['unconsumed']): EntryView['unconsumed'] {
  if (unconsumed === undefined || unconsumed.size === 0) return null;
  const q = unconsumed.get(queue);
  return q === undefined ? null : { queue: q.queue, reason: q.reason, since: formatInstant(q.sinceMs, 'UTC'), depth: q.depth ?? null };
}

function failingOf(failure: EntryFailure | undefined): EntryView['failing'] {
  if (failure === undefined) return null;
  const { reason, attempts } = failure;
  return { reason, since: formatInstant(failure.sinceMs, 'UTC'), attempts, retryAt: formatInstant(failure.retryAtMs, 'UTC') };
}

/** What the entry's last run was: its slot ('schedule'), a manual run ('trigger'), or none yet. */
export function lastRunBy(state: EntryState | undefined): EntryView['lastRunBy'] {
  if (state?.publishedAtMs === undefined) return null;
  // A publish time without a slot can only be a manual run's, whether or not the state marks it.
  return state.lastRunTriggered === true || state.slotMs === undefined ? 'trigger' : 'schedule';
}

const lastOutcome = (record: RunRecord | undefined, zone: string): RunView | null => (record === undefined ? null : runView(record, zone));

const pauseNoteView = (n: PauseNote | undefined, zone: string): EntryView['pauseNote'] =>
  n === undefined ? null : { note: n.note, by: n.by, at: formatInstant(n.atMs, zone) };

function noteView(n: ControlNote | undefined, zone: string): EntryView['lastNote'] {
  return n === undefined ? null : { action: n.action, note: n.note, by: n.by, at: formatInstant(n.atMs, zone) };
}

function finishedViews(
  finished: FinishedRuns | undefined,
  zone: string,
): Pick<EntryView, 'lastFinished' | 'lastSuccessAt' | 'lastFailureAt'> {
  return {
    lastFinished: finished === undefined ? null : runView(finished.last, zone),
    lastSuccessAt: finished?.lastSuccessMs === undefined ? null : formatInstant(finished.lastSuccessMs, zone),
    lastFailureAt: finished?.lastFailureMs === undefined ? null : formatInstant(finished.lastFailureMs, zone),
  };
}

/**
 * An entry's next slot as status shows it: none while disabled, paused or finished; the leader's
 * book's when `nextSlots` has it (not computed again), else from its last slot (or first sight).
 */
export function nextRunMs(
  entry: ResolvedEntry,
  state: EntryState | undefined,
  paused: boolean,
  nowMs: number,
  nextSlots?: StatusInput['nextSlots'],
): number | undefined {
  const finished = isFinished(entry, (state?.runCount ?? 0) - (state?.manualRuns ?? 0));
  if (!entry.enabled || paused || finished) return undefined;
  const booked = nextSlots?.(entry.name);
  if (booked !== undefined) return booked ?? undefined;
  const zone = entry.timezone;
  const window = entryWindow(entry);
  const lastOrSeen = state?.slotMs ?? state?.seenMs ?? nowMs;
  try {
    const anchor = state?.resumedAtMs === undefined ? lastOrSeen : skipThrough(entry.schedule, zone, lastOrSeen, state.resumedAtMs, window);
    return nextFires(entry.schedule, { zone, afterMs: anchor, anchorMs: anchor, window }, 1)[0];
  } catch (error) {
    // A schedule that cannot be computed has no next run to show; the leader's failure record says why.
    if (isScheduleError(error)) return undefined;
    throw error;
  }
}

export function buildStatus(input: StatusInput): DeploymentStatus {
  const { config, states, paused, nowMs } = input;
  const all = input.runtime === undefined ? config.entries : [...config.entries, ...input.runtime.entries];
  const entries = all.map((entry): EntryView => {
    const state = states.get(entry.name);
    const zone = entry.timezone;
    const isPaused = paused.has(entry.name);
    const runCount = state?.runCount ?? 0;
    const manualRuns = state?.manualRuns ?? 0;
    // Counted as the leader counts: scheduled runs only (see EntryBook.runs).
    const finished = isFinished(entry, runCount - manualRuns);
    const next = nextRunMs(entry, state, isPaused, nowMs, input.nextSlots);
    const queue = queueOf(entry.task, entry.options, config);
    return {
      name: entry.name,
      origin: entry.origin ?? 'file',
      labels: entry.labels ?? NO_LABELS,
      task: entry.task,
      canvas: describeCanvas(entry.canvas) ?? null,
      queue,
      schedule: describeSchedule(entry.schedule, zone),
      timezone: zone,
      enabled: entry.enabled,
      owner: entry.owner ?? null,
      paused: isPaused,
      pauseOnFailure: entry.pauseOnFailure ?? null,
      lastSlot: state?.slotMs === undefined ? null : formatInstant(state.slotMs, zone),
      lastPublishedAt: state?.publishedAtMs === undefined ? null : formatInstant(state.publishedAtMs, zone),
      lastTaskId: state?.lastTaskId ?? null,
      lastRunBy: lastRunBy(state),
      runCount,
      manualRuns,
      maxRuns: entry.maxRuns ?? null,
      finished,
      startAt: entry.startAtMs === undefined ? null : formatInstant(entry.startAtMs, zone),
      endAt: entry.endAtMs === undefined ? null : formatInstant(entry.endAtMs, zone),
      nextRun: next === undefined ? null : formatInstant(next, zone),
      lastOutcome: lastOutcome(input.outcomes?.get(entry.name), zone),
      ...finishedViews(input.finished?.get(entry.name), zone),
      pauseNote: pauseNoteView(isPaused ? input.pauseNotes?.get(entry.name) : undefined, zone),
      lastNote: noteView(input.notes?.get(entry.name), zone),
      failing: failingOf(input.failing?.get(entry.name)),
      unconsumed: unconsumedOf(queue, input.unconsumed),
    };
  });
  return {
    deployment: config.name,
    now: formatInstant(nowMs, 'UTC'),
    self: input.self,
    leader: input.leader ? { instance: input.leader.instance, since: formatInstant(input.leader.sinceMs, 'UTC') } : null,
    ...(input.stop === undefined ? {} : { stopped: deploymentStopView(input.stop) }),
    replicas: replicaStatuses(input.replicas ?? [], input.leader),
    warnings: input.warnings ?? [],
    entries,
    entryProblems: (input.runtime?.problems ?? []).map(({ name, origin, problems }) => ({
      name,
      origin,
      problems: problems.map(({ path, message }) => ({ path, message })),
    })),
    ...(input.alertOutbox === undefined
      ? {}
      : {
          alertOutbox: {
            pending: input.alertOutbox.count,
            nextAttemptAt: input.alertOutbox.nextDueMs === undefined ? null : formatInstant(input.alertOutbox.nextDueMs, 'UTC'),
          },
        }),
  };
}
