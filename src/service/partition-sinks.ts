/**
 * The process's sinks of scheduler events (metrics, alerts, check-ins, tracing), as each of its
 * partitions tells them. Every event but one goes through as it is; leadership is the process's: a
 * sink hears that this replica leads while it leads any partition, and stands by once it leads
 * none (the metrics' leader gauge, which also forgets the failing entries then).
 */
import { NO_EVENTS, fanOutEvents } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';

/** Each partition's sinks (index: the partition). With one partition, the process's sinks themselves. */
export function partitionSinks(sinks: readonly SchedulerEvents[], partitions: number): readonly (readonly SchedulerEvents[])[] {
  if (partitions === 1) return [sinks];
  const leading = new Set<number>();
  let told: boolean | undefined;
  // NO_EVENTS among them: fanOutEvents then always makes a plain object of its own, safe to spread.
  const all = fanOutEvents([...sinks, NO_EVENTS]);
  return Array.from({ length: partitions }, (_, partition) => [
    {
      ...all,
      leadershipChanged: (leads: boolean) => {
        if (leads) leading.add(partition);
        else leading.delete(partition);
        const now = leading.size > 0;
        // Said once per change of the process's leadership (and once at the first campaign).
        if (now === told) return;
        told = now;
        all.leadershipChanged(now);
      },
    },
  ]);
}
