/**
 * Backfills (`beat backfill`, `POST /api/entries/NAME/backfill`, the dashboard): the one check of
 * what a requester sends, the plan of an entry's slots in the range, and the codecs of the request
 * (kept in the `backfills` list until the leader has worked through it) and of its progress (the
 * `backfill:<id>` hash that lua/backfill-fenced.lua writes). Pure.
 */
import { randomUUID } from 'node:crypto';
import { DEFAULTS } from '../base/defaults.js';
import { pushAll, yieldToLoop } from '../base/chunks.js';
import { shown } from '../base/errors.js';
import type { ConfigProblem } from '../base/errors.js';
import { backfillAnchor, backfillRefusal, backfillSlots } from '../core/backfill-slots.js';
import type { BackfillSlots } from '../core/backfill-slots.js';
import { BACKFILL_OVERLAPS, backfillOverlap, isBackfillOverlap, needsOutcomes, revokesPrevious } from '../core/backfill-overlap.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';
import { entryWindow, followsOutcomes } from '../config/resolve.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { brokerKindIfKnown } from '../config/broker-kinds.js';
import { formatInstant, readInstantWithOffset } from '../time/zone.js';
import { noteProblem } from '../base/note-text.js';
import type { BackfillRequest } from '../ports/control-source.js';
import { storedObject } from '../base/stored-object.js';

export type { BackfillRequest };

/** What a requester sends, checked: the range, the limit and the options. */
export interface BackfillInput {
  readonly fromMs: number;
  readonly toMs: number;
  readonly limit: number;
  readonly dryRun: boolean;
  readonly unrecorded: boolean;
  readonly note?: string;
  /** The overlap policy asked for; absent: the entry's own. */
  readonly overlap?: BackfillOverlap;
}

/** The fields as a requester names them: `--from` on the command line, `from` in the API's body. */
export type FieldNames = Record<'from' | 'to' | 'limit' | 'dryRun' | 'unrecorded' | 'note' | 'overlap', string>;

export const API_FIELDS: FieldNames = {
  from: 'from',
  to: 'to',
  limit: 'limit',
  dryRun: 'dryRun',
  unrecorded: 'unrecorded',
  note: 'note',
  overlap: 'overlap',
};
export const CLI_FIELDS: FieldNames = {
  from: '--from',
  to: '--to',
  limit: '--limit',
  dryRun: '--dry-run',
  unrecorded: '--unrecorded',
  note: '--note',
  overlap: '--overlap',
};

function instant(field: string, value: unknown, problems: ConfigProblem[]): number | undefined {
  if (typeof value !== 'string') {
    problems.push({ path: field, message: `${field} is required: an ISO-8601 instant with an offset, such as 2026-11-20T00:00:00Z` });
    return undefined;
  }
  const ms = readInstantWithOffset(value);
  if (typeof ms === 'number') return ms;
  const why =
    ms === 'format'
      ? 'must be an ISO-8601 instant with an offset, such as 2026-11-20T00:00:00Z or 2026-11-20T01:00:00+01:00'
      : ms === 'invalid'
        ? 'is not a real date and time'
        : 'must be in the years 0001-9999';
  problems.push({ path: field, message: `${field} ${why}, got ${shown(value)}` });
  return undefined;
}

function flag(field: string, value: unknown, problems: ConfigProblem[]): boolean {
  if (value === undefined || typeof value === 'boolean') return value === true;
  problems.push({ path: field, message: `${field} must be true or false, got ${shown(JSON.stringify(value) ?? String(value))}` });
  return false;
}

/**
 * Checks a request's fields (strings for the instants, a whole number for the limit: the CLI
 * parses its flags into this shape): the input, or every problem, each naming its field.
 */
