/**
 * The replicas registry in Redis: each `beat run` process's record, refreshed at every heartbeat
 * and removed when it stops cleanly, through lua/replica-beat.lua (see its contract); read by
 * `beat status`, /status and the dashboard. It says which processes are alive, not who leads: that
 * is the lock's (control-store.ts's `leader()`).
 */
import type { Redis } from 'ioredis';
import type { ReplicaRecord } from '../control/replicas.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { encodeReplicaRecord, liveReplicas } from './replica-codec.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

export class ReplicaRegistry {
  constructor(
    private readonly client: Redis,
    private readonly keys: Pick<SchedulerKeys, 'replicas' | 'replicaExpiry'>,
  ) {}

  /** Writes `record` (its beatAtMs is now), counting for `ttlMs`; drops the records past their expiry. */
  async beat(record: ReplicaRecord, ttlMs: number): Promise<number> {
    return this.run('beat', record.beatAtMs, record.instance, encodeReplicaRecord(record), String(ttlMs));
  }

  /** Removes the record of `instance` (a clean stop): it is gone from every listing at once. */
  async leave(instance: string, nowMs: number): Promise<boolean> {
    return (await this.run('leave', nowMs, instance)) === 1;
  }

  /** The replicas whose heartbeat still counts at `nowMs`. */
  async read(nowMs: number): Promise<ReplicaRecord[]> {
    try {
      const [records, expiries] = await Promise.all([
        this.client.hgetall(this.keys.replicas),
        this.client.zrange(this.keys.replicaExpiry, 0, -1, 'WITHSCORES'),
      ]);
      return liveReplicas(records, expiries, nowMs);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['replicas', 'replicaExpiry']));
    }
  }

  private async run(op: string, nowMs: number, ...args: string[]): Promise<number> {
    try {
      return await withScripts(this.client).replicaBeat(2, this.keys.replicas, this.keys.replicaExpiry, op, String(nowMs), ...args);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['replicas', 'replicaExpiry']));
    }
  }
}
