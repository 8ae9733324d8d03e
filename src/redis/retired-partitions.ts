/**
 * Partitions were retired in 0.3.0 (CHANGELOG.md): one leader per deployment. A deployment that
 * tsbeat 0.2.x ran with more than one partition keeps its entries' state under per-partition keys
 * this release does not read, so opening it would start every entry afresh and publish runs its
 * partitions' leaders already published. This is the one read left of partitions: tsbeat 0.2.x's
 * record of the count (keys.ts `partitioning`), looked at before anything is written. No migration
 * lives here: the way back is 0.2.x's own `beat partitions set 1`.
 */
import type { RedisClient } from './connect.js';
import { BeatError, ErrorCode } from '../base/errors.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { nameWrongType } from './server-errors.js';

/**
 * Throws PARTITIONS_RETIRED (exit 2) when the deployment is recorded with more than one partition,
 * or with a `beat partitions set` under way or interrupted; nothing recorded, or a count of 1, passes.
 * Reads one hash, writes nothing. `deployment` is the deployment's name, for the message.
 */
export async function refusePartitionedDeployment(
  client: RedisClient,
  keys: Pick<SchedulerKeys, 'partitioning'>,
  deployment: string,
): Promise<void> {
  let count: string | null | undefined;
  let to: string | null | undefined;
  try {
    [count, to] = await client.hmget(keys.partitioning, 'count', 'to');
  } catch (error) {
    throw await nameWrongType(client, error, typedKeys(keys, ['partitioning']));
  }
  const moving = to !== null && to !== undefined && to !== '';
  if (!moving && (count === null || count === undefined || count === '1')) return;
  const recorded = moving
    ? `a move from ${count ?? '?'} to ${to} partitions ('beat partitions set ${to}', under way or interrupted)`
    : `${count} partitions`;
  throw new BeatError(
    ErrorCode.PartitionsRetired,
    `deployment "${deployment}" is recorded in Redis with ${recorded} (${keys.partitioning}), and partitions were removed in 0.3.0: one leader per deployment. Nothing was written. The way back: with every replica stopped, run 'beat partitions set 1' with tsbeat 0.2.x, then upgrade`,
  );
}
