/**
 * The deployment's recorded partition count in Redis (keys.ts `partitioning`, lua/partition-count.lua):
 * recorded by the first replica to start, read by every start and before every leader's session,
 * changed by `beat partitions set` (control/partition-count.ts says what a replica makes of it).
 */
import type { Redis } from 'ioredis';
import type { PartitionRecord } from '../control/partition-count.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

/** The deployment's keys (schedulerKeys): the record, and the state hash of a deployment of one partition. */
export type PartitionCountKeys = Pick<SchedulerKeys, 'partitioning' | 'state'>;

export class PartitionCountStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: PartitionCountKeys,
  ) {}

  /** The record as it is, without writing one: undefined when none was ever recorded. */
  async read(): Promise<PartitionRecord | undefined> {
    let values: (string | null)[];
    try {
      values = await this.client.hmget(this.keys.partitioning, 'count', 'to');
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['partitioning']));
    }
    const [count, to] = values;
    return count === null || count === undefined ? undefined : recordOf(count, to ?? '');
  }

  /** Whether the deployment's own state hash has entries: with no record, it then counts as one partition. */
  async hasUnpartitionedState(): Promise<boolean> {
    return (await this.client.exists(this.keys.state)) === 1;
  }

  /** The record, written first when there is none: 1 for a deployment with state under its own keys, else `configured`. */
  async record(configured: number): Promise<PartitionRecord> {
    return (await this.call(['record', String(configured)])).record;
  }

  /** Records that a move from `from` to `to` partitions is under way; refused when the record says another count or move. */
  begin(from: number, to: number, by: string, atMs: number): Promise<{ ok: boolean; record: PartitionRecord }> {
    return this.call(['begin', String(from), String(to), by, String(atMs)]);
  }

  /** Records `to` as the count, the move from `from` done; refused when the record says otherwise. */
  finish(from: number, to: number, by: string, atMs: number): Promise<{ ok: boolean; record: PartitionRecord }> {
    return this.call(['finish', String(from), String(to), by, String(atMs)]);
  }

  private async call(args: string[]): Promise<{ ok: boolean; record: PartitionRecord }> {
    let reply: [number, string, string];
    try {
      reply = await withScripts(this.client).partitionCount(2, this.keys.partitioning, this.keys.state, ...args);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['partitioning']));
    }
    const [ok, count, to] = reply;
    return { ok: ok === 1, record: recordOf(String(count), String(to)) };
  }
}

function recordOf(count: string, to: string): PartitionRecord {
  return { count: Number(count), movingTo: to === '' ? undefined : Number(to) };
}