export function checkBackfillInput(
  raw: Readonly<Record<string, unknown>>,
  names: FieldNames,
): { input: BackfillInput; problems?: undefined } | { problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const fromMs = instant(names.from, raw['from'], problems);
  const toMs = instant(names.to, raw['to'], problems);
  if (fromMs !== undefined && toMs !== undefined && toMs < fromMs)
    problems.push({ path: names.to, message: `${names.to} ${String(raw['to'])} is before ${names.from} ${String(raw['from'])}` });
  let limit: number = DEFAULTS.backfillLimit;
  const rawLimit = raw['limit'];
  if (rawLimit !== undefined) {
    const n = typeof rawLimit === 'string' && /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : rawLimit;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > DEFAULTS.backfillLimitMax)
      problems.push({
        path: names.limit,
        message: `${names.limit} must be a whole number from 1 to ${DEFAULTS.backfillLimitMax}, got ${shown(String(rawLimit))}`,
      });
    else limit = n;
  }
  const dryRun = flag(names.dryRun, raw['dryRun'], problems);
  const unrecorded = flag(names.unrecorded, raw['unrecorded'], problems);
  const note = raw['note'];
  if (note !== undefined) {
    const problem = typeof note === 'string' ? noteProblem(note) : 'a note must be a string';
    if (problem !== undefined) problems.push({ path: names.note, message: `${names.note}: ${problem}` });
  }
  const overlap = raw['overlap'];
  if (overlap !== undefined && !isBackfillOverlap(overlap))
    problems.push({
      path: names.overlap,
      message: `${names.overlap} must be one of ${BACKFILL_OVERLAPS.join(', ')}, got ${shown(typeof overlap === 'string' ? overlap : (JSON.stringify(overlap) ?? String(overlap)))}`,
    });
  if (problems.length > 0 || fromMs === undefined || toMs === undefined) return { problems };
  return {
    input: {
      fromMs,
      toMs,
      limit,
      dryRun,
      unrecorded,
      ...(typeof note === 'string' ? { note } : {}),
      ...(isBackfillOverlap(overlap) ? { overlap } : {}),
    },
  };
}

/**
 * The policy a request runs under (the one asked for, else the entry's own), or why the deployment
 * cannot apply the one asked for: as the config's check refuses such an `overlap` on an entry
 * (config/overlap-settings.ts), naming the field. The entry's own policy is never refused: where it
 * has no effect on the schedule (no outcomes followed) the backfill goes out as allowAll too.
 */
export function backfillPolicy(
  input: Pick<BackfillInput, 'overlap'>,
  entry: Pick<ResolvedEntry, 'name' | 'overlap'> & { readonly options: { readonly ignoreResult?: boolean | undefined } },
  config: Pick<ResolvedConfig, 'resultBackend' | 'taskEvents'> & { readonly broker: { readonly url: string } },
  fields: FieldNames,
): { policy: BackfillOverlap; problem?: undefined } | { problem: string } {
  const policy = backfillOverlap(input.overlap, entry.overlap);
  if (!needsOutcomes(policy)) return { policy };
  if (input.overlap === undefined) return { policy: followsOutcomes(config) && entry.options.ignoreResult !== true ? policy : 'allowAll' };
  const field = `${fields.overlap} ${policy}`;
  if (!followsOutcomes(config))
    return {
      problem: `${field} needs to know when the entry's previous run finished: set resultBackend (the workers' Celery result_backend) or taskEvents (workers with -E) in the config, or use ${fields.overlap} allowAll`,
    };
  if (entry.options.ignoreResult === true)
    return {
      problem: `${field} needs the task's result to know when a run finished, but ${shown(entry.name)} has options.ignoreResult true; use ${fields.overlap} allowAll`,
    };
  const kind = brokerKindIfKnown(config.broker.url);
  if (revokesPrevious(policy) && kind?.remoteControl === false)
    return {
      problem: `${field} revokes the previous run through Celery's remote control, which an ${kind.label} broker does not carry (no fanout exchange); use skip, bufferOne, bufferAll or allowAll`,
    };
  return { policy };
}

export interface BackfillPlan extends BackfillSlots {
  readonly anchorMs?: number;
}

/**
 * The entry's slots in the range, or why it cannot be backfilled. `storedSlotMs`: the entry's last
 * scheduled slot, for an interval entry's grid. The leader plans again from the request (its own
 * definition of the entry is the one that counts); a requester plans for the limit and --dry-run.
 */
export function planBackfill(
  entry: ResolvedEntry,
  range: { readonly fromMs: number; readonly toMs: number; readonly limit: number },
  storedSlotMs: number | undefined,
  /** Plan from here on (a dry run's later page), the interval grid still anchored as the whole range's. */
  pageFromMs?: number,
): BackfillPlan | { refusal: string } {
  const refused = refusalOf(entry);
  if (refused !== undefined) return refused;
  const anchorMs = backfillAnchor(entry.schedule, range.fromMs, storedSlotMs);
  return planFrom(entry, pageFromMs === undefined ? range : { ...range, fromMs: pageFromMs }, anchorMs);
}

/**
 * planBackfill with its slots planned by planFromSliced: what `beat run`'s API plans on the
 * scheduler's loop (issue 66: a range of a million slots, refused over its limit only once they
 * were planned, held the loop for seconds in one task).
 */
