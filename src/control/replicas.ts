/**
 * The replicas of a deployment as `beat status`, /status and the dashboard show them: every `beat
 * run` process whose heartbeat in Redis is recent enough (src/redis/replica-registry.ts). Who leads
 * is the lock's to say, not the registry's: a replica is the leader when the lock names it, and a
 * standby otherwise, whatever role it reported at its last heartbeat (which lags a handover by up to
 * one heartbeat). Heartbeat ages are by Redis's clock (replica-codec.ts), so that
 * neither the replica's clock nor the reader's skews them. Pure: the caller reads Redis.
 */
import { formatInstant } from '../time/zone.js';

/** One replica as it describes itself at each heartbeat. */
export interface ReplicaRecord {
  /** Its instance id (`host:pid:random`), as in the lock's leader record and the logs. */
  readonly instance: string;
  readonly host: string;
  readonly pid: number;
  /** The tsbeat version it runs. */
  readonly version: string;
  /** The role it had at its last heartbeat. */
  readonly role: 'leader' | 'standby';
  readonly startedAtMs: number;
  /** Its last heartbeat, epoch ms by its own clock. */
  readonly beatAtMs: number;
  /** Where it serves HTTP (`host:port`), or null without --http. */
  readonly http: string | null;
  /** How long its record counts after each heartbeat (its lock.ttl); absent in a record of a tsbeat that did not write it. */
  readonly ttlMs?: number;
}

/** A record of a live replica, as the registry reads it. */
export interface LiveReplica extends ReplicaRecord {
  /** How long ago its last heartbeat was, by Redis's clock (replica-codec.ts liveReplicas). */
  readonly heartbeatAgeMs: number;
}

export interface ReplicaStatus {
  readonly instance: string;
  /** From the lock: the replica the lock names leads, every other stands by. */
  readonly role: 'leader' | 'standby';
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  /** ISO, UTC. */
  readonly startedAt: string;
  readonly lastHeartbeat: string;
  /** How long ago its last heartbeat was, by Redis's clock. */
  readonly heartbeatAgeMs: number;
  readonly http: string | null;
}

/**
 * The live replicas, the leader first, then the standbys by start (oldest first).
 */
export function replicaStatuses(live: readonly LiveReplica[], leader: { readonly instance: string } | undefined): ReplicaStatus[] {
  const leads = (r: LiveReplica): boolean => r.instance === leader?.instance;
  return [...live]
    .sort((a, b) => {
      if (leads(a) !== leads(b)) return leads(a) ? -1 : 1;
      if (a.startedAtMs !== b.startedAtMs) return a.startedAtMs - b.startedAtMs;
      return a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0;
    })
    .map((r): ReplicaStatus => ({
      instance: r.instance,
      role: leads(r) ? 'leader' : 'standby',
      host: r.host,
      pid: r.pid,
      version: r.version,
      startedAt: formatInstant(r.startedAtMs, 'UTC'),
      lastHeartbeat: formatInstant(r.beatAtMs, 'UTC'),
      heartbeatAgeMs: r.heartbeatAgeMs,
      http: r.http,
    }));
}

/** "0.4 s ago", "12 s ago", "3 min ago": a heartbeat's age for a terminal. */
export function ageText(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s ago`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s ago`;
  return `${Math.round(ms / 60_000)} min ago`;
}
