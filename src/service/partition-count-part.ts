/**
 * A replica leads only under the deployment's recorded partition count (control/partition-count.ts):
 * `beat run` checks it once connected (a start under another count exits 2, naming both counts and
 * the fix), each partition's lock campaign asks it before an attempt (read at most once per
 * lock.retryEvery for all partitions of the process), and each leader's session asks Redis again
 * before it starts, after the lock is won: a `beat partitions set` that ran between a campaign's look
 * and its lock has recorded the new count before it let the locks go, so the session stands by.
 */
import { BeatError, ErrorCode } from '../base/errors.js';
import { EVENTS } from '../base/log-events.js';
import type { Logger } from '../base/log.js';
import { partitionCountProblem } from '../control/partition-count.js';
import type { PartitionRecord } from '../control/partition-count.js';
import type { PartitionCountStore } from '../redis/partition-count-store.js';
import type { PartitionClockGuard } from './clock-watchers.js';

export interface PartitionCountGuard {
  /** At start: records the count when none is, and throws (exit 2) when this replica may not lead under it. */
  start(): Promise<void>;
  /** Before a lock attempt: why not to lead now, from a read at most `maxAgeMs` old, or undefined. */
  mayLead(): Promise<string | undefined>;
  /** Before a session, with the lock held: throws when this replica may not lead, read from Redis now. */
  confirm(): Promise<void>;
}

export function partitionCountGuard(options: {
  store: Pick<PartitionCountStore, 'read' | 'record'>;
  configured: number;
  logger: Logger;
  maxAgeMs: number;
}): PartitionCountGuard {
  const { store, configured, logger, maxAgeMs } = options;
  let last: { atMs: number; problem: Promise<string | undefined> } | undefined;
  let said: string | undefined;
  const judge = async (): Promise<string | undefined> => {
    // Read first (a read-only or full Redis still answers it); recorded again when gone (a Redis that
    // lost its data): as at start, the caller's count unless state says one.
    const record = (await store.read()) ?? (await store.record(configured));
    const problem = partitionCountProblem(record, configured);
    if (problem !== undefined && problem !== said)
      logger.error({ event: EVENTS.partitionsDiffer, ...record, configured }, `not leading: ${problem}`);
    said = problem;
    return problem;
  };
  const fresh = (): Promise<string | undefined> => {
    const problem = judge();
    last = { atMs: performance.now(), problem };
    // A failed read is not kept: the next look reads again.
    problem.catch(() => {
      last = undefined;
    });
    return problem;
  };
  return {
    start: async () => {
      let record: PartitionRecord;
      try {
        record = (await store.read()) ?? (await store.record(configured));
      } catch {
        // Redis refuses (a read-only replica, out of memory, an ACL without EVALSHA): the lock campaign
        // names the refusal and retries, as without partitions; the session confirms before it leads.
        return;
      }
      const problem = partitionCountProblem(record, configured);
      if (problem !== undefined) throw new BeatError(ErrorCode.PartitionsDiffer, `beat run: ${problem}`);
      said = undefined;
    },
    // A failed read lets the attempt go on: the session's confirm reads again once the lock is won.
    mayLead: () => (last !== undefined && performance.now() - last.atMs < maxAgeMs ? last.problem : fresh()).catch(() => undefined),
    confirm: async () => {
      const problem = await fresh();
      if (problem !== undefined) throw new BeatError(ErrorCode.PartitionsDiffer, problem);
    },
  };
}

/** `guard` whose check before a lock attempt also asks the partition count (the clock's reason first). */
export function countCheckedGuard(guard: PartitionClockGuard, count: Pick<PartitionCountGuard, 'mayLead'>): PartitionClockGuard {
  return {
    check: async () => (await guard.check()) ?? (await count.mayLead()),
    watch: (periodMs, onSkewed) => guard.watch(periodMs, onSkewed),
    unwatch: () => guard.unwatch(),
    reportAhead: (ahead) => guard.reportAhead(ahead),
  };
}
