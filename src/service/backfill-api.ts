/**
 * A backfill asked for over HTTP (`POST /api/entries/NAME/backfill`, and the dashboard's entry
 * page through it): the body checked as `beat backfill` checks its flags (control/backfill-request.ts),
 * the slots planned for the limit and `dryRun`, the request queued for the leader with its audit
 * event, then a short wait for the leader to finish: 200 with the counts when it did, else 202 with
 * the request's id and its progress so far (`GET /api/entries/NAME/backfill/ID` reads it later).
 */
import { BeatError, ConfigError, ErrorCode, shown } from '../base/errors.js';
import { DEFAULTS } from '../base/defaults.js';
import {
  API_FIELDS,
  backfillPolicy,
  checkBackfillInput,
  overLimitMessage,
  planBackfill,
  planBackfillSliced,
  slotTexts,
} from '../control/backfill-request.js';
import { formatInstant, readInstantWithOffset } from '../time/zone.js';
import type { BackfillInput, BackfillPlan, BackfillProgress } from '../control/backfill-request.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';
import { awaitBackfill, queueBackfills } from '../operations/backfill-verbs.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import type { Caller } from '../http/auth.js';
import { authorize, mayRead } from '../operations/operator.js';
import { scopeOf } from './control-handlers.js';
import type { ControlStore } from '../redis/control-store.js';
import type { RedisStateStore } from '../redis/state-store.js';

export interface BackfillAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface BackfillApiOptions {
  /** The entry of this name the deployment runs now (the config file's or a runtime one), if any. */
  readonly findEntry: (name: string) => ResolvedEntry | undefined | Promise<ResolvedEntry | undefined>;
  /** The config in force: whether outcomes are followed, and the broker (for `overlap`). */
  readonly config: () => Pick<ResolvedConfig, 'resultBackend' | 'taskEvents'> & { readonly broker: { readonly url: string } };
  readonly states: Pick<RedisStateStore, 'readSome'>;
  readonly control: Pick<ControlStore, 'requestBackfills' | 'backfillProgress' | 'cancelBackfill'>;
  readonly now: () => number;
  /** How long to wait for the leader before answering 202 (DEFAULTS.dashboardTriggerWaitMs). */
  readonly waitMs?: number;
}

/** The JSON of a request's progress, as the API answers it. */
export function progressBody(entry: string, id: string, p: BackfillProgress | undefined): Record<string, unknown> {
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

export function backfillApi(o: BackfillApiOptions): {
  backfill(name: string, body: unknown, by: Caller, note?: string): Promise<BackfillAnswer>;
  backfillProgress(name: string, id: string, by: Caller): Promise<BackfillAnswer>;
} {
  return {
    async backfill(name, body, by, headerNote) {
      const { input, afterMs } = checkedBody(body);
      const note = input.note ?? headerNote;
      const operator = { who: by.who, note, grants: by.grants };
      // An entry outside the caller's read scope is answered as one that does not run (its plan, its
      // limit and overlap refusals would tell it apart); one it reads but may not operate is refused
      // before any of its slots are shown (a dry run too).
      const found = await entryOf(o, name, by);
      authorize(operator, 'operate', [scopeOf(found)]);
      if (input.dryRun) return dryRunPage(o, found, input, afterMs);
      const { plan, policy, entry } = await planFor(o, found, input);
      const [run] = await queueBackfills(o.control, operator, [{ entry: name, plan, scoped: scopeOf(entry) }], input, undefined, o.now());
      const id = run?.id ?? '';
      const progress =
        run && (await awaitBackfill(o.control, run, { waitMs: o.waitMs ?? DEFAULTS.dashboardTriggerWaitMs, withdraw: false }));
      // Not done within the wait: the request stays queued for the leader (there may be none now).
      return {
        status: progress?.doneMs === undefined ? 202 : 200,
        body: { ...progressBody(name, id, progress), overlapPolicy: policy },
      };
    },
    async backfillProgress(name, id, by) {
      const found = await o.findEntry(name);
      const read = found === undefined || !mayRead(by, scopeOf(found)) ? undefined : await o.control.backfillProgress(id);
      // Only a backfill of this entry: another's id read through a readable entry tells nothing of it.
      const progress = read?.entry === name ? read : undefined;
      if (progress === undefined)
        throw new BeatError(ErrorCode.UnknownEntry, `no backfill ${shown(id)} in progress or finished within the last hour`);
      return { status: 200, body: progressBody(name, id, progress) };
    },
  };
}

const BODY_FIELDS = ['from', 'to', 'dryRun', 'limit', 'note', 'unrecorded', 'overlap', 'after'];

/**
 * The request's body as a backfill's input, and a dry run's `after` (the `next` of the page before);
 * 400 naming every problem (an unknown field is one).
 */
function checkedBody(body: unknown): { input: BackfillInput; afterMs?: number } {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ConfigError(
      'the backfill request',
      [
        {
          path: '',
          message: 'the body must be a JSON object: {"from", "to", "dryRun"?, "limit"?, "note"?, "unrecorded"?, "overlap"?, "after"?}',
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
  if (checked.problems !== undefined || problems.length > 0)
    throw new ConfigError('the backfill request', problems, ErrorCode.ApiBadRequest);
  return { input: checked.input, ...(afterMs === undefined ? {} : { afterMs }) };
}

/**
 * A dry run's page: the slots (run and excluded together) after `afterMs` (from `from` on the first
 * page) up to `to`, at most backfillDryRunPage of them, and `next` when more follow: the reply and
 * the work of one request stay bounded whatever the range (the backfill itself is held to `limit`).
 * An interval's grid is anchored as the whole range's is, so the pages join up exactly.
 */
async function dryRunPage(
  o: BackfillApiOptions,
  entry: ResolvedEntry,
  input: BackfillInput,
  afterMs: number | undefined,
): Promise<BackfillAnswer> {
  const name = entry.name;
  const stored = (await o.states.readSome([name])).get(name);
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
async function entryOf(o: BackfillApiOptions, name: string, by: Caller): Promise<ResolvedEntry> {
  const entry = await o.findEntry(name);
  if (entry === undefined || !mayRead(by, scopeOf(entry)))
    throw new ConfigError(
      'the backfill request',
      [{ path: 'entry', message: `no entry ${shown(name)} runs in this deployment` }],
      ErrorCode.ApiBadRequest,
    );
  return entry;
}

/** The entry, its slots in the range and the overlap policy they go out under; 400 when any cannot be. */
async function planFor(
  o: BackfillApiOptions,
  entry: ResolvedEntry,
  input: BackfillInput,
): Promise<{ entry: ResolvedEntry; plan: BackfillPlan; policy: BackfillOverlap }> {
  const name = entry.name;
  const stored = (await o.states.readSome([name])).get(name);
  const plan = planned(await planBackfillSliced(entry, input, stored?.slotMs));
  if (plan.overLimit)
    throw new ConfigError(
      'the backfill request',
      [{ path: 'to', message: overLimitMessage(name, input.limit, API_FIELDS) }],
      ErrorCode.ApiBadRequest,
    );
  const applied = backfillPolicy(input, entry, o.config(), API_FIELDS);
  if (applied.problem !== undefined)
    throw new ConfigError('the backfill request', [{ path: 'overlap', message: applied.problem }], ErrorCode.ApiBadRequest);
  return { entry, plan, policy: applied.policy };
}
