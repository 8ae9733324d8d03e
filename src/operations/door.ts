/**
 * The control verbs as every door calls them: pause, resume and trigger (of one entry, a selection
 * or the deployment), the stop's read, an entry's history, and the dead-letter list, replay and
 * discard, each one function of VERBS over a `Door`.
 * A door (the CLI, the service's /api, the TypeScript client's Redis path) says only what it alone knows:
 * which entries a name or a selector means and who may see them, and what becomes of a run no
 * leader took in time. The order of the checks, the grants, the audit and the wait are here, once.
 */
import { DEFAULTS } from '../base/defaults.js';
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import type { ScopedEntry } from '../core/grants.js';
import type { LabelSelector } from '../core/label-selector.js';
import { deadLetterView } from '../control/dead-letter-view.js';
import type { DeadLetterView } from '../control/dead-letter-view.js';
import { authorizeTarget, awaitRuns, queueTriggers, readStop, setPaused } from './control-verbs.js';
import { entryHistory } from './read-verbs.js';
import type { SlotView } from '../control/entry-view-schema.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';
import type { ControlStore } from '../redis/control-store.js';
import type { EntryTarget, PauseAnswer, TriggerAnswer } from './control-verbs.js';
import { discardDeadLetters, listDeadLetters, replayDeadLetters } from './dead-letter-verbs.js';
import type { ScopeOf } from './dead-letter-verbs.js';
import type { Operator } from './operator.js';

export interface Door {
  /** The whole control store: a verb added to VERBS reaches its new operation without a change here. */
  readonly control: ControlStore;
  readonly now: () => number;
  /**
   * The entry of that name, with the owner and labels grants are decided on: UNKNOWN_ENTRY when
   * this door knows none. /api answers one `by` may not read alike, so that another team's is not
   * told of; the client's Redis path, whose credentials are the boundary, lets the grants refuse it.
   */
  entry(name: string, by: Operator): Promise<Extract<EntryTarget, { readonly entry: string }>>;
  /** A label selector's text parsed, or this door's refusal naming the character (USAGE, or API_BAD_REQUEST on /api). */
  selector(text: string): LabelSelector;
  /**
   * Every entry the selector selects that this door knows, in name order, whoever may read it (the
   * verb decides). The CLI, whose caller holds every role, refuses an empty selection here, in its words.
   */
  selected(selector: LabelSelector): Promise<readonly ScopedEntry[]>;
  /** The owner and labels of the entries `letters` name (undefined: not known here), and whether each runs now (a replay's run could be published). */
  letterScope(
    letters: readonly { readonly entry: string }[],
  ): Promise<{ readonly scopeOf: ScopeOf; readonly runs: (entry: string) => boolean }>;
  /**
   * Where an entry's run history is read, in the zone its times are shown in and with the attempts
   * its retry policy allows (undefined: not known here); UNKNOWN_ENTRY as `entry` says.
   */
  history(
    name: string,
    by: Operator,
  ): Promise<{ readonly runs: Pick<RedisRunHistory, 'list'>; readonly zone: string; readonly maxAttempts?: number | undefined }>;
  /**
   * What becomes of a manual run no leader took within the wait: withdrawn (the client's Redis
   * path, whose caller is told), or left queued for a leader to come (/api answers 202).
   */
  readonly withdrawUntaken: boolean;
}

/** One entry, the entries a label selector selects (`count`: how many the caller confirmed), or the whole deployment. */
export type VerbTarget =
  { readonly entry: string } | { readonly selector: string; readonly count?: number | undefined } | { readonly all: true };

/**
 * What a verb's input names: one entry, the entries a selector selects, the whole deployment, one
 * dead letter by its id, or nothing (a list); on /api, what a route's path or query names.
 */
export type TargetKind = 'entry' | 'selection' | 'all' | 'id' | 'none';

