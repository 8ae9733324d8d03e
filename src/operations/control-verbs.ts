/**
 * The control verbs, once for every door (the CLI, /api, the dashboard, the TypeScript client):
 * pause, resume and trigger one entry, the entries a selector selected, or (pause and resume) the
 * whole deployment through its stop key. Each is one call of the control store's MULTI, which writes
 * the verb's audit event with the change; a run is published by the leader's fenced scripts, which
 * check the stop key in the step that publishes. Which entries a name or a selector means is the
 * door's to say (the CLI reads the config file and the sources, the service its catalog, the client
 * the store): a target here names entries already found.
 */
import { randomTaskId } from '../celery/task-id.js';
import { deploymentStopView } from '../control/deployment-stop.js';
import type { DeploymentStopView } from '../control/deployment-stop.js';
import type { ControlStore } from '../redis/control-store.js';
import type { TriggerRequest } from '../ports/control-source.js';
import type { Action, Grant, ScopedEntry } from '../core/grants.js';
import { auditBy, authorize, authorizeDeployment, forbidden, mayRead } from './operator.js';
import type { Operator } from './operator.js';

/** What the control verbs ask of the control store. */
export type ControlStores = Pick<
  ControlStore,
  | 'setPaused'
  | 'setPausedMany'
  | 'requestTriggers'
  | 'wasTriggered'
  | 'triggerRefusal'
  | 'cancelTrigger'
  | 'deploymentStop'
  | 'stopDeployment'
  | 'resumeDeployment'
>;

/**
 * One entry, or the entries `selector` (its text, for the audit event) selected. `scoped`: the
 * owner and labels of each entry the door found, which a caller's grants are decided on (needed
 * when the operator has grants; the CLI's has none and holds every role).
 */
export type EntryTarget =
  | { readonly entry: string; readonly scoped?: readonly ScopedEntry[] }
  | { readonly selector: string; readonly entries: readonly string[]; readonly scoped?: readonly ScopedEntry[] };
/** An entry, a selection, or the whole deployment (its stop: `beat pause --all`). */
export type ControlTarget = EntryTarget | { readonly all: true };

export interface EntryPauseAnswer {
  readonly entry: string;
  readonly paused: boolean;
  /** False: it already was. */
  readonly changed: boolean;
}
export interface SelectionPauseAnswer {
  readonly selector: string;
  readonly entries: readonly string[];
  /** The entries that were not already. */
  readonly changed: readonly string[];
  readonly paused: boolean;
}
/** The stop set (`changed` false: it already was), or lifted (`lifted` null: none was set). */
export type StopAnswer =
  | { readonly stopped: DeploymentStopView; readonly changed: boolean }
  | { readonly stopped: null; readonly lifted: DeploymentStopView | null };
export type PauseAnswer = EntryPauseAnswer | SelectionPauseAnswer | StopAnswer;

/** Pauses (`paused` true) or resumes an entry, a selection, or the deployment (its stop set or lifted). */
export async function setPaused(
  control: ControlStores,
  by: Operator,
  target: ControlTarget,
  paused: boolean,
  nowMs: number,
): Promise<PauseAnswer> {
  if ('all' in target) {
    // The stop touches every entry, whoever holds it: only a grant on the whole deployment allows it.
    const audit = auditBy(by, authorizeDeployment(by, 'administer'));
    if (paused) {
      const { stop, changed } = await control.stopDeployment(nowMs, audit);
      return { stopped: deploymentStopView(stop), changed };
    }
    const lifted = await control.resumeDeployment(nowMs, audit);
    return { stopped: null, lifted: lifted === undefined ? null : deploymentStopView(lifted) };
  }
  // Decided on the entries as the door found them: a label changed between that read and the MULTI
  // is not seen (pausing is not a change of the entry's definition, and the leader reads the flag only).
  const audit = auditBy(by, authorizeTarget(by, 'operate', target));
  if ('entry' in target) return { entry: target.entry, paused, changed: await control.setPaused(target.entry, paused, nowMs, audit) };
  const changed = await control.setPausedMany(target.entries, paused, nowMs, target.selector, audit);
  return { selector: target.selector, entries: target.entries, changed, paused };
}

/**
 * The grant that allows `action` on every entry of the target, all or nothing (a selection with one
 * entry outside the caller's scope is refused whole). A caller with grants whose door did not say
 * the entries' owners and labels is refused too: never allowed for want of knowing.
 */
