/**
 * The leader's publishers, wrapped on their way to the session: what happens to what they publish is
 * reported to a SchedulerEvents (runs dropped, publishes failed, manual runs published) without the
 * runner knowing about metrics, and a refusal to publish hands leadership over. Published scheduled
 * runs are reported by the runner itself, which knows their lateness.
 */
import { messageOutcomeParts } from '../celery/message.js';
import { TriggerResult } from '../ports/control.js';
import type { TriggerPublisher } from '../ports/control.js';
import type { DispatchResult, DispatchSpeedups, Dispatcher, DueRun } from '../ports/dispatcher.js';
import type { SchedulerEvents } from '../ports/events.js';
import { publishRefusal } from '../redis/server-errors.js';

/** What the wrappers report. */
export type PublishEvents = Pick<SchedulerEvents, 'dropped' | 'publishFailed' | 'triggerPublished' | 'backfillPublished'>;

/**
 * Gives leadership up, saying why. A leader that cannot publish because Redis or the broker refuses
 * it (a stray key at the fence, a missing permission, a read-only replica, a vhost that does not
 * exist) hands over instead of keeping the lock and failing every publish; taking the lock again
 * rewrites the fence.
 */
export type HandOver = (reason: string) => void;

/** Reports a failed publish, and hands over if it was a refusal that retrying will not fix. */
function failedWith(error: unknown, events: PublishEvents, handOver: HandOver): void {
  events.publishFailed(error);
  const refusal = publishRefusal(error);
  if (refusal !== undefined) handOver(`cannot publish: ${refusal.message}`);
}

/**
 * `inner`, reporting dropped runs and failed publishes (a batch that only partly went out is a
 * failed publish too, as a thrown one is). It offers what `inner` offers: its speed-ups only if
 * it has them, so the runner sees the capabilities of the real dispatcher.
 */
export function meteredDispatcher(inner: Dispatcher, events: PublishEvents, handOver: HandOver): Dispatcher {
  // Not async functions: their parameters would be kept, with every message of the batch, until
  // the reply. Only the names wait for it (see Runner.runDue).
  const namesOf = (runs: readonly DueRun[]): string[] => runs.map((r) => r.entry.name);
  const counted = (names: readonly string[], pending: Promise<DispatchResult>): Promise<DispatchResult> =>
    pending.then(
      (result) => {
        if (result.fenced || 'ahead' in result || 'stopped' in result) return result;
        result.outcomes.forEach((o, i) => o === 'dropped' && events.dropped(names[i] ?? ''));
        if (result.failure !== undefined) failedWith(result.failure, events, handOver);
        return result;
      },
      (error: unknown) => {
        failedWith(error, events, handOver);
        throw error;
      },
    );
  const speedups = inner.speedups;
  return {
    ...(inner.dryRun === undefined ? {} : { dryRun: inner.dryRun }),
    dispatch: (runs, token, nowMs) => counted(namesOf(runs), inner.dispatch(runs, token, nowMs)),
    ...(speedups === undefined
      ? {}
      : {
          speedups: {
            prepare: (template) => speedups.prepare(template),
          } satisfies DispatchSpeedups,
        }),
  };
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
  return {
    ...(claim === undefined ? {} : { claimBackfill: claim }),
    ...(backfill === undefined
      ? {}
      : {
          publishBackfill: async (entry, step, request, token, nowMs, revision) => {
            try {
              const result = await backfill(entry, step, request, token, nowMs, revision);
              if (result.kind === 'done') {
                const runs = step.runs.filter((_, i) => result.outcomes[i] === 'published');
                if (runs.length > 0)
                  events.backfillPublished?.(
                    entry,
                    runs.map((r) => ({ id: r.message.id, slotMs: r.slotMs, parts: messageOutcomeParts(r.message) })),
                    revision,
                  );
              }
              return result;
            } catch (error) {
              failedWith(error, events, handOver);
              throw error;
            }
          },
        }),
    publishTrigger: async (message, requestText, token, nowMs, revision) => {
      try {
        const result = await inner.publishTrigger(message, requestText, token, nowMs, revision);
        if (result === TriggerResult.Published) events.triggerPublished(message, revision, messageOutcomeParts(message));
        return result;
      } catch (error) {
        failedWith(error, events, handOver);
        throw error;
      }
    },
  };
}