/** The kind of target an input names, as a route's `target` says it. */
export function targetKind(input: object): TargetKind {
  const { target } = input as { readonly target?: Record<string, unknown> };
  if (target === undefined) return 'none';
  const named = Object.keys(target).filter((key) => key !== 'count');
  if (named.length !== 1) return refused(target);
  if (typeof target['entry'] === 'string') return 'entry';
  if (typeof target['selector'] === 'string') return 'selection';
  if (typeof target['id'] === 'string') return 'id';
  if (target['all'] === true) return 'all';
  return refused(target);
}

/** A target of no known shape (a misspelt field from plain JavaScript), never read as the whole deployment. */
function refused(target: object): never {
  throw new BeatError(
    ErrorCode.Usage,
    `target ${shown(JSON.stringify(target))}: give {entry: NAME}, {selector: SELECTOR}, {id: ID} (a dead letter) or {all: true} (the deployment)`,
  );
}

/**
 * The entries a selector selects, refused whole (FORBIDDEN, naming none of them nor their count)
 * when one is outside the caller's read scope; only then NOTHING_SELECTED when none, and
 * SELECTION_CHANGED when it selects another number than the caller confirmed (nothing done).
 */
async function selection(door: Door, by: Operator, text: string, count: number | undefined): Promise<EntryTarget> {
  const selector = door.selector(text);
  const selected = await door.selected(selector);
  const target = { selector: selector.text, entries: selected.map((e) => e.name), scoped: selected };
  authorizeTarget(by, 'operate', target);
  if (selected.length === 0)
    throw new BeatError(ErrorCode.NothingSelected, `no entry matches the selector ${shown(text)}: nothing was done`);
  if (count !== undefined && count !== selected.length)
    throw new BeatError(
      ErrorCode.SelectionChanged,
      `the selector ${shown(text)} now selects ${selected.length} entries, not the ${count} confirmed: nothing was done; look again`,
    );
  return target;
}

async function entryTarget(door: Door, by: Operator, target: Exclude<VerbTarget, { all: true }>): Promise<EntryTarget> {
  const kind = targetKind({ target });
  if (kind === 'entry' && 'entry' in target) return door.entry(target.entry, by);
  if (kind === 'selection' && 'selector' in target) return selection(door, by, target.selector, target.count);
  throw new BeatError(ErrorCode.Usage, `target ${shown(JSON.stringify(target))}: give {entry: NAME} or {selector: SELECTOR}`);
}

/** Pauses (`paused` true) or resumes an entry, a selection (one audit event), or the deployment (its stop set or lifted). */
async function pause(door: Door, by: Operator, target: VerbTarget, paused: boolean): Promise<PauseAnswer> {
  if ('all' in target) {
    // `{all: false}` or a misspelt shape from plain JavaScript is refused (targetKind), never the deployment.
    targetKind({ target });
    return setPaused(door.control, by, { all: true }, paused, door.now());
  }
  return setPaused(door.control, by, await entryTarget(door, by, target), paused, door.now());
}

/** One dead letter by its id, or every one whose entry a selector's text selects. */
export type DeadLetterPick = { readonly id: string } | { readonly selector: string };

/** A dead-letter verb's target with its selector parsed, and the owner and labels of the list's entries as this door knows them. */
async function letters(door: Door, pick: DeadLetterPick) {
  const kind = targetKind({ target: pick });
  if (kind !== 'id' && kind !== 'selection') return refused(pick);
  const target = 'id' in pick ? pick : { selector: door.selector(pick.selector) };
  return { target, ...(await door.letterScope(await door.control.deadLetters())) };
}

/** How long a run is waited for when the caller names no wait: the leader's second and a margin. */
const LEADER_WAIT_MS = DEFAULTS.dashboardTriggerWaitMs;

/**
 * The verb table: each control verb once, over a door, taking its operator (whose note its audit
 * event keeps) and its input; every door calls it through `runVerb`, and /api serves each on the
 * routes of verb-routes.ts.
 */
