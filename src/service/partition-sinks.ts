/**
 * The process's sinks of scheduler events (metrics, alerts, check-ins, tracing) and its leader
 * tasks (the senders of alerts and check-ins), as each of its partitions has them. Every event but
 * one goes through as it is; leadership is the process's: a sink hears that this replica leads
 * while it leads any partition, and stands by once it leads none (the metrics' leader gauge, which
 * also forgets the failing entries then). A task that sends what the deployment queued in Redis
 * (alerts) runs with partition 0's sessions, once per deployment; one that sends what this process
 * queued in memory (Sentry check-ins) runs while any of its partitions leads.
 */
import { NO_EVENTS, fanOutEvents } from '../ports/events.js';
import type { SchedulerEvents } from '../ports/events.js';
import type { LeaderTask } from './supervisor.js';

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

/**
 * Each partition's leader tasks (index: the partition): the deployment's (not in `perProcess`) for
 * partition 0 only, and a view of each of `perProcess` for every partition, which starts the task
 * when the first partition starts it and stops it when the last stops it. With one partition, `tasks`.
 */
export function partitionLeaderTasks(
  tasks: readonly LeaderTask[],
  perProcess: ReadonlySet<LeaderTask>,
  partitions: number,
): readonly (readonly LeaderTask[])[] {
  if (partitions === 1) return [tasks];
  const views = new Map([...perProcess].map((task) => [task, sharedTask(task, partitions)]));
  return Array.from({ length: partitions }, (_, p) =>
    tasks.flatMap((task) => {
      const shared = views.get(task);
      if (shared !== undefined) return [shared[p] as LeaderTask];
      return p === 0 ? [task] : [];
    }),
  );
}

function sharedTask(task: LeaderTask, partitions: number): LeaderTask[] {
  const running = new Set<number>();
  return Array.from({ length: partitions }, (_, p) => ({
    start: () => {
      if (running.has(p)) return;
      running.add(p);
      if (running.size === 1) task.start();
    },
    stop: async () => {
      if (!running.delete(p)) return;
      if (running.size === 0) await task.stop();
    },
  }));
}
