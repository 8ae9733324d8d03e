/**
 * The backfill verbs, once for every door: `beat backfill` queues and waits (its flags checked
 * there), while `POST /api/entries/NAME/backfill` (the dashboard's entry page through it) and the
 * client's `handle(name).backfill()` on either path ask `requestBackfill` with the API's body and get
 * its answer: the body checked as `beat backfill` checks its flags (control/backfill-request.ts), the
 * slots planned for the limit and `dryRun`, the request queued for the leader with its audit event
 * (one each, or the selection's one), then a short wait for the leader to finish: 200 with the counts
 * when it did, else 202 with the request's id and its progress so far (`backfillProgressOf` reads it
 * later). The leader plans again from the request, with its own definition of the entry, and
 * publishes each slot through backfill-fenced.lua, which checks the deployment-wide stop in the step
 * that publishes. Which entry a name means is the door's to say (`BackfillDoor.findEntry`).
 */
import { BeatError, ConfigError, ErrorCode, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import {
  API_FIELDS,
  backfillPolicy,
  checkBackfillInput,
  newBackfillRequest,
  overLimitMessage,
  planBackfill,
  planBackfillSliced,
  slotTexts,
} from '../control/backfill-request.js';
import type { BackfillInput, BackfillPlan, BackfillProgress } from '../control/backfill-request.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';
import type { ScopedEntry } from '../core/grants.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisStateStore } from '../redis/state-store.js';
import { formatInstant, readInstantWithOffset } from '../time/zone.js';
import { auditBy, authorize, mayRead, scopeOf } from './operator.js';
import type { Operator } from './operator.js';

/** A backfill queued for the leader: its id, and its request's text (what withdraws it). */
export interface QueuedBackfill {
  readonly entry: string;
  readonly id: string;
  readonly text: string;
}

/**
 * Queues the planned backfills of `input`'s range in one MULTI with their audit (the selection's one
 * event with `selector`), when the caller may operate every entry of them (`scoped`: their owners
 * and labels as the door found them; needed when the operator has grants).
 */
export async function queueBackfills(
  control: Pick<ControlStore, 'requestBackfills'>,
  by: Operator,
  planned: readonly { readonly entry: string; readonly plan: BackfillPlan; readonly scoped?: ScopedEntry }[],
  input: BackfillInput,
  selector: string | undefined,
  nowMs: number,
): Promise<QueuedBackfill[]> {
  const grant = authorize(
    by,
    'operate',
    planned.map((p) => p.scoped ?? { name: p.entry }),
  );
  const requests = planned.map(({ entry, plan }) => newBackfillRequest(entry, input, plan, nowMs, by.note));
  const texts = await control.requestBackfills(requests, selector, auditBy(by, grant));
  return requests.map((r, i) => ({ entry: r.entry, id: r.id, text: texts[i] ?? '' }));
}

/**
 * The backfill's progress once the leader is done, or when `waitMs` is over (on the monotonic
 * clock): then withdrawn with `withdraw` (the CLI) unless the leader took it meanwhile, else left
 * queued (the API answers 202 and its progress route reads on). `onProgress` hears each reading.
 */
export async function awaitBackfill(
  control: Pick<ControlStore, 'backfillProgress' | 'cancelBackfill'>,
  run: QueuedBackfill,
  options: { readonly waitMs: number; readonly withdraw: boolean; readonly onProgress?: (p: BackfillProgress) => void },
): Promise<BackfillProgress | undefined> {
  const deadline = performance.now() + options.waitMs;
  let progress = await control.backfillProgress(run.id);
  while (progress?.doneMs === undefined && performance.now() < deadline) {
    if (progress !== undefined) options.onProgress?.(progress);
    await new Promise((resolve) => setTimeout(resolve, 100));
    progress = await control.backfillProgress(run.id);
  }
  if (progress?.doneMs === undefined && options.withdraw && !(await control.cancelBackfill(run.text)))
    progress = await control.backfillProgress(run.id);
  return progress;
}

/** A backfill's request, as the API's body and the client take it. */
export interface BackfillBody {
  /** The first and last slot of the range: ISO-8601 instants with an offset. */
  readonly from: string;
  readonly to: string;
  /** List the slots, a page at a time (`after`: the `next` of the page before), publishing nothing. */
  readonly dryRun?: boolean;
  readonly after?: string;
  readonly limit?: number;
  readonly overlap?: string;
  readonly unrecorded?: boolean;
  readonly note?: string;
  /** How long the server waits for the leader to finish, ms, up to its own wait (the most, when absent). */
  readonly waitMs?: number;
}

/** Where a backfill stands: what the leader published and skipped of it so far, and whether it is done. */
export interface BackfillResult {
  readonly entry: string;
  readonly id: string;
  readonly done: boolean;
  readonly published?: number;
  readonly skipped?: {
    readonly recorded: number;
    readonly excluded: number;
    readonly ahead: number;
    readonly unrecorded: number;
    readonly overlap: number;
  };
  /** The slots in the range, once the leader has planned them. */
  readonly total?: number;
  /** Why the leader refused or stopped it. */
  readonly error?: string;
  /** The overlap policy its slots go out under, where the door knows the config (not the client straight to Redis). */
  readonly overlapPolicy?: BackfillOverlap;
}

/** A dry run's page of the range's slots, in the entry's zone; `next` when more follow. */
export interface BackfillSlotsPage {
  readonly entry: string;
  readonly dryRun: true;
  readonly slots: readonly string[];
  readonly excluded: readonly string[];
  readonly next?: string;
}

/** The status and JSON body of a backfill's answer (the API's, and the client's on either path). */
export interface BackfillAnswer<Body = BackfillResult | BackfillSlotsPage> {
  readonly status: number;
  readonly body: Body;
}

/** What a door that asks with the API's body gives the backfill verbs. */
export interface BackfillDoor {
  /** The entry of this name the deployment runs now (the config file's or a runtime one), if any. */
  readonly findEntry: (name: string) => ResolvedEntry | undefined | Promise<ResolvedEntry | undefined>;
  /**
   * The config in force (whether outcomes are followed, and the broker): the overlap policy is
   * checked against it, and the answer names it. Undefined where the door does not know it (the
   * client straight to Redis): the leader then decides, and refuses a policy it cannot apply (the
   * answer's `error`), as it does for every request.
   */
  readonly config?: () => Pick<ResolvedConfig, 'resultBackend' | 'taskEvents'> & { readonly broker: { readonly url: string } };
  readonly states: Pick<RedisStateStore, 'readSome'>;
  readonly control: Pick<ControlStore, 'requestBackfills' | 'backfillProgress' | 'cancelBackfill'>;
  readonly now: () => number;
  /** How long to wait for the leader before answering 202: the most a request's `waitMs` may ask. */
  readonly waitMs: number;
}

/** The JSON of a request's progress, as the API answers it. */
export function progressBody(entry: string, id: string, p: BackfillProgress | undefined): BackfillResult {
  return {
    entry,
    id,
    done: p?.doneMs !== undefined,
    ...(p === undefined
      ? {}
      : {
          published: p.published,
          skipped: { recorded: p.recorded, excluded: p.excluded, ahead: p.ahead, unrecorded: p.unrecorded, overlap: p.overlap },
          ...(p.total === undefined ? {} : { total: p.total }),
          ...(p.error === undefined ? {} : { error: p.error }),
        }),
  };
}

/**
 * A backfill of `name` asked with the API's body (`by.note`: a note given beside it, as the
 * X-Beat-Note header; the body's own wins), or a dry run's page of its slots.
 */
export async function requestBackfill(door: BackfillDoor, by: Operator, name: string, body: unknown): Promise<BackfillAnswer> {
  const { input, afterMs, waitMs } = checkedBody(body, door.waitMs);
  const operator = { ...by, note: input.note ?? by.note };
  // An entry outside the caller's read scope is answered as one that does not run (its plan, its
  // limit and overlap refusals would tell it apart); one it reads but may not operate is refused
  // before any of its slots are shown (a dry run too).
  const found = await entryOf(door, name, by);
  authorize(operator, 'operate', [scopeOf(found)]);
  if (input.dryRun) return dryRunPage(door, found, input, afterMs);
  const { plan, policy } = await planFor(door, found, input);
  const [run] = await queueBackfills(door.control, operator, [{ entry: name, plan, scoped: scopeOf(found) }], input, undefined, door.now());
  const id = run?.id ?? '';
  const progress = run && (await awaitBackfill(door.control, run, { waitMs: waitMs ?? door.waitMs, withdraw: false }));
  // Not done within the wait: the request stays queued for the leader (there may be none now).
  return {
    status: progress?.doneMs === undefined ? 202 : 200,
    body: { ...progressBody(name, id, progress), ...(policy === undefined ? {} : { overlapPolicy: policy }) },
  };
}

/** A backfill request's progress, for whom may read its entry (UNKNOWN_ENTRY else, as for an id of another entry's). */
export async function backfillProgressOf(
  door: BackfillDoor,
  by: Operator,
  name: string,
  id: string,
): Promise<BackfillAnswer<BackfillResult>> {
  const found = await door.findEntry(name);
  const read = found === undefined || !mayRead(by, scopeOf(found)) ? undefined : await door.control.backfillProgress(id);
  // Only a backfill of this entry: another's id read through a readable entry tells nothing of it.
  const progress = read?.entry === name ? read : undefined;
  if (progress === undefined)
    throw new BeatError(ErrorCode.UnknownEntry, `no backfill ${shown(id)} in progress or finished within the last hour`);
  return { status: 200, body: progressBody(name, id, progress) };
}

const BODY_FIELDS = ['from', 'to', 'dryRun', 'limit', 'note', 'unrecorded', 'overlap', 'after', 'waitMs'];

/**
 * The request's body as a backfill's input, a dry run's `after` (the `next` of the page before) and
 * the wait asked, at most `mostWaitMs`; 400 naming every problem (an unknown field is one).
 */
function checkedBody(body: unknown, mostWaitMs: number): { input: BackfillInput; afterMs?: number; waitMs?: number } {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ConfigError(
      'the backfill request',
      [
        {
          path: '',
          message:
            'the body must be a JSON object: {"from", "to", "dryRun"?, "limit"?, "note"?, "unrecorded"?, "overlap"?, "after"?, "waitMs"?}',
        },
      ],
      ErrorCode.ApiBadRequest,
    );
  const raw = body as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((k) => !BODY_FIELDS.includes(k));
  const checked = checkBackfillInput(raw, API_FIELDS);
  const problems = [...(checked.problems ?? []), ...unknown.map((k) => ({ path: k, message: `${shown(k)} is not a field of a backfill` }))];
  const after = raw['after'];
  let afterMs: number | undefined;
  if (after !== undefined) {
    const ms = typeof after === 'string' ? readInstantWithOffset(after) : undefined;
    if (raw['dryRun'] !== true) problems.push({ path: 'after', message: 'after pages a dry run: give it with "dryRun": true' });
    else if (typeof ms === 'number') afterMs = ms;
    else
      problems.push({ path: 'after', message: `after must be the "next" of a dry run's page, got ${shown(JSON.stringify(after) ?? '')}` });
  }
  const waitMs = raw['waitMs'];
  if (waitMs !== undefined && !(Number.isInteger(waitMs) && (waitMs as number) >= 0 && (waitMs as number) <= mostWaitMs))
    problems.push({
      path: 'waitMs',
      message: `waitMs must be a whole number of milliseconds from 0 to ${mostWaitMs}, got ${shown(JSON.stringify(waitMs) ?? '')}; past it, read the progress route`,
    });
  if (checked.problems !== undefined || problems.length > 0)
    throw new ConfigError('the backfill request', problems, ErrorCode.ApiBadRequest);
  return {
    input: checked.input,
    ...(afterMs === undefined ? {} : { afterMs }),
    ...(waitMs === undefined ? {} : { waitMs: waitMs as number }),
  };
}

/**
 * A dry run's page: the slots (run and excluded together) after `afterMs` (from `from` on the first
 * page) up to `to`, at most backfillDryRunPage of them, and `next` when more follow: the reply and
 * the work of one request stay bounded whatever the range (the backfill itself is held to `limit`).
 * An interval's grid is anchored as the whole range's is, so the pages join up exactly.
 */
async function dryRunPage(
  door: BackfillDoor,
  entry: ResolvedEntry,
  input: BackfillInput,
  afterMs: number | undefined,
): Promise<BackfillAnswer> {
  const name = entry.name;
  const stored = (await door.states.readSome([name])).get(name);
  const range = { fromMs: input.fromMs, toMs: input.toMs, limit: DEFAULTS.backfillDryRunPage };
  const page = planned(planBackfill(entry, range, stored?.slotMs, afterMs === undefined ? undefined : Math.max(input.fromMs, afterMs + 1)));
  const last = Math.max(page.slots.at(-1) ?? Number.NEGATIVE_INFINITY, page.excluded.at(-1) ?? Number.NEGATIVE_INFINITY);
  return {
    status: 200,
    body: {
      entry: name,
      dryRun: true,
      slots: slotTexts(page.slots, entry.timezone),
      excluded: slotTexts(page.excluded, entry.timezone),
      ...(page.overLimit ? { next: formatInstant(last, entry.timezone) } : {}),
    },
  };
}

/** A plan, or its refusal as a 400 at `entry`. */
function planned(plan: BackfillPlan | { refusal: string }): BackfillPlan {
  if ('refusal' in plan) throw new ConfigError('the backfill request', [{ path: 'entry', message: plan.refusal }], ErrorCode.ApiBadRequest);
  return plan;
}

/**
 * The entry of this name the deployment runs; 400 (the name is part of what was sent) when none,
 * and the same when the caller may not read it: a scoped caller learns nothing of another's entry.
 */
async function entryOf(door: BackfillDoor, name: string, by: Operator): Promise<ResolvedEntry> {
  const entry = await door.findEntry(name);
  if (entry === undefined || !mayRead(by, scopeOf(entry)))
    throw new ConfigError(
      'the backfill request',
      [{ path: 'entry', message: `no entry ${shown(name)} runs in this deployment` }],
      ErrorCode.ApiBadRequest,
    );
  return entry;
}

/** The entry's slots in the range and, where the config is known, the overlap policy they go out under; 400 when either cannot be. */
async function planFor(
  door: BackfillDoor,
  entry: ResolvedEntry,
  input: BackfillInput,
): Promise<{ plan: BackfillPlan; policy?: BackfillOverlap }> {
  const name = entry.name;
  const stored = (await door.states.readSome([name])).get(name);
  const plan = planned(await planBackfillSliced(entry, input, stored?.slotMs));
  if (plan.overLimit)
    throw new ConfigError(
      'the backfill request',
      [{ path: 'to', message: overLimitMessage(name, input.limit, API_FIELDS) }],
      ErrorCode.ApiBadRequest,
    );
  if (door.config === undefined) return { plan };
  const applied = backfillPolicy(input, entry, door.config(), API_FIELDS);
  if (applied.problem !== undefined)
    throw new ConfigError('the backfill request', [{ path: 'overlap', message: applied.problem }], ErrorCode.ApiBadRequest);
  return { plan, policy: applied.policy };
}
