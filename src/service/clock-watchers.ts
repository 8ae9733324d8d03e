/**
 * The process's clock guard, shared by its partitions' supervisors. The guard has one watcher (one
 * timer measuring the skew while leading); each partition that leads adds its own hand-over to it,
 * and the timer runs while any partition leads. A skew beyond the bound hands every led partition
 * over, as it hands the one lock over with one partition.
 */
import type { ClockGuard } from '../redis/clock-guard.js';

/** One partition's view of the guard: its `watch` and `unwatch` only add and remove its own watcher. */
export type PartitionClockGuard = Pick<ClockGuard, 'check' | 'watch' | 'unwatch' | 'reportAhead'>;

/** The views of `guard` for `partitions` partitions; with one partition, the guard itself. */
export function clockGuardViews(guard: ClockGuard, partitions: number): readonly PartitionClockGuard[] {
  if (partitions === 1) return [guard];
  const watchers = new Map<number, (reason: string) => void>();
  const unwatch = (partition: number): void => {
    watchers.delete(partition);
    if (watchers.size === 0) guard.unwatch();
  };
  return Array.from({ length: partitions }, (_, partition): PartitionClockGuard => ({
    check: () => guard.check(),
    reportAhead: (ahead) => guard.reportAhead(ahead),
    watch: (periodMs, onSkewed) => {
      const first = watchers.size === 0;
      watchers.set(partition, onSkewed);
      if (first) guard.watch(periodMs, (reason) => [...watchers.values()].forEach((hand) => hand(reason)));
    },
    unwatch: () => unwatch(partition),
  }));
}
