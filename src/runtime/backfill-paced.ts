/**
 * A backfill under an overlap policy other than allowAll (core/backfill-overlap.ts says which
 * step comes next): its slots taken in order as if each came due in turn, against whether the
 * entry has a run in flight (the outcome tracker's RunningRuns, as the schedule's policies ask).
 * What would run is learnt from a claim (nothing written); the step then publishes what the policy
 * lets through and holds the rest (counted as overlap, left passed over). A policy that waits for
 * a run to finish (bufferAll, bufferOne's kept slot) ends the wake-up: the request stays pending
 * and the next wake-up (at once when the tracker says that run finished: `waitsFor`), or the next
 * leader, goes on after its `through` — the progress in Redis
 * (published, kept, through) is all it needs, so a failover neither loses nor repeats a slot.
 */
import { DEFAULTS } from '../base/defaults.js';
import { canvasOutcomeParts } from '../celery/canvas.js';
import { errorMessage } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import { paceStep } from '../core/backfill-overlap.js';
import type { BackfillOverlap, PaceStep } from '../core/backfill-overlap.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { RunRecord } from '../ports/outcomes.js';
import type { BackfillWalk, BackfillWorkOptions, StepEnd } from './backfill-walk.js';

type PacedPolicy = Exclude<BackfillOverlap, 'allowAll'>;

/** The request's progress when this wake-up took it up (its hash in Redis). */
export interface Begun {
  readonly published: number;
  readonly kept: boolean;
  readonly throughMs?: number;
  /** The newest slot the request published. */
  readonly lastMs?: number;
}

/** The entry's run not finished, if one counts as running (overlapTimeout as the schedule's policies have it). */
export function runInFlight(o: BackfillWorkOptions, entry: ResolvedEntry): RunRecord | undefined {
  const run = o.running?.unfinishedRun(entry.name);
  if (run === undefined) return undefined;
  if (entry.overlapTimeoutMs !== undefined && o.now() - run.publishedAtMs > entry.overlapTimeoutMs) return undefined;
  return run;
}

/**
 * Works `walk` as far as its policy lets it now: 'fenced', 'stopped' (withdrawn, refused), 'waits'
 * (a run is in flight; the next wake-up goes on), or 'done'.
 */
export async function walkPaced(
  o: BackfillWorkOptions,
  walk: BackfillWalk,
  policy: PacedPolicy,
  begun: Begun,
): Promise<'fenced' | 'stopped' | 'waits' | 'done'> {
  await o.running?.ready();
  await followLastPublished(o, walk, policy, begun);
  let kept = begun.kept;
  let begunInRedis = begun.throughMs !== undefined;
  let lastMs: number | undefined | 'unknown' = 'unknown';
  while (!walk.finished) {
    if (walk.next >= walk.slots.length) {
      // Nothing left to publish: the last step marks the request done (with the excluded slots left).
      const end = await walk.step(0, () => 'hold');
      if (typeof end === 'string') return end;
      continue;
    }
    const published = begun.published + walk.counts.published;
    const pace = paceStep(policy, { inFlight: runInFlight(o, walk.entry) !== undefined, published, kept });
    if (pace.kind === 'wait') {
      // Said before anything is awaited: a run that finishes from here on wakes the control loop.
      o.waitsFor?.(walk.entry.name);
      // A request that only waits so far says it has begun (its `through`), so that it is not taken for abandoned.
      if (!begunInRedis) {
        const end = await walk.step(0, () => 'hold');
        if (typeof end === 'string') return end;
      }
      return 'waits';
    }
    if (pace.kind === 'last' && lastMs === 'unknown') {
      const found = await lastWouldRun(walk);
      if (found === 'fenced' || found === 'stopped') return found;
      lastMs = found;
    }
    const end = await takeStep(o, walk, policy, pace, lastMs === 'unknown' ? undefined : lastMs);
    if (typeof end === 'string') return end;
    begunInRedis = true;
    if (pace.kind === 'keep') kept = true;
  }
  return 'done';
}