export async function planBackfillSliced(
  entry: ResolvedEntry,
  range: { readonly fromMs: number; readonly toMs: number; readonly limit: number },
  storedSlotMs: number | undefined,
): Promise<BackfillPlan | { refusal: string }> {
  return refusalOf(entry) ?? (await planFromSliced(entry, range, backfillAnchor(entry.schedule, range.fromMs, storedSlotMs)));
}

function refusalOf(entry: ResolvedEntry): { refusal: string } | undefined {
  const refusal = backfillRefusal(entry.schedule);
  return refusal === undefined ? undefined : { refusal: `entry ${shown(entry.name)} cannot be backfilled: its schedule is ${refusal}` };
}

/** The plan with a given anchor (the leader takes the request's). */
export function planFrom(
  entry: ResolvedEntry,
  range: { readonly fromMs: number; readonly toMs: number; readonly limit: number },
  anchorMs: number | undefined,
): BackfillPlan {
  const slots = backfillSlots(entry.schedule, entry.timezone, entryWindow(entry), range.fromMs, range.toMs, range.limit, anchorMs);
  return { ...slots, ...(anchorMs === undefined ? {} : { anchorMs }) };
}

/**
 * planFrom in pages of backfillDryRunPage slots with a turn of the event loop between them: the
 * leader plans a request of up to backfillLimitMax slots (a million of an every-second entry is
 * seconds of CPU) without holding its scheduler for the whole of it. The same plan as planFrom.
 */
export async function planFromSliced(
  entry: ResolvedEntry,
  range: { readonly fromMs: number; readonly toMs: number; readonly limit: number },
  anchorMs: number | undefined,
): Promise<BackfillPlan> {
  const slots: number[] = [];
  const excluded: number[] = [];
  let fromMs = range.fromMs;
  for (;;) {
    const room = range.limit - slots.length - excluded.length;
    const page = planFrom(entry, { fromMs, toMs: range.toMs, limit: Math.min(room, DEFAULTS.backfillDryRunPage) }, anchorMs);
    pushAll(slots, page.slots);
    pushAll(excluded, page.excluded);
    // Over this page's limit: over the request's when the page had all the room left, else more to plan.
    if (!page.overLimit || room <= DEFAULTS.backfillDryRunPage) {
      return { slots, excluded, overLimit: page.overLimit, ...(anchorMs === undefined ? {} : { anchorMs }) };
    }
    fromMs = Math.max(page.slots.at(-1) ?? fromMs, page.excluded.at(-1) ?? fromMs) + 1;
    await yieldToLoop();
  }
}

/** The refusal of a range over the limit, naming the field that raises it. */
export function overLimitMessage(entry: string, limit: number, fields: FieldNames): string {
  return `${fields.to}: the range holds more than ${limit} slots of ${shown(entry)}; narrow ${fields.from}/${fields.to}, or raise ${fields.limit} (at most ${DEFAULTS.backfillLimitMax})`;
}

