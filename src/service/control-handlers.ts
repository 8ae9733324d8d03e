/**
 * What the control routes of /api do (http/api-app.ts): pause, resume and trigger one entry
 * or a selection, the deployment-wide stop read, set and lifted, and an entry's history, through the operator verbs (src/operations/), on the
 * entries this replica holds in force (the config file's and the runtime catalog's).
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import { parseSelector, selectorProblemText, selects } from '../core/label-selector.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { retryPolicyOf } from '../config/retry-schema.js';
import type { RetrySettings } from '../config/retry-schema.js';
import type { ScopedEntry } from '../core/grants.js';
import type { ControlHandlers } from '../http/api-ports.js';
import { authorizeTarget, awaitRuns, queueTriggers, readStop, setPaused } from '../operations/control-verbs.js';
import type { Caller } from '../http/auth.js';
import type { ControlStores, EntryTarget } from '../operations/control-verbs.js';
import { entryHistory } from '../operations/read-verbs.js';
import { mayRead, scopeOf } from '../operations/operator.js';
import type { RedisRunHistory } from '../redis/run-history-store.js';
import { deadLetterView } from '../control/dead-letter-view.js';
import { discardDeadLetters, listDeadLetters, replayDeadLetters } from '../operations/dead-letter-verbs.js';
import type { DeadLetterStores, DeadLetterTarget } from '../operations/dead-letter-verbs.js';

export interface ControlHandlerInputs {
  readonly control: ControlStores & DeadLetterStores;
  readonly runs: Pick<RedisRunHistory, 'list'>;
  /** The entry of that name that runs, if any. */
  readonly findEntry: (name: string) => ResolvedEntry | undefined;
  /** Every entry that runs now. */
  readonly entries: () => readonly ResolvedEntry[];
  /** The config in force: its retry settings, which an entry without its own follows. */
  readonly config: () => RetrySettings;
  readonly now: () => number;
}

export function controlHandlers(inputs: ControlHandlerInputs): ControlHandlers {
  /** The entry of that name that runs, when the caller may read it; else 404 as for one that does not run (a scoped caller learns nothing of another team's). */
  const running = (name: string, by: Caller | undefined): ResolvedEntry => {
    const entry = inputs.findEntry(name);
    if (entry === undefined || !mayRead(by, scopeOf(entry)))
      throw new BeatError(ErrorCode.UnknownEntry, `no entry ${shown(name)} runs in this deployment`);
    return entry;
  };
  const selection = (text: string, count: number | undefined, by: Caller): EntryTarget => {
    const parsed = parseSelector(text);
    if (!parsed.ok) throw new BeatError(ErrorCode.ApiBadRequest, `selector ${shown(text)}: ${selectorProblemText(parsed.problem)}`);
    const selected = inputs
      .entries()
      .filter((e) => selects(parsed.selector, e.labels))
      // In name order, whichever source holds each: the audit event lists them as the page lists them.
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // Every entry selected, whoever holds it: the grants are decided first, and a selection reaching
    // past the caller's scope is refused whole, naming none of those entries nor their count; only
    // then are the selection's emptiness and count checked (they would count another team's entries).
    const target = { selector: parsed.selector.text, entries: selected.map((e) => e.name), scoped: selected.map(scopeOf) };
    authorizeTarget(by, 'operate', target);
    if (selected.length === 0)
      throw new BeatError(ErrorCode.NothingSelected, `no entry matches the selector ${shown(text)}: nothing was done`);
    if (count !== undefined && count !== selected.length)
      throw new BeatError(
        ErrorCode.SelectionChanged,
        `the selector ${shown(text)} now selects ${selected.length} entries, not the ${count} confirmed: nothing was done; look again`,
      );
    return target;
  };
  // A dead letter's entry as it runs now (owner, labels); one deleted since is decided as one with none.
  const scopeIn = (name: string): ScopedEntry | undefined => {
    const entry = inputs.findEntry(name);
    return entry === undefined ? undefined : scopeOf(entry);
  };
  const selectorOf = (text: string) => {
    const parsed = parseSelector(text);
    if (!parsed.ok) throw new BeatError(ErrorCode.ApiBadRequest, `selector ${shown(text)}: ${selectorProblemText(parsed.problem)}`);
    return parsed.selector;
  };
  return {
    deadLetters: async (selector, by) =>
      (await listDeadLetters(inputs.control, by, scopeIn, selector === undefined ? undefined : selectorOf(selector))).map(deadLetterView),
    deadLetterAct: async (verb, request, by) => {
      const target: DeadLetterTarget = 'id' in request ? { id: request.id } : { selector: selectorOf(request.selector) };
      const nowMs = inputs.now();
      if (verb === 'discard')
        return {
          status: 200,
          body: { discarded: (await discardDeadLetters(inputs.control, by, target, scopeIn, nowMs)).map(deadLetterView) },
        };
      const runs = await replayDeadLetters(inputs.control, by, target, scopeIn, nowMs, (name) => inputs.findEntry(name) !== undefined);
      // Never withdrawn (the items have left the list): a run not taken within the wait stays queued (202).
      const answers = await awaitRuns(inputs.control, runs, {
        waitMs: 'id' in target ? DEFAULTS.dashboardTriggerWaitMs : 0,
        withdraw: false,
      });
      const replayed = answers.map((a, i) => ({ id: runs[i]?.id ?? '', ...a }));
      return { status: replayed.every((r) => r.state === 'published') ? 200 : 202, body: { replayed } };
    },
    act: async (verb, request, by) => {
      const nowMs = inputs.now();
      if ('all' in request) {
        if (verb === 'trigger')
          throw new BeatError(ErrorCode.ApiBadRequest, 'a trigger is of an entry or a selection, not of the whole deployment');
        return { status: 200, body: await setPaused(inputs.control, by, request, verb === 'pause', nowMs) };
      }
      const target: EntryTarget =
        'entry' in request
          ? { entry: request.entry, scoped: [scopeOf(running(request.entry, by))] }
          : selection(request.selector, request.count, by);
      if (verb !== 'trigger') return { status: 200, body: await setPaused(inputs.control, by, target, verb === 'pause', nowMs) };
      const runs = await queueTriggers(inputs.control, by, target, nowMs);
      if (!('entry' in target))
        // Queued for the leader, which publishes each within a second.
        return { status: 202, body: { selector: target.selector, entries: target.entries, taskIds: runs.map((r) => r.taskId) } };
      const waitMs = ('entry' in request ? request.waitMs : undefined) ?? DEFAULTS.dashboardTriggerWaitMs;
      const [run] = await awaitRuns(inputs.control, runs, { waitMs, withdraw: false });
      // Not taken within the wait: the request stays queued for the leader (there may be none now).
      return { status: run?.state === 'queued' ? 202 : 200, body: run };
    },
    stop: () => readStop(inputs.control),
    history: async (name, limit, by) => {
      // Another team's entry is answered as one that does not run (404), as GET /api/entries/NAME.
      const entry = running(name, by);
      return entryHistory(inputs.runs, name, limit, entry.timezone, retryPolicyOf(entry, inputs.config())?.attempts);
    },
  };
}
