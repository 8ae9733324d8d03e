/**
 * The one codec of an entry's stored state: the value of its field in the state hash. The Lua
 * scripts read and write the same shape through src/redis/lua/includes/entry-state.lua; both
 * follow the rules below, and test/integration/lua-contract.test.ts feeds both the same values.
 *
 * A stored state is a flat JSON object (RFC 8259; no nested object or array as a member's value)
 * with these members, field names short because there may be 100,000 of them:
 *   n     run count, a whole number 0 .. 2^53-1            (required)
 *   slot  the last slot published, epoch ms, a finite number
 *   seen  when a leader first saw the entry, epoch ms: the grid anchor before any run, and kept by
 *         every run after it, so that a backfill knows the slots before it never ran
 *   at    when the last run was published, epoch ms
 *   by    "trigger" when the last run was a manual one (`beat trigger`); any other string: scheduled
 *   id    the last run's task id, a string
 *   g     the incarnation the state belongs to (an entry of a source with no record in tsbeat's
 *         hash: RedBeat, django); a state of another incarnation is not this entry's
 *         (lua/includes/entry-fence.lua). Absent: the state is adopted by whichever incarnation reads it
 *   t     how many of the n runs were manual ones (`beat trigger`), a whole number 0 .. 2^53-1;
 *         absent = 0. Scheduled runs (what `maxRuns` counts) are n - t. Written only when above 0
 * Other members are ignored (room for later fields). Written in this order (slot, seen, at, by, id,
 * g, n, t): the publish script appends the count (and t, when there is one) to a prefix built here,
 * puts the stored `seen` after its slot, and its fast path reads the forms without t.
 *
 * A value that breaks a rule (not JSON, not an object, a member of the wrong type, n negative or
 * fractional, a string with a lone UTF-16 surrogate, which Redis's cjson cannot decode) is
 * UNREADABLE, and reads everywhere exactly as a missing value: the entry has no state and starts
 * afresh from now. The reader logs it (beat.state.unreadable); record-seen.lua replaces it with a
 * first sighting, and the next run's state replaces it in the publish scripts. Failing on it instead
 * would stop every batch that holds the entry, for good.
 */
import type { EntryState } from '../ports/state.js';
import { quoteJson } from '../celery/json-text.js';
import { storedObject } from '../base/stored-object.js';

/** The member names, in the order they are written. */
export const STATE_FIELDS = { slot: 'slot', seen: 'seen', at: 'at', by: 'by', id: 'id', g: 'g', n: 'n', t: 't' } as const;

/** `by` of a state whose last run was a manual one. */
export const BY_TRIGGER = 'trigger';

/** The largest run count a state may hold (2^53-1: every whole number up to it is exact in a double, in Lua too). */
export const MAX_RUN_COUNT = Number.MAX_SAFE_INTEGER;

/** What decode returns for a value that breaks the rules: read as no state. */
export const UNREADABLE = 'unreadable';
export type Unreadable = typeof UNREADABLE;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const isFinite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isRunCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_RUN_COUNT;
/** A lone UTF-16 surrogate (a `\ud800` escape): JSON.parse takes it, Redis's cjson refuses the whole value. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The stored text of a state, read by the rules above. */
export function decodeEntryState(text: string): EntryState | Unreadable {
  const raw = storedObject(text);
  if (raw === undefined) return UNREADABLE;
  for (const [key, value] of Object.entries(raw)) {
    if (LONE_SURROGATE.test(key)) return UNREADABLE;
    if (typeof value === 'string' ? LONE_SURROGATE.test(value) : value !== null && typeof value === 'object') return UNREADABLE;
  }
  const { slot, seen, at, by, id, g, n, t } = raw;
  if (!isRunCount(n)) return UNREADABLE;
  if (t !== undefined && !isRunCount(t)) return UNREADABLE;
  if ((slot !== undefined && !isFinite(slot)) || (seen !== undefined && !isFinite(seen)) || (at !== undefined && !isFinite(at)))
    return UNREADABLE;
  if ((by !== undefined && typeof by !== 'string') || (id !== undefined && typeof id !== 'string')) return UNREADABLE;
  if (g !== undefined && typeof g !== 'string') return UNREADABLE;
  const state: Mutable<EntryState> = { runCount: n };
  if (slot !== undefined) state.slotMs = slot;
  if (seen !== undefined) state.seenMs = seen;
  if (at !== undefined) state.publishedAtMs = at;
  if (id !== undefined) state.lastTaskId = id;
  if (by === BY_TRIGGER) state.lastRunTriggered = true;
  if (t !== undefined && t > 0) state.manualRuns = t;
  if (g !== undefined) state.incarnation = g;
  return state;
}

/** The stored text of a state (resumedAtMs is kept apart, in the resumed hash). */
export function encodeEntryState(state: EntryState): string {
  const parts: string[] = [];
  if (state.slotMs !== undefined) parts.push(`"${STATE_FIELDS.slot}":${String(state.slotMs)}`);
  if (state.seenMs !== undefined) parts.push(`"${STATE_FIELDS.seen}":${String(state.seenMs)}`);
  if (state.publishedAtMs !== undefined) parts.push(`"${STATE_FIELDS.at}":${String(state.publishedAtMs)}`);
  if (state.lastRunTriggered === true) parts.push(`"${STATE_FIELDS.by}":"${BY_TRIGGER}"`);
  if (state.lastTaskId !== undefined) parts.push(`"${STATE_FIELDS.id}":${quoteJson(state.lastTaskId)}`);
  if (state.incarnation !== undefined) parts.push(`"${STATE_FIELDS.g}":${quoteJson(state.incarnation)}`);
  parts.push(`"${STATE_FIELDS.n}":${String(state.runCount)}`);
  if (state.manualRuns !== undefined && state.manualRuns > 0) parts.push(`"${STATE_FIELDS.t}":${String(state.manualRuns)}`);
  return `{${parts.join(',')}}`;
}

/** A first sighting: no run yet, anchored at `seenMs` (record-seen.lua writes it unless a readable state is there). */
export function firstSighting(seenMs: number): string {
  return encodeEntryState({ seenMs, runCount: 0 });
}

/**
 * The state of a scheduled run after its slot and without its count, for publish-fenced.lua, which
 * writes `{"slot":<slot>,` (and the stored first sighting) before it and the count and `}` after it:
 * encodeEntryState's text from `at` up to the count. `at` comes as the script's own decimal text of
 * it (the caller has it at hand).
 */
export function publishedStateAfterSlot(atText: string, taskId: string, incarnation?: string): string {
  return publishedStateAfterSlotFrom(publishedStateHead(atText), taskId, incarnation);
}

/**
 * publishedStateAfterSlot in two steps, for a batch: the head (the publish time) made once for the
 * batch, then each run's id and incarnation after it. Per run, one concatenation instead of ten.
 */
export function publishedStateHead(atText: string): string {
  return `"${STATE_FIELDS.at}":${atText},"${STATE_FIELDS.id}":`;
}

/** publishedStateAfterSlot from publishedStateHead's text. */
export function publishedStateAfterSlotFrom(head: string, taskId: string, incarnation?: string): string {
  const g = incarnation === undefined ? '' : `"${STATE_FIELDS.g}":${quoteJson(incarnation)},`;
  return `${head}${quoteJson(taskId)},${g}"${STATE_FIELDS.n}":`;
}

/** A stored value as the runner takes it: a missing or unreadable one is no state (undefined). */
export function readEntryState(text: string | null | undefined): EntryState | undefined {
  if (text === null || text === undefined) return undefined;
  const state = decodeEntryState(text);
  return state === UNREADABLE ? undefined : state;
}
