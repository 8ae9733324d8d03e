/**
 * The partitions' locks as `beat partitions set` holds them while it moves entries: the same lock
 * keys (redlock, on lock.urls' servers or the state Redis) and fences as a replica's (leadership.ts),
 * each lock's token written to its fence as a new leader writes its own, so that a leader whose lock
 * ran out can publish no more, and the move's scripts write only while these tokens are the fences'.
 * Renewed every third of their TTL until released; released, each partition's standbys are told at
 * once, as when a leader steps down.
 */
import type { Redis } from 'ioredis';
import Redlock, { ExecutionError, ResourceLockedError } from 'redlock';
import type { Lock } from 'redlock';
import { errorMessage } from '../base/errors.js';
import { ControlStore } from './control-store.js';
import type { SchedulerKeys } from './keys.js';
import { STEP_DOWN_MESSAGE } from './leadership.js';

export type LockedKeys = SchedulerKeys;

/** A partition whose lock could not be taken, and who holds it when its leader record says. */
export interface LockRefusal {
  readonly keys: LockedKeys;
  /** The replica whose leader record holds the lock's token, or undefined (a lock without a record, or Redis's refusal). */
  readonly leader: string | undefined;
  /** Redis's refusal, when the lock was not held by another but could not be taken. */
  readonly error: string | undefined;
}

export interface HeldLocks {
  /** The token written to the fence of the partition whose lock key is `lock`. */
  tokenOf(lock: string): string;
  /** Undefined while every lock has been renewed in time; else which one was not. */
  lost(): string | undefined;
  /** Releases every lock and tells each partition's standbys. */
  release(): Promise<void>;
}

/**
 * Takes every lock of `partitions`, writing each token to the fence and a leader record naming
 * `holder`; either all of them (held) or none (refused: those that could not be taken, the others
 * released at once).
 */
export async function takePartitionLocks(options: {
  lockClients: readonly Redis[];
  state: Redis;
  partitions: readonly LockedKeys[];
  ttlMs: number;
  holder: string;
  nowMs: number;
}): Promise<{ held: HeldLocks; refused?: undefined } | { held?: undefined; refused: LockRefusal[] }> {
  const { state, ttlMs, holder } = options;
  const redlock = new Redlock([...options.lockClients], { retryCount: 0 });
  redlock.on('error', () => undefined);
  const locks = new Map<string, { lock: Lock; keys: LockedKeys }>();
  const refused: LockRefusal[] = [];
  for (const keys of options.partitions) {
    try {
      const lock = await redlock.acquire([keys.lock], ttlMs);
      locks.set(keys.lock, { lock, keys });
      const replies = await state
        .multi()
        .set(keys.fence, lock.value)
        .del(keys.leader)
        .hset(keys.leader, { instance: holder, since: String(options.nowMs), token: lock.value })
        .exec();
      const failed = (replies ?? [[new Error('transaction discarded'), null]]).find(([error]) => error)?.[0];
      if (failed) throw failed;
    } catch (error) {
      const leader = (await new ControlStore(state, keys).leader().catch(() => undefined))?.instance;
      refused.push({ keys, leader, error: (await heldElsewhere(error)) ? undefined : errorMessage(error) });
    }
  }
  let lostLock: string | undefined;
  const renewing = setInterval(() => {
    for (const [key, held] of locks)
      void held.lock.extend(ttlMs).then(
        (extended) => {
          held.lock = extended;
        },
        () => {
          lostLock ??= key;
        },
      );
  }, ttlMs / 3);
  renewing.unref();
  const release = async (): Promise<void> => {
    clearInterval(renewing);
    await Promise.all(
      [...locks.values()].map(async ({ lock, keys }) => {
        await lock.release().catch(() => undefined);
        await state.publish(keys.events, `${STEP_DOWN_MESSAGE} ${holder}`).catch(() => undefined);
      }),
    );
  };
  if (refused.length > 0) {
    await release();
    return { refused };
  }
  return {
    held: {
      tokenOf: (lock) => {
        const held = locks.get(lock);
        if (held === undefined) throw new Error(`takePartitionLocks: no lock ${lock} is held`);
        return held.lock.value;
      },
      lost: () => lostLock,
      release,
    },
  };
}

async function heldElsewhere(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const stats = await Promise.all(error.attempts).catch(() => []);
  const votes = stats.flatMap((s) => [...s.votesAgainst.values()]);
  return votes.length > 0 && votes.every((vote) => vote instanceof ResourceLockedError);
}
