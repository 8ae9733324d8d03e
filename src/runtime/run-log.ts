/** What the runner tells operators and the event sink about runs: published, already published, missed, refused. */
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { DuePlan } from '../core/due.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { RunOutcome, SlotAhead } from '../ports/dispatcher.js';
import type { SchedulerEvents } from '../ports/events.js';
import { formatInstant } from '../time/zone.js';
import type { SentBatch } from './batch.js';
import type { RunRenderer } from './run-render.js';

export interface RunLogOptions {
  readonly logger: Logger;
  readonly events: SchedulerEvents;
  readonly renderer: RunRenderer;
  /** A dry run: its runs are printed, not published, and the log must not say "published". */
  readonly dryRun: boolean;
}

/** One line per run of a recorded batch (`beat.fire`, `beat.stale`), and the published runs to the event sink. */
export function logRecorded(options: RunLogOptions, sent: SentBatch, outcomes: readonly RunOutcome[], nowMs: number): void {
  const { logger, events, renderer } = options;
  // A burst is mostly runs of one slot in one zone: format it once.
  let last = { ms: Number.NaN, zone: '', text: '' };
  const slotText = (ms: number, zone: string): string => {
    if (ms !== last.ms || zone !== last.zone) last = { ms, zone, text: formatInstant(ms, zone) };
    return last.text;
  };
  sent.entries.forEach((held, i) => {
    const outcome = outcomes[i];
    if (outcome !== 'published' && outcome !== 'stale') return;
    const slotMs = sent.slots[i] as number;
    const id = sent.ids[i] as string;
    const { entry } = held;
    const destination = renderer.destination(entry);
    const fields = {
      entry: entry.name,
      task: entry.task,
      queue: destination.declareQueue ?? destination.routingKey,
      exchange: destination.exchange === '' ? undefined : destination.exchange,
      slot: slotText(slotMs, entry.timezone),
      id,
    };
    if (outcome === 'published') {
      const lateness = nowMs - slotMs;
      logger.info(
        { event: EVENTS.fire, ...fields, latenessMs: lateness },
        options.dryRun ? 'would publish (dry run: not published)' : 'published',
      );
      events.published({ entry, slotMs, id, destination }, lateness);
    } else {
      logger.info({ event: EVENTS.stale, ...fields }, 'already published; not sent again');
    }
  });
}

/**
 * Slots passed over, fired once for several, or replayed together: said once per entry and wake-up;
 * slots passed over are reported to the event sink too. `firstSlotMs` is the entry's first pending
 * slot before the plan; `due` the plan as the catch-up policy made it (before an overlap policy
 * took slots out of `plan`): its missed slots are those before its first slot to publish, or,
 * with none, through its cursor.
 */
export function logMissed(
  options: RunLogOptions,
  entry: ResolvedEntry,
  plan: DuePlan,
  firstSlotMs: number | undefined,
  nowMs: number,
  due: DuePlan = plan,
): void {
  const { logger } = options;
  if (plan.missed > 0 && plan.missedReason !== undefined && firstSlotMs !== undefined) {
    const next = due.slots[0];
    const lastSlotMs = next === undefined ? due.cursorMs : next - 1;
    options.events.missed({ entry, count: plan.missed, reason: plan.missedReason, firstSlotMs, atMs: nowMs, lastSlotMs });
  }
  // A replay (catchUp "all") misses nothing but fires several slots at once: operators must see
  // that too, or a burst of late runs after downtime goes unexplained in the log.
  if (plan.missed === 0 && plan.slots.length <= 1) return;
  const fields = {
    entry: entry.name,
    task: entry.task,
    missed: plan.missed,
    reason: plan.missedReason,
    policy: entry.catchUp,
  };
  if (plan.slots.length === 0) {
    logger.info({ event: EVENTS.skip, ...fields }, 'missed slots skipped; waiting for the next one');
  } else {
    logger.info(
      { event: EVENTS.catchUp, ...fields, firing: plan.slots.length },
      entry.catchUp === 'all' ? 'replaying missed slots' : 'overdue: firing once for the missed slots',
    );
  }
}

/** The script refused a slot ahead of Redis's clock: nothing of the batch went out. */
export function logClockAhead(logger: Logger, ahead: SlotAhead): void {
  logger.error(
    {
      event: EVENTS.clockAhead,
      slot: new Date(ahead.slotMs).toISOString(),
      redisTime: new Date(ahead.redisMs).toISOString(),
      aheadMs: ahead.slotMs - ahead.redisMs,
    },
    `refused to publish a slot ${ahead.slotMs - ahead.redisMs} ms ahead of the Redis server's clock (more than lock.maxClockSkew): the local clock is ahead; nothing was published. Synchronise the clock (NTP).`,
  );
}
