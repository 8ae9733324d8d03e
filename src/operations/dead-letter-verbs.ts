/**
 * The dead-letter verbs (issue 70; docs/outcomes.md, "Retries and the dead-letter list"), once for
 * every door (the CLI, /api and the dashboard and Python client over it, the TypeScript client): list,
 * replay and discard. A replay is a manual run of the item's entry, queued in the step that takes
 * the item off the list (lua/dead-letters.lua)
 * and published by the leader through the same fenced path as `beat trigger` (trigger-fenced.lua),
 * with the slot's message (as a retry attempt's) under a task id derived from the item's id.
 * Which entries are in force, with their owners and labels, is the door's to say (`scopeOf`).
 */
import { BeatError, ErrorCode, shown } from '../base/errors.js';
import { replayTaskId } from '../celery/task-id.js';
import type { ScopedEntry } from '../core/grants.js';
import { selects } from '../core/label-selector.js';
import type { LabelSelector } from '../core/label-selector.js';
import type { ControlStore } from '../redis/control-store.js';
import { encodeDeadLetter } from '../redis/dead-letter-codec.js';
import type { DeadLetter } from '../ports/outcomes.js';
import type { TriggerRequest } from '../ports/control-source.js';
import { auditBy, authorize, forbidden, mayRead } from './operator.js';
import type { Operator } from './operator.js';
import type { QueuedRun } from './control-verbs.js';

export type DeadLetterStores = Pick<ControlStore, 'deadLetters' | 'takeDeadLetters'>;

/** An entry's owner and labels as the door knows them; undefined: not in force (deleted since), decided as one with none. */
export type ScopeOf = (entry: string) => ScopedEntry | undefined;

/** One dead letter by its id, or every one whose entry the selector selects. */
export type DeadLetterTarget = { readonly id: string } | { readonly selector: LabelSelector };

function scopeIn(scopeOf: ScopeOf, entry: string): ScopedEntry {
  return scopeOf(entry) ?? { name: entry };
}

/** The dead letters the caller may read (its grants' `read`), oldest first; with a selector, those whose entry it selects. */
export async function listDeadLetters(
  control: Pick<DeadLetterStores, 'deadLetters'>,
  by: Pick<Operator, 'grants'>,
  scopeOf: ScopeOf,
  selector?: LabelSelector,
): Promise<DeadLetter[]> {
  const all = await control.deadLetters();
  return all.filter((d) => {
    const scope = scopeIn(scopeOf, d.entry);
    return mayRead(by, scope) && (selector === undefined || selects(selector, scope.labels));
  });
}

/**
 * The items a target means: the one of that id (DEAD_LETTER_NOT_FOUND when none, or when its entry
 * is outside the caller's read scope: another team's item is answered as no item, as its entry
 * would be), or every one the selector selects (NOTHING_SELECTED when none; FORBIDDEN, naming no
 * item nor a count, when one is outside the read scope). The action's grant is decided after, on
 * them all.
 */
async function targetLetters(control: DeadLetterStores, by: Operator, target: DeadLetterTarget, scopeOf: ScopeOf, verb: string) {
  const all = await control.deadLetters();
  if ('id' in target) {
    const found = all.find((d) => d.id === target.id);
    if (found === undefined || !mayRead(by, scopeIn(scopeOf, found.entry)))
      throw new BeatError(
        ErrorCode.DeadLetterNotFound,
        `dead-letter ${verb}: no dead letter ${shown(target.id)} on the list; beat dead-letter list shows the ids`,
      );
    return [found];
  }
  const selected = all.filter((d) => selects(target.selector, scopeIn(scopeOf, d.entry).labels));
  if (selected.some((d) => !mayRead(by, scopeIn(scopeOf, d.entry))))
    throw forbidden(by, `the selector ${shown(target.selector.text)} selects dead letters of entries outside the caller's read scope`);
  if (selected.length === 0)
    throw new BeatError(
      ErrorCode.NothingSelected,
      `dead-letter ${verb}: no dead letter's entry matches the selector ${shown(target.selector.text)}: nothing was done`,
    );
  return selected;
}

/**
 * Replays dead letters: each a manual run of its entry (the `operate` grant on every one, all or
 * nothing), queued for the leader with its audit event in the step that takes it off the list.
 * `runs`: whether an entry runs in the deployment now; an item of one that does not (deleted since)
 * refuses the whole replay (UNKNOWN_ENTRY), since the leader could not publish it; so does an item
 * whose entry was deleted and created again since its run (its stored revision's incarnation is not
 * the entry's now: checked by lua/dead-letters.lua in the step that takes it, as retry-fenced.lua
 * drops such an attempt), since the run would publish another entry of that name. Returns the runs queued (awaitRuns follows them; never withdraw one: its item has left the list).
 */
export async function replayDeadLetters(
  control: DeadLetterStores,
  by: Operator,
  target: DeadLetterTarget,
  scopeOf: ScopeOf,
  nowMs: number,
  runs: (entry: string) => boolean,
): Promise<(QueuedRun & { readonly id: string })[]> {
  const letters = await targetLetters(control, by, target, scopeOf, 'replay');
  const gone = [...new Set(letters.filter((d) => !runs(d.entry)).map((d) => d.entry))];
  if (gone.length > 0)
    throw new BeatError(
      ErrorCode.UnknownEntry,
      `dead-letter replay: no entry ${gone.map((e) => shown(e)).join(', ')} runs in this deployment now (deleted since?), so its dead letters cannot be published again; discard them: nothing was done`,
    );
  const grant = authorize(
    by,
    'operate',
    letters.map((d) => scopeIn(scopeOf, d.entry)),
  );
  const requests: TriggerRequest[] = letters.map((d) => ({
    entry: d.entry,
    id: replayTaskId(d.id),
    at: nowMs,
    ...(by.note === undefined ? {} : { note: by.note }),
    slot: d.slotMs,
    replays: d.id,
    // The leader puts the item back from this should it drop the request unpublished.
    item: encodeDeadLetter(d),
  }));
  await control.takeDeadLetters(letters, requests, 'id' in target ? undefined : target.selector.text, nowMs, auditBy(by, grant));
  return requests.map((r) => ({ id: r.replays ?? '', entry: r.entry, taskId: r.id, text: JSON.stringify(r) }));
}

/** Discards dead letters (the `operate` grant on every one, all or nothing), with their audit event. Returns those discarded. */
export async function discardDeadLetters(
  control: DeadLetterStores,
  by: Operator,
  target: DeadLetterTarget,
  scopeOf: ScopeOf,
  nowMs: number,
): Promise<DeadLetter[]> {
  const letters = await targetLetters(control, by, target, scopeOf, 'discard');
  const grant = authorize(
    by,
    'operate',
    letters.map((d) => scopeIn(scopeOf, d.entry)),
  );
  await control.takeDeadLetters(letters, undefined, 'id' in target ? undefined : target.selector.text, nowMs, auditBy(by, grant));
  return letters;
}
