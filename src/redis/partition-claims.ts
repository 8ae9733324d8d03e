/**
 * The partitions' claims in Redis (keys.ts `claim`, one string per partition): a replica that the
 * partition map gives a partition to, and that is ready to take it, names itself there; the
 * partition's leader hands it over only to the replica named (core/partition-moves.ts claimedMove).
 * Each claim expires `lifeMs` after it was last written. service/partition-claims.ts says when.
 */
import type { Redis } from 'ioredis';

export class PartitionClaimStore {
  constructor(
    private readonly client: Redis,
    /** The claim key of a partition. */
    private readonly keyOf: (partition: number) => string,
    private readonly instanceId: string,
    private readonly lifeMs: number,
  ) {}

  /** Claims `partitions` for this replica, each for `lifeMs`: one round trip (a pipeline) for them all. */
  async write(partitions: readonly number[]): Promise<void> {
    if (partitions.length === 0) return;
    const pipeline = this.client.pipeline();
    for (const partition of partitions) pipeline.set(this.keyOf(partition), this.instanceId, 'PX', this.lifeMs);
    const replies = await pipeline.exec();
    const failed = (replies ?? [[new Error('pipeline discarded'), null]]).find(([error]) => error)?.[0];
    if (failed) throw failed;
  }

  /** The replica whose claim on `partition` has not expired, or undefined. */
  async claimant(partition: number): Promise<string | undefined> {
    return (await this.client.get(this.keyOf(partition))) ?? undefined;
  }
}