export const VERBS = {
  pause: (door: Door, by: Operator, input: { readonly target: VerbTarget }) => pause(door, by, input.target, true),
  resume: (door: Door, by: Operator, input: { readonly target: VerbTarget }) => pause(door, by, input.target, false),
  /**
   * One manual run of each entry targeted, queued for the leader and waited for up to `waitMs`:
   * each published, refused (with why), or, when not taken, withdrawn or queued as the door says.
   */
  trigger: async (
    door: Door,
    by: Operator,
    input: { readonly target: Exclude<VerbTarget, { all: true }>; readonly waitMs?: number | undefined },
  ): Promise<TriggerAnswer[]> => {
    const runs = await queueTriggers(door.control, by, await entryTarget(door, by, input.target), door.now());
    const waitMs = input.waitMs ?? LEADER_WAIT_MS;
    // No wait, and nothing to withdraw: each is queued (a leader takes none within no time).
    if (waitMs <= 0 && !door.withdrawUntaken) return runs.map((r) => ({ entry: r.entry, taskId: r.taskId, state: 'queued' }));
    return awaitRuns(door.control, runs, { waitMs, withdraw: door.withdrawUntaken });
  },
  /** The deployment-wide stop, or null. */
  stop: (door: Door, _by: Operator, _input: object) => readStop(door.control),
  /** An entry's last slots, newest first (`limit`, the whole history kept by default), each with its attempts; times in `timezone` or the door's. */
  history: async (
    door: Door,
    by: Operator,
    input: { readonly target: { readonly entry: string }; readonly limit?: number | undefined; readonly timezone?: string | undefined },
  ): Promise<SlotView[]> => {
    if (targetKind(input) !== 'entry') return refused(input.target);
    const { runs, zone, maxAttempts } = await door.history(input.target.entry, by);
    return entryHistory(runs, input.target.entry, input.limit ?? DEFAULTS.runHistoryLength, input.timezone ?? zone, maxAttempts);
  },
  /** The dead letters the caller may read, oldest first; with a selector's text, those whose entry it selects. */
  deadLetters: async (door: Door, by: Operator, input: { readonly selector?: string | undefined }): Promise<DeadLetterView[]> => {
    const selector = input.selector === undefined ? undefined : door.selector(input.selector);
    const { scopeOf } = await door.letterScope(await door.control.deadLetters());
    return (await listDeadLetters(door.control, by, scopeOf, selector)).map(deadLetterView);
  },
  /**
   * Publishes dead letters again, once each (a manual run of its slot through the leader), waited for
   * up to `waitMs`. Never withdrawn: the item has left the list, so a run not taken stays queued.
   */
  replay: async (
    door: Door,
    by: Operator,
    input: { readonly target: DeadLetterPick; readonly waitMs?: number | undefined },
  ): Promise<(TriggerAnswer & { readonly id: string })[]> => {
    const { target, scopeOf, runs: runsNow } = await letters(door, input.target);
    const runs = await replayDeadLetters(door.control, by, target, scopeOf, door.now(), runsNow);
    const answers = await awaitRuns(door.control, runs, { waitMs: input.waitMs ?? LEADER_WAIT_MS, withdraw: false });
    return answers.map((a, i) => ({ id: runs[i]?.id ?? '', ...a }));
  },
  /** Removes dead letters unpublished; returns them. */
  discard: async (door: Door, by: Operator, input: { readonly target: DeadLetterPick }): Promise<DeadLetterView[]> => {
    const { target, scopeOf } = await letters(door, input.target);
    return (await discardDeadLetters(door.control, by, target, scopeOf, door.now())).map(deadLetterView);
  },
};

export type VerbName = keyof typeof VERBS;
export type VerbInput<V extends VerbName> = Parameters<(typeof VERBS)[V]>[2];
export type VerbAnswer<V extends VerbName> = Awaited<ReturnType<(typeof VERBS)[V]>>;

/** Runs `verb` over `door`: the one call every door makes. */
export function runVerb<V extends VerbName>(verb: V, door: Door, by: Operator, input: VerbInput<V>): Promise<VerbAnswer<V>> {
  return (VERBS[verb] as (door: Door, by: Operator, input: VerbInput<V>) => Promise<VerbAnswer<V>>)(door, by, input);
}
