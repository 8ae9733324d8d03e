/**
 * The leader's side of backfills (`beat backfill`): each pending request is planned again from the
 * leader's own definition of the entry (the core enumerates the slots of the range and tells the
 * excluded ones apart), then published in steps of DEFAULTS.backfillChunk slots through the fenced
 * backfill script (backfill-walk.ts), each slot with the task id its schedule gives it, so that a
 * slot already published (by the schedule or an earlier backfill) is skipped in the same atomic
 * step that would publish it. A step's progress is written with it: a leader that dies between
 * steps leaves the request pending, and the next one goes on after the last step's `through`.
 * Under the request's overlap policy (`--overlap`, else the entry's own) all go out at once
 * (allowAll), or one at a time as backfill-paced.ts decides. A RedBeat or django entry is checked
 * against its source before it is planned and before each later step (before-publish.ts): an edit
 * makes the request wait for the entry as it is now (planned again from there), a delete makes it
 * a request for an entry the leader lacks.
 */
import { overLimitMessage, planFromSliced, CLI_FIELDS } from '../control/backfill-request.js';
import { backfillRefusal } from '../core/backfill-slots.js';
import { backfillOverlap, needsOutcomes, revokesPrevious } from '../core/backfill-overlap.js';
import type { BackfillOverlap } from '../core/backfill-overlap.js';
import type { ResolvedEntry } from '../config/resolve.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { BackfillRequest } from '../ports/control-source.js';
import { BackfillWalk } from './backfill-walk.js';
import type { BackfillWorkOptions } from './backfill-walk.js';
import { walkPaced } from './backfill-paced.js';
import { checkedEntry } from './before-publish.js';

/** Backfill requests the control loop reads per look; one is worked on at a time. */
const BACKFILLS_PER_WAKE = 10;
/**
 * A backfill request not begun by a leader within this long is discarded: `beat backfill` gave up
 * waiting long ago (it withdraws its request when it does, unless it was killed).
 */
const BACKFILL_MAX_AGE_MS = 15 * 60_000;

export type { BackfillWorkOptions };

/** The pending requests a look works through, oldest first. */
export function pendingBackfills(source: BackfillWorkOptions['source']): ReturnType<BackfillWorkOptions['source']['pendingBackfills']> {
  return source.pendingBackfills(BACKFILLS_PER_WAKE);
}

/**
 * Works through the pending requests (`pending`, read as the look began); 'fenced' when this
 * instance stopped leading meanwhile.
 */
export async function workBackfills(o: BackfillWorkOptions, pending = pendingBackfills(o.source)): Promise<'fenced' | undefined> {
  for (const { text, request } of await pending) {
    if (o.lease() === undefined) return 'fenced';
    if (request === undefined) {
      await refuse(o, text, undefined, 'not a backfill request (unreadable JSON): discarded');
      continue;
    }
    const found = o.findEntry(request.entry);
    const entry = found && (await checkedEntry(o.beforePublish, found, o.findEntry));
    // As with a trigger: a runtime entry written a moment ago may not have reached this catalog yet.
    if (entry === undefined && o.now() - request.at < DEFAULTS.triggerUnknownGraceMs) continue;
    if (entry === undefined) {
      await refuse(o, text, request, `the leader has no entry "${request.entry}"`);
      continue;
    }
    if ((await workOne(o, text, request, entry)) === 'fenced') return 'fenced';
  }
  return undefined;
}

async function refuse(o: BackfillWorkOptions, text: string, request: BackfillRequest | undefined, reason: string): Promise<void> {
  o.logger.warn(
    { event: EVENTS.backfill, ...(request ? { entry: request.entry, id: request.id } : { request: text.slice(0, 200) }) },
    `backfill refused: ${reason}`,
  );
  await o.source.refuseBackfill(text, request?.id, reason, o.now());
}

/**
 * Why the leader cannot apply the request's policy (one it names: the entry's own falls back to
 * allowAll here, as the schedule publishes such an entry), or undefined.
 */
