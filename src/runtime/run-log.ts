/** What the runner tells operators and the event sink about runs: published, already published, missed, refused. */
import { DEFAULTS } from '../base/defaults.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import type { DuePlan } from '../core/schedule.js';
import type { ResolvedEntry } from '../config/resolve.js';
import type { PublishResult, SlotAhead } from '../ports/dispatcher.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { Destination } from '../celery/routing.js';
import { formatInstant } from '../time/zone.js';
import type { BookEntry } from './entry-book.js';

/**
 * What is kept of a batch handed to the dispatcher until it is recorded: `entries[i]` ran `slots[i]`
 * as task `ids[i]`, sent to `destinations[i]` (its shape's, shared: kept so that recording a run
 * does not look its entry's template up again).
 */
export interface SentBatch {
  /** The instant its runs were taken at: the wake-up's, or later for a frequent entry's taken during a burst (dispatch-window.ts). */
  readonly atMs: number;
  readonly entries: BookEntry[];
  readonly slots: number[];
  readonly ids: string[];
  readonly destinations: Destination[];
}

export interface RunLogOptions {
  readonly logger: Logger;
  readonly events: SchedulerEvents;
  /** A dry run: its runs are printed, not published, and the log must not say "published". */
  readonly dryRun: boolean;
}

/**
 * How many runs of one wake-up have been told so far: the first DEFAULTS.fireLogSample get their
 * `beat.fire` / `beat.stale` line at info, the rest at debug only, and the wake-up then ends with a
 * `beat.burst` summary (see logBurst): a line per run would hold a few hundred bytes of text per
 * run of the burst at once on its way to the stream.
 */
export interface FireTally {
  published: number;
  stale: number;
  /** The first and last slot published (a burst is mostly one). */
  firstSlotMs: number;
  lastSlotMs: number;
  maxLatenessMs: number;
}

export function fireTally(): FireTally {
  return { published: 0, stale: 0, firstSlotMs: Infinity, lastSlotMs: -Infinity, maxLatenessMs: 0 };
}

/** One line per run of a recorded batch (`beat.fire`, `beat.stale`; see FireTally), and the published runs to the event sink. */
export function logRecorded(
  options: RunLogOptions,
  sent: SentBatch,
  outcomes: readonly PublishResult[],
  nowMs: number,
  tally: FireTally,
): void {
  const { logger, events } = options;
  const debug = logger.isLevelEnabled('debug');
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
    const destination = sent.destinations[i] as Destination;
    const told = tally.published + tally.stale;
    if (outcome === 'published') {
      const lateness = nowMs - slotMs;
      tally.published += 1;
      tally.firstSlotMs = Math.min(tally.firstSlotMs, slotMs);
      tally.lastSlotMs = Math.max(tally.lastSlotMs, slotMs);
      tally.maxLatenessMs = Math.max(tally.maxLatenessMs, lateness);
      events.published({ entry, slotMs, id, destination }, lateness);
    } else {
      tally.stale += 1;
    }
    const info = told < DEFAULTS.fireLogSample;
    if (!info && !debug) return;
    const level = info ? 'info' : 'debug';
    const fields = {
      entry: entry.name,
      task: entry.task,
      queue: destination.declareQueue ?? destination.routingKey,
      exchange: destination.exchange === '' ? undefined : destination.exchange,
      slot: slotText(slotMs, entry.timezone),
      id,
    };
    if (outcome === 'published')
      logger[level](
        { event: EVENTS.fire, ...fields, latenessMs: nowMs - slotMs },
        options.dryRun ? 'would publish (dry run: not published)' : 'published',
      );
    else logger[level]({ event: EVENTS.stale, ...fields }, 'already published; not sent again');
  });
}

/** After a wake-up that told more runs than its sample at info: how many there were, in one line. */
export function logBurst(options: RunLogOptions, tally: FireTally, nowMs: number, recordedMs: number): void {
  if (tally.published + tally.stale <= DEFAULTS.fireLogSample) return;
  options.logger.info(
    {
      event: EVENTS.burst,
      published: tally.published,
      stale: tally.stale,
      logged: DEFAULTS.fireLogSample,
      firstSlot: Number.isFinite(tally.firstSlotMs) ? new Date(tally.firstSlotMs).toISOString() : undefined,
      lastSlot: Number.isFinite(tally.lastSlotMs) ? new Date(tally.lastSlotMs).toISOString() : undefined,
      maxLatenessMs: tally.maxLatenessMs,
      recordedAfterMs: recordedMs - nowMs,
    },
    options.dryRun
      ? `would publish ${tally.published} runs (dry run); the first ${DEFAULTS.fireLogSample} logged one by one, every run at debug`
      : `published ${tally.published} runs (${tally.stale} already published); the first ${DEFAULTS.fireLogSample} logged one by one, every run at debug`,
  );
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