export function authorizeTarget(by: Operator, action: Action, target: EntryTarget): Grant | undefined {
  if (by.grants === undefined) return undefined;
  const names = 'entry' in target ? [target.entry] : target.entries;
  const scoped = target.scoped ?? [];
  const known = new Map(scoped.map((s) => [s.name, s]));
  // An entry the door did not describe is decided as one with no owner and no labels: only a grant
  // on the whole deployment covers it.
  const entries = names.map((name) => known.get(name) ?? { name });
  // A selection reaching an entry the caller may not read is refused without naming it, its owner,
  // its labels or how many there are: the selector is the caller's, those entries are not.
  if ('selector' in target && entries.some((e) => !mayRead(by, e)))
    throw forbidden(by, `the selector "${target.selector}" selects entries outside the caller's read scope`);
  return authorize(by, action, entries);
}

/** A manual run queued for the leader: its task id, and its request's text (to withdraw it). */
export interface QueuedRun {
  readonly entry: string;
  readonly taskId: string;
  readonly text: string;
}

/** Queues one manual run of each entry of the target, in one MULTI with its audit (one event per run, or the selection's one). */
export async function queueTriggers(control: ControlStores, by: Operator, target: EntryTarget, nowMs: number): Promise<QueuedRun[]> {
  const grant = authorizeTarget(by, 'operate', target);
  const names = 'entry' in target ? [target.entry] : target.entries;
  const requests: TriggerRequest[] = names.map((entry) => ({
    entry,
    id: randomTaskId(),
    at: nowMs,
    ...(by.note === undefined ? {} : { note: by.note }),
  }));
  const texts = await control.requestTriggers(requests, 'entry' in target ? undefined : target.selector, auditBy(by, grant));
  return requests.map((r, i) => ({ entry: r.entry, taskId: r.id, text: texts[i] ?? JSON.stringify(r) }));
}

/** What became of a manual run: published, refused by the leader (with why), still queued, or withdrawn unpublished. */
export interface TriggerAnswer {
  readonly entry: string;
  readonly taskId: string;
  readonly state: 'published' | 'refused' | 'queued' | 'withdrawn';
  readonly refusal?: string;
}

const POLL_MS = 100;

/**
 * Waits up to `waitMs` (on the monotonic clock: a wall clock stepped back would stretch the wait)
 * for the leader to take each run. Those it did not take are withdrawn with `withdraw` (the CLI,
 * which fails then), else left queued for a leader to come (the page and the API answer 202).
 */
export async function awaitRuns(
  control: ControlStores,
  runs: readonly QueuedRun[],
  options: { readonly waitMs: number; readonly withdraw: boolean },
): Promise<TriggerAnswer[]> {
  const outcomes = new Map<string, TriggerAnswer>();
  const taken = async (run: QueuedRun): Promise<boolean> => {
    if (!(await control.wasTriggered(run.taskId))) return false;
    const refusal = await control.triggerRefusal(run.taskId);
    outcomes.set(
      run.taskId,
      refusal === undefined
        ? { entry: run.entry, taskId: run.taskId, state: 'published' }
        : { entry: run.entry, taskId: run.taskId, state: 'refused', refusal },
    );
    return true;
  };
  const deadline = performance.now() + options.waitMs;
  let waiting = [...runs];
  for (;;) {
    const still: QueuedRun[] = [];
    for (const run of waiting) if (!(await taken(run))) still.push(run);
    waiting = still;
    if (waiting.length === 0 || performance.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  for (const run of waiting) {
    // Withdrawn unless the leader took it meanwhile (then it counts as it came out).
    if (options.withdraw && (await control.cancelTrigger(run.text))) {
      outcomes.set(run.taskId, { entry: run.entry, taskId: run.taskId, state: 'withdrawn' });
    } else if (!(await taken(run))) outcomes.set(run.taskId, { entry: run.entry, taskId: run.taskId, state: 'queued' });
  }
  return runs.map((r) => outcomes.get(r.taskId) ?? { entry: r.entry, taskId: r.taskId, state: 'queued' });
}

/** The deployment-wide stop, if it is set. */
export async function readStop(control: Pick<ControlStores, 'deploymentStop'>): Promise<DeploymentStopView | null> {
  const stop = await control.deploymentStop();
  return stop === undefined ? null : deploymentStopView(stop);
}
