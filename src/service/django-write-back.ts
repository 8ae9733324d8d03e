import type { DjangoEntries } from '../django/source.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';

/**
 * The write-back of the django entries' runs (last_run_at, total_run_count) as a sink of scheduler
 * events: only the leader publishes, so only the leader writes them; and it disables expired rows.
 * last_run_at is the run's publish time as tsbeat stored it (its slot plus its lateness), taken
 * before the send as DatabaseScheduler takes its own: cut-over adoption (redis/seed-states.ts)
 * then knows tsbeat's own run written back, however late the broker's reply or this event came.
 */
export function writeBackSink(django: DjangoEntries | undefined): SchedulerEvents[] {
  if (django === undefined) return [];
  return [
    {
      ...NO_EVENTS,
      published: (run, latenessMs) => {
        // A source with writeBack off (and beat run --dry-run, which has no such sink) writes nothing.
        if (run.entry.origin === 'django') django.recordRun(run.entry.name, run.slotMs + latenessMs);
      },
      // Only the leader disables expired rows (DjangoEntries.leadershipChanged).
      leadershipChanged: (leading) => django.leadershipChanged(leading),
    },
  ];
}
