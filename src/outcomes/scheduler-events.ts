/**
 * The outcome tracker as a listener of what the scheduler reports: it hears of each published run
 * (scheduled or manual) and starts or stops with the leadership; everything is passed on to `next`
 * (the metrics) as well. Entries with `ignoreResult` are not followed: their workers store no result.
 */
import type { SchedulerEvents } from '../ports/events.js';
import type { Clock } from '../ports/clock.js';
import type { OutcomeTracker } from './tracker.js';

export function trackingEvents(
  next: SchedulerEvents,
  tracker: OutcomeTracker,
  clock: Clock,
  onError: (error: unknown) => void,
): SchedulerEvents {
  return {
    ...next,
    published: (run, latenessMs) => {
      next.published(run, latenessMs);
      if (run.entry.options.ignoreResult !== true) tracker.published(run.entry.name, run.id, run.slotMs, clock.now());
    },
    triggerPublished: (message) => {
      next.triggerPublished(message);
      const now = clock.now();
      tracker.published(message.entry, message.id, now, now);
    },
    leadershipChanged: (leading) => {
      next.leadershipChanged(leading);
      (leading ? tracker.start() : tracker.stop()).catch(onError);
    },
  };
}
