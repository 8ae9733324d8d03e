/**
 * The leader's publisher of manual runs and backfills, wrapped on its way to the session: what it
 * publishes is reported to a SchedulerEvents (manual runs and backfilled slots published, publishes
 * failed), and a refusal to publish hands leadership over. The schedule's runs are reported by the
 * runner itself (dispatch-window.ts), which hands a failed publish to `handOverOnRefusal` too.
 */
import { messageOutcomeParts } from '../celery/message.js';
import { TriggerResult } from '../ports/control-source.js';
import type { TriggerPublisher } from '../ports/control-source.js';
import type { SchedulerEvents } from '../ports/events.js';
import { publishRefusal } from '../redis/server-errors.js';

/** What the wrappers report. */
export type PublishEvents = Pick<SchedulerEvents, 'publishFailed' | 'triggerPublished' | 'backfillPublished'>;

/**
 * Gives leadership up, saying why. A leader that cannot publish because Redis or the broker refuses
 * it (a stray key at the fence, a missing permission, a read-only replica, a vhost that does not
 * exist) hands over instead of keeping the lock and failing every publish; taking the lock again
 * rewrites the fence.
 */
export type HandOver = (reason: string) => void;

/** Hands over when a failed publish was a refusal that retrying will not fix. */
export function handOverOnRefusal(error: unknown, handOver: HandOver): void {
  const refusal = publishRefusal(error);
  if (refusal !== undefined) handOver(`cannot publish: ${refusal.message}`);
}

/** Reports a failed publish, and hands over if it was a refusal. */
function failedWith(error: unknown, events: PublishEvents, handOver: HandOver): void {
  events.publishFailed(error);
  handOverOnRefusal(error, handOver);
}

/**
 * `inner`, reporting published manual runs (`beat trigger`: published messages too, counted with
 * the scheduled ones), published backfill slots, and failed publishes, handing over on a refusal
 * as scheduled runs do. A canvas run is reported with its parts (from its message's template), so
 * that its outcome is followed part by part as a scheduled run's is.
 */
export function meteredTriggers(inner: TriggerPublisher, events: PublishEvents, handOver: HandOver): TriggerPublisher {
  const backfill = inner.publishBackfill?.bind(inner);
  const claim = inner.claimBackfill?.bind(inner);
  const retry = inner.publishRetry?.bind(inner);
  return {
    ...(claim === undefined ? {} : { claimBackfill: claim }),
    // An attempt is reported by the control loop (SchedulerEvents.retryPublished), which knows its slot and number.
    ...(retry === undefined
      ? {}
      : {
          publishRetry: async (message, member, revision, token, from, record) => {
            try {
              return await retry(message, member, revision, token, from, record);
            } catch (error) {
              failedWith(error, events, handOver);
              throw error;
            }
          },
        }),
    ...(backfill === undefined
      ? {}
      : {
          publishBackfill: async (call) => {
            try {
              const result = await backfill(call);
              if (result.kind === 'done') {
                const runs = call.step.runs.filter((_, i) => result.outcomes[i] === 'published');
                if (runs.length > 0)
                  events.backfillPublished?.(
                    call.entry,
                    runs.map((r) => ({ id: r.message.id, slotMs: r.slotMs, parts: messageOutcomeParts(r.message) })),
                    call.revision,
                  );
              }
              return result;
            } catch (error) {
              failedWith(error, events, handOver);
              throw error;
            }
          },
        }),
    publishTrigger: async (message, requestText, token, nowMs, revision, slotMs) => {
      try {
        const result = await inner.publishTrigger(message, requestText, token, nowMs, revision, slotMs);
        if (result === TriggerResult.Published) events.triggerPublished(message, revision, messageOutcomeParts(message), slotMs);
        return result;
      } catch (error) {
        failedWith(error, events, handOver);
        throw error;
      }
    },
  };
}
