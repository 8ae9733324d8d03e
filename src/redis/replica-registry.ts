/**
 * The replicas registry in Redis: each `beat run` process's record, refreshed at every heartbeat
 * and removed when it stops cleanly, through lua/replica-beat.lua (see its contract); read by
 * `beat status`, /status and the dashboard. It says which processes are alive, not who leads: that
 * is the lock's (control-store.ts's `leader()`). Every instant that judges a record (its expiry,
 * whether it is live, its heartbeat's age) is Redis's (TIME), so that no replica's or reader's clock
 * can drop the others' records or keep dead ones.
 */
import type { RedisClient } from './connect.js';
import type { LiveReplica, ReplicaRecord } from '../control/replicas.js';
import type { SchedulerKeys } from './keys.js';
import { typedKeys } from './keys.js';
import { encodeReplicaRecord, liveReplicas } from './replica-codec.js';
import { withScripts } from './scripts.js';
import { nameWrongType } from './server-errors.js';

export class ReplicaRegistry {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: Pick<SchedulerKeys, 'replicas' | 'replicaExpiry'>,
  ) {}

  /** Writes `record`, counting for `ttlMs` from now by Redis's clock; drops the records past their expiry. */
  async beat(record: ReplicaRecord, ttlMs: number): Promise<number> {
    return this.run('beat', record.instance, encodeReplicaRecord({ ...record, ttlMs }), String(ttlMs));
  }

  /** Removes the record of `instance` (a clean stop): it is gone from every listing at once. */
  async leave(instance: string): Promise<boolean> {
    return (await this.run('leave', instance)) === 1;
  }

  /** The replicas whose heartbeat still counts now by Redis's clock, read in one MULTI with its TIME. */
  async read(): Promise<LiveReplica[]> {
    try {
      const replies = await this.client
        .multi()
        .hgetall(this.keys.replicas)
        .zrange(this.keys.replicaExpiry, '0', '-1', 'WITHSCORES')
        .time()
        .exec();
      const failed = (replies ?? [[new Error('transaction discarded'), null]]).find(([error]) => error)?.[0];
      if (failed) throw failed;
      const [records, expiries, time] = (replies ?? []).map(([, value]) => value) as [
        Record<string, string>,
        string[],
        [string | number, string | number],
      ];
      return liveReplicas(records, expiries, Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000));
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['replicas', 'replicaExpiry']));
    }
  }

  private async run(op: string, ...args: string[]): Promise<number> {
    try {
      return await withScripts(this.client).replicaBeat(2, this.keys.replicas, this.keys.replicaExpiry, op, ...args);
    } catch (error) {
      throw await nameWrongType(this.client, error, typedKeys(this.keys, ['replicas', 'replicaExpiry']));
    }
  }
}
