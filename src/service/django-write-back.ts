import type { DjangoSource } from '../django/source.js';
import { NO_EVENTS } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';

/**
 * The write-back of the django entries' runs (last_run_at, total_run_count) as a sink of scheduler
 * events: only the leader publishes, so only the leader writes them.
 */
export function writeBackSink(django: DjangoSource | undefined, now: () => number): SchedulerEvents[] {
  const writeBack = django?.writeBack;
  if (writeBack === undefined) return [];
  return [
    {
      ...NO_EVENTS,
      published: (run) => {
        if (run.entry.origin === 'django') writeBack.record(run.entry.name, now());
      },
    },
  ];
}