export function encodeBackfillRequest(r: BackfillRequest): string {
  return JSON.stringify({
    id: r.id,
    entry: r.entry,
    from: r.fromMs,
    to: r.toMs,
    limit: r.limit,
    ...(r.anchorMs === undefined ? {} : { anchor: r.anchorMs }),
    unrecorded: r.unrecorded,
    ...(r.overlap === undefined ? {} : { overlap: r.overlap }),
    at: r.at,
    ...(r.note === undefined ? {} : { note: r.note }),
  });
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A stored request, or undefined for a value that is not one (the leader discards it). */
export function decodeBackfillRequest(text: string): BackfillRequest | undefined {
  const o = storedObject(text);
  if (o === undefined) return undefined;
  const { id, entry, from, to, limit, anchor, unrecorded, at, note, overlap } = o;
  if (typeof id !== 'string' || typeof entry !== 'string' || !isNum(from) || !isNum(to) || !isNum(limit) || !isNum(at)) return undefined;
  if (anchor !== undefined && !isNum(anchor)) return undefined;
  if (overlap !== undefined && !isBackfillOverlap(overlap)) return undefined;
  return {
    id,
    entry,
    fromMs: from,
    toMs: to,
    limit,
    ...(anchor === undefined ? {} : { anchorMs: anchor }),
    unrecorded: unrecorded === true,
    ...(overlap === undefined ? {} : { overlap }),
    at,
    ...(typeof note === 'string' ? { note } : {}),
  };
}

/** A request's progress (its hash, written by lua/backfill-fenced.lua and the leader). */
export interface BackfillProgress {
  /** Slots published by this request. */
  readonly published: number;
  /** Skipped: published already (by the schedule, which passed over no such slot, or an earlier backfill). */
  readonly recorded: number;
  /** Skipped: after the entry's last scheduled slot (the schedule's own to publish). */
  readonly ahead: number;
  /** Skipped: older than the record of passed-over slots speaks for (without --unrecorded). */
  readonly unrecorded: number;
  /** Skipped: excluded by the entry's `exclude`. */
  readonly excluded: number;
  /** Skipped by the request's overlap policy (left passed over: a later backfill can publish them). */
  readonly overlap: number;
  /** bufferOne kept a slot while a run was in flight. */
  readonly kept?: boolean;
  /** The newest slot the request published, epoch ms. */
  readonly lastMs?: number;
  /** The slots in the range (run and excluded), once the leader has planned them. */
  readonly total?: number;
  /** The last slot covered so far, epoch ms. */
  readonly throughMs?: number;
  /** When the leader finished it, epoch ms. */
  readonly doneMs?: number;
  /** Why the leader refused or stopped it. */
  readonly error?: string;
  /** The entry it backfills (written with every step, and with a refusal when the request says it). */
  readonly entry?: string;
}

/** The progress of a hash's fields (HGETALL), or undefined when the leader has not begun. */
export function decodeBackfillProgress(fields: Readonly<Record<string, string>>): BackfillProgress | undefined {
  if (Object.keys(fields).length === 0) return undefined;
  const n = (name: string): number | undefined => {
    const v = fields[name];
    return v === undefined || !/^-?\d+$/.test(v) ? undefined : Number(v);
  };
  const total = n('total');
  const throughMs = n('through');
  const doneMs = n('done');
  const error = fields['error'];
  const lastMs = n('last');
  const entry = fields['entry'];
  return {
    published: n('published') ?? 0,
    recorded: n('recorded') ?? 0,
    ahead: n('ahead') ?? 0,
    unrecorded: n('unrecorded') ?? 0,
    excluded: n('excluded') ?? 0,
    overlap: n('overlap') ?? 0,
    ...(fields['kept'] === '1' ? { kept: true } : {}),
    ...(lastMs === undefined ? {} : { lastMs }),
    ...(total === undefined ? {} : { total }),
    ...(throughMs === undefined ? {} : { throughMs }),
    ...(doneMs === undefined ? {} : { doneMs }),
    ...(error === undefined ? {} : { error }),
    ...(entry === undefined ? {} : { entry }),
  };
}

/** Slots covered so far (published and skipped). */
export function coveredSlots(p: BackfillProgress): number {
  return p.published + p.recorded + p.ahead + p.unrecorded + p.excluded + p.overlap;
}

/** "published 12, skipped 3 (2 already published, 1 excluded)" — the summary a person reads. */
export function progressText(p: BackfillProgress): string {
  const skipped: string[] = [];
  if (p.recorded > 0) skipped.push(`${p.recorded} already published`);
  if (p.excluded > 0) skipped.push(`${p.excluded} excluded`);
  if (p.overlap > 0) skipped.push(`${p.overlap} by the overlap policy, still passed over (see --overlap allowAll)`);
  if (p.ahead > 0) skipped.push(`${p.ahead} after the entry's last scheduled slot (the schedule's own)`);
  if (p.unrecorded > 0) skipped.push(`${p.unrecorded} older than the record of passed-over slots (see --unrecorded)`);
  const count = p.recorded + p.excluded + p.ahead + p.unrecorded + p.overlap;
  return `published ${p.published}, skipped ${count}${skipped.length === 0 ? '' : ` (${skipped.join(', ')})`}`;
}

/** The slots of a plan as ISO instants in the entry's zone (--dry-run, the API's dryRun). */
export function slotTexts(slots: readonly number[], zone: string): string[] {
  return slots.map((ms) => formatInstant(ms, zone));
}

/**
 * The request handed to the leader for `entry`'s range, with an id of its own: the range, limit and
 * policies asked for, the plan's anchor, when it was made (`atMs`) and why (`note`: the command
 * line's --note, the API's note or its header).
 */
export function newBackfillRequest(
  entry: string,
  input: BackfillInput,
  plan: BackfillPlan,
  atMs: number,
  note: string | undefined,
): BackfillRequest {
  return {
    id: randomUUID(),
    entry,
    fromMs: input.fromMs,
    toMs: input.toMs,
    limit: input.limit,
    ...(plan.anchorMs === undefined ? {} : { anchorMs: plan.anchorMs }),
    unrecorded: input.unrecorded,
    ...(input.overlap === undefined ? {} : { overlap: input.overlap }),
    at: atMs,
    ...(note === undefined ? {} : { note }),
  };
}
