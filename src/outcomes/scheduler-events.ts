/**
 * The outcome tracker as a listener of what the scheduler reports: it hears of each published run
 * (scheduled, manual or backfilled; a canvas run with its parts); everything is passed on to `next` (the metrics) as well. Entries with
 * `ignoreResult` are not followed: their workers store no result. It starts and stops with each
 * leader session (`trackerTask`), not with the lock, so that the runs a session's last dispatch
 * published are recorded before the lock is let go.
 */
import type { PublishedRun, SchedulerEvents } from '../ports/events.js';
import type { Clock } from '../ports/clock.js';
import type { RunPart } from '../ports/outcomes.js';
import type { OutcomeTracker } from './tracker.js';

/** A canvas run's parts (the service gives celery/canvas.ts's canvasOutcomeParts); empty for a run of one task. */
export type RunPartsOf = (entry: PublishedRun['entry'], runId: string) => readonly RunPart[];

/** A published canvas run's parts as the tracker follows them from its publish: all PENDING. */
const pending = (parts: readonly Omit<RunPart, 'state'>[] | undefined): RunPart[] | undefined =>
  parts?.map((part) => ({ ...part, state: 'PENDING' }));

export function trackingEvents(next: SchedulerEvents, tracker: OutcomeTracker, clock: Clock, partsOf?: RunPartsOf): SchedulerEvents {
  return {
    ...next,
    published: (run, latenessMs) => {
      next.published(run, latenessMs);
      if (run.entry.options.ignoreResult !== true)
        tracker.published(run.entry.name, run.id, run.slotMs, clock.now(), undefined, run.entry.revision, partsOf?.(run.entry, run.id));
    },
    triggerPublished: (message, revision, parts, slotMs) => {
      next.triggerPublished(message, revision, parts, slotMs);
      const now = clock.now();
      // A dead letter's replay stands for its item's slot (its message's beat_scheduled_at): should it
      // fail again, its new item keeps that slot, not the replay's time.
      tracker.published(message.entry, message.id, slotMs ?? now, now, 'trigger', revision, pending(parts));
    },
    retryPublished: (message, slotMs, attempt, retryOf, revision, parts) => {
      next.retryPublished?.(message, slotMs, attempt, retryOf, revision, parts);
      // A canvas's attempt is followed part by part, as its slot's run was.
      tracker.published(message.entry, message.id, slotMs, clock.now(), undefined, revision, pending(parts), { attempt, retryOf });
    },
    backfillPublished: (entry, runs, revision) => {
      next.backfillPublished?.(entry, runs, revision);
      const now = clock.now();
      for (const run of runs) tracker.published(entry, run.id, run.slotMs, now, 'backfill', revision, pending(run.parts));
    },
    revoked: (revoke) => {
      next.revoked?.(revoke);
      if (revoke.outcome === 'sent') tracker.revoked(revoke.entry, revoke.taskId, revoke.policy);
    },
  };
}

/** The tracker as work of the leader: started before each session, stopped after it. */
export function trackerTask(tracker: OutcomeTracker, onError: (error: unknown) => void): { start(): void; stop(): Promise<void> } {
  return {
    start: () => void tracker.start().catch(onError),
    stop: () => tracker.stop().catch(onError),
  };
}