async function takeStep(
  o: BackfillWorkOptions,
  walk: BackfillWalk,
  policy: PacedPolicy,
  pace: Exclude<PaceStep, { kind: 'wait' }>,
  lastMs: number | undefined,
): Promise<StepEnd> {
  const chunk = DEFAULTS.backfillChunk;
  if (pace.kind === 'hold') return walk.step(chunk, () => 'hold');
  if (pace.kind === 'last') {
    const index = lastMs === undefined ? -1 : walk.slots.indexOf(lastMs) - walk.next;
    if (index >= 0 && index < chunk) await revokeInFlight(o, walk.entry, policy as 'cancelOther' | 'terminateOther');
    return walk.step(chunk, (i) => (i === index ? 'publish' : 'hold'));
  }
  const codes = await walk.claim(chunk);
  if (typeof codes === 'string') return codes;
  const first = codes.indexOf('published');
  // Nothing in the chunk would run: covered, each slot counted by its code.
  if (first < 0) return walk.step(chunk, () => 'hold');
  if (pace.kind === 'keep') return walk.step(first, () => 'hold', true);
  return walk.step(pace.then === 'stop' ? first + 1 : chunk, (i) => (i === first ? 'publish' : 'hold'));
}

/** The request's last slot that would run (claims, nothing written), or undefined when none would. */
async function lastWouldRun(walk: BackfillWalk): Promise<number | undefined | 'fenced' | 'stopped'> {
  const saved = walk.next;
  let last: number | undefined;
  try {
    while (walk.next < walk.slots.length) {
      const codes = await walk.claim(DEFAULTS.backfillChunk);
      if (typeof codes === 'string') return codes;
      const index = codes.lastIndexOf('published');
      if (index >= 0) last = walk.slots[walk.next + index];
      walk.next += codes.length;
    }
  } finally {
    walk.next = saved;
  }
  return last;
}

/**
 * After a failover the tracker may not have heard of the run this request published last (its
 * record is written a moment after the publish): bufferAll and bufferOne then follow it by its
 * task id, so that the next slot still waits for it.
 */
async function followLastPublished(o: BackfillWorkOptions, walk: BackfillWalk, policy: PacedPolicy, begun: Begun): Promise<void> {
  if ((policy !== 'bufferAll' && policy !== 'bufferOne') || begun.lastMs === undefined) return;
  const taskId = walk.taskId(begun.lastMs);
  // A canvas run is followed by its parts, as when it was published.
  const parts = canvasOutcomeParts(walk.entry, taskId).map((part) => ({ ...part, state: 'PENDING' as const }));
  await o.running?.followRun?.(walk.entry.name, taskId, begun.lastMs, walk.entry.revision, parts);
}

/** cancelOther, terminateOther: the run in flight is revoked through Celery's remote control before the slot goes out. */
async function revokeInFlight(o: BackfillWorkOptions, entry: ResolvedEntry, policy: 'cancelOther' | 'terminateOther'): Promise<void> {
  const previous = runInFlight(o, entry);
  if (previous === undefined) return;
  const terminate = policy === 'terminateOther';
  const signal = entry.overlapSignal ?? DEFAULTS.overlapSignal;
  const fields = {
    entry: entry.name,
    previous: previous.taskId,
    state: previous.state,
    policy,
    terminate,
    ...(terminate ? { signal } : {}),
  };
  const now = o.now();
  if (o.revoker === undefined) {
    o.logger.warn(
      { event: EVENTS.overlapRevokeFailed, ...fields },
      `backfill: overlap "${policy}" cannot revoke here (this broker has no Celery remote control); the slot is published without revoking`,
    );
    return;
  }
  try {
    const { receivers } = await o.revoker.revoke({ taskIds: [previous.taskId], terminate, signal }, now);
    o.logger.info(
      { event: EVENTS.overlapRevoke, ...fields, backfill: true, ...(receivers === undefined ? {} : { receivers }) },
      `backfill: the run in flight (${previous.taskId}) revoked before the backfilled slot is published (overlap "${policy}")`,
    );
    o.revoked?.({ entry: entry.name, taskId: previous.taskId, policy, ...(terminate ? { signal } : {}), outcome: 'sent', atMs: now });
  } catch (error) {
    o.logger.warn(
      { event: EVENTS.overlapRevokeFailed, ...fields, err: errorMessage(error) },
      `backfill: the run in flight (${previous.taskId}) could not be revoked (${errorMessage(error)}); the slot is published all the same`,
    );
    o.revoked?.({ entry: entry.name, taskId: previous.taskId, policy, ...(terminate ? { signal } : {}), outcome: 'failed', atMs: now });
  }
}
