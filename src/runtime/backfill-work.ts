/**
 * The leader's side of backfills (`beat backfill`): each pending request is planned again from the
 * leader's own definition of the entry (the core enumerates the slots of the range and tells the
 * excluded ones apart), then published in steps of DEFAULTS.backfillChunk slots through the fenced
 * backfill script, each slot with the task id its schedule gives it (slotTaskId), so that a slot
 * already published (by the schedule or an earlier backfill) is skipped in the same atomic step
 * that would publish it. A step's progress is written with it: a leader that dies between steps
 * leaves the request pending, and the next one goes on after the last step's `through`.
 */
import { compileMessageTemplate, renderTaskMessage } from '../celery/message.js';
import type { MessageEnv } from '../celery/message.js';
import { slotIdPrefix, slotTaskId } from '../celery/task-id.js';
import type { ResolvedConfig, ResolvedEntry } from '../config/resolve.js';
import { overLimitMessage, planFrom, CLI_FIELDS } from '../control/backfill.js';
import { backfillRefusal } from '../core/backfill.js';
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { BackfillRequest, BackfillSlotOutcome, BackfillSource, BackfillStep, TriggerPublisher } from '../ports/control.js';

export interface BackfillWorkOptions {
  readonly config: ResolvedConfig;
  readonly source: BackfillSource;
  readonly publisher: TriggerPublisher;
  readonly messageEnv: MessageEnv;
  readonly logger: Logger;
  readonly now: () => number;
  readonly lease: () => string | undefined;
  readonly findEntry: (name: string) => ResolvedEntry | undefined;
}

/** Works through the pending requests; 'fenced' when this instance stopped leading meanwhile. */
export async function workBackfills(o: BackfillWorkOptions): Promise<'fenced' | undefined> {
  for (const { text, request } of await o.source.pendingBackfills(DEFAULTS.backfillsPerWake)) {
    if (o.lease() === undefined) return 'fenced';
    if (request === undefined) {
      await refuse(o, text, undefined, 'not a backfill request (unreadable JSON): discarded');
      continue;
    }
    const entry = o.findEntry(request.entry);
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

async function workOne(
  o: BackfillWorkOptions,
  text: string,
  request: BackfillRequest,
  entry: ResolvedEntry,
): Promise<'fenced' | undefined> {
  const publish = o.publisher.publishBackfill?.bind(o.publisher);
  if (publish === undefined) {
    await refuse(o, text, request, 'this broker has no fenced path for a backfill');
    return undefined;
  }
  const through = await o.source.backfillThrough(request.id);
  // Not begun and older than any requester still waits: its beat backfill gave up (and was killed before withdrawing it).
  if (through === undefined && o.now() - request.at > DEFAULTS.backfillMaxAgeMs) {
    await refuse(o, text, request, `not begun within ${DEFAULTS.backfillMaxAgeMs / 60_000} minutes of its request`);
    return undefined;
  }
  const refusal = backfillRefusal(entry.schedule);
  if (refusal !== undefined) {
    await refuse(o, text, request, `its schedule is ${refusal}`);
    return undefined;
  }
  const plan = planFrom(entry, request, request.anchorMs);
  if (plan.overLimit) {
    await refuse(o, text, request, overLimitMessage(entry.name, request.limit, CLI_FIELDS));
    return undefined;
  }
  const total = plan.slots.length + plan.excluded.length;
  const slots = through === undefined ? plan.slots : plan.slots.filter((s) => s > through);
  const excluded = through === undefined ? plan.excluded : plan.excluded.filter((s) => s > through);
  const template = compileMessageTemplate(entry, o.config, o.messageEnv);
  const idPrefix = slotIdPrefix(o.config.name, entry.name);
  const counts: Record<BackfillSlotOutcome, number> = { published: 0, recorded: 0, ahead: 0, unrecorded: 0 };
  let next = 0;
  let nextExcluded = 0;
  do {
    const token = o.lease();
    if (token === undefined) return 'fenced';
    const chunk = slots.slice(next, next + DEFAULTS.backfillChunk);
    const last = next + chunk.length >= slots.length;
    // The step covers the excluded slots up to its last slot (all that are left, on the last step).
    const throughMs = last ? Math.max(request.toMs, through ?? request.toMs) : (chunk[chunk.length - 1] as number);
    let passed = 0;
    while (nextExcluded + passed < excluded.length && (excluded[nextExcluded + passed] as number) <= throughMs) passed += 1;
    const now = o.now();
    const step: BackfillStep = {
      runs: chunk.map((slotMs) => ({
        slotMs,
        message: renderTaskMessage(template, { taskId: slotTaskId(o.config.name, entry.name, slotMs, idPrefix), slotMs, nowMs: now }),
      })),
      excluded: passed,
      throughMs,
      total,
      last,
    };
    const result = await publish(entry.name, step, { text, id: request.id, unrecorded: request.unrecorded }, token, now, entry.revision);
    if (result.kind === 'fenced') return 'fenced';
    if (result.kind === 'withdrawn' || result.kind === 'superseded') {
      o.logger.info(
        { event: EVENTS.backfill, entry: entry.name, id: request.id, outcome: result.kind, ...counts },
        result.kind === 'withdrawn'
          ? 'backfill withdrawn by its requester (or finished by another leader): stopped'
          : 'backfill waits: the entry changed since it was read',
      );
      return undefined;
    }
    if (result.kind === 'refused') {
      // Removed already on Redis (by the step that found it); on RabbitMQ and SQS only here. Either way its reason is kept for the requester.
      o.logger.warn({ event: EVENTS.backfill, entry: entry.name, id: request.id, ...counts }, `backfill refused: ${result.reason}`);
      await o.source.refuseBackfill(text, request.id, result.reason, o.now());
      return undefined;
    }
    for (const outcome of result.outcomes) counts[outcome] += 1;
    next += chunk.length;
    nextExcluded += passed;
  } while (next < slots.length);
  o.logger.info(
    {
      event: EVENTS.backfill,
      entry: entry.name,
      id: request.id,
      from: new Date(request.fromMs).toISOString(),
      to: new Date(request.toMs).toISOString(),
      ...counts,
      excluded: excluded.length,
      ...(request.note === undefined ? {} : { note: request.note }),
    },
    `backfill done: ${counts.published} published`,
  );
  return undefined;
}