function policyRefusal(
  o: BackfillWorkOptions,
  request: BackfillRequest,
  entry: ResolvedEntry,
  policy: BackfillOverlap,
): string | undefined {
  if (request.overlap === undefined || !needsOutcomes(policy)) return undefined;
  if (o.running === undefined)
    return `overlap "${policy}" needs to know when the previous run finished, and this leader follows no run outcomes (set resultBackend or taskEvents)`;
  if (entry.options.ignoreResult === true)
    return `overlap "${policy}" needs the task's result, but the entry's options.ignoreResult is true`;
  if (revokesPrevious(policy) && o.revoker === undefined)
    return `overlap "${policy}" revokes through Celery's remote control, which this broker (SQS) does not carry`;
  if (o.publisher.claimBackfill === undefined) return `overlap "${policy}" is not served by this broker's backfill path`;
  return undefined;
}

/** The policy the leader applies: the request's, or the entry's own when runs are followed (else allowAll, as the schedule). */
function appliedPolicy(o: BackfillWorkOptions, request: BackfillRequest, entry: ResolvedEntry): BackfillOverlap {
  const policy = backfillOverlap(request.overlap, entry.overlap);
  if (request.overlap !== undefined || !needsOutcomes(policy)) return policy;
  const followed = o.running !== undefined && entry.options.ignoreResult !== true && o.publisher.claimBackfill !== undefined;
  return followed ? policy : 'allowAll';
}

async function workOne(
  o: BackfillWorkOptions,
  text: string,
  request: BackfillRequest,
  entry: ResolvedEntry,
): Promise<'fenced' | undefined> {
  if (o.publisher.publishBackfill === undefined) {
    await refuse(o, text, request, 'this broker has no fenced path for a backfill');
    return undefined;
  }
  const begun = await o.source.backfillProgress(request.id);
  const through = begun?.throughMs;
  // Not begun and older than any requester still waits: its beat backfill gave up (and was killed before withdrawing it).
  if (through === undefined && o.now() - request.at > BACKFILL_MAX_AGE_MS) {
    await refuse(o, text, request, `not begun within ${BACKFILL_MAX_AGE_MS / 60_000} minutes of its request`);
    return undefined;
  }
  const refusal = backfillRefusal(entry.schedule);
  if (refusal !== undefined) {
    await refuse(o, text, request, `its schedule is ${refusal}`);
    return undefined;
  }
  const policy = appliedPolicy(o, request, entry);
  const problem = policyRefusal(o, request, entry, policy);
  if (problem !== undefined) {
    await refuse(o, text, request, problem);
    return undefined;
  }
  // Planned in pages with a turn of the loop between them: up to backfillLimitMax slots, never in one piece.
  const plan = await planFromSliced(entry, request, request.anchorMs);
  if (plan.overLimit) {
    await refuse(o, text, request, overLimitMessage(entry.name, request.limit, CLI_FIELDS));
    return undefined;
  }
  const total = plan.slots.length + plan.excluded.length;
  const slots = through === undefined ? plan.slots : plan.slots.filter((s) => s > through);
  const excluded = through === undefined ? plan.excluded : plan.excluded.filter((s) => s > through);
  const walk = new BackfillWalk(o, text, request, entry, slots, excluded, total, through);
  const end =
    policy === 'allowAll'
      ? await walkAll(walk)
      : await walkPaced(o, walk, policy, {
          published: begun?.published ?? 0,
          kept: begun?.kept === true,
          ...(through === undefined ? {} : { throughMs: through }),
          ...(begun?.lastMs === undefined ? {} : { lastMs: begun.lastMs }),
        });
  if (end === 'fenced') return 'fenced';
  if (end === 'done') logDone(o, walk, policy);
  return undefined;
}

/** allowAll: every slot that never ran goes out, a step after the other. */
async function walkAll(walk: BackfillWalk): Promise<'fenced' | 'stopped' | 'done'> {
  do {
    const end = await walk.step(DEFAULTS.backfillChunk);
    if (end === 'fenced' || end === 'stopped') return end;
  } while (!walk.finished);
  return 'done';
}

function logDone(o: BackfillWorkOptions, walk: BackfillWalk, policy: BackfillOverlap): void {
  const { request, entry } = walk;
  o.logger.info(
    {
      event: EVENTS.backfill,
      entry: entry.name,
      id: request.id,
      from: new Date(request.fromMs).toISOString(),
      to: new Date(request.toMs).toISOString(),
      overlapPolicy: policy,
      ...walk.counts,
      excluded: walk.excludedLeft,
      ...(request.note === undefined ? {} : { note: request.note }),
    },
    `backfill done: ${walk.counts.published} published`,
  );
}
